import { isIP } from 'node:net';
import { formatHostPort, formatServers, validateHostname } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { Router, type Route } from '../decide/router.js';
import { EMBEDDED_IN, SPECIAL_BLOCKS, entryOpens } from '../decide/special-addresses.js';
import { regionDifference } from '../registry/regions.js';

/** How many near-miss patterns a refusal lists at most. */
const MAX_CLOSEST = 5;

/** A configured pattern that shares trailing labels with a refused name. */
export interface ClosestPattern {
  readonly pattern: string;
  readonly origin: string;
}

/** What `route HOST` found out; the text and the `--json` output are both made from it. */
export type RouteExplanation =
  | {
      readonly result: 'matched';
      /** The name as the router sees it: lowercase, one trailing dot dropped. */
      readonly host: string;
      readonly pattern: string;
      readonly origin: string;
      /** The host dialled: the static upstream's host, or `host` itself for a dynamic route. */
      readonly connectHost: string;
      /** A port number, or null for "the listener's port". */
      readonly port: number | null;
      readonly static: boolean;
      /** The resolver's servers connectHost is looked up with; null for an IP literal. */
      readonly resolvedBy: string | null;
      /** The name of that resolver ("default" unless the route names one); null for an IP literal. */
      readonly resolver: string | null;
      /** Listener addresses, for "the listener's port". */
      readonly listeners: readonly string[];
      /** CIDRs the resolved addresses must fall in, or null when the filter does not apply. */
      readonly upstreamNetworks: readonly string[] | null;
      /** Why upstreamNetworks is null (not set, or the upstream is an IP literal). */
      readonly upstreamNetworksNote: string;
      /**
       * upstream_networks entries that open a special-purpose block ("127.0.0.0/8 (loopback)"),
       * or null when answers are not screened (the upstream is an IP literal).
       */
      readonly specialAddressesOpened: readonly string[] | null;
      /** The special-purpose address rule as it applies to this route. */
      readonly specialAddressesNote: string;
    }
  | { readonly result: 'invalid_name'; readonly host: string; readonly reason: string }
  | {
      readonly result: 'no_route';
      readonly host: string;
      readonly closest: readonly ClosestPattern[];
      /** Allowed patterns this name matches but for its region: a region to add, not a typo. */
      readonly otherRegion: readonly RegionVariant[];
      readonly notes: readonly string[];
    };

/** A configured pattern that would match the refused name if the region were `allowedRegion`. */
export interface RegionVariant {
  readonly pattern: string;
  readonly origin: string;
  /** The region in the refused name. */
  readonly region: string;
  /** The region in the pattern. */
  readonly allowedRegion: string;
}

/**
 * `route HOST`: loads `file`, prints which route HOST matches and where it would connect, or why
 * it is refused (SPEC §2). Resolves to the exit code: 0 matched, 1 refused. An invalid config
 * rejects with its ConfigError, as `check` does.
 */
export async function routeCommand(
  host: string, file: string, opts: { json?: boolean } = {}, out: (line: string) => void = console.log,
): Promise<number> {
  const config = await loadConfig(file);
  const explanation = explainRoute(config, host);
  if (opts.json === true) out(JSON.stringify(explanation, null, 2));
  else for (const line of describeRoute(explanation)) out(line);
  return explanation.result === 'matched' ? 0 : 1;
}

/** Decides HOST against `config` the way a connection would, without any network I/O. */
export function explainRoute(config: Config, host: string): RouteExplanation {
  const checked = validateHostname(host);
  if (!checked.ok) return { result: 'invalid_name', host, reason: checked.reason };
  const name = checked.value;
  const router = Router.compile(config.routes);
  const route = router.match(name);
  if (route === undefined) {
    const { closest, notes } = closestPatterns(router.routes, name);
    const otherRegion = router.routes.flatMap((r) => {
      const d = regionDifference(name, r.pattern);
      return d === undefined ? [] : [{ pattern: r.pattern, origin: r.origin, region: d.wanted, allowedRegion: d.allowed }];
    });
    const regionNotes = otherRegion.map((v) =>
      `${name} differs from ${v.pattern} only by region (${v.region} here, ${v.allowedRegion} allowed by ${v.origin}); ` +
      `to allow it, add a route for it${v.origin.startsWith('preset ') ? ` or a preset with region ${v.region}` : ''}`);
    return { result: 'no_route', host: name, closest, otherRegion, notes: [...regionNotes, ...notes] };
  }

  const connectHost = route.upstream?.host ?? name;
  const isLiteral = isIP(connectHost) !== 0;
  const resolverConfig = config.resolvers.find((r) => r.name === route.resolver) ?? config.resolver;
  const servers = formatServers(resolverConfig.servers);
  const nets = config.upstreamNetworks.map((c) => `${c.address}/${c.prefix}`);
  // connection.ts filters DNS answers only: a static IP upstream is the operator's own choice.
  const upstreamNetworks = nets.length > 0 && !isLiteral ? nets : null;
  const upstreamNetworksNote = nets.length === 0
    ? 'not set; any resolved address is used unless it is special-purpose'
    : isLiteral
      ? `does not apply; ${connectHost} is an IP literal, the operator's own choice`
      : `applies; resolved addresses outside ${nets.join(', ')} are dropped, and none left means refused (not_allowed)`;
  return {
    result: 'matched',
    host: name,
    pattern: route.pattern,
    origin: route.origin,
    connectHost,
    port: route.upstream?.port ?? route.port,
    static: route.upstream !== null,
    resolvedBy: isLiteral ? null : servers,
    resolver: isLiteral ? null : resolverConfig.name,
    listeners: config.listen.map((l) => `${formatHostPort(l.address)} ${l.protocol}`),
    upstreamNetworks,
    upstreamNetworksNote,
    ...specialAddresses(config, connectHost, isLiteral),
  };
}

