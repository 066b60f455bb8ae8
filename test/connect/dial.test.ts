import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import t from 'tap';
import { dial, dialOne, DialError, interleaveFamilies, type DialAttempt, type Dialed } from '../../src/connect/dial.js';
import { createNetns, type Netns } from '../helpers/netns.js';

/** Listens on `address`:`port` (0 = any free port) and resolves once listening. */
async function listen(address: string, port = 0): Promise<Server> {
  const server = createServer();
  server.listen(port, address);
  await once(server, 'listening');
  return server;
}

function portOf(server: Server): number {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('not a TCP server');
  return a.port;
}

async function close(server: Server): Promise<void> {
  server.close();
  await once(server, 'close');
}

/**
 * One port number listened on at every address, so that each of them can be closed (refused)
 * or kept listening. Holding the port on all of them at once means no other socket has it.
 */
async function samePortOn(addresses: readonly string[]): Promise<{ port: number; servers: Server[] }> {
  const [first, ...rest] = addresses;
  if (first === undefined) throw new Error('no address');
  const servers = [await listen(first)];
  const port = portOf(servers[0]!);
  for (const a of rest) servers.push(await listen(a, port));
  return { port, servers };
}

/**
 * Counts the connections the servers accept; `allClosed` resolves once none is open (rejects
 * after 5 s), and `destroyAll` ends whatever is left so that the servers can close.
 */
