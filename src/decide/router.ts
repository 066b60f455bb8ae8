// The allowlist: which route, if any, a server name matches (SPEC §3 "Host patterns"). Pure and
// compiled once per config (STYLE §5); a reload compiles a new Router and swaps it in.

import { formatHostPort, ipBytes, validateHostname } from '../config/address.js';
import type { HostPort, RouteConfig } from '../config/types.js';

/** One allowed host pattern and where it connects; `pattern` is the metrics `host` label. */
export interface Route {
  /** An exact name or `*.suffix`, lowercase, as configured. */
  readonly pattern: string;
  /** Static upstream, or null to connect to the server name itself. */
  readonly upstream: HostPort | null;
  /** Upstream port for a dynamic route; null means the listener's port. */
  readonly port: number | null;
  /** Where it was configured ("file:line:col" or "preset ..."). */
  readonly origin: string;
  /** The resolver that resolves the name this route dials (unused for an IP literal upstream). */
  readonly resolver: string;
}

/** Compiled host patterns: exact names and wildcard suffixes, each an O(1) Map lookup. */
export class Router {
  readonly #exact: ReadonlyMap<string, Route>;
  /** `*.example.com` is stored under `example.com`. */
  readonly #wildcard: ReadonlyMap<string, Route>;
  readonly #routes: readonly Route[];

  private constructor(exact: Map<string, Route>, wildcard: Map<string, Route>, routes: Route[]) {
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#routes = Object.freeze(routes);
  }

  /**
   * Compiles validated route configs (patterns normalised by config/schema.ts). A pattern listed
   * twice keeps its first route; the schema refuses such configs, so this only fixes the rule.
   */
  static compile(routes: readonly RouteConfig[]): Router {
    const exact = new Map<string, Route>();
    const wildcard = new Map<string, Route>();
    const all: Route[] = [];
    for (const r of routes) {
      for (const pattern of r.hosts) {
        const route: Route = Object.freeze({ pattern, upstream: r.upstream, port: r.port, origin: r.origin, resolver: r.resolver });
        const [table, key] = pattern.startsWith('*.') ? [wildcard, pattern.slice(2)] : [exact, pattern];
        if (table.has(key)) continue;
        table.set(key, route);
        all.push(route);
      }
    }
    return new Router(exact, wildcard, all);
  }

  /**
   * The route for a server name, or undefined if it is not allowed. The name is normalised here
   * (lowercase, one trailing dot dropped; SPEC §3), and anything that is not a valid host name
   * (empty labels, IP literals, non-LDH characters) matches nothing, whatever the caller checked.
   * An exact pattern beats a wildcard. `*.suffix` matches exactly one label before the suffix, so
   * at most one wildcard can match a name and "a longer suffix beats a shorter one" holds by
   * construction: `*.b.example.com` and `*.example.com` never match the same name.
   */
  match(host: string): Route | undefined {
    const checked = validateHostname(host);
    if (!checked.ok) return undefined;
    const name = checked.value;
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.#wildcard.get(name.slice(dot + 1)) : undefined;
  }

  /** One entry per pattern, in config order (for `check`, `hosts` and metrics labels). */
  get routes(): readonly Route[] {
    return this.#routes;
  }
}

/** The resolver a route's connections use, or null when it dials an IP literal (no lookup). */
export function routeResolver(r: Route): string | null {
  return r.upstream !== null && ipBytes(r.upstream.host) !== undefined ? null : r.resolver;
}

/** Where a route connects, as `check` and the status page print it: "... via resolver NAME". */
export function describeRouteTarget(r: Route): string {
  const resolver = routeResolver(r);
  const via = resolver === null ? '' : ` via resolver ${resolver}`;
  return r.upstream !== null
    ? `${formatHostPort(r.upstream)}${via}`
    : `<sni name>:${r.port === null ? "<listener's port>" : String(r.port)}${via}`;
}
