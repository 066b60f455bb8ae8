import { Resolver as DnsResolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostPort, ResolverConfig } from '../config/types.js';
import { ForwardError, errorCode } from '../errors.js';
import type { DnsLookupResult } from '../observe/metrics.js';

/** Error codes from c-ares that mean "this name has no such records" (cacheable, not a fault). */
const NEGATIVE_CODES = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME']);

/** How long past its expiry an answer may still be served while the DNS servers fail (RFC 8767 §5 suggests 1-3 days; an hour keeps a moved registry from being chased for long). */
export const STALE_WINDOW_MS = 60 * 60 * 1000;

/**
 * Names kept in the cache at most. A wildcard route lets clients choose the names looked up, so
 * the cache must be bounded; the least recently used entry goes first.
 */
export const MAX_CACHE_ENTRIES = 10_000;

/**
 * Distinct names being looked up at once at most. Past it a lookup fails at once as
 * dns_failure rather than queueing: a flood of random names under a wildcard must not pile up
 * queries (and memory) behind the DNS server's pace.
 */
export const MAX_CONCURRENT_LOOKUPS = 256;

/** Refresh a cached answer in the background once less than this share of its TTL is left. */
const REFRESH_AHEAD_SHARE = 0.1;

/** Bounds of the cache and of lookups in flight (tests shrink them). */
export interface ResolverBounds {
  readonly maxCacheEntries: number;
  readonly maxConcurrentLookups: number;
}

interface CacheEntry {
  /** Addresses in preference order; empty for a negative answer. */
  readonly addresses: readonly string[];
  readonly expiresAtMs: number;
  readonly ttlMs: number;
  /** Why the answer is negative (error code), for the message. */
  readonly negativeCode: string | null;
}

interface Answer {
  readonly addresses: readonly string[];
  readonly ttlSeconds: number;
}

