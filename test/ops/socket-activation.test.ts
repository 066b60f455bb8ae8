// Socket activation for real (SPEC §6): systemd-socket-activate binds the port, waits for the
// first connection, then execs `node dist/cli.js run` with LISTEN_FDS/LISTEN_PID (it execs
// itself, so LISTEN_PID is the daemon's pid). A TLS client that connected before the daemon
// existed is served through the inherited socket to a real TLS origin. Needs
// systemd-socket-activate (Debian package: systemd); skips without it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { connect, createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { CLI, writeConfig, type LogLine } from '../helpers/daemon.js';
import { Origin } from '../helpers/origin.js';
import { TestCa } from '../helpers/pki.js';

const tool = await new Promise<boolean>((res) => execFile('systemd-socket-activate', ['--version'], (err) => res(err === null)));
const skip = tool ? false : 'systemd-socket-activate not found (Debian package: systemd)';

/** A port that was free a moment ago (systemd-socket-activate cannot bind port 0). */
async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * `systemd-socket-activate ARGS -- node dist/cli.js run -c CONFIG`, with the daemon's JSON log
 * lines (after the exec) and the activator's stderr ("Listening on ADDR as 3.") to wait on.
 */
class Activated {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  #waiters: { match: () => boolean; resolve: () => void }[] = [];

