// File descriptors running out (issue 8, "Faults"): libuv drops the connections it cannot accept
// without telling Node, so FdWatch counts /proc/self/fd and says so, rate-limited. Unit tests of
// the counting and the rate limit, then a real daemon under `prlimit --nofile`.
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { FD_WARN_INTERVAL_MS, FdWatch, countOpenFds, fdHeadroom, readFdLimit } from '../../src/daemon/fd-watch.js';
import { DaemonProcess, loopbackConfig, type LogLine } from '../helpers/daemon.js';
import { fetchHello, startTlsOrigin } from '../helpers/origin.js';
import { run } from '../helpers/proc.js';

/** A pino logger writing into `lines`. */
function capture(lines: LogLine[]): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

await t.test('this process: the limit is read and the count is plausible', async (t) => {
  const limit = readFdLimit();
  t.ok(limit !== null && limit > 0, `limit ${limit}`);
  const open = await countOpenFds(limit ?? 0);
  t.ok(open >= 3 && open < (limit ?? 0), `open ${open}`);
  t.equal(readFdLimit('/nonexistent'), null, 'no file: null');
  t.equal(await countOpenFds(77, '/proc/self/fd-nonexistent').catch((err: NodeJS.ErrnoException) => err.code), 'ENOENT', 'other errors are not mistaken for exhaustion');
  t.equal(fdHeadroom(40), 2);
  t.equal(fdHeadroom(1024), 52);
});

await t.test('warns on entering, at most once per interval while it lasts, and says when it is over', async (t) => {
  const lines: LogLine[] = [];
  let open = 10;
  let now = 1_000_000;
  const watch = new FdWatch(capture(lines), 100, () => Promise.resolve(open), () => now);
  await watch.check();
  t.same(lines, [], 'nothing while there is room');
  open = 96; // 4 free, headroom 5
  for (let i = 0; i < 30; i++) {
    await watch.check();
    now += 1000; // the real watch checks every second
  }
  const warns = lines.filter((l) => l.msg === 'file descriptors nearly exhausted');
  t.equal(warns.length, Math.ceil(30_000 / FD_WARN_INTERVAL_MS), '30 checks over 30 s: one line per interval');
  t.match(warns[0], { level: 40, open: 96, limit: 100, checks: 1 });
  t.match(warns[1], { checks: FD_WARN_INTERVAL_MS / 1000 }, 'a repeat counts the checks since the last line');
  open = 50;
  await watch.check();
  await watch.check();
  t.match(lines.filter((l) => l.msg === 'file descriptors available again'), [{ level: 30, open: 50, limit: 100, warnings: warns.length }], 'one recovery line');
  open = 100; // running out again, soon after: warned at once
  await watch.check();
  t.equal(lines.filter((l) => l.msg === 'file descriptors nearly exhausted').length, warns.length + 1);
});

await t.test('a count that fails is skipped, not thrown', async (t) => {
  const lines: LogLine[] = [];
  const watch = new FdWatch(capture(lines), 100, () => Promise.reject(new Error('boom')));
  await watch.check();
  t.match(lines, [{ level: 20, msg: 'cannot count open file descriptors' }]);
});

const prlimit = await run('prlimit', ['--version'], { timeoutMs: 5000 });
const noPrlimit = prlimit.code === 0 ? false : 'prlimit (util-linux) is not installed';

await t.test('a daemon out of descriptors logs it, keeps running and serves again once they are free', { skip: noPrlimit }, async (t) => {
  const { ca, origin } = await startTlsOrigin('fd', ['fd.test'], (fn) => t.teardown(fn));
  // 48 descriptors: the idle daemon uses about 22 (stdio, epoll, libuv's threads and reserve,
  // two listening sockets), so some 25 client connections use up the rest.
  const LIMIT = 48;
  const d = await DaemonProcess.start(loopbackConfig(`
limits:
  client_hello_timeout: 60s
routes:
  - hosts: ["fd.test"]
    upstream: "127.0.0.1:${origin.port}"
`), ['prlimit', `--nofile=${LIMIT}`, '--']);
  t.teardown(() => d.stop());
  const port = d.listenerPort();
  t.equal(await fetchHello({ port, servername: 'fd.test', caPem: ca.caPem }), 'hello from fd\n', 'served before');
  await d.accessLine((l) => l['outcome'] === 'forwarded');

  // Idle connections (no hello yet, a long hello timeout) that each hold a descriptor, opened
  // until the watch reports exhaustion: more than the limit could ever hold.
  const held: Socket[] = [];
  t.teardown(() => { for (const s of held) s.destroy(); });
  const warned = d.waitFor((l) => l.msg === 'file descriptors nearly exhausted');
  let reported = false;
  void warned.then(() => { reported = true; });
  for (let i = 0; i < 2 * LIMIT && !reported; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    held.push(s);
    await new Promise((resolve) => s.once('connect', resolve));
  }
  const warn = await warned;
  t.equal(warn['limit'], LIMIT, 'reports the soft limit');
  t.ok(Number(warn['open']) >= LIMIT - 2, `reports the open count ${String(warn['open'])}`);
  // Connections past the limit are accepted and closed by libuv (its EMFILE trick): one more
  // is dropped without the daemon seeing it.
  const extra = connect(port, '127.0.0.1');
  extra.on('error', () => {});
  held.push(extra);
  await new Promise((resolve) => extra.once('close', resolve));
  t.pass('a connection past the limit is closed');
  t.equal(d.child.exitCode, null, 'the daemon is still running');

  for (const s of held) s.destroy();
  const recovered = await d.waitFor((l) => l.msg === 'file descriptors available again');
  const warnings = d.lines.filter((l) => l.msg === 'file descriptors nearly exhausted');
  const spanMs = Date.parse(String(recovered['time'])) - Date.parse(String(warn['time']));
  t.ok(warnings.length <= 1 + Math.floor(spanMs / 10_000), `${warnings.length} warning(s) in ${spanMs} ms: at most one per 10 s`);
  t.equal(recovered['warnings'], warnings.length, 'the recovery line counts them');
  const health = await fetch(`${d.metricsUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  t.equal(health.status, 200, '/healthz answers');
  t.equal(await fetchHello({ port, servername: 'fd.test', caPem: ca.caPem }), 'hello from fd\n', 'served again');
  t.equal(d.lines.filter((l) => l.msg === 'uncaught exception' || l['level'] === 60).length, 0, 'no fatal line');
});
