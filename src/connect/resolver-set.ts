// The named resolvers of a config (issue #17: split DNS, one bastion in several private
// networks), each an UpstreamResolver with its own cache, stale answers and negative cache.
import { isDeepStrictEqual } from 'node:util';
import type { ResolverConfig } from '../config/types.js';
import type { DnsLookupResult } from '../observe/metrics.js';
import { UpstreamResolver } from './resolver.js';

/** Counts one lookup result of the resolver named `resolver`. */
export type CountLookup = (resolver: string, result: DnsLookupResult) => void;

/**
 * Every configured resolver by name. Built once per config; a reload builds a new set that
 * takes over each resolver whose settings did not change (and so its cache), so changing one
 * resolver leaves the others' caches alone.
 */
export class ResolverSet {
  readonly #byName: ReadonlyMap<string, UpstreamResolver>;

  private constructor(byName: Map<string, UpstreamResolver>) {
    this.#byName = byName;
  }

  /**
   * Resolvers for `configs` (names unique, as config/schema.ts guarantees). A resolver of
   * `previous` with the same name and the same settings is kept as it is; others are new.
   */
  static build(configs: readonly ResolverConfig[], count: CountLookup, previous: ResolverSet | null = null): ResolverSet {
    const byName = new Map<string, UpstreamResolver>();
    for (const cfg of configs) {
      const old = previous === null ? undefined : previous.#byName.get(cfg.name);
      byName.set(cfg.name, old !== undefined && isDeepStrictEqual(old.config, cfg)
        ? old
        : new UpstreamResolver(cfg, (result) => count(cfg.name, result)));
    }
    return new ResolverSet(byName);
  }

  /**
   * The resolver named `name`. Route resolver names are validated against the config the set
   * was built from, so a missing name is a bug: it throws.
   */
  get(name: string): UpstreamResolver {
    const r = this.#byName.get(name);
    if (r === undefined) throw new Error(`no resolver named ${name}`);
    return r;
  }

  /** Names in config order (the default first). */
  get names(): readonly string[] {
    return [...this.#byName.keys()];
  }

  /** name → the DNS servers each resolver asks, for the startup log line. */
  describe(): Record<string, string[]> {
    return Object.fromEntries([...this.#byName].map(([name, r]) => [name, r.servers]));
  }

  /** Cancels every resolver's outstanding queries (on shutdown). */
  cancel(): void {
    for (const r of this.#byName.values()) r.cancel();
  }
}
