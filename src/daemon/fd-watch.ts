// Watches the process's open file descriptors against RLIMIT_NOFILE (issue 8, "Faults").
//
// Why: when accept() fails with EMFILE, libuv's "EMFILE trick" (src/unix/stream.c,
// uv__emfile_trick) frees its reserved descriptor, accepts and closes the pending connections,
// and reports nothing to Node — no 'error' event reaches net.Server. Clients are dropped
// silently. Counting /proc/self/fd now and then is the cheap way to tell the operator.

import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { errorCode } from '../errors.js';
import type { Logger } from '../observe/log.js';

/** While nearly exhausted, the warning is repeated at most this often. */
export const FD_WARN_INTERVAL_MS = 10_000;

/** How often the open descriptors are counted. */
export const FD_CHECK_INTERVAL_MS = 1000;

/**
 * Free descriptors at or below which the process counts as nearly exhausted: 5% of the limit,
 * at least 2 (so a small test limit still has a margin before accept() fails).
 */
export function fdHeadroom(limit: number): number {
  return Math.max(2, Math.ceil(limit * 0.05));
}

/** The soft RLIMIT_NOFILE from /proc/self/limits; null where that file is absent or unlimited. */
export function readFdLimit(file = '/proc/self/limits'): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(file, 'utf8'));
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Counts this process's open descriptors. A failure with EMFILE/ENFILE means there was none left
 * to open the directory with: that is the answer `limit`.
 */
export async function countOpenFds(limit: number, dir = '/proc/self/fd'): Promise<number> {
  try {
    // readdir's own descriptor for the directory is listed too; it is gone once it returns.
    return (await readdir(dir)).length - 1;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EMFILE' || code === 'ENFILE') return limit;
    throw err;
  }
}

/**
 * Logs when open descriptors come within fdHeadroom() of the limit: a warn "file descriptors
 * nearly exhausted" on entering that state and, while it lasts, again at most once per
 * FD_WARN_INTERVAL_MS (`checks` counts the checks that found it so since the last line); an info
 * "file descriptors available again" on leaving it, with the number of warnings written.
 */
export class FdWatch {
  readonly #log: Logger;
  readonly #limit: number;
  readonly #count: () => Promise<number>;
  readonly #now: () => number;
  #exhausted = false;
  #lastWarnAt = 0;
  #checks = 0;
  #warnings = 0;
  #timer: NodeJS.Timeout | null = null;
  #running = false;

  constructor(log: Logger, limit: number, count: () => Promise<number>, now: () => number = Date.now) {
    this.#log = log;
    this.#limit = limit;
    this.#count = count;
    this.#now = now;
  }

  /**
   * Starts watching this process every FD_CHECK_INTERVAL_MS; returns null (and logs at debug)
   * where the limit cannot be read, as off Linux.
   */
  static start(log: Logger): FdWatch | null {
    const limit = readFdLimit();
    if (limit === null) {
      log.debug('no /proc/self/limits: not watching file descriptors');
      return null;
    }
    const watch = new FdWatch(log, limit, () => countOpenFds(limit));
    watch.#timer = setInterval(() => {
      if (watch.#running) return; // a slow count (thousands of fds) never overlaps the next
      watch.#running = true;
      // check() never rejects: it catches and logs its own errors.
      void watch.check().finally(() => { watch.#running = false; });
    }, FD_CHECK_INTERVAL_MS);
    watch.#timer.unref();
    return watch;
  }

  /** Counts once and logs a change of state (or a repeat the interval allows). Never rejects. */
  async check(): Promise<void> {
    let open: number;
    try {
      open = await this.#count();
    } catch (err) {
      this.#log.debug({ err }, 'cannot count open file descriptors');
      return;
    }
    if (this.#limit - open <= fdHeadroom(this.#limit)) {
      this.#checks++;
      const now = this.#now();
      if (!this.#exhausted || now - this.#lastWarnAt >= FD_WARN_INTERVAL_MS) {
        this.#log.warn({ open, limit: this.#limit, checks: this.#checks }, 'file descriptors nearly exhausted');
        this.#lastWarnAt = now;
        this.#checks = 0;
        this.#warnings++;
      }
      this.#exhausted = true;
    } else if (this.#exhausted) {
      this.#log.info({ open, limit: this.#limit, warnings: this.#warnings }, 'file descriptors available again');
      this.#exhausted = false;
      this.#checks = 0;
      this.#warnings = 0;
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
