// The data path on real loopback sockets, once per data path: bytes arrive intact both ways,
// half-closes pass through, backpressure bounds what waits in memory, and the end is reported
// once with the right kind.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import t from 'tap';
import { resolve as resolvePath } from 'node:path';
import { bulkBuffers, relay, type ClientGate, type DataPath, type RelayEnd } from '../../src/relay/pipe.js';
import { userBuffersAvailable } from '../../src/relay/user-buffer.js';
import { createNetns } from '../helpers/netns.js';
import { patternChunk } from '../helpers/origin.js';
import type { ReplayResult } from '../helpers/replay-relay.js';

/** A listening server whose connections are handed to `take` (one at a time, in order). */
async function listen(): Promise<{ server: Server; port: number; next: () => Promise<Socket> }> {
  const queue: Socket[] = [];
  const waiters: ((s: Socket) => void)[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    const w = waiters.shift();
    if (w === undefined) queue.push(s);
    else w(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const next = (): Promise<Socket> => {
    const s = queue.shift();
    return s === undefined ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve(s);
  };
  return { server, port: (server.address() as AddressInfo).port, next };
}

const front = await listen();
const back = await listen();

interface Pair {
  /** The test's client, connected to the front. */
  readonly client: Socket;
  /** The front's side of the client connection (what the daemon accepted). */
  readonly accepted: Socket;
  /** The connection to the backend (what the daemon dialled). */
  readonly upstream: Socket;
  /** The backend's side of that connection. */
  readonly backend: Socket;
}

/** A client connected through the front and a dialled connection to the backend, not relayed yet. */
async function pair(): Promise<Pair> {
  const client = connect({ port: front.port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  const accepted = await front.next();
  const upstream = connect({ port: back.port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  upstream.on('error', () => {});
  await once(upstream, 'connect');
  const backend = await back.next();
  t.teardown(() => {
    for (const s of [client, accepted, upstream, backend]) s.destroy();
  });
  return { client, accepted, upstream, backend };
}

/** Starts the relay; resolves with how it ended. */
function startRelay(p: Pair, head: Uint8Array, path: DataPath, idleMs = 30_000): Promise<RelayEnd> {
  return new Promise((resolve) => relay(p.accepted, p.upstream, head, idleMs, resolve, path));
}

/** Everything a socket receives until its end, hashed; the socket stays open for writing. */
async function drain(s: Socket): Promise<{ bytes: number; sha: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  // Not `for await`: the iterator destroys the socket at the end, and half-close tests write after it.
  s.on('data', (chunk: Buffer) => {
    h.update(chunk);
    bytes += chunk.length;
  });
  await once(s, 'end');
  return { bytes, sha: h.digest('hex') };
}

/**
 * Reads `s` until its end: `got` is what arrived so far, `how` how it ended ('end' for a FIN,
 * else the error code, e.g. ECONNRESET for a reset) once `closed` has resolved.
 */
function watch(s: Socket): { got: string; how: string; closed: Promise<unknown> } {
  // Not once(s, 'close'): it rejects on 'error', which is what a reset emits. A half-open
  // socket stays open after a FIN: 'end' is an end too.
  const closed = new Promise((resolve) => {
    s.once('close', resolve);
    s.once('end', resolve);
  });
  const w = { got: '', how: 'end', closed };
  s.on('data', (c: Buffer) => { w.got += c.toString(); });
  s.on('error', (err: NodeJS.ErrnoException) => { w.how = err.code ?? err.message; });
  return w;
}

/** Waits until `w` has read `n` bytes. */
async function untilRead(s: Socket, w: { got: string }, n: number): Promise<void> {
  while (w.got.length < n) await once(s, 'data');
}

/** Writes `data` in pieces with backpressure, then ends. */
async function send(s: Socket, data: Buffer): Promise<void> {
  for (let i = 0; i < data.length; i += 1 << 20) {
    if (!s.write(data.subarray(i, i + (1 << 20)))) await once(s, 'drain');
  }
  s.end();
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const paths: readonly DataPath[] = ['user-buffers', 'streams'];

t.ok(userBuffersAvailable, 'this Node lets the relay read into its own buffers (else only the streams path runs)');

for (const path of paths) {
  await t.test(`${path}: a client gate stops at the refused byte; upstream finishes, then the client gets the reply`, async (t) => {
    const p = await pair();
    // Refuses from the first 'X' on, across the replay and later reads.
    let seen = 0;
    const gate: ClientGate = {
      admit: (chunk) => {
        const x = chunk.indexOf('X');
        seen += x === -1 ? chunk.length : x;
        return x === -1 ? chunk.length : x;
      },
      reply: () => Buffer.from('REFUSED'),
    };
    const client = watch(p.client);
    const ended = new Promise<RelayEnd>((resolve) => relay(p.accepted, p.upstream, Buffer.from('head:'), 30_000, resolve, path, gate));
    const atBackend = watch(p.backend);
    p.client.write('ok1,');
    await untilRead(p.backend, atBackend, 'head:ok1,'.length);
    p.client.write('ok2,Xnever');
    // The upstream gets its FIN right after the admitted bytes, and answers before it ends.
    await atBackend.closed;
    t.equal(atBackend.got, 'head:ok1,ok2,', 'upstream saw exactly the admitted bytes, then a FIN');
    p.backend.end('answer;');
    await client.closed;
    t.equal(client.got, 'answer;REFUSED', 'the upstream\'s answer, then the reply');
    t.equal(client.how, 'end', 'the client gets a FIN, not a reset');
    p.client.end();
    t.same(await ended, { kind: 'closed' });
    t.equal(seen, 'head:ok1,ok2,'.length);
  });
}

for (const path of paths) {
  await t.test(`${path}: 24 MiB each way at once, byte for byte, then a normal end`, async (t) => {
    const p = await pair();
    const up = randomBytes(24 << 20);
    const down = randomBytes(24 << 20);
    const ended = startRelay(p, Buffer.alloc(0), path);
    const [atBackend, atClient] = await Promise.all([drain(p.backend), drain(p.client), send(p.client, up), send(p.backend, down)]);
    t.same(atBackend, { bytes: up.length, sha: sha(up) }, 'upload intact');
    t.same(atClient, { bytes: down.length, sha: sha(down) }, 'download intact');
    t.same(await ended, { kind: 'closed' }, 'ended as closed');
    t.equal(p.upstream.bytesWritten, up.length, 'upstream bytesWritten counts the upload');
    t.equal(p.accepted.bytesWritten, down.length, 'client bytesWritten counts the download');
  });

  await t.test(`${path}: head first, then bytes that arrived before the relay, then the client's FIN`, async (t) => {
    const p = await pair();
    p.client.write('HEAD');
    const [first] = (await once(p.accepted, 'data')) as [Buffer];
    p.accepted.pause();
    p.client.end('early bytes');
    // Wait until the early bytes sit in the accepted socket's buffer, as they do while the
    // daemon dials the upstream.
    while (p.accepted.readableLength < 'early bytes'.length) await once(p.accepted, 'readable');
    const ended = startRelay(p, first, path);
    const atBackend = await drain(p.backend);
    t.equal(atBackend.sha, sha(Buffer.from('HEADearly bytes')), 'upstream got head, early bytes, in order, then EOF');
    p.backend.end('reply after the half-close');
    const atClient = await drain(p.client);
    t.equal(atClient.sha, sha(Buffer.from('reply after the half-close')), 'the other direction kept flowing');
    t.same(await ended, { kind: 'closed' });
  });

  await t.test(`${path}: a FIN that came (and was emitted) before the relay is passed on`, async (t) => {
    const p = await pair();
    p.client.end('HELLO');
    const [first] = (await once(p.accepted, 'data')) as [Buffer];
    p.accepted.pause();
    await once(p.accepted, 'end');
    const ended = startRelay(p, first, path);
    t.equal((await drain(p.backend)).sha, sha(Buffer.from('HELLO')), 'upstream got the head and EOF');
    p.backend.end('answer');
    t.equal((await drain(p.client)).sha, sha(Buffer.from('answer')), 'client got the answer');
    t.same(await ended, { kind: 'closed' });
  });

  await t.test(`${path}: a slow reader holds the relay back; at most ~one buffer waits in memory`, async (t) => {
    const p = await pair();
    const data = randomBytes(8 << 20);
    const ended = startRelay(p, Buffer.alloc(0), path);
    let maxHeld = 0;
    let sawQueue = false;
    // The client takes 1 KiB per event-loop turn: far slower than loopback, so the relay's
    // writes to it queue and the relay must stop reading the backend.
    const h = createHash('sha256');
    let got = 0;
    const done = (async () => {
      await send(p.backend, data);
    })();
    p.client.pause();
    for (;;) {
      const held = p.accepted.writableLength + p.upstream.readableLength;
      if (p.accepted.writableLength > 0) sawQueue = true;
      maxHeld = Math.max(maxHeld, held);
      const chunk = p.client.read(1024) as Buffer | null;
      if (chunk !== null) {
        h.update(chunk);
        got += chunk.length;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      if (p.client.readableEnded) break;
      await Promise.race([once(p.client, 'readable'), once(p.client, 'end')]);
      if (got === data.length && p.client.readableLength === 0) {
        if (p.client.readableEnded) break;
      }
    }
    await done;
    t.equal(got, data.length, 'all bytes arrived');
    t.equal(h.digest('hex'), sha(data), 'intact');
    t.ok(sawQueue, 'the relay had writes queued to the client (backpressure was exercised)');
    t.ok(maxHeld <= 512 * 1024, `relay held at most ${maxHeld} bytes in memory (≤ 512 KiB)`);
    p.client.end();
    t.same(await ended, { kind: 'closed' });
  });

  await t.test(`${path}: an upstream reset ends the relay as an upstream error and resets the client`, async (t) => {
    const p = await pair();
    const seen = watch(p.client);
    const ended = startRelay(p, Buffer.from('x'), path);
    await once(p.backend, 'data');
    p.backend.write('part of a body');
    // The reset comes once the relay has passed the bytes on.
    await untilRead(p.client, seen, 'part of a body'.length);
    p.backend.resetAndDestroy();
    const end = await ended;
    t.equal(end.kind, 'error');
    t.equal(end.kind === 'error' ? end.side : null, 'upstream');
    t.ok(p.accepted.destroyed && p.upstream.destroyed, 'both sides destroyed');
    await seen.closed;
    t.same({ got: seen.got, how: seen.how }, { got: 'part of a body', how: 'ECONNRESET' }, 'the client read what came, then a reset, not a clean end');
  });

  await t.test(`${path}: a client reset ends the relay as a client error and resets the upstream`, async (t) => {
    const p = await pair();
    const seen = watch(p.backend);
    const ended = startRelay(p, Buffer.from('HEAD'), path);
    p.client.write('part of an upload');
    await untilRead(p.backend, seen, 'HEADpart of an upload'.length);
    p.client.resetAndDestroy();
    const end = await ended;
    t.equal(end.kind, 'error');
    t.equal(end.kind === 'error' ? end.side : null, 'client');
    await seen.closed;
    t.same({ got: seen.got, how: seen.how }, { got: 'HEADpart of an upload', how: 'ECONNRESET' }, 'the backend read what came, then a reset, not a clean end');
  });

  await t.test(`${path}: a reset after the other side's FIN: the client's next bytes end the relay`, async (t) => {
    // The download is complete (FIN passed on); then the upstream resets while the client
    // still sends. The client's FIN stays a FIN (its download was whole), the upload fails.
    const p = await pair();
    const ended = startRelay(p, Buffer.from('x'), path);
    await once(p.backend, 'data');
    p.backend.end('whole body');
    t.equal((await drain(p.client)).sha, sha(Buffer.from('whole body')), 'the client got the body and a FIN');
    const closed = new Promise((resolve) => p.client.once('close', resolve));
    p.backend.resetAndDestroy();
    // The relay's upstream socket stopped polling at its EOF: the reset shows on the next write.
    p.client.write('more upload');
    const end = await ended;
    t.equal(end.kind === 'error' ? end.side : null, 'upstream', 'ended as an upstream error');
    // The client, past its own EOF, also sees the reset on its next write.
    p.client.write('still more');
    await closed;
    t.pass('the client connection failed on its next write');
  });

  await t.test(`${path}: nothing either way for idle_timeout ends it as idle`, async (t) => {
    const p = await pair();
    const ended = startRelay(p, Buffer.alloc(0), path, 50);
    t.same(await ended, { kind: 'idle' });
    t.ok(p.accepted.destroyed && p.upstream.destroyed, 'both sides destroyed');
    p.client.resume();
    // A FIN ('end') or, if the kernel answered with a reset, 'close' (either maybe emitted already).
    if (!p.client.readableEnded && !p.client.closed) await Promise.race([once(p.client, 'end'), once(p.client, 'close')]);
    t.pass('the client saw its connection end');
  });
}

// Tiny socket buffers (tcp_wmem/tcp_rmem are per network namespace, and Node cannot set
// SO_SNDBUF on a TCP socket): the kernel takes a few KiB of a write at a time, so a multi-MiB
// replay is still queued when the relay starts reading the client. The relay runs in a child
// process started inside the namespace (test/helpers/replay-relay.ts).
const REPLAY_CHILD = resolvePath(import.meta.dirname, '../helpers/replay-relay.js');
const REPLAY_IDLE_MS = 10_000;

await t.test('a multi-MiB replay through 4 KiB socket buffers (network namespace)', async (t) => {
  const ns = await createNetns('sfwd-relay');
  if ('unavailable' in ns) {
    t.comment(`skipped: network namespaces unavailable: ${ns.unavailable}`);
    return;
  }
  t.teardown(() => ns.remove());
  for (const key of ['net.ipv4.tcp_wmem', 'net.ipv4.tcp_rmem']) {
    const r = await ns.run('sysctl', ['-w', `${key}=4096 4096 4096`]);
    t.equal(r.code, 0, `${key} set in the namespace ${r.stderr}`);
  }
  for (const path of paths) {
    await t.test(`${path}: the client's bytes after the replay do not wait for idle_timeout`, { timeout: 60_000 }, async (t) => {
      const head = 4 << 20;
      const tail = 256 * 1024;
      const r = await ns.run(process.execPath, [REPLAY_CHILD, String(head), String(tail), path, String(REPLAY_IDLE_MS)]);
      t.equal(r.code, 0, r.stderr);
      // Our own child printed this object.
      const got = JSON.parse(r.stdout) as ReplayResult;
      t.comment(`${got.bytes} bytes reached the backend in ${got.ms} ms (idle_timeout ${REPLAY_IDLE_MS} ms)`);
      const want = Buffer.concat([patternChunk(head), patternChunk(tail, 2)]);
      t.equal(got.bytes, want.length, 'the replay, then every byte the client sent after it');
      t.equal(got.sha256, sha(want), 'intact and in order');
      t.equal(got.end, 'closed', 'ended normally, not by idle_timeout');
      t.ok(got.ms < REPLAY_IDLE_MS / 2, `the client's FIN reached the backend after ${got.ms} ms, well before idle_timeout`);
    });
  }
});

t.equal(bulkBuffers.inUse, 0, 'every bulk buffer went back to the pool when its relay ended');
