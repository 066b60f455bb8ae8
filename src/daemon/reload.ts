import { loadConfig } from '../config/load.js';
import type { Logger } from '../observe/log.js';
import type { Daemon } from './server.js';

/**
 * SIGHUP: re-reads the config file and applies it to the daemon (SPEC §6). A valid file changes
 * what new connections get; an invalid one (or a listener that cannot be bound) is logged once
 * and counted, and the running configuration stays. Reloads never overlap: a signal that
 * arrives during one is coalesced into one more reload after it.
 */
export class Reloader {
  readonly #file: string;
  readonly #daemon: Daemon;
  readonly #log: Logger;
  #running = false;
  #again = false;

  constructor(file: string, daemon: Daemon, log: Logger) {
    this.#file = file;
    this.#daemon = daemon;
    this.#log = log;
  }

  /** Starts a reload now, or once the one in progress is done. */
  request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    // #reload catches everything; the chain ends here.
    void this.#reload().finally(() => {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.request();
      }
    });
  }

  async #reload(): Promise<void> {
    const { metrics } = this.#daemon;
    try {
      const config = await loadConfig(this.#file);
      const summary = await this.#daemon.reload(config);
      metrics.recordReload('success');
      this.#log.info({ config: this.#file, ...summary }, 'reloaded');
    } catch (err) {
      metrics.recordReload('failure');
      const problem = err instanceof Error ? err.message : String(err); // a ConfigError's is file:line:col
      this.#log.error({ config: this.#file, problem }, 'reload rejected: keeping the running configuration');
    }
  }
}
