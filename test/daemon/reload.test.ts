// SIGHUP reload and SIGTERM drain through the built daemon (SPEC §6): under load, nothing
// open is disturbed, new routes and listeners apply, an invalid file changes nothing.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { DaemonProcess, metric } from '../helpers/daemon.js';
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
