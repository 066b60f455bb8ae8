import type { Socket } from 'node:net';

/** Why a relay ended: both sides closed normally, one side failed, or nothing moved for too long. */
export type RelayEnd =
  | { readonly kind: 'closed' }
  | { readonly kind: 'error'; readonly side: 'client' | 'upstream'; readonly err: Error }
  | { readonly kind: 'idle' };

/**
 * Splices `client` and `upstream` both ways after writing `head` (the bytes already read from
 * the client, replayed unchanged). Backpressure comes from pipe(); an end on one side is passed
 * on as end() to the other while the other direction keeps flowing (half-close, as tcpproxy's
 * proxyCopy does). An error on either side, or `idleTimeoutMs` with no bytes either way,
 * destroys both. `onEnd` is called exactly once, after both sockets are closed.
 * Both sockets must have been created with allowHalfOpen.
 */
export function relay(
  client: Socket,
  upstream: Socket,
  head: Uint8Array,
  idleTimeoutMs: number,
  onEnd: (end: RelayEnd) => void,
): void {
  let end: RelayEnd | null = null;
  let open = 2;
  const stop = (why: RelayEnd): void => {
    end ??= why;
    client.destroy();
    upstream.destroy();
  };
  const closed = (): void => {
    open -= 1;
    if (open === 0) onEnd(end ?? { kind: 'closed' });
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
  if (head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
}