  constructor(activatorArgs: readonly string[], configFile: string) {
    this.child = spawn('systemd-socket-activate', [...activatorArgs, '--', process.execPath, CLI, 'run', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      try {
        this.lines.push(JSON.parse(text) as LogLine);
      } catch {
        this.lines.push({ msg: `(not json) ${text}` });
      }
      this.#wake();
    });
    this.child.stderr!.on('data', (c: Buffer) => {
      this.stderr += c.toString();
      this.#wake();
    });
    void this.exited.then(() => this.#wake()); // never rejects
  }

  #wake(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `match` holds (checked on every log line, stderr chunk and at exit). */
  async until(what: string, match: () => boolean): Promise<void> {
    if (match()) return;
    await new Promise<void>((resolve) => this.#waiters.push({ match, resolve }));
    if (!match()) throw new Error(`gave up waiting for ${what}`);
  }

  /** The first log line matching, waiting for it; rejects if the process exits first. */
  async line(match: (l: LogLine) => boolean): Promise<LogLine> {
    const exited = (): boolean => this.child.exitCode !== null || this.child.signalCode !== null;
    await this.until('log line', () => this.lines.some(match) || exited());
    const found = this.lines.find(match);
    if (found === undefined) throw new Error(`exited (${this.child.exitCode}) before the line; stderr: ${this.stderr}`);
    return found;
  }

  /** Waits for the activator to listen on `address` ("127.0.0.1:PORT"). */
  async listening(address: string): Promise<void> {
    const exited = (): boolean => this.child.exitCode !== null;
    await this.until('Listening on', () => this.stderr.includes(`Listening on ${address} as`) || exited());
    if (exited()) throw new Error(`systemd-socket-activate exited: ${this.stderr}`);
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

const ca = skip === false ? new TestCa() : null;
let origin: Origin | null = null;
if (ca !== null) {
  t.teardown(() => ca.cleanup());
  origin = new Origin('activated', ca.issue(['activated.test']));
  await origin.listen();
  t.teardown(() => origin?.close());
}

function configText(listen: readonly string[], listenerExtra = ''): string {
  return `
listen:
${listen.map((a) => `  - address: "${a}"${listenerExtra}`).join('\n')}
metrics:
  address: "127.0.0.1:0"
routes:
  - hosts: ["activated.test"]
    upstream: "127.0.0.1:${origin?.port}"
`;
}

function configFor(listen: readonly string[]): string {
  const file = writeConfig(`
listen:
${listen.map((a) => `  - address: "${a}"`).join('\n')}
metrics:
  address: "127.0.0.1:0"
routes:
  - hosts: ["activated.test"]
    upstream: "127.0.0.1:${origin?.port}"
`);
  t.teardown(() => rmSync(dirname(file), { recursive: true, force: true }));
  return file;
}

/** GET https://activated.test/hello through 127.0.0.1:port, validating the origin's certificate. */
async function hello(port: number): Promise<string> {
  const req = request({
    host: '127.0.0.1', port, path: '/hello', servername: 'activated.test', headers: { host: 'activated.test' },
    ca: ca?.caPem, agent: false, signal: AbortSignal.timeout(15_000),
  });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let body = '';
  for await (const chunk of res) body += (chunk as Buffer).toString();
  return body;
}

/** Runs the daemon under systemd-socket-activate, serves one client, stops it; checks it all. */
async function serveOnce(t: Test, activatorArgs: (port: number) => string[]): Promise<void> {
  const port = await freePort();
  const label = `127.0.0.1:${port}`;
  const d = new Activated(activatorArgs(port), configFor([label]));
  t.teardown(() => d.stop());
  await d.listening(label);
  t.equal(d.lines.length, 0, 'the daemon is not running before the first connection');
  // This request is what makes systemd-socket-activate start the daemon.
  const body = hello(port);
  const listening = await d.line((l) => l.msg === 'listening');
  t.equal(listening['listener'], label);
  t.equal(listening['inherited'], true, 'the listener is the inherited socket');
  t.equal(await body, 'hello from activated\n');
  const access = await d.line((l) => l.msg === 'connection');
  t.equal(access['outcome'], 'forwarded');
  t.equal(access['listener'], label);
  t.equal(await d.stop(), 0, 'SIGTERM: exit 0');
  t.ok(d.lines.some((l) => l.msg === 'stopped'));
}

await t.test('a named socket (--fdname=127.0.0.1:PORT) serves a TLS client', { skip }, async (t) => {
  // LISTEN_FDNAMES is ':'-separated, so this name arrives as "127.0.0.1" and "PORT" (with a
  // warning from systemd-socket-activate): the daemon takes the socket by its bound address.
  await serveOnce(t, (port) => ['-l', `127.0.0.1:${port}`, `--fdname=127.0.0.1:${port}`]);
});

await t.test('an unnamed socket is matched by its bound address', { skip }, async (t) => {
  await serveOnce(t, (port) => ['-l', `127.0.0.1:${port}`]);
});

await t.test('two sockets go to the listen entries with their addresses, whatever the order', { skip }, async (t) => {
  const [a, b] = [await freePort(), await freePort()];
  const labels = [`127.0.0.1:${a}`, `127.0.0.1:${b}`];
  // The config lists them in the opposite order to the descriptors (3 = a, 4 = b).
  const d = new Activated(['-l', labels[0]!, '-l', labels[1]!, '--fdname=first:second'], configFor([labels[1]!, labels[0]!]));
  t.teardown(() => d.stop());
  await d.listening(labels[1]!);
  const body = hello(b);
  await d.line((l) => l.msg === 'ready');
  const listening = d.lines.filter((l) => l.msg === 'listening');
  t.same(listening.map((l) => [l['listener'], l['inherited']]), [[labels[1], true], [labels[0], true]]);
  t.equal(await body, 'hello from activated\n');
  t.equal(await hello(a), 'hello from activated\n', 'the other socket serves too');
  t.equal(await d.stop(), 0);
});

await t.test('a socket that matches no listen entry stops the start with an error naming both addresses', { skip }, async (t) => {
  const [inheritedPort, configuredPort] = [await freePort(), await freePort()];
  const file = configFor([`127.0.0.1:${configuredPort}`]);
  const d = new Activated(['-l', `127.0.0.1:${inheritedPort}`], file);
  t.teardown(() => d.stop());
  await d.listening(`127.0.0.1:${inheritedPort}`);
  // A plain TCP connection triggers the start; it is lost with the socket, which is expected.
  const trigger = connect(inheritedPort, '127.0.0.1');
  trigger.on('error', () => {});
  t.teardown(() => trigger.destroy());
  const fatal = await d.line((l) => l.msg === 'cannot start');
  t.equal(fatal['level'], 60);
  t.equal(fatal['problem'], `systemd passed socket(s) 127.0.0.1:${inheritedPort} (fd 3) that match no listen entry of ${file} ` +
    `(127.0.0.1:${configuredPort}); add { address: "127.0.0.1:${inheritedPort}" } to listen, or make the socket unit's ListenStream= ` +
    `match listen (systemctl cat sni-forwarder.socket | sni-forwarder check -c ${file} --unit - compares them)`);
  t.equal(await d.exited, 1, 'exit 1: systemd sees the failure');
  t.notOk(d.lines.some((l) => l.msg === 'ready' || l.msg === 'listening'), 'nothing was bound, nothing reported ready');
  t.equal(d.stderr.includes('{'), false, 'the fatal line is on stdout with the others');
  const probe = connect(configuredPort, '127.0.0.1');
  const [err] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'the configured address was not bound either');
});

await t.test('SIGHUP applies changed settings to an inherited listener', { skip }, async (t) => {
  const port = await freePort();
  const label = `127.0.0.1:${port}`;
  const file = configFor([label]);
  const d = new Activated(['-l', label], file);
  t.teardown(() => d.stop());
  await d.listening(label);
  t.equal(await hello(port), 'hello from activated\n');
  writeFileSync(file, configText([label], '\n    proxy_protocol: true\n    proxy_protocol_from: ["127.0.0.0/8"]'));
  d.child.kill('SIGHUP');
  const reloaded = await d.line((l) => l.msg === 'reloaded');
  t.same(reloaded['changed'], [label], 'the inherited listener is named as changed');
  // A PROXY v1 header, then a TLS handshake on the same connection.
  const raw = connect(port, '127.0.0.1');
  raw.on('error', () => {});
  await once(raw, 'connect');
  raw.write('PROXY TCP4 10.9.9.9 127.0.0.1 1234 443\r\n');
  const s = tlsConnect({ socket: raw, servername: 'activated.test', ca: ca?.caPem });
  s.on('error', () => {});
  await once(s, 'secureConnect');
  s.destroy();
  const access = await d.line((l) => l.msg === 'connection' && l['client'] === '10.9.9.9:1234');
  t.equal(access['listener'], label, 'the PROXY header is read on the inherited socket after the reload');
  t.equal(await d.stop(), 0);
});
