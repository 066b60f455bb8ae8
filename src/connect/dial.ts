import { connect, type Socket } from 'node:net';
import { ForwardError, errorCode } from '../errors.js';

/** RFC 8305 §8: the recommended Connection Attempt Delay. */
const ATTEMPT_DELAY_MS = 250;

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

/** Tuning for dial(); every field has a default. */
export interface DialOptions {
  /** How long an attempt runs alone before the next address is tried too (RFC 8305 §5); default 250. */
  readonly attemptDelayMs?: number;
}

/**
 * ForwardError for a failed dial; `attempts` lists every address tried and its error code
 * (ETIMEDOUT or ABORTED for attempts still pending at the deadline or the abort).
 */
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
 * Reorders IP literals so that the families alternate, starting with the family of the first
 * one (the preferred family); within a family the order is kept (RFC 8305 §4).
 */
export function interleaveFamilies(addresses: readonly string[]): string[] {
  const first = addresses[0];
  if (first === undefined) return [];
  const isPreferred = (a: string): boolean => a.includes(':') === first.includes(':');
  const preferred = addresses.filter(isPreferred);
  const other = addresses.filter((a) => !isPreferred(a));
  const out: string[] = [];
  for (let i = 0; i < Math.max(preferred.length, other.length); i++) {
    const p = preferred[i];
    const o = other[i];
    if (p !== undefined) out.push(p);
    if (o !== undefined) out.push(o);
  }
  return out;
}

interface Attempt {
  readonly address: string;
  readonly socket: Socket;
  /** null while the attempt is in flight. */
  code: string | null;
}

/**
 * Connects to one of `addresses` (IP literals, preferred family first) on `port` with
 * happy eyeballs (RFC 8305): the families are interleaved, attempts are staggered by
 * `attemptDelayMs`, the first to connect wins and every other attempt is destroyed. Resolves
 * with the winner, whose `attempts` are the ones that failed before it. Rejects with DialError
 * when every address failed, when `timeoutMs` passes, or when `signal` aborts. The socket is
 * half-open capable, has noDelay set, and carries a placeholder 'error' handler: the caller
 * attaches its own.
 */
