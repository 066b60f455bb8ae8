import { connect, type Socket } from 'node:net';
import { ForwardError, errorCode } from '../errors.js';

/** One failed connection attempt, for the access log. */
export interface DialAttempt {
  readonly address: string;
  readonly code: string;
}

/** A connected upstream socket and how it was reached. */
export interface Dialed {
  readonly socket: Socket;
  readonly address: string;
  readonly attempts: readonly DialAttempt[];
}

/** ForwardError for a failed dial; `attempts` lists every address tried and its error code. */
export class DialError extends ForwardError {
  override name = 'DialError';
  constructor(readonly attempts: readonly DialAttempt[], message: string, options?: ErrorOptions) {
    super('upstream_unreachable', message, options);
  }
}

/** Formats "addr:port" with brackets for IPv6. */
export function formatAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Connects to the first of `addresses` (IP literals, in preference order) that accepts on
 * `port`, trying them one after another, all within `timeoutMs`. The socket is half-open
 * capable and has an 'error' handler that the caller must replace by its own. Rejects with
 * DialError on failure or when `signal` aborts.
 */
export async function dial(
  addresses: readonly string[],
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Dialed> {
  const deadline = Date.now() + timeoutMs;
  const attempts: DialAttempt[] = [];
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted === true) break;
    try {
      const socket = await connectOne(address, port, left, signal);
      return { socket, address, attempts };
    } catch (err) {
      attempts.push({ address: formatAddress(address, port), code: errorCode(err) });
    }
  }
  const summary = attempts.map((a) => `${a.address} ${a.code}`).join(', ');
  throw new DialError(attempts, `connect: ${summary === '' ? 'no address' : summary}`);
}

function connectOne(address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    const onAbort = (): void => fail(Object.assign(new Error('connect aborted'), { code: 'ABORTED' }));
    signal?.addEventListener('abort', onAbort, { once: true });
    function cleanup(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
    }
    function fail(err: Error): void {
      cleanup();
      socket.destroy();
      reject(err);
    }
    function onConnect(): void {
      cleanup();
      socket.off('error', fail);
      // Keep an error handler until the caller attaches its own (STYLE §6).
      socket.on('error', () => {});
      resolve(socket);
    }
    socket.once('error', fail);
    socket.once('connect', onConnect);
  });
}
