import type { Socket } from 'node:net';
import { BufferPool } from './buffer-pool.js';
import { canReadIntoUserBuffers, readIntoUserBuffers } from './user-buffer.js';

/** Why a relay ended: both sides closed normally, one side failed, or nothing moved for too long. */
export type RelayEnd =
  | { readonly kind: 'closed' }
  | { readonly kind: 'error'; readonly side: 'client' | 'upstream'; readonly err: Error }
  | { readonly kind: 'idle' };

/**
 * A check on the client's bytes before they go upstream (the http listener's per-request check):
 * `admit` answers how many bytes at the start of a chunk may go on; fewer than all means the
 * client is refused from there on. The relay then sends nothing more upstream, half-closes it so
 * that it can finish what it was asked before, passes the rest of its answer to the client, and
 * ends the client's side with `reply()`. Client bytes after the refusal are read and dropped, so
 * that closing never resets a client that is still reading the reply.
 */
export interface ClientGate {
  admit(chunk: Buffer): number;
  reply(): Uint8Array;
}

/**
 * How bytes are moved: `user-buffers` (reads into reused buffers; where this Node or a socket
 * cannot, relay() uses streams instead) or `streams` (pipe()).
 */
export type DataPath = 'user-buffers' | 'streams';

// Why these sizes: a fresh allocation per read (what pipe() does) cost 2.6× HAProxy's CPU per
// GiB. Every connection's first reads go into one shared 64 KiB buffer and are copied out (the
// copy is what a plain read costs anyway, and idle connections then hold no buffer at all). A
// read that fills it means a bulk transfer: the flow takes a 256 KiB buffer of its own from the
// pool, writes straight from it, and reads into it again once the write has completed. When
// reads get small again the buffer goes back to the pool.
const SHARED_BYTES = 64 * 1024;
const BULK_BYTES = 256 * 1024;
const SMALL_READ_BYTES = BULK_BYTES / 8;
const shared = Buffer.allocUnsafeSlow(SHARED_BYTES);
const EMPTY = new Uint8Array(0);

/** The pool of per-flow bulk buffers (at most 32 idle ones kept: 8 MiB). */
export const bulkBuffers = new BufferPool(BULK_BYTES, 32);

/**
 * One direction of a relay on the user-buffer path: reads from `src` into the buffer chosen for
 * it and writes each read to `dst`. While a write is queued (dst's kernel buffer is full) it
 * stops reading, so a buffer is never overwritten under a queued write and at most one read's
 * worth of bytes waits in memory: that is the backpressure.
 */
class Flow {
  readonly #src: Socket;
  readonly #dst: Socket;
  /** Client → upstream only: the check each read passes (see ClientGate). */
  readonly #gate: Gate | null;
  /** The buffer the next read goes into: `shared`, or a bulk buffer owned by this flow. */
  #next: Buffer = shared;
  /** Reading stopped until dst's queued writes are flushed. */
  #waiting = false;

  constructor(src: Socket, dst: Socket, gate: Gate | null = null) {
    this.#src = src;
    this.#dst = dst;
    this.#gate = gate;
  }

