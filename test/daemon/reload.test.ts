// SIGHUP reload and SIGTERM drain through the built daemon (SPEC §6): under load, nothing
// open is disturbed, new routes and listeners apply, an invalid file changes nothing.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { DaemonProcess, metric, type LogLine } from '../helpers/daemon.js';
import { PATTERN_CHUNK } from '../helpers/origin.js';
import { TestCa } from '../helpers/pki.js';
import { freePort } from '../helpers/proc.js';

const ca = new TestCa();
t.teardown(() => ca.cleanup());
const leaf = ca.issue(['always.test', 'a.test', 'b.test', 'stream.test']);

/** A TLS origin with /hello and /stream: /stream sends chunks until finish() is called. */
class StreamingOrigin {
  readonly server: HttpsServer;
  sentSha = '';
  #finish: (() => void) | null = null;
  readonly started: Promise<void>;
  #started: () => void = () => {};

  constructor() {
    this.started = new Promise((resolve) => { this.#started = resolve; });
    this.server = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      if (req.url !== '/stream') {
        res.end(`hello ${req.headers.host ?? ''}\n`);
        return;
      }
      const hash = createHash('sha256');
      let done = false;
      this.#finish = () => { done = true; };
      res.writeHead(200);
      this.#started();
      // Paced by the client's reading (drain) and a 5 ms tick, until finish() is called.
      const tick = setInterval(() => {
        if (done) {
          clearInterval(tick);
          this.sentSha = hash.digest('hex');
          res.end();
          return;
        }
        if (res.writableNeedDrain) return;
        hash.update(PATTERN_CHUNK);
        res.write(PATTERN_CHUNK);
      }, 5);
      res.on('close', () => clearInterval(tick));
    });
    this.server.on('tlsClientError', () => {});
  }

  finish(): void {
    this.#finish?.();
  }
}

function get(port: number, name: string, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({ host: '127.0.0.1', port, servername: name, ca: ca.caPem, path, agent: false, headers: { host: name } }, resolve);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

async function fetchText(port: number, name: string): Promise<string> {
  const res = await get(port, name, '/hello');
  let body = '';
  for await (const c of res) body += String(c);
  return body;
}

const origin = new StreamingOrigin();
origin.server.listen(0, '127.0.0.1');
await once(origin.server, 'listening');
t.teardown(() => origin.server.close());
const originPort = (origin.server.address() as AddressInfo).port;
const mainPort = await freePort();
const extraPort = await freePort();

function config(variant: 'one' | 'two', drain = '30s'): string {
  return `
listen:
  - address: "127.0.0.1:${mainPort}"
${variant === 'two' ? `  - address: "127.0.0.1:${extraPort}"\n` : ''}metrics:
  address: "127.0.0.1:0"
limits:
  drain_timeout: ${drain}
routes:
  - hosts: ["always.test", "stream.test"]
    upstream: "127.0.0.1:${originPort}"
  - hosts: ["${variant === 'one' ? 'a.test' : 'b.test'}"]
    upstream: "127.0.0.1:${originPort}"
`;
}

await t.test('20 reloads under load: nothing fails, routes and listeners follow the file', async (t) => {
  const d = await DaemonProcess.start(config('one'));
  t.teardown(() => d.stop());
  // A long transfer that lasts until the reloads are over.
  const stream = await get(mainPort, 'stream.test', '/stream');
  await origin.started;
  const gotHash = createHash('sha256');
  stream.on('data', (c: Buffer) => gotHash.update(c));
  const streamEnded = once(stream, 'end');
  // A client loop opening new connections all along.
  let ok = 0;
  const failures: string[] = [];
  let looping = true;
  const loop = (async () => {
    while (looping) {
      try {
        if ((await fetchText(mainPort, 'always.test')) === 'hello always.test\n') ok++;
        else failures.push('wrong body');
      } catch (err) {
        failures.push(String(err));
      }
    }
  })();

  let reloads = 0;
  for (let i = 1; i <= 20; i++) {
    const variant = i % 2 === 1 ? 'two' : 'one';
    const invalid = i === 10;
    writeFileSync(d.configFile, invalid ? 'listen: [oops\n' : config(variant));
    const seen = d.lines.length;
    d.child.kill('SIGHUP');
    const line = await d.waitFor((l) => d.lines.indexOf(l) >= seen && (l.msg === 'reloaded' || l.msg === 'reload rejected: keeping the running configuration'));
    if (invalid) {
      t.equal(line.msg, 'reload rejected: keeping the running configuration', 'invalid file rejected');
      t.match(String(line['problem']), /config\.yaml:\d+:\d+/, 'with file:line:col');
      continue;
    }
    reloads++;
    t.equal(line.msg, 'reloaded', `reload ${i}`);
    const [allowed, refused] = variant === 'one' ? ['a.test', 'b.test'] : ['b.test', 'a.test'];
    t.equal(await fetchText(mainPort, allowed), `hello ${allowed}\n`, `${allowed} allowed after reload ${i}`);
    await t.rejects(fetchText(mainPort, refused), /unrecognized name/i, `${refused} refused after reload ${i}`);
    if (variant === 'two') {
      t.equal(await fetchText(extraPort, 'always.test'), 'hello always.test\n', 'added listener serves');
    } else {
      await t.rejects(fetchText(extraPort, 'always.test'), /ECONNREFUSED/, 'removed listener is closed');
    }
  }
  looping = false;
  await loop;
  origin.finish();
  await streamEnded;
  t.equal(gotHash.digest('hex'), origin.sentSha, 'the long transfer completed intact across every reload');
  t.same(failures, [], `no failed connection in the loop (${ok} succeeded)`);
  t.ok(ok > 0, 'the loop made connections');
  const m = await d.metrics();
  t.equal(m.get(metric('sni_forwarder_config_reloads_total', { result: 'success' })), reloads);
  t.equal(m.get(metric('sni_forwarder_config_reloads_total', { result: 'failure' })), 1);
});

await t.test('SIGTERM drains: no new connections, the open transfer completes, exit 0', async (t) => {
  const d = await DaemonProcess.start(config('one'));
  t.teardown(() => d.stop());
  const stream = await get(mainPort, 'stream.test', '/stream');
  const gotHash = createHash('sha256');
  stream.on('data', (c: Buffer) => gotHash.update(c));
  const streamEnded = once(stream, 'end');
  d.child.kill('SIGTERM');
  await d.waitFor((l) => l.msg === 'listener closed');
  const refused = connect(mainPort, '127.0.0.1');
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'new connections are refused while draining');
  const ready = await fetch(`${d.metricsUrl}/readyz`);
  t.equal(ready.status, 503, '/readyz is 503 while draining');
  origin.finish();
  await streamEnded;
  t.equal(gotHash.digest('hex'), origin.sentSha, 'the transfer completed');
  t.equal(await d.exited, 0, 'exit 0');
});

