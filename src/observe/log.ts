import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';
import type { Outcome } from '../errors.js';
import { writeAccessLine } from './access-line.js';
import type { Metrics } from './metrics.js';

export type { Logger };

// pino's default stdout destination hands every line to a libuv pool thread as its own write:
// per connection a futex wake, a thread switch and an eventfd wake-up of the loop, which showed
// as the largest syscall difference from a plain pipe under a connection flood. Lines are
// collected instead until LOG_BATCH_BYTES or LOG_FLUSH_MS, whichever comes first, so an access
// line reaches the journal at most 100 ms late. If stdout stops being read (journald stalled),
// at most LOG_BUFFER_MAX_BYTES wait in memory; later lines are dropped and counted rather than
// stalling the event loop or growing without bound.
const LOG_BATCH_BYTES = 8 * 1024;
const LOG_FLUSH_MS = 100;
const LOG_BUFFER_MAX_BYTES = 4 * 1024 * 1024;

// sonic-boom in its default (utf8) mode appends each line to one growing string and measures
// that string's byte length on every write, which flattens it: on average half a batch (4 KiB)
// copied per line, 3 KB of the heap allocated per connection (issue #18). In buffer mode it keeps
// a list of Buffers and concatenates each batch once; every line becomes a Buffer as it comes
// (Buffer.from takes small ones from Node's shared pool).

/**
 * The pino logger the daemon writes JSON lines with, on stdout (SPEC §5), or on `fd` (tests).
 * `onDrop` is called for each line dropped because stdout did not keep up (see above).
 */
export function createLogger(level: LogLevel, onDrop: () => void = () => {}, fd = 1): Logger {
  const destination = pino.destination({ dest: fd, sync: false, minLength: LOG_BATCH_BYTES, maxLength: LOG_BUFFER_MAX_BYTES, periodicFlush: LOG_FLUSH_MS, contentMode: 'buffer' });
  // In buffer mode write() takes Buffers; its typings only know the utf8 mode.
  const writeBuffer = destination.write.bind(destination) as unknown as (line: Buffer) => boolean;
  destination.write = (line: string): boolean => writeBuffer(Buffer.from(line));
  destination.on('drop', onDrop);
  return pino({ level, timestamp: isoTime, base: { pid: process.pid } }, destination);
}

let isoSecond = NaN;
let isoPrefix = '';

/**
 * pino's stdTimeFunctions.isoTime (`,"time":"2026-01-02T03:04:05.678Z"`, the same string), with
 * the part up to the second made once per second: per line that saves a Date and its
 * toISOString (issue #18).
 */
export function isoTime(nowMs: number = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
  }
  const ms = nowMs - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

/** Everything known about one connection when it closes: one access line and its metrics. */
export interface AccessRecord {
  readonly conn: number;
  readonly client: string;
  /** The load balancer that sent a PROXY header naming `client`; null without one. */
  readonly peer: string | null;
  readonly listener: string;
  /** The normalised SNI name, or null when none was read. */
  readonly sni: string | null;
  /** The ClientHello carried encrypted_client_hello (`sni` is then the outer name); logged only when true. */
  readonly ech?: boolean;
  /** The matched route pattern, "" before a route matched. */
  readonly host: string;
  /** The upstream address connected to (or last tried), "addr:port". */
  readonly upstream: string | null;
  readonly outcome: Outcome;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly durationMs: number;
  readonly connectMs: number | null;
  /** Why it was refused or how it ended ("idle_timeout", "client closed before ClientHello"). */
  readonly reason: string | null;
  /** The system error code behind it (ECONNRESET, ETIMEOUT, ...), when there was one. */
  readonly code: string | null;
  /**
   * The side whose error (a reset, EPIPE, ...) ended the relay; the other side was sent a
   * reset in turn. Null when the relay ended otherwise (or never began).
   */
  readonly reset: 'client' | 'upstream' | null;
  /** Upstream addresses tried and their error codes, when any failed. */
  readonly attempts: readonly { readonly address: string; readonly code: string }[];
}

/**
 * A budget for log lines a flood could multiply (refused connections): at most `max` lines per
 * `intervalMs`; past it, lines are counted instead and the count is logged with the next
 * allowed line (field `suppressed`) — the metrics still count every connection.
 */
export class LogBudget {
  readonly #max: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #windowStart = -Infinity;
  #used = 0;
  #suppressed = 0;

  constructor(max = 20, intervalMs = 10_000, now: () => number = Date.now) {
    this.#max = max;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** True if a line may be written now; otherwise the line is counted as suppressed. */
  allow(): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= this.#intervalMs) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used < this.#max) {
      this.#used++;
      return true;
    }
    this.#suppressed++;
    return false;
  }

  /**
   * The log field for the lines suppressed since the last call — `{ suppressed: n }`, or `{}`
   * when none were — and resets the count. Spread it into the next line written.
   */
  takeSuppressed(): { suppressed?: number } {
    const n = this.#suppressed;
    this.#suppressed = 0;
    return n > 0 ? { suppressed: n } : {};
  }
}

/**
 * Writes the access line (unless `log` is null: suppressed by a LogBudget) and updates the
 * metrics from the same record (STYLE §8).
 */
export function recordAccess(log: Logger | null, metrics: Metrics, r: AccessRecord, budget?: LogBudget): void {
  metrics.countOutcome(r.host, r.outcome);
  metrics.observeConnectionDuration(r.host, r.durationMs / 1000);
  if (log === null) return;
  writeAccessLine(log, r, budget === undefined ? 0 : budget.takeSuppressed().suppressed ?? 0);
}
