// PROXY protocol with a real sender (HAProxy send-proxy-v2 and send-proxy) and the plain-HTTP
// listener, through the built daemon (issue 7).
import { createServer as createHttpServer } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import t from 'tap';
import { DaemonProcess, type LogLine } from '../helpers/daemon.js';
import { Haproxy, haproxyAvailable } from '../helpers/haproxy.js';
import { Origin } from '../helpers/origin.js';
import { TestCa } from '../helpers/pki.js';
import { freePort, run } from '../helpers/proc.js';

const ca = new TestCa();
t.teardown(() => ca.cleanup());
const leaf = ca.issue(['pp.test']);
const origin = new Origin('pp', leaf);
await origin.listen();
t.teardown(() => origin.close());

const httpOrigin = createHttpServer((req, res) => res.end(`plain hello for ${req.headers.host ?? '?'} ${req.url ?? ''}\n`));
httpOrigin.listen(0, '127.0.0.1');
await once(httpOrigin, 'listening');
t.teardown(() => httpOrigin.close());
const httpOriginPort = (httpOrigin.address() as AddressInfo).port;

const proxyPort = await freePort();
const httpPort = await freePort();
const d = await DaemonProcess.start(`
listen:
  - address: "127.0.0.1:${proxyPort}"
    proxy_protocol: true
    proxy_protocol_from: ["127.0.0.1/32"]
  - address: "127.0.0.1:${httpPort}"
    protocol: http
metrics:
  address: "127.0.0.1:0"
clients:
  allow: ["127.0.0.1/32", "127.0.0.2/32"]
routes:
  - hosts: ["pp.test"]
    upstream: "127.0.0.1:${origin.port}"
  - hosts: ["http.test"]
    upstream: "127.0.0.1:${httpOriginPort}"
`);
t.teardown(() => d.stop());

const skip = await haproxyAvailable();
const v2Port = await freePort();
const v1Port = await freePort();
const haproxy = skip === false
  ? await Haproxy.start([
    { port: v2Port, target: proxyPort, serverOptions: 'send-proxy-v2' },
    { port: v1Port, target: proxyPort, serverOptions: 'send-proxy' },
  ])
  : null;
if (haproxy !== null) t.teardown(() => haproxy.stop());

function curlVia(port: number, from: string): ReturnType<typeof run> {
  return run('curl', ['-sS', '--max-time', '10', '--interface', from, '--cacert', ca.caFile,
    '--resolve', `pp.test:${port}:127.0.0.1`, `https://pp.test:${port}/hello`]);
}

for (const [version, port] of [['v2', v2Port], ['v1', v1Port]] as const) {
  await t.test(`HAProxy send-proxy ${version}: the log and the ACL see the original client`, { skip }, async (t) => {
    const viaLb = (l: LogLine): boolean => l['outcome'] === 'forwarded' && String(l['client']).startsWith('127.0.0.2:') && 'peer' in l;
    const seen = d.lines.filter(viaLb).length;
    const r = await curlVia(port, '127.0.0.2');
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'hello from pp\n');
    const line = (await d.waitForCount(viaLb, seen + 1)).at(-1);
    t.match(String(line?.['peer']), /^127\.0\.0\.1:\d+$/, 'the client is 127.0.0.2; the load balancer is the peer');
    const before = d.lines.filter((l) => l['outcome'] === 'client_denied').length;
    const denied = await curlVia(port, '127.0.0.5');
    t.not(denied.code, 0, 'a client outside clients.allow is refused through the load balancer');
    const all = await d.waitForCount((l) => l['outcome'] === 'client_denied', before + 1);
    t.match(String(all.at(-1)?.['client']), /^127\.0\.0\.5:/);
  });
}

await t.test('a trusted peer without a PROXY header is refused as bad_proxy_header', async (t) => {
  const r = await run('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `pp.test:${proxyPort}:127.0.0.1`, `https://pp.test:${proxyPort}/hello`]);
  t.not(r.code, 0);
  const line = await d.accessLine((l) => l['outcome'] === 'bad_proxy_header');
  t.match(String(line['reason']), /.+/);
  t.equal(line['sni'], null);
});

await t.test('an untrusted peer is taken as a client, no header expected', async (t) => {
  const r = await curlVia(proxyPort, '127.0.0.2');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hello from pp\n');
});

await t.test('http listener: routes by Host, 421 for a host not allowed, 400 for garbage', async (t) => {
  const ok = await run('curl', ['-sS', '--max-time', '10', '--resolve', `http.test:${httpPort}:127.0.0.1`, `http://http.test:${httpPort}/v2/`]);
  t.equal(ok.stdout, `plain hello for http.test:${httpPort} /v2/\n`, ok.stderr);
  const line = await d.accessLine((l) => l['sni'] === 'http.test');
  t.equal(line['outcome'], 'forwarded');
  const no = await run('curl', ['-sS', '-w', '%{http_code}', '--max-time', '10', '--resolve', `other.test:${httpPort}:127.0.0.1`, `http://other.test:${httpPort}/`]);
  t.match(no.stdout, /host other\.test is not allowed\n421$/);
  const s = connect(httpPort, '127.0.0.1');
  s.on('error', () => {});
  const got: Buffer[] = [];
  s.on('data', (c: Buffer) => got.push(c));
  s.write('GET / HTTP/1.1\r\nHost: http.test\r\n bad fold\r\n\r\n');
  await once(s, 'close');
  t.match(Buffer.concat(got).toString(), /^HTTP\/1\.1 400 Bad Request\r\n/);
});