/** The special-purpose address rule for a route dialling `connectHost` (SPEC §3). */
function specialAddresses(config: Config, connectHost: string, isLiteral: boolean): {
  specialAddressesOpened: readonly string[] | null; specialAddressesNote: string;
} {
  if (isLiteral) {
    return { specialAddressesOpened: null, specialAddressesNote: `not screened; ${connectHost} is an IP literal, the operator's own choice` };
  }
  const opened = config.upstreamNetworks.flatMap((c) => {
    const kinds = [...new Set(SPECIAL_BLOCKS.filter((b) => entryOpens(c, b)).map((b) => b.kind))];
    return kinds.length === 0 ? [] : [`${c.address}/${c.prefix} (${kinds.join(', ')})`];
  });
  const kinds = new Map<string, string[]>();
  for (const b of SPECIAL_BLOCKS) kinds.set(b.kind, [...(kinds.get(b.kind) ?? []), b.text]);
  const blocks = [...kinds].map(([kind, texts]) => `${kind} ${texts.join(', ')}`).join('; ');
  const note = `resolved addresses in these blocks are refused (not_allowed) unless an upstream_networks entry within the block lists them: ${blocks}`
    + ` (the IPv4 blocks also inside ${EMBEDDED_IN})`;
  return {
    specialAddressesOpened: opened,
    specialAddressesNote: opened.length === 0 ? `${note}; none opened` : `${note}; opened by ${opened.join(', ')}`,
  };
}

/** The plain-text answer: one `key: value` fact per line, in a fixed order. */
export function describeRoute(e: RouteExplanation): string[] {
  if (e.result === 'invalid_name') {
    return [`host: ${JSON.stringify(e.host)}`, `refused: not a valid host name: ${e.reason}`];
  }
  if (e.result === 'no_route') {
    const lines = [`host: ${e.host}`, `refused: no route matches ${e.host}`];
    for (const c of e.closest) lines.push(`closest: ${c.pattern} (${c.origin})`);
    for (const n of e.notes) lines.push(`note: ${n}`);
    return lines;
  }
  const port = e.port === null ? `the listener's port (${e.listeners.join(', ')})` : String(e.port);
  const lines = [`host: ${e.host}`, `route: ${e.pattern}`, `origin: ${e.origin}`];
  if (e.static) {
    lines.push(`upstream: ${formatHostPort({ host: e.connectHost, port: e.port ?? 0 })} (static)`);
  } else {
    lines.push(`upstream: the name itself, ${e.connectHost} (dynamic)`);
  }
  lines.push(e.resolvedBy === null ? `resolved by: nothing, ${e.connectHost} is an IP literal` : `resolved by: resolver ${e.resolver ?? ''} (${e.resolvedBy})`);
  if (!e.static) lines.push(`port: ${port}`);
  lines.push(`upstream_networks: ${e.upstreamNetworksNote}`);
  lines.push(`special addresses: ${e.specialAddressesNote}`);
  return lines;
}

/**
 * Patterns sharing the most trailing labels with `name` (at least two: a shared top-level domain
 * says nothing), best first, and a note for each wildcard that failed only on depth.
 */
function closestPatterns(routes: readonly Route[], name: string): { closest: ClosestPattern[]; notes: string[] } {
  const labels = name.split('.');
  const shared = (pattern: string): number => {
    const p = (pattern.startsWith('*.') ? pattern.slice(2) : pattern).split('.');
    let n = 0;
    while (n < p.length && n < labels.length && p[p.length - 1 - n] === labels[labels.length - 1 - n]) n++;
    return n;
  };
  const scored = routes.map((r) => ({ r, n: shared(r.pattern) })).filter((s) => s.n >= 2);
  const best = Math.max(0, ...scored.map((s) => s.n));
  const top = scored
    .filter((s) => s.n === best)
    .sort((a, b) => (a.r.pattern < b.r.pattern ? -1 : a.r.pattern > b.r.pattern ? 1 : 0))
    .slice(0, MAX_CLOSEST);
  const notes: string[] = [];
  for (const { r } of top) {
    if (!r.pattern.startsWith('*.')) continue;
    const suffix = r.pattern.slice(2);
    if (name === suffix) {
      notes.push(`${r.pattern} does not match ${suffix} itself; "*" is exactly one label`);
    } else if (name.endsWith(`.${suffix}`)) {
      notes.push(`${r.pattern} matches exactly one label before ${suffix} (x.${suffix}), not ${name}`);
    }
  }
  return { closest: top.map(({ r }) => ({ pattern: r.pattern, origin: r.origin })), notes };
}
