// The set of open connections: the max_connections and per-client counts, live byte sampling
// and drain all read it. Every connection is added and deleted exactly once.
import type { Connection } from './connection.js';
import { ClientSlotTable, type ClientSlots } from './decide/client-slots.js';

/**
 * The open connections, the per-client slot each holds (max_connections_per_client), and a
 * way to learn when the set becomes empty (for drain). Each connection is added and deleted
 * exactly once, and its slot is given back when it is deleted, so the counts cannot drift.
 */
export class OpenConnections {
  readonly #set = new Set<Connection>();
  /** The per-client key each connection holds a slot under. */
  readonly #slots = new Map<Connection, string>();
  readonly #clientSlots: ClientSlots;
  #waiters: (() => void)[] = [];

  /** `clientSlots`: where per-client slots are counted (default: in this process). */
  constructor(clientSlots: ClientSlots = new ClientSlotTable()) {
    this.#clientSlots = clientSlots;
  }

  get size(): number {
    return this.#set.size;
  }

  add(c: Connection): void {
    this.#set.add(c);
  }

  /**
   * Takes one of `limit` slots of the client key `key` for `c` (which is open): true if taken,
   * false if the client already holds `limit`; a promise of that when the count is kept by the
   * cluster primary. A slot granted after `c` was deleted is given back and answered false.
   */
  acquireSlot(c: Connection, key: string, limit: number): boolean | Promise<boolean> {
    const got = this.#clientSlots.acquire(key, limit);
    if (got === true) this.#slots.set(c, key);
    if (typeof got === 'boolean') return got;
    return got.then((ok) => {
      if (!ok) return false;
      if (!this.#set.has(c)) {
        this.#clientSlots.release(key);
        return false;
      }
      this.#slots.set(c, key);
      return true;
    });
  }

  /** Removes `c` and gives back its slot; true if it was there. Wakes whoever waits for the set to empty. */
  delete(c: Connection): boolean {
    const key = this.#slots.get(c);
    if (key !== undefined) {
      this.#slots.delete(c);
      this.#clientSlots.release(key);
    }
    const had = this.#set.delete(c);
    if (this.#set.size === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
    return had;
  }

  /** A snapshot, safe to iterate while connections finish. */
  list(): Connection[] {
    return [...this.#set];
  }

  /** Resolves once no connection is open. */
  whenEmpty(): Promise<void> {
    if (this.#set.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