  /**
   * Switches src to user-buffer reads (canReadIntoUserBuffers said yes), writes `head` to dst
   * first, and starts reading.
   */
  start(head: Uint8Array): void {
    readIntoUserBuffers(this.#src, shared, this.#onRead, this.#nextBuffer);
    // The replay is written like any read: with #afterWrite, so that reading src, held back
    // below while the kernel has not taken all of it, starts again once it has.
    if (head.length > 0) this.#dst.write(head, this.#afterWrite);
    // The end came (and was emitted) while the upstream was dialled: nothing left to read.
    if (this.#src.readableEnded) return;
    // Bytes that arrived before the switch (after the ClientHello) wait in the stream's buffer;
    // read() hands them over and starts reads at the handle.
    const early = this.#src.read() as Buffer | null;
    const admitted = early === null || this.#gate === null ? early : this.#gate.pass(early);
    if (admitted !== null && admitted.length > 0) this.#dst.write(admitted, this.#afterWrite);
    if (this.#dst.writableLength > 0) {
      this.#waiting = true;
      this.#src.pause();
    }
  }

  /** Gives the bulk buffer back; only once both sockets are closed (no write can refer to it). */
  dispose(): void {
    if (this.#next !== shared) bulkBuffers.release(this.#next);
    this.#next = shared;
  }

  readonly #onRead = (nread: number, buffer: Buffer): boolean => {
    const dst = this.#dst;
    // Once refused, the client's bytes are read and dropped even after upstream closed (see
    // ClientGate), so that its FIN is seen.
    if (this.#gate?.refused === true) {
      this.#gate.pass(buffer.subarray(0, nread));
      return true;
    }
    if (dst.destroyed) return false;
    if (this.#gate !== null) {
      const admitted = this.#gate.pass(buffer.subarray(0, nread));
      if (admitted.length < nread) {
        // Refused (or refused before): what was admitted goes on, the rest is dropped.
        if (admitted.length > 0) dst.write(Buffer.from(admitted), this.#afterWrite);
        if (buffer !== shared) {
          bulkBuffers.release(buffer);
          this.#next = shared;
        }
        return true;
      }
    }
    if (buffer === shared) {
      // Every connection reads into `shared`: a queued write must never point into it.
      dst.write(Buffer.from(buffer.subarray(0, nread)), this.#afterWrite);
      if (nread === SHARED_BYTES) this.#next = bulkBuffers.take();
    } else {
      dst.write(buffer.subarray(0, nread), this.#afterWrite);
      if (nread < SMALL_READ_BYTES && dst.writableLength === 0) {
        bulkBuffers.release(buffer);
        this.#next = shared;
      }
    }
    if (dst.writableLength === 0) return true;
    this.#waiting = true;
    return false;
  };

  readonly #nextBuffer = (): Buffer => this.#next;

  readonly #afterWrite = (): void => {
    if (!this.#waiting || this.#dst.writableLength > 0) return;
    this.#waiting = false;
    // read(0) restarts reads at the handle (Socket.read does so in user-buffer mode).
    if (!this.#src.destroyed) this.#src.read(0);
  };
}

/** Client bytes read and dropped after a refusal before the client is cut off (reset). */
const MAX_DROPPED_BYTES = 64 * 1024;

/** A ClientGate with the relay's side of a refusal: half-close upstream, reply after its end. */
class Gate {
  readonly #gate: ClientGate;
  readonly #client: Socket;
  readonly #upstream: Socket;
  refused = false;
  #dropped = 0;

  constructor(gate: ClientGate, client: Socket, upstream: Socket) {
    this.#gate = gate;
    this.#client = client;
    this.#upstream = upstream;
  }

  /** The admitted part of `chunk`; on the refusal, upstream gets its FIN after that part. */
  pass(chunk: Buffer): Buffer {
    if (this.refused) return this.#drop(chunk);
    const n = this.#gate.admit(chunk);
    if (n >= chunk.length) return chunk;
    this.refused = true;
    // After the caller has written the admitted part (it does so before returning to the loop).
    queueMicrotask(() => this.#upstream.end());
    this.#drop(chunk.subarray(n));
    return chunk.subarray(0, n);
  }

  /** How the client's side ends once upstream has: with the reply after a refusal. */
  endClient(): void {
    if (this.refused) this.#client.end(this.#gate.reply());
    else this.#client.end();
  }

  /** Drops bytes after the refusal; a client that keeps sending is cut off. */
  #drop(chunk: Buffer): Buffer {
    this.#dropped += chunk.length;
    if (this.#dropped > MAX_DROPPED_BYTES) resetSocket(this.#client);
    return chunk.subarray(0, 0);
  }
}

/**
 * Closes `socket` with a TCP reset. While its FIN is still being sent (end() called, 'finish'
 * not yet emitted) libuv refuses the reset (uv_tcp_close_reset: EINVAL) and Node would then
 * never close the handle, so such a socket is destroyed normally: its peer gets the FIN it was
 * already promised.
 */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded && !socket.writableFinished) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * Splices `client` and `upstream` both ways after writing `head` (the bytes already read from
 * the client, replayed unchanged). Backpressure: a side stops reading while the other has
 * bytes queued, the replay included. An end on one side is passed on as end() to the other
 * while the other direction keeps flowing (half-close, as tcpproxy's proxyCopy does). An error
 * on one side (a reset, EPIPE, ...) resets the other (RST, resetAndDestroy) and destroys both;
 * `idleTimeoutMs` with no bytes either way destroys both (FIN). `onEnd` is called exactly once,
 * after both sockets are closed. Both sockets must have been created with allowHalfOpen.
 */
export function relay(
  client: Socket,
  upstream: Socket,
  head: Uint8Array,
  idleTimeoutMs: number,
  onEnd: (end: RelayEnd) => void,
  dataPath: DataPath = 'user-buffers',
  clientGate: ClientGate | null = null,
): void {
  let end: RelayEnd | null = null;
  const gate = clientGate === null ? null : new Gate(clientGate, client, upstream);
  let open = 2;
  const flows: Flow[] = [];
  const stop = (why: RelayEnd): void => {
    if (end === null && why.kind === 'error') {
      // The failed side's stream is cut off: the other side gets a reset too, never a FIN
      // that would make a truncated body look complete.
      resetSocket(why.side === 'client' ? upstream : client);
    }
    end ??= why;
    client.destroy();
    upstream.destroy();
  };
  const closed = (): void => {
    open -= 1;
    if (open > 0) return;
    for (const flow of flows) flow.dispose();
    onEnd(end ?? { kind: 'closed' });
  };
  client.on('error', (err) => stop({ kind: 'error', side: 'client', err }));
  upstream.on('error', (err) => stop({ kind: 'error', side: 'upstream', err }));
  // A socket's timeout counts reads and writes, and every byte relayed is a read on one socket
  // and a write on the other, so either timer firing means the whole connection was idle.
  client.setTimeout(idleTimeoutMs, () => stop({ kind: 'idle' }));
  upstream.setTimeout(idleTimeoutMs, () => stop({ kind: 'idle' }));
  // 'close' and 'end' are emitted at most once per socket, so the listeners below are added
  // with on(): once() would cost a wrapper per listener and a removeListener when it fires
  // (issue #18: with the same change in connection.ts and dial.ts, 25.4 → 24.4 KiB of the heap
  // allocated per connection on Node 26).
  for (const socket of [client, upstream]) {
    // A socket that is already closed (the client reset while we were connecting) will not
    // emit 'close' again.
    if (socket.closed) queueMicrotask(closed);
    else socket.on('close', closed);
  }
  // If one side is gone already, tear the other down and report a normal close.
  if (client.destroyed || upstream.destroyed) {
    stop({ kind: 'closed' });
    return;
  }
  const replay = gate === null ? head : gate.pass(Buffer.from(head.buffer, head.byteOffset, head.byteLength));
  const endClient = (): void => {
    if (gate === null) client.end();
    else gate.endClient();
  };
  if (dataPath === 'user-buffers' && canReadIntoUserBuffers(client) && canReadIntoUserBuffers(upstream)) {
    const up = new Flow(client, upstream, gate);
    const down = new Flow(upstream, client);
    flows.push(up, down);
    up.start(replay);
    down.start(EMPTY);
    // An end emitted before the relay began (a client that sent its hello, data and FIN at
    // once) is passed on now, as pipe() would.
    if (client.readableEnded) upstream.end();
    else client.on('end', () => upstream.end());
    if (upstream.readableEnded) endClient();
    else upstream.on('end', endClient);
    return;
  }
  // pipe() sees a replay the kernel has not taken yet (writableNeedDrain) and waits for 'drain'
  // before it reads the client.
  if (replay.length > 0) upstream.write(replay);
  if (gate === null) {
    client.pipe(upstream);
    upstream.pipe(client);
    return;
  }
  // The streams path with a gate: pipe() cannot drop bytes, so client → upstream is pumped here,
  // with the same backpressure (the replay included).
  const pump = (chunk: Buffer): void => {
    const admitted = gate.pass(chunk);
    if (admitted.length > 0 && !upstream.write(admitted)) waitForDrain();
  };
  const waitForDrain = (): void => {
    client.pause();
    upstream.once('drain', () => client.resume());
  };
  if (upstream.writableNeedDrain) waitForDrain();
  client.on('data', pump);
  client.once('end', () => upstream.end());
  upstream.pipe(client, { end: false });
  upstream.once('end', endClient);
}
