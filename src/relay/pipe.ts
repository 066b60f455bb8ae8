import type { Socket } from 'node:net';
import { BufferPool } from './buffer-pool.js';
import { canReadIntoUserBuffers, readIntoUserBuffers } from './user-buffer.js';

/** Why a relay ended: both sides closed normally, one side failed, or nothing moved for too long. */
export type RelayEnd =
  | { readonly kind: 'closed' }
  | { readonly kind: 'error'; readonly side: 'client' | 'upstream'; readonly err: Error }
  | { readonly kind: 'idle' };

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
  /** The buffer the next read goes into: `shared`, or a bulk buffer owned by this flow. */
  #next: Buffer = shared;
  /** Reading stopped until dst's queued writes are flushed. */
  #waiting = false;

  constructor(src: Socket, dst: Socket) {
    this.#src = src;
    this.#dst = dst;
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
    if (early !== null) this.#dst.write(early, this.#afterWrite);
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
    if (dst.destroyed) return false;
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
): void {
  let end: RelayEnd | null = null;
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
  for (const socket of [client, upstream]) {
    // A socket that is already closed (the client reset while we were connecting) will not
    // emit 'close' again.
    if (socket.closed) queueMicrotask(closed);
    else socket.once('close', closed);
  }
  // If one side is gone already, tear the other down and report a normal close.
  if (client.destroyed || upstream.destroyed) {
    stop({ kind: 'closed' });
    return;
  }
  if (dataPath === 'user-buffers' && canReadIntoUserBuffers(client) && canReadIntoUserBuffers(upstream)) {
    const up = new Flow(client, upstream);
    const down = new Flow(upstream, client);
    flows.push(up, down);
    up.start(head);
    down.start(EMPTY);
    // An end emitted before the relay began (a client that sent its hello, data and FIN at
    // once) is passed on now, as pipe() would.
    if (client.readableEnded) upstream.end();
    else client.once('end', () => upstream.end());
    if (upstream.readableEnded) client.end();
    else upstream.once('end', () => client.end());
    return;
  }
  // pipe() sees a replay the kernel has not taken yet (writableNeedDrain) and waits for 'drain'
  // before it reads the client.
  if (head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
}