export function dial(
  addresses: readonly string[],
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
  options: DialOptions = {},
): Promise<Dialed> {
  const order = interleaveFamilies(addresses);
  const attemptDelayMs = options.attemptDelayMs ?? ATTEMPT_DELAY_MS;

  return new Promise((resolve, reject) => {
    const started: Attempt[] = [];
    let settled = false;
    let staggerTimer: NodeJS.Timeout | undefined;
    // One deadline for the whole dial, not one per attempt: the caller's budget is what counts.
    const deadlineTimer = setTimeout(() => giveUp('ETIMEDOUT'), timeoutMs);
    const onAbort = (): void => giveUp('ABORTED');

    function startNext(): void {
      clearTimeout(staggerTimer);
      const address = order[started.length];
      if (address === undefined) return;
      const socket = connect({ host: address, port, allowHalfOpen: true, noDelay: true });
      const attempt: Attempt = { address, socket, code: null };
      started.push(attempt);
      // Attached first and left on: a loser destroyed later must never throw an unhandled 'error'.
      socket.on('error', (err) => onFailed(attempt, err));
      socket.once('connect', () => onConnected(attempt));
      // RFC 8305 §5: don't wait for this attempt to fail before trying the next address.
      if (started.length < order.length) staggerTimer = setTimeout(startNext, attemptDelayMs);
    }

    function onFailed(attempt: Attempt, err: Error): void {
      if (settled || attempt.code !== null) return;
      attempt.code = errorCode(err);
      attempt.socket.destroy();
      // RFC 8305 §5: the next attempt starts after the delay or as soon as an attempt fails,
      // whichever comes first; waiting longer would only waste the caller's budget.
      if (started.length < order.length) startNext();
      else if (started.every((a) => a.code !== null)) settle(new DialError(failures(), summary(), { cause: err }));
    }

    function onConnected(winner: Attempt): void {
      if (settled) return;
      // RFC 8305 §5: once one attempt succeeds, cancel all the others.
      settle({ socket: winner.socket, address: winner.address, attempts: failures() });
      winner.socket.removeAllListeners('error');
      // Keep an error handler until the caller attaches its own (STYLE §6).
      winner.socket.on('error', () => {});
    }

    /** Ends the dial at the deadline or on abort; attempts still in flight get `code`. */
    function giveUp(code: 'ETIMEDOUT' | 'ABORTED'): void {
      if (settled) return;
      for (const a of started) a.code ??= code;
      const what = code === 'ETIMEDOUT' ? 'timed out' : 'aborted';
      const cause = Object.assign(new Error(`connect ${what}`, code === 'ABORTED' ? { cause: signal?.reason } : {}), { code });
      settle(new DialError(failures(), summary(what), { cause }));
    }

    function failures(): DialAttempt[] {
      const out: DialAttempt[] = [];
      for (const a of started) if (a.code !== null) out.push({ address: formatAddress(a.address, port), code: a.code });
      return out;
    }

    function summary(ifNone = 'no address'): string {
      const list = failures().map((a) => `${a.address} ${a.code}`).join(', ');
      return `connect: ${list === '' ? ifNone : list}`;
    }

    /** Finishes exactly once: clears the timers and destroys every socket but the winner's. */
    function settle(result: Dialed | DialError): void {
      settled = true;
      clearTimeout(deadlineTimer);
      clearTimeout(staggerTimer);
      signal?.removeEventListener('abort', onAbort);
      const winner = result instanceof DialError ? undefined : result.socket;
      for (const a of started) if (a.socket !== winner) a.socket.destroy();
      if (result instanceof DialError) reject(result);
      else resolve(result);
    }

    if (signal?.aborted === true) {
      giveUp('ABORTED');
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (order.length === 0) {
      settle(new DialError([], summary()));
      return;
    }
    startNext();
  });
}

/** A dial in progress, as dialOne returns it. */
export interface PendingDial {
  /** Ends the dial now: the callback gets a DialError (ABORTED) at once, unless it has been called already. */
  cancel(): void;
}

/**
 * dial() for exactly one address, without its promise and stagger machinery (issue #18: per
 * connection that cost a promise, about eight closures and two awaits). Same contract: one
 * attempt with noDelay and allowHalfOpen; `done` is called exactly once, with the connected
 * socket (carrying a placeholder 'error' handler) or a DialError listing the attempt with its
 * code (ETIMEDOUT when `timeoutMs` passes, ABORTED on cancel()). Only cancel() calls `done` synchronously.
 */
export function dialOne(address: string, port: number, timeoutMs: number, done: (result: Dialed | DialError) => void): PendingDial {
  return new OneDial(address, port, timeoutMs, done);
}

class OneDial implements PendingDial {
  readonly #address: string;
  readonly #port: number;
  readonly #socket: Socket;
  readonly #timer: NodeJS.Timeout;
  #done: ((result: Dialed | DialError) => void) | null;

  constructor(address: string, port: number, timeoutMs: number, done: (result: Dialed | DialError) => void) {
    this.#address = address;
    this.#port = port;
    this.#done = done;
    this.#socket = connect({ host: address, port, allowHalfOpen: true, noDelay: true });
    // Attached first and left on: an error after the dial ended must never be unhandled.
    this.#socket.on('error', (err) => this.#failed(errorCode(err), err));
    // on(), not once(): this socket connects once (issue #18: once() costs a wrapper).
    this.#socket.on('connect', () => this.#connected());
    this.#timer = setTimeout(() => this.#giveUp('ETIMEDOUT'), timeoutMs);
  }

  cancel(): void {
    this.#giveUp('ABORTED');
  }

  #connected(): void {
    const done = this.#settle();
    if (done === null) return;
    done({ socket: this.#socket, address: this.#address, attempts: [] });
  }

  #giveUp(code: 'ETIMEDOUT' | 'ABORTED'): void {
    this.#failed(code, Object.assign(new Error(`connect ${code === 'ETIMEDOUT' ? 'timed out' : 'aborted'}`), { code }));
  }

  #failed(code: string, cause: Error): void {
    const done = this.#settle();
    if (done === null) return;
    this.#socket.destroy();
    const attempt = { address: formatAddress(this.#address, this.#port), code };
    done(new DialError([attempt], `connect: ${attempt.address} ${attempt.code}`, { cause }));
  }

  /** The callback, once; null when the dial has ended already. */
  #settle(): ((result: Dialed | DialError) => void) | null {
    const done = this.#done;
    this.#done = null;
    if (done !== null) clearTimeout(this.#timer);
    return done;
  }
}
