// Encrypted Client Hello (issue #14 item 10): the forwarder routes on the outer SNI and says on
// the access line (`ech: true`) when the hello carried encrypted_client_hello. No client here
// sends ECH, so the extension is added to a node:tls hello and sent over a raw socket.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import { DaemonProcess, loopbackConfig } from '../helpers/daemon.js';
import { captureNodeTls, echOuterExtension, EXT_ENCRYPTED_CLIENT_HELLO, withExtension } from '../helpers/hello-capture.js';

// An upstream that answers whatever it gets with one line and closes: the relay is not under
// test here, only what the access line says.
const upstream = createServer((s: Socket) => {
  s.on('error', () => {});
  s.once('data', () => s.end('upstream saw the hello\n'));
});
upstream.listen(0, '127.0.0.1');
await once(upstream, 'listening');
t.teardown(() => upstream.close());

const d = await DaemonProcess.start(loopbackConfig(`
routes:
  - hosts: ["site.test"]
    upstream: "127.0.0.1:${(upstream.address() as AddressInfo).port}"
`));
t.teardown(() => d.stop());
const port = d.listenerPort();

/** Sends `hello` and resolves with everything the forwarder sent back, once it closed. */
async function send(hello: Buffer): Promise<Buffer> {
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  await once(s, 'connect');
  s.write(hello);
  await once(s, 'close');
  return Buffer.concat(chunks);
}

const ech = (servername: string): Promise<Buffer> =>
  captureNodeTls({ servername }).then((h) => withExtension(h, EXT_ENCRYPTED_CLIENT_HELLO, echOuterExtension()));

await t.test('a hello with encrypted_client_hello is routed on its outer SNI and logged with ech: true', async (t) => {
  // A GREASE placeholder, or a provider whose public name is the site: the outer name routes.
  t.equal((await send(await ech('site.test'))).toString(), 'upstream saw the hello\n');
  const line = await d.accessLine((l) => l['sni'] === 'site.test');
  t.equal(line['outcome'], 'forwarded');
  t.equal(line['ech'], true);
});

await t.test('an ECH public name that is not allowlisted is refused, with ech: true on the line', async (t) => {
  // What a client really using ECH shows the forwarder: the provider's public name only.
  const reply = await send(await ech('ech-public.provider.test'));
  t.equal(reply[0], 21, 'a TLS alert record');
  const line = await d.accessLine((l) => l['sni'] === 'ech-public.provider.test');
  t.equal(line['outcome'], 'not_allowed');
  t.equal(line['ech'], true);
});

await t.test('a hello without the extension has no ech field', async (t) => {
  await send(await captureNodeTls({ servername: 'site.test' }));
  const lines = await d.waitForCount((l) => l.msg === 'connection' && l['sni'] === 'site.test', 2);
  const plain = lines.find((l) => !('ech' in l));
  t.ok(plain !== undefined, 'one site.test line without ech');
  t.equal(lines.filter((l) => 'ech' in l).length, 1, 'only the ECH hello has the field');
});
