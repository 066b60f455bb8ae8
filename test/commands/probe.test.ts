// `probe --via` against a small registry world on loopback, through the built daemon: a
// registry host answering the Docker Registry v2 API with Bearer tokens from a separate auth
// host, and blob GETs redirected to a third, storage host. Real TLS with a test CA.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { DaemonProcess, runCli, writeConfig } from '../helpers/daemon.js';
import { TestCa } from '../helpers/pki.js';

const ca = new TestCa();
t.teardown(() => ca.cleanup());
const leaf = ca.issue(['registry.test', 'auth.test', 'storage.test']);

const layer = Buffer.alloc(64 * 1024, 9);
const layerDigest = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: 'sha256:' + '0'.repeat(64) }, layers: [{ digest: layerDigest, size: layer.length }] });
const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest: manifestDigest, platform: { os: 'linux', architecture: 'amd64' } }] });
const TOKEN = 'test-token';
const storageLog: string[] = [];

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: leaf.cert, key: leaf.key }, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return { server, port: (server.address() as AddressInfo).port };
}

const registry = await serve((req, res) => {
  if (req.headers.authorization !== `Bearer ${TOKEN}`) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="registry.test"' }).end();
    return;
  }
  if (req.url === '/v2/') res.end('{}');
  else if (req.url === '/v2/lib/app/manifests/v1') res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end(index);
  else if (req.url === `/v2/lib/app/manifests/${manifestDigest}`) res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest);
  else if (req.url === `/v2/lib/app/blobs/${layerDigest}`) res.writeHead(307, { location: `https://storage.test/blobs/${layerDigest}?signature=abc` }).end();
  else res.writeHead(404).end();
});
const auth = await serve((req, res) => {
  const ok = req.headers.authorization === `Basic ${Buffer.from('alice:secret').toString('base64')}`;
  res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token: TOKEN }) : '{}');
});
const storage = await serve((req, res) => {
  storageLog.push(`${req.method ?? ''} ${req.url ?? ''} range=${String(req.headers.range)}`);
  res.writeHead(206, { 'content-range': `bytes 0-4095/${layer.length}` }).end(layer.subarray(0, 4096));
});

function config(withStorage: boolean): string {
  return `
listen:
  - address: "127.0.0.1:0"
metrics:
  address: "127.0.0.1:0"
routes:
  - hosts: ["registry.test"]
    upstream: "127.0.0.1:${registry.port}"
  - hosts: ["auth.test"]
    upstream: "127.0.0.1:${auth.port}"
${withStorage ? `  - hosts: ["storage.test"]\n    upstream: "127.0.0.1:${storage.port}"\n` : ''}`;
}

await t.test('probe --via lists the registry, auth and storage hosts, all allowed', async (t) => {
  const yaml = config(true);
  const d = await DaemonProcess.start(yaml);
  t.teardown(() => d.stop());
  const r = await runCli(['probe', 'registry.test', '--via', `127.0.0.1:${d.listenerPort()}`, '--ca', ca.caFile,
    '--image', 'lib/app:v1', '-u', 'alice:secret', '-c', writeConfig(yaml)]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^registry\.test +registry +allowed by registry\.test /m);
  t.match(r.stdout, /^auth\.test +auth +allowed by auth\.test /m);
  t.match(r.stdout, /^storage\.test +storage +allowed by storage\.test /m);
  t.equal(storageLog.length, 1, 'one redirected blob request reached the storage host');
  t.match(storageLog[0], /range=bytes=0-4095/, 'only the first 4 KiB were asked for');
  // The probe has exited, so its connections are closed, but the daemon writes their access
  // lines in batches (up to 100 ms later): wait for one per host before looking at them all.
  // The limit only bounds a failure; a pass never waits for it.
  const hosts = ['auth.test', 'registry.test', 'storage.test'];
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), 10_000); });
  const seen = await Promise.race([Promise.all(hosts.map((h) => d.accessLine((l) => l['sni'] === h))), limit]);
  clearTimeout(timer);
  t.not(seen, 'timeout', 'an access line for each host within 10 s');
  const sni = new Set(d.lines.filter((l) => l.msg === 'connection').map((l) => l['sni']));
  t.same([...sni].sort(), hosts, 'every connection went through the forwarder');
});

await t.test('with the storage route removed, probe exits 1 and names the storage host', async (t) => {
  const yaml = config(false);
  const d = await DaemonProcess.start(yaml);
  t.teardown(() => d.stop());
  const r = await runCli(['probe', 'registry.test', '--via', `127.0.0.1:${d.listenerPort()}`, '--ca', ca.caFile,
    '--image', 'lib/app:v1', '-u', 'alice:secret', '--suggest', '-c', writeConfig(yaml)]);
  t.equal(r.code, 1);
  t.match(r.stdout, /^storage\.test +storage +NOT ALLOWED$/m);
  t.match(r.stdout, /probe stopped: .*storage\.test/);
  // --suggest ends with the route to paste; pasted under routes, check accepts it.
  const suggestion = r.stdout.slice(r.stdout.indexOf('# Add under routes: (probe --suggest)'));
  t.equal(suggestion, '# Add under routes: (probe --suggest)\n  - hosts: ["storage.test"]\n');
  const pasted = await runCli(['check', '-c', writeConfig(yaml + suggestion)]);
  t.equal(pasted.code, 0, pasted.stderr);
  t.match(pasted.stdout, /^ {2}storage\.test +-> <sni name>:<listener's port> via resolver default /m);
});

await t.test('without the CA the certificate check fails: no option turns it off', async (t) => {
  const yaml = config(true);
  const d = await DaemonProcess.start(yaml);
  t.teardown(() => d.stop());
  const r = await runCli(['probe', 'registry.test', '--via', `127.0.0.1:${d.listenerPort()}`, '-c', writeConfig(yaml)]);
  t.equal(r.code, 1);
  t.match(r.stdout, /probe stopped: GET registry\.test\/v2\/ via 127\.0\.0\.1: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
});
