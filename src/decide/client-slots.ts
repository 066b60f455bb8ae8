// Counts for max_connections_per_client. Pure: the daemon asks, the table answers. With several
// workers the cluster primary holds the one table and each worker asks it over IPC.

/**
 * Where a connection takes its per-client slot. `acquire` answers true (slot taken: give it back
 * with `release`) or false (all `limit` slots of `key` are held), at once or, when the count is
 * kept in another process, as a promise that never rejects.
 */
export interface ClientSlots {
  acquire(key: string, limit: number): boolean | Promise<boolean>;
  release(key: string): void;
}

/**
 * Open connections per client key, and per owner (a cluster worker's id; 0 in a single
 * process) so that the slots of a worker that died can be dropped at once.
 */
export class ClientSlotTable implements ClientSlots {
  readonly #total = new Map<string, number>();
  readonly #byOwner = new Map<number, Map<string, number>>();

  /** Slots of `key` held now, over every owner. */
  countFor(key: string): number {
    return this.#total.get(key) ?? 0;
  }

  /** Keys with at least one slot held (0 once everything was released). */
  get clients(): number {
    return this.#total.size;
  }

  /** Takes a slot of `key` for `owner` if fewer than `limit` are held; true if taken. */
  acquire(key: string, limit: number, owner = 0): boolean {
    const held = this.countFor(key);
    if (held >= limit) return false;
    this.#total.set(key, held + 1);
    let mine = this.#byOwner.get(owner);
    if (mine === undefined) this.#byOwner.set(owner, (mine = new Map<string, number>()));
    mine.set(key, (mine.get(key) ?? 0) + 1);
    return true;
  }

  /** Gives back one slot of `key` taken by `owner`; a release without a slot is ignored. */
  release(key: string, owner = 0): void {
    const mine = this.#byOwner.get(owner);
    const n = mine?.get(key) ?? 0;
    if (mine === undefined || n === 0) return;
    if (n > 1) mine.set(key, n - 1);
    else mine.delete(key);
    if (mine.size === 0) this.#byOwner.delete(owner);
    this.#uncount(key, 1);
  }

  /** Drops every slot `owner` holds (a worker that exited cannot release them). */
  dropOwner(owner: number): void {
    const mine = this.#byOwner.get(owner);
    if (mine === undefined) return;
    this.#byOwner.delete(owner);
    for (const [key, n] of mine) this.#uncount(key, n);
  }

  #uncount(key: string, n: number): void {
    const left = this.countFor(key) - n;
    if (left > 0) this.#total.set(key, left);
    else this.#total.delete(key);
  }
}