/** Formats a server for c-ares' setServers: "ip", "ip:port" or "[v6]:port". */
function formatServer(s: HostPort): string {
  return isIP(s.host) === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

/** A failure of the DNS servers themselves (timeout, refused, SERVFAIL), as opposed to an answer. */
class ServerFailure extends ForwardError {
  override name = 'ServerFailure';
}

/**
 * Resolves upstream names with a dedicated c-ares resolver: never dns.lookup and never
 * /etc/hosts, because on the bastion /etc/hosts may point the very same registry names at the
 * bastion itself.
 *
 * Cache: answers live for their TTL clamped to min/max_ttl, negative answers for negative_ttl;
 * concurrent lookups of one name share one query; a name in use is refreshed in the background
 * shortly before it expires, so busy names never wait for DNS. When the servers fail, an answer
 * up to STALE_WINDOW_MS past its expiry is served instead ("stale", RFC 8767), and while they
 * keep failing such answers are served at once with a refresh in the background.
 *
 * Every resolve() counts exactly one result: hit (fresh cache), miss (asked DNS), stale (served
 * past its TTL) or failure (no answer and nothing to serve).
 */
export class UpstreamResolver {
  readonly #cfg: ResolverConfig;
  readonly #dns: DnsResolver;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<CacheEntry>>();
  readonly #count: (result: DnsLookupResult) => void;
  readonly #now: () => number;
  readonly #bounds: ResolverBounds;
  /** Until then the servers are taken to be failing: stale answers are served without waiting. */
  #serversDownUntilMs = 0;

  constructor(
    cfg: ResolverConfig,
    count: (result: DnsLookupResult) => void = () => {},
    now: () => number = Date.now,
    bounds: ResolverBounds = { maxCacheEntries: MAX_CACHE_ENTRIES, maxConcurrentLookups: MAX_CONCURRENT_LOOKUPS },
  ) {
    this.#cfg = cfg;
    this.#count = count;
    this.#now = now;
    this.#bounds = bounds;
    // tries: 1 so that `timeout` bounds the whole lookup rather than each of c-ares' retries.
    this.#dns = new DnsResolver({ timeout: cfg.timeoutMs, tries: 1 });
    if (cfg.servers !== null) this.#dns.setServers(cfg.servers.map(formatServer));
  }

  /** The DNS servers queries go to, as c-ares reports them. */
  get servers(): string[] {
    return this.#dns.getServers();
  }

  /** The settings this resolver was built from (its name included). */
  get config(): ResolverConfig {
    return this.#cfg;
  }

  /** "resolver NAME, servers A, B": which resolver and servers a failure came from (issue #16). */
  #source(): string {
    const servers = this.servers;
    return `resolver ${this.#cfg.name}, ${servers.length === 0 ? 'no servers' : `servers ${servers.join(', ')}`}`;
  }

  /** Names cached now (bounded by MAX_CACHE_ENTRIES). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * Addresses for `name` in preference order. An IP literal is returned as is. Rejects with
   * ForwardError('dns_failure') when the name has no address, or the servers fail and no
   * answer can be served from the cache.
   */
  async resolve(name: string): Promise<readonly string[]> {
    if (isIP(name) !== 0) return [name];
    const now = this.#now();
    const entry = this.#cache.get(name);
    if (entry !== undefined && now < entry.expiresAtMs) {
      this.#touch(name, entry);
      if (entry.addresses.length > 0 && entry.expiresAtMs - now < entry.ttlMs * REFRESH_AHEAD_SHARE) this.#refreshInBackground(name);
      this.#count('hit');
      return this.#unwrap(name, entry);
    }
    const stale = entry !== undefined && entry.addresses.length > 0 && now - entry.expiresAtMs <= STALE_WINDOW_MS ? entry : undefined;
    if (stale !== undefined && now < this.#serversDownUntilMs) {
      this.#refreshInBackground(name);
      this.#count('stale');
      return stale.addresses;
    }
    try {
      const fresh = await this.#lookup(name);
      this.#count('miss');
      return this.#unwrap(name, fresh);
    } catch (err) {
      if (stale !== undefined && err instanceof ServerFailure) {
        this.#count('stale');
        return stale.addresses;
      }
      this.#count(err instanceof ServerFailure ? 'failure' : 'miss');
      throw err;
    }
  }

  /** Resolves once every lookup in flight now (background refreshes included) has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inflight.values()]);
  }

  /** Drops every cached answer (a reload with other servers must not serve old answers). */
  clear(): void {
    this.#cache.clear();
  }

  /** Cancels outstanding queries (on shutdown); their callers get dns_failure. */
  cancel(): void {
    this.#dns.cancel();
  }

  #unwrap(name: string, entry: CacheEntry): readonly string[] {
    if (entry.addresses.length > 0) return entry.addresses;
    throw new ForwardError('dns_failure', `resolve ${name}: ${entry.negativeCode ?? 'no address'} (${this.#source()})`);
  }

  /** Moves `name` to the most recently used end of the cache. */
  #touch(name: string, entry: CacheEntry): void {
    this.#cache.delete(name);
    this.#cache.set(name, entry);
  }

  #store(name: string, entry: CacheEntry): void {
    this.#cache.delete(name);
    this.#cache.set(name, entry);
    if (this.#cache.size > this.#bounds.maxCacheEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
  }

  /** One query per name at a time; later callers share it. */
  #lookup(name: string): Promise<CacheEntry> {
    const pending = this.#inflight.get(name);
    if (pending !== undefined) return pending;
    const max = this.#bounds.maxConcurrentLookups;
    if (this.#inflight.size >= max) {
      return Promise.reject(new ServerFailure('dns_failure', `resolve ${name}: ${max} lookups in flight already (${this.#source()})`));
    }
    const query = this.#query(name).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, query);
    return query;
  }

  #refreshInBackground(name: string): void {
    // Failures are already recorded by #query (servers marked down); the cached answer stays.
    this.#lookup(name).catch(() => {});
  }

  async #query(name: string): Promise<CacheEntry> {
    // Ask for both families at once; `prefer` only orders them.
    const [v4, v6] = await Promise.allSettled([this.#family(name, 4), this.#family(name, 6)]);
    const v4addrs = v4.status === 'fulfilled' ? v4.value.addresses : [];
    const v6addrs = v6.status === 'fulfilled' ? v6.value.addresses : [];
    const ordered = this.#cfg.prefer === 'ipv6' ? [...v6addrs, ...v4addrs] : [...v4addrs, ...v6addrs];
    const now = this.#now();
    if (ordered.length > 0) {
      this.#serversDownUntilMs = 0;
      const ttls = [v4, v6].flatMap((r) => (r.status === 'fulfilled' && r.value.addresses.length > 0 ? [r.value.ttlSeconds] : []));
      const ttlMs = Math.min(Math.max(Math.min(...ttls) * 1000, this.#cfg.minTtlMs), this.#cfg.maxTtlMs);
      const entry: CacheEntry = { addresses: ordered, expiresAtMs: now + ttlMs, ttlMs, negativeCode: null };
      this.#store(name, entry);
      return entry;
    }
    const errors = [v4, v6].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    const codes = errors.map(errorCode);
    if (codes.every((c) => NEGATIVE_CODES.has(c))) {
      // NXDOMAIN or no records of either family: a real answer, cached briefly.
      this.#serversDownUntilMs = 0;
      const entry: CacheEntry = {
        addresses: [],
        expiresAtMs: now + this.#cfg.negativeTtlMs,
        ttlMs: this.#cfg.negativeTtlMs,
        negativeCode: codes[0] ?? 'ENODATA',
      };
      this.#store(name, entry);
      return entry;
    }
    // The servers failed: do not cache that, but serve stale answers at once for a while.
    this.#serversDownUntilMs = now + this.#cfg.negativeTtlMs;
    const code = codes.find((c) => !NEGATIVE_CODES.has(c)) ?? 'EFAIL';
    throw new ServerFailure('dns_failure', `resolve ${name}: ${code} (${this.#source()})`, { cause: errors.find((e) => !NEGATIVE_CODES.has(errorCode(e))) });
  }

  async #family(name: string, family: 4 | 6): Promise<Answer> {
    const records = family === 4
      ? await this.#dns.resolve4(name, { ttl: true })
      : await this.#dns.resolve6(name, { ttl: true });
    return {
      addresses: records.map((r) => r.address),
      ttlSeconds: records.length > 0 ? Math.min(...records.map((r) => r.ttl)) : 0,
    };
  }
}
