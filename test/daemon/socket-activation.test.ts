// takeInheritedSockets (sd_listen_fds(3)): which descriptors it takes, what it names them, and
// that it always clears the LISTEN_* variables. The descriptor cases run a small script in a
// child whose pid is LISTEN_PID, since only fds 3.. of that very process count.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { takeInheritedSockets } from '../../src/daemon/socket-activation.js';

// Checked before the first test: tap ends the file when a top-level await follows the last one.
const activate = await new Promise<boolean>((res) => execFile('systemd-socket-activate', ['--version'], (err) => res(err === null)));
const MODULE = pathToFileURL(resolve(import.meta.dirname, '../../src/daemon/socket-activation.js')).href;

await t.test('without LISTEN_* variables there is nothing to take', async (t) => {
  t.same(await takeInheritedSockets({}), []);
});

await t.test('variables meant for another process are ignored and removed', async (t) => {
  const env: NodeJS.ProcessEnv = { LISTEN_FDS: '1', LISTEN_PID: String(process.pid + 1), LISTEN_FDNAMES: 'https', PATH: '/bin' };
  t.same(await takeInheritedSockets(env), []);
  t.same(env, { PATH: '/bin' }, 'nothing started later sees them');
});

await t.test('LISTEN_FDS of 0 or garbage takes nothing', async (t) => {
  for (const fds of ['0', '-1', 'two', '']) {
    const env: NodeJS.ProcessEnv = { LISTEN_FDS: fds, LISTEN_PID: String(process.pid) };
    t.same(await takeInheritedSockets(env), [], `LISTEN_FDS=${JSON.stringify(fds)}`);
    t.same(env, {});
  }
});

/** Writes a script that takes the inherited sockets and prints what it got as one JSON line. */
function childScript(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-sd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'take.mjs');
  writeFileSync(file, `
import { takeInheritedSockets } from ${JSON.stringify(MODULE)};
try {
  const got = await takeInheritedSockets();
  const left = Object.keys(process.env).filter((k) => k.startsWith('LISTEN_'));
  console.log(JSON.stringify({ got: got.map((s) => ({ fd: s.fd, name: s.name, port: s.bound.port })), left }));
  for (const s of got) s.server.close();
} catch (err) {
  console.log(JSON.stringify({ error: err.message }));
}
`);
  return file;
}

interface ChildResult { got?: { fd: number; name: string | null; port: number }[]; left?: string[]; error?: string }

function runChild(cmd: string, args: readonly string[], trigger?: number): Promise<ChildResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      // systemd-socket-activate starts the command on the first connection.
      if (trigger !== undefined && err.includes('Listening on')) {
        const s = connect(trigger, '127.0.0.1');
        s.on('error', () => {});
        s.on('connect', () => s.destroy());
        trigger = undefined;
      }
    });
    child.on('error', rej);
    child.on('close', () => {
      try {
        res(JSON.parse(out.trim().split('\n').pop() ?? '') as ChildResult);
      } catch {
        rej(new Error(`child printed ${JSON.stringify(out)}; stderr ${err}`));
      }
    });
  });
}

await t.test('a descriptor that is not a listening socket is an error, not a silent skip', async (t) => {
  // fd 3 = /dev/null; env(1) execs node, so $$ is the pid node will have.
  const r = await runChild('sh', ['-c', `exec 3</dev/null; exec env LISTEN_FDS=1 LISTEN_PID=$$ ${process.execPath} ${childScript()}`]);
  t.match(r.error, /inherited file descriptor 3 is not a listening TCP socket/);
});

await t.test('sockets from systemd-socket-activate are taken in order with their names', {
  skip: activate ? false : 'systemd-socket-activate not found (Debian package: systemd)',
}, async (t) => {
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = createServer().listen(0, '127.0.0.1');
    await once(s, 'listening');
    ports.push((s.address() as AddressInfo).port);
    await new Promise<void>((r) => s.close(() => r()));
  }
  // "unknown" is what systemd passes for a socket without FileDescriptorName=.
  const r = await runChild('systemd-socket-activate', [
    ...ports.flatMap((p) => ['-l', `127.0.0.1:${p}`]), '--fdname=https::unknown', '--', process.execPath, childScript(),
  ], ports[0]);
  t.same(r.got, [
    { fd: 3, name: 'https', port: ports[0] },
    { fd: 4, name: null, port: ports[1] },
    { fd: 5, name: null, port: ports[2] },
  ]);
  t.same(r.left, [], 'LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES are gone from process.env');
});