await t.test('a short drain_timeout cuts what is left and exits 0', async (t) => {
  const d = await DaemonProcess.start(config('one', '300ms'));
  t.teardown(() => d.stop());
  const stream = await get(mainPort, 'stream.test', '/stream');
  stream.on('error', () => {}); // 'aborted' when the forwarder cuts it: expected here
  stream.resume();
  // Not events.once: it would reject on the 'error' that the cut causes.
  const closed = new Promise<void>((resolve) => stream.on('close', () => resolve()));
  const started = Date.now();
  d.child.kill('SIGTERM');
  await closed;
  t.ok(Date.now() - started >= 250, `cut after ${Date.now() - started} ms`);
  t.equal(await d.exited, 0, 'exit 0');
  t.ok(d.lines.some((l) => l.msg === 'drain_timeout reached: closing open connections'));
  origin.finish();
});

await t.test('a reload whose new listener cannot bind changes nothing', async (t) => {
  const d = await DaemonProcess.start(config('one'));
  t.teardown(() => d.stop());
  const blocker = createServer().listen(extraPort, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  writeFileSync(d.configFile, config('two'));
  d.child.kill('SIGHUP');
  const line = await d.waitFor((l) => l.msg === 'reload rejected: keeping the running configuration');
  t.match(String(line['problem']), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${extraPort}: EADDRINUSE`));
  t.equal(await fetchText(mainPort, 'a.test'), 'hello a.test\n', 'old routes still apply');
  await t.rejects(fetchText(mainPort, 'b.test'), /unrecognized name/i, 'new routes were not applied');
  const m = await d.metrics();
  t.equal(m.get(metric('sni_forwarder_config_reloads_total', { result: 'failure' })), 1);
});

/** Sends `GET /hello` for `name` over TLS on `raw` (already connected); resolves with the body. */
async function helloOver(raw: Socket, name: string): Promise<string> {
  const s = tlsConnect({ socket: raw, servername: name, ca: ca.caPem });
  s.on('error', () => {}); // the rejection below reports it
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  let text = '';
  s.on('data', (c: Buffer) => { text += c.toString(); });
  const [ok] = await Promise.race([once(s, 'secureConnect').then(() => [true]), closed.then(() => [false])]);
  if (ok !== true) throw new Error('TLS handshake did not complete');
  s.write(`GET /hello HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`);
  await closed;
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

async function rawConnect(port: number): Promise<Socket> {
  const raw = connect({ port, host: '127.0.0.1' });
  raw.on('error', () => {});
  await once(raw, 'connect');
  return raw;
}

/** A PROXY v1 header claiming the client 10.9.9.9:1234 (RFC-less, haproxy proxy-protocol.txt §2.1). */
const CLAIM = 'PROXY TCP4 10.9.9.9 127.0.0.1 1234 443\r\n';

/** Sends a plain HTTP/1.1 request for `host` on `port`; resolves with the whole response text. */
async function plainGet(port: number, host: string): Promise<string> {
  const raw = await rawConnect(port);
  let text = '';
  raw.on('data', (c: Buffer) => { text += c.toString(); });
  raw.write(`GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  await new Promise<void>((resolve) => raw.once('close', () => resolve()));
  return text;
}

await t.test('a kept listener takes its changed settings: proxy_protocol_from and protocol apply to new connections', async (t) => {
  const httpOrigin = createHttpServer((req, res) => res.end(`plain hello for ${req.headers.host ?? '?'}\n`));
  httpOrigin.listen(0, '127.0.0.1');
  await once(httpOrigin, 'listening');
  t.teardown(() => httpOrigin.close());
  const ppPort = await freePort();
  const swPort = await freePort();
  const cfg = (from: string, protocol: 'tls' | 'http'): string => `
listen:
  - address: "127.0.0.1:${ppPort}"
    proxy_protocol: true
    proxy_protocol_from: ["${from}"]
  - address: "127.0.0.1:${swPort}"
    protocol: ${protocol}
metrics:
  address: "127.0.0.1:0"
routes:
  - hosts: ["always.test"]
    upstream: "127.0.0.1:${originPort}"
  - hosts: ["plain.test"]
    upstream: "127.0.0.1:${(httpOrigin.address() as AddressInfo).port}"
`;
  const d = await DaemonProcess.start(cfg('127.0.0.0/8', 'tls'));
  t.teardown(() => d.stop());
  const claimed = (l: LogLine): boolean => l.msg === 'connection' && l['outcome'] === 'forwarded' && l['client'] === '10.9.9.9:1234';

  // Before: 127.0.0.1 is a trusted load balancer, so its PROXY header names the client.
  let raw = await rawConnect(ppPort);
  raw.write(CLAIM);
  t.equal(await helloOver(raw, 'always.test'), 'hello always.test\n');
  const [first] = await d.waitForCount(claimed, 1);
  t.match(first?.['peer'], /^127\.0\.0\.1:\d+$/, 'the PROXY header is trusted: the load balancer is the peer');
  // The tls listener takes no plain HTTP.
  t.notMatch(await plainGet(swPort, 'plain.test'), /plain hello/);
  await d.accessLine((l) => l['outcome'] === 'not_tls' && l['listener'] === `127.0.0.1:${swPort}`);

  // A connection accepted before the reload (its PROXY header already sent) ...
  const early = await rawConnect(ppPort);
  early.write(CLAIM);
  let m = await d.metrics();
  while (m.get(metric('sni_forwarder_active_connections', { host: '' })) !== 1) m = await d.metrics();

  writeFileSync(d.configFile, cfg('192.0.2.0/24', 'http'));
  d.child.kill('SIGHUP');
  const reloaded = await d.waitFor((l) => l.msg === 'reloaded');
  t.same(reloaded['changed'], [`127.0.0.1:${ppPort}`, `127.0.0.1:${swPort}`], 'the reload names the changed listeners');
  t.same(reloaded['kept'], [`127.0.0.1:${ppPort}`, `127.0.0.1:${swPort}`]);

  // ... keeps the settings it started with.
  t.equal(await helloOver(early, 'always.test'), 'hello always.test\n', 'an open connection keeps its settings');
  t.equal((await d.waitForCount(claimed, 2)).length, 2, 'logged with the claimed client');

  // After: 127.0.0.1 is no longer trusted; the same header is read as the start of a hello.
  raw = await rawConnect(ppPort);
  raw.write(CLAIM);
  await t.rejects(helloOver(raw, 'always.test'), 'the untrusted PROXY header is not honoured');
  const line = await d.accessLine((l) => l['outcome'] === 'not_tls' && l['listener'] === `127.0.0.1:${ppPort}`);
  t.match(String(line['client']), /^127\.0\.0\.1:\d+$/, 'read as the client\'s first bytes: the client is the real source');
  t.notOk('peer' in line, 'no load balancer named');
  t.equal(d.lines.filter(claimed).length, 2, 'no third connection took the claimed address');

  // The switched listener now routes plain HTTP by Host.
  t.match(await plainGet(swPort, 'plain.test'), /plain hello for plain\.test/, 'protocol http applies after the reload');
  await d.accessLine((l) => l['outcome'] === 'forwarded' && l['host'] === 'plain.test' && l['listener'] === `127.0.0.1:${swPort}`);
});
