// The set of open connections: the max_connections and per-client counts, live byte sampling
// and drain all read it. Every connection is added and deleted exactly once.
import type { Connection } from './connection.js';

/**
 * The open connections with a count per client address (max_connections_per_client), which can
 * say when the set becomes empty (for drain). Each connection is added and deleted exactly once,
 * so the counts cannot drift.
 */
export class OpenConnections {
  readonly #set = new Map<Connection, string>();
  readonly #perClient = new Map<string, number>();
  #waiters: (() => void)[] = [];

  get size(): number {
    return this.#set.size;
  }

  /** Open connections from `client` (an IP address) now. */
  countFor(client: string): number {
    return this.#perClient.get(client) ?? 0;
  }

  /** Clients with at least one open connection (0 once everything closed). */
  get clients(): number {
    return this.#perClient.size;
  }

  add(c: Connection, client: string): void {
    if (this.#set.has(c)) return;
    this.#set.set(c, client);
    this.#perClient.set(client, this.countFor(client) + 1);
  }

  /** Counts `c` under another client address from now on (the PROXY header's source). */
  rekey(c: Connection, client: string): void {
    const old = this.#set.get(c);
    if (old === undefined || old === client) return;
    this.#set.set(c, client);
    this.#uncount(old);
    this.#perClient.set(client, this.countFor(client) + 1);
  }

  #uncount(client: string): void {
    const left = this.countFor(client) - 1;
    if (left > 0) this.#perClient.set(client, left);
    else this.#perClient.delete(client);
  }

  /** Removes `c`; true if it was there. Wakes whoever waits for the set to empty. */
  delete(c: Connection): boolean {
    const client = this.#set.get(c);
    const had = this.#set.delete(c);
    if (client !== undefined) this.#uncount(client);
    if (this.#set.size === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
    return had;
  }

  /** A snapshot, safe to iterate while connections finish. */
  list(): Connection[] {
    return [...this.#set.keys()];
  }

  /** Resolves once no connection is open. */
  whenEmpty(): Promise<void> {
    if (this.#set.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
