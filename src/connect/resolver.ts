import { Resolver as DnsResolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostPort, ResolverConfig } from '../config/types.js';
import { ForwardError, errorCode } from '../errors.js';
import type { DnsLookupResult } from '../observe/metrics.js';

/** Error codes from c-ares that mean "this name has no such records" (cacheable, not a fault). */
const NEGATIVE_CODES = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME']);

interface CacheEntry {
  /** Addresses in preference order; empty for a negative answer. */
  readonly addresses: readonly string[];
  readonly expiresAtMs: number;
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

/**
 * Resolves upstream names with a dedicated c-ares resolver: never dns.lookup and never
 * /etc/hosts, because on the bastion /etc/hosts may point the very same registry names at the
 * bastion itself. Answers are cached by TTL (clamped to min/max), negative answers for
 * negative_ttl, and concurrent lookups of one name share one query.
 */
export class UpstreamResolver {
  readonly #cfg: ResolverConfig;
  readonly #dns: DnsResolver;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<CacheEntry>>();
  readonly #count: (result: DnsLookupResult) => void;
  readonly #now: () => number;

  constructor(cfg: ResolverConfig, count: (result: DnsLookupResult) => void = () => {}, now: () => number = Date.now) {
    this.#cfg = cfg;
    this.#count = count;
    this.#now = now;
    // tries: 1 so that `timeout` bounds the whole lookup rather than each of c-ares' retries.
    this.#dns = new DnsResolver({ timeout: cfg.timeoutMs, tries: 1 });
    if (cfg.servers !== null) this.#dns.setServers(cfg.servers.map(formatServer));
  }

  /** The DNS servers queries go to, as c-ares reports them. */
  get servers(): string[] {
    return this.#dns.getServers();
  }

  /**
   * Addresses for `name` in preference order. An IP literal is returned as is. Rejects with
   * ForwardError('dns_failure') when the name has no address or the servers fail.
   */
  async resolve(name: string): Promise<readonly string[]> {
    if (isIP(name) !== 0) return [name];
    const cached = this.#cache.get(name);
    if (cached !== undefined && cached.expiresAtMs > this.#now()) {
      this.#count('hit');
      return this.#unwrap(name, cached);
    }
    let pending = this.#inflight.get(name);
    if (pending === undefined) {
      this.#count('miss');
      pending = this.#query(name).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, pending);
    } else {
      this.#count('hit');
    }
    return this.#unwrap(name, await pending);
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
    throw new ForwardError('dns_failure', `resolve ${name}: ${entry.negativeCode ?? 'no address'}`);
  }

  async #query(name: string): Promise<CacheEntry> {
    // Ask for both families at once; `prefer` only orders them (issue 4 adds happy eyeballs).
    const [v4, v6] = await Promise.allSettled([this.#family(name, 4), this.#family(name, 6)]);
    const answers: Answer[] = [];
    const errors: unknown[] = [];
    for (const r of [v4, v6]) {
      if (r.status === 'fulfilled') answers.push(r.value);
      else errors.push(r.reason);
    }
    const v4addrs = v4.status === 'fulfilled' ? v4.value.addresses : [];
    const v6addrs = v6.status === 'fulfilled' ? v6.value.addresses : [];
    const ordered = this.#cfg.prefer === 'ipv6' ? [...v6addrs, ...v4addrs] : [...v4addrs, ...v6addrs];
    if (ordered.length > 0) {
      const ttl = Math.min(...answers.filter((a) => a.addresses.length > 0).map((a) => a.ttlSeconds));
      const ttlMs = Math.min(Math.max(ttl * 1000, this.#cfg.minTtlMs), this.#cfg.maxTtlMs);
      const entry: CacheEntry = { addresses: ordered, expiresAtMs: this.#now() + ttlMs, negativeCode: null };
      this.#cache.set(name, entry);
      return entry;
    }
    const codes = errors.map(errorCode);
    const negative = errors.length > 0 && codes.every((c) => NEGATIVE_CODES.has(c));
    if (negative || errors.length === 0) {
      // NXDOMAIN or no records of either family: a real answer, cached briefly.
      const entry: CacheEntry = {
        addresses: [],
        expiresAtMs: this.#now() + this.#cfg.negativeTtlMs,
        negativeCode: codes[0] ?? 'ENODATA',
      };
      this.#cache.set(name, entry);
      return entry;
    }
    this.#count('failure');
    const code = codes.find((c) => !NEGATIVE_CODES.has(c)) ?? 'EFAIL';
    throw new ForwardError('dns_failure', `resolve ${name}: ${code}`, { cause: errors[0] });
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