function trackConnections(servers: readonly Server[]): {
  accepted: () => number;
  allClosed: () => Promise<void>;
  destroyAll: () => void;
} {
  let accepted = 0;
  const open = new Set<Socket>();
  let onIdle: (() => void) | null = null;
  for (const server of servers) {
    server.on('connection', (s: Socket) => {
      accepted++;
      open.add(s);
      s.on('error', () => {}); // a destroyed client may reset
      s.once('close', () => {
        open.delete(s);
        if (open.size === 0) onIdle?.();
      });
    });
  }
  return {
    accepted: () => accepted,
    allClosed: () =>
      new Promise((resolve, reject) => {
        if (open.size === 0) return resolve();
        const timer = setTimeout(() => reject(new Error(`${open.size} connection(s) still open`)), 5_000);
        onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    destroyAll: () => {
      for (const s of open) s.destroy();
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<DialError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DialError) return err;
    throw err;
  }
  throw new Error('dial resolved, expected a DialError');
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

await t.test('interleaveFamilies alternates families, preferred (first) family first', (t) => {
  const cases: { name: string; input: string[]; want: string[] }[] = [
    { name: 'empty', input: [], want: [] },
    { name: 'one family keeps its order', input: ['10.0.0.1', '10.0.0.2', '10.0.0.3'], want: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] },
    { name: 'IPv4 preferred', input: ['10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:db8::2'], want: ['10.0.0.1', '2001:db8::1', '10.0.0.2', '2001:db8::2'] },
    { name: 'IPv6 preferred', input: ['2001:db8::1', '2001:db8::2', '10.0.0.1', '10.0.0.2'], want: ['2001:db8::1', '10.0.0.1', '2001:db8::2', '10.0.0.2'] },
    { name: 'more of the preferred family', input: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '2001:db8::1'], want: ['10.0.0.1', '2001:db8::1', '10.0.0.2', '10.0.0.3'] },
    { name: 'more of the other family', input: ['10.0.0.1', '2001:db8::1', '2001:db8::2', '2001:db8::3'], want: ['10.0.0.1', '2001:db8::1', '2001:db8::2', '2001:db8::3'] },
    { name: 'already mixed input is regrouped', input: ['10.0.0.1', '10.0.0.2', '2001:db8::1', '10.0.0.3'], want: ['10.0.0.1', '2001:db8::1', '10.0.0.2', '10.0.0.3'] },
  ];
  for (const c of cases) t.same(interleaveFamilies(c.input), c.want, c.name);
  t.end();
});

await t.test('a refused address moves on to the next at once, without waiting for the delay', async (t) => {
  const { port, servers } = await samePortOn(['127.0.0.1', '127.0.0.2']);
  const [refusing, server] = servers as [Server, Server];
  await close(refusing);
  t.teardown(() => close(server));
  const accepted = once(server, 'connection');

  const t0 = performance.now();
  const d = await dial(['127.0.0.1', '127.0.0.2'], port, 5_000); // default attempt delay, 250 ms
  const elapsedMs = performance.now() - t0;
  t.teardown(() => d.socket.destroy());
  t.comment(`connected via the second address after ${elapsedMs.toFixed(1)} ms`);

  t.equal(d.address, '127.0.0.2');
  t.equal(d.socket.remoteAddress, '127.0.0.2');
  t.ok(d.socket.allowHalfOpen, 'half-open capable');
  t.same(d.attempts, [{ address: `127.0.0.1:${port}`, code: 'ECONNREFUSED' }]);
  t.ok(elapsedMs < 200, `well under the 250 ms attempt delay (${elapsedMs.toFixed(1)} ms)`);
  await accepted;
});

await t.test('when every address refuses, DialError lists every attempt in order', async (t) => {
  const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const { port, servers } = await samePortOn(addresses);
  for (const s of servers) await close(s);
  const timers = activeTimers();

  const err = await rejection(dial(addresses, port, 5_000));
  t.equal(err.outcome, 'upstream_unreachable');
  t.same(err.attempts, addresses.map((a): DialAttempt => ({ address: `${a}:${port}`, code: 'ECONNREFUSED' })));
  t.match(err.message, `127.0.0.1:${port} ECONNREFUSED, 127.0.0.2:${port} ECONNREFUSED, 127.0.0.3:${port} ECONNREFUSED`);
  t.match(err.cause, { code: 'ECONNREFUSED' }, 'keeps the last error as cause');
  t.equal(activeTimers(), timers, 'no timer left behind');
});

await t.test('no addresses rejects at once', async (t) => {
  const err = await rejection(dial([], 443, 5_000));
  t.same(err.attempts, []);
  t.equal(err.message, 'connect: no address');
});

await t.test('abort', async (t) => {
  const { port, servers } = await samePortOn(['127.0.0.1', '127.0.0.2']);
  const conns = trackConnections(servers);
  t.teardown(async () => {
    conns.destroyAll();
    for (const s of servers) await close(s);
  });

  await t.test('an abort while attempts are pending lists them as ABORTED', async (t) => {
    const controller = new AbortController();
    const timers = activeTimers();
    const p = dial(['127.0.0.1', '127.0.0.2'], port, 5_000, controller.signal, { attemptDelayMs: 0 });
    // The first attempt is in flight (net.connect does its work on a later tick); abort now.
    const reason = new Error('client went away');
    controller.abort(reason);
    const err = await rejection(p);
    t.same(err.attempts, [{ address: `127.0.0.1:${port}`, code: 'ABORTED' }], 'the address never tried is not listed');
    t.match(err.cause, { code: 'ABORTED', cause: reason });
    t.equal(err.message, `connect: 127.0.0.1:${port} ABORTED`);
    t.equal(activeTimers(), timers, 'no timer left behind');
  });

  await t.test('an already aborted signal starts nothing', async (t) => {
    const err = await rejection(dial(['127.0.0.1'], port, 5_000, AbortSignal.abort()));
    t.same(err.attempts, []);
    t.equal(err.message, 'connect: aborted');
  });

  await t.test('an abort after the win changes nothing', async (t) => {
    const controller = new AbortController();
    const d = await dial(['127.0.0.1'], port, 5_000, controller.signal);
    controller.abort();
    t.notOk(d.socket.destroyed);
    d.socket.destroy();
  });

  await conns.allClosed();
  t.pass(`aborted attempts left no connection open (${conns.accepted()} accepted)`);
});

await t.test('dialOne: one address without the happy-eyeballs machinery, same answers as dial', async (t) => {
  const one = (address: string, port: number): Promise<Dialed | DialError> => new Promise((resolve) => dialOne(address, port, 5_000, resolve));

  await t.test('connects: socket with noDelay and half-open, no failed attempts', async (t) => {
    const server = await listen('127.0.0.1');
    t.teardown(() => close(server));
    server.on('connection', (s: Socket) => s.destroy());
    const r = await one('127.0.0.1', portOf(server));
    if (r instanceof DialError) throw r;
    t.equal(r.address, '127.0.0.1');
    t.same(r.attempts, []);
    t.equal(r.socket.allowHalfOpen, true);
    t.ok(r.socket.listenerCount('error') > 0, 'keeps an error handler until the caller attaches its own');
    r.socket.destroy();
  });

  await t.test('refused: a DialError like dial()\'s, with the cause', async (t) => {
    const server = await listen('127.0.0.1');
    const port = portOf(server);
    await close(server);
    const [r, want] = [await one('127.0.0.1', port), await rejection(dial(['127.0.0.1'], port, 5_000))];
    t.ok(r instanceof DialError);
    if (!(r instanceof DialError)) return;
    t.same(r.attempts, [{ address: `127.0.0.1:${port}`, code: 'ECONNREFUSED' }]);
    t.equal(r.message, want.message);
    t.equal(r.outcome, 'upstream_unreachable');
    t.equal((r.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });

  await t.test('cancel answers ABORTED at once, and only once', async (t) => {
    const server = await listen('127.0.0.1');
    t.teardown(() => close(server));
    server.on('connection', (s: Socket) => s.destroy());
    const answers: (Dialed | DialError)[] = [];
    const pending = dialOne('127.0.0.1', portOf(server), 5_000, (r) => answers.push(r));
    pending.cancel();
    pending.cancel();
    t.equal(answers.length, 1);
    const [r] = answers;
    t.ok(r instanceof DialError);
    if (!(r instanceof DialError)) return;
    t.same(r.attempts, [{ address: `127.0.0.1:${portOf(server)}`, code: 'ABORTED' }]);
    t.equal(r.message, `connect: 127.0.0.1:${portOf(server)} ABORTED`);
  });
});

await t.test('losing attempts are destroyed: no connection stays open, no timer is left', async (t) => {
  const { port, servers } = await samePortOn(['127.0.0.1', '127.0.0.2']);
  const conns = trackConnections(servers);
  t.teardown(async () => {
    conns.destroyAll();
    for (const s of servers) await close(s);
  });
  const timers = activeTimers();
  const DIALS = 50;
  const winners: Socket[] = [];
  // Both attempts start almost together (delay 0), so the loser is often established on the
  // server before the winner's 'connect' is handled; dial must close it all the same.
  for (let i = 0; i < DIALS; i++) {
    const d = await dial(['127.0.0.1', '127.0.0.2'], port, 5_000, undefined, { attemptDelayMs: 0 });
    winners.push(d.socket);
  }
  t.equal(activeTimers(), timers, 'no timer left behind');
  for (const s of winners) s.destroy();
  await conns.allClosed();
  t.comment(`${conns.accepted() - DIALS} losing attempt(s) reached a server and were closed`);
  t.ok(conns.accepted() >= DIALS, 'every winner was accepted');
});

// A child `node` inside the namespace runs dial (from the compiled build) and prints JSON.
const DIAL_URL = new URL('../../src/connect/dial.js', import.meta.url).href;
const CHILD = `
import { createServer } from 'node:net';
import { once } from 'node:events';
import { dial } from ${JSON.stringify(DIAL_URL)};
const input = JSON.parse(process.argv[1]);
let server = null;
let port = 443;
if (input.listen !== undefined) {
  server = createServer();
  server.listen(0, input.listen);
  await once(server, 'listening');
  port = server.address().port;
}
const signal = input.abortAfterMs === undefined ? undefined : AbortSignal.timeout(input.abortAfterMs);
const t0 = performance.now();
let out;
try {
  const d = await dial(input.addresses, port, input.timeoutMs, signal);
  out = { ok: true, address: d.address, attempts: d.attempts, elapsedMs: performance.now() - t0 };
  d.socket.destroy();
} catch (err) {
  out = { ok: false, name: err.name, attempts: err.attempts, elapsedMs: performance.now() - t0 };
}
server?.close();
console.log(JSON.stringify(out));
// No process.exit(): the child ends only once dial has left no socket and no timer behind.
`;

interface ChildInput {
  readonly addresses: readonly string[];
  readonly timeoutMs: number;
  readonly listen?: string;
  readonly abortAfterMs?: number;
}

interface ChildResult {
  readonly ok: boolean;
  readonly name?: string;
  readonly address?: string;
  readonly attempts: DialAttempt[];
  readonly elapsedMs: number;
  /** Wall time of the whole child process, start to exit. */
  readonly lifeMs: number;
}

async function dialInside(ns: Netns, input: ChildInput): Promise<ChildResult> {
  const t0 = performance.now();
  const r = await ns.run(process.execPath, ['--input-type=module', '-e', CHILD, JSON.stringify(input)]);
  const lifeMs = performance.now() - t0;
  if (r.code !== 0) throw new Error(`child exited with ${String(r.code)}: ${r.stderr}`);
  // Our own child script printed this object.
  return { ...(JSON.parse(r.stdout) as Omit<ChildResult, 'lifeMs'>), lifeMs };
}

const netns = await createNetns('sni-dial');
const skipNetns = 'unavailable' in netns ? netns.unavailable : false;
await t.test('behind an address that drops SYNs (network namespace)', { skip: skipNetns }, async (t) => {
  if ('unavailable' in netns) return;
  const ns = netns;
  t.teardown(() => ns.remove());
  for (const a of ['127.0.0.30', '127.0.0.32', '127.0.0.33']) await ns.dropSyn(a);

  await t.test('the next address is tried after the 250 ms attempt delay and wins', async (t) => {
    // A long timeout: a deadline timer or a SYN-pending socket left behind would keep the
    // child alive for seconds (or minutes of SYN retries) after it printed its result.
    const r = await dialInside(ns, { addresses: ['127.0.0.30', '127.0.0.31'], listen: '127.0.0.31', timeoutMs: 20_000 });
    t.comment(`connected via the second address after ${r.elapsedMs.toFixed(1)} ms; child lived ${r.lifeMs.toFixed(0)} ms`);
    t.ok(r.ok);
    t.equal(r.address, '127.0.0.31');
    t.same(r.attempts, [], 'the pending blackhole attempt did not fail; it was cancelled');
    t.ok(r.elapsedMs >= 200, `waited for the attempt delay (${r.elapsedMs.toFixed(1)} ms)`);
    t.ok(r.elapsedMs < 2_000, 'well before the timeout');
    t.ok(r.lifeMs < 10_000, `the losing attempt and the timers were cleaned up (child lived ${r.lifeMs.toFixed(0)} ms)`);
  });

  await t.test('a blackhole alone times out with ETIMEDOUT at timeoutMs', async (t) => {
    const r = await dialInside(ns, { addresses: ['127.0.0.30'], timeoutMs: 300 });
    t.comment(`gave up after ${r.elapsedMs.toFixed(1)} ms`);
    t.notOk(r.ok);
    t.equal(r.name, 'DialError');
    t.same(r.attempts, [{ address: '127.0.0.30:443', code: 'ETIMEDOUT' }]);
    t.ok(r.elapsedMs >= 290, `not before the timeout (${r.elapsedMs.toFixed(1)} ms)`);
    t.ok(r.elapsedMs < 2_000);
    t.ok(r.lifeMs < 10_000, 'nothing left behind');
  });

  await t.test('attempts run in parallel; addresses not reached by the deadline are not listed', async (t) => {
    // Starts at 0 and 250 ms; the third would start at 500 ms, after the 400 ms deadline.
    const r = await dialInside(ns, { addresses: ['127.0.0.30', '127.0.0.32', '127.0.0.33'], timeoutMs: 400 });
    t.notOk(r.ok);
    t.same(r.attempts, [
      { address: '127.0.0.30:443', code: 'ETIMEDOUT' },
      { address: '127.0.0.32:443', code: 'ETIMEDOUT' },
    ]);
    t.ok(r.elapsedMs >= 390, `one deadline for the whole dial (${r.elapsedMs.toFixed(1)} ms)`);
  });

  await t.test('an abort mid-flight destroys every pending attempt', async (t) => {
    const r = await dialInside(ns, { addresses: ['127.0.0.30', '127.0.0.32', '127.0.0.33'], timeoutMs: 20_000, abortAfterMs: 300 });
    t.notOk(r.ok);
    t.same(r.attempts, [
      { address: '127.0.0.30:443', code: 'ABORTED' },
      { address: '127.0.0.32:443', code: 'ABORTED' },
    ]);
    t.ok(r.elapsedMs >= 290 && r.elapsedMs < 2_000, `at the abort (${r.elapsedMs.toFixed(1)} ms)`);
    t.ok(r.lifeMs < 10_000, `nothing left behind (child lived ${r.lifeMs.toFixed(0)} ms)`);
  });
});
