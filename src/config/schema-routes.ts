// The `routes` and `presets` sections of the config file (SPEC §3): what is forwarded, as route
// entries with their origin, and the presets expanded into dynamic routes. Pure, like schema.ts,
// which reads the other sections and calls these.

import { isMap, isScalar } from 'yaml';
import { formatHostPort, ipBytes, normalizeHostPattern } from './address.js';
import {
  ALL_PARAMS, PRESETS, PROVIDERS, checkParamValue, isProvider, presetHosts, presetLabel, presetOrigin,
} from '../registry/presets.js';
import {
  type At, type Ctx, readMap, field, readList, scalar, readString, parsedAt, int, oneOf, hostPort, nonEmptyList,
} from './node-reader.js';
import type { PresetConfig, RouteConfig } from './types.js';

/** The name of the unnamed `resolver`, which routes without `resolver` use. */
export const DEFAULT_RESOLVER = 'default';

/** A preset with the position of its mapping, for problems found when it is expanded. */
export interface ReadPreset {
  readonly preset: PresetConfig;
  readonly at: At;
  /** `resolver` as written and where, for the check against the configured names. */
  readonly resolverName: string | undefined;
  readonly resolverAt: At | undefined;
}

/**
 * presets[i]: `provider` plus that provider's params (src/registry/presets.ts). Unknown provider,
 * a param the provider does not take, a missing required param and a bad value are each reported
 * at their own key path; a preset with any problem is dropped.
 */
export function readPreset(ctx: Ctx, at: At): ReadPreset | undefined {
  // Peek at the provider first so that a key the provider does not take is reported as such
  // (with that provider's keys); with an unknown provider only the provider is reported.
  const peeked = isMap(at.node) ? at.node.get('provider') : undefined;
  const known = typeof peeked === 'string' && isProvider(peeked) ? peeked : undefined;
  const paramKeys = known === undefined ? ALL_PARAMS : Object.keys(PRESETS[known].params);
  const f = readMap(ctx, at, ['provider', 'resolver', ...paramKeys]);
  if (f === undefined) return undefined;
  if (!f.has('provider')) ctx.report(at, `missing provider (one of: ${PROVIDERS.join(', ')})`);
  const provider = field(ctx, f, 'provider', oneOf(PROVIDERS));
  const resolverName = field(ctx, f, 'resolver', readResolverRef);
  const resolverAt = f.get('resolver');
  const params: Record<string, string> = {};
  // A bad `resolver` drops the preset, but its params are still checked and reported.
  let valid = provider !== undefined && (resolverAt === undefined || resolverName !== undefined);
  for (const key of paramKeys) {
    const v = field(ctx, f, key, readParam);
    const keyAt = f.get(key);
    if (v === undefined || keyAt === undefined) {
      if (keyAt !== undefined) valid = false;
      continue;
    }
    const bad = provider === undefined ? undefined : checkParamValue(provider, key, v);
    if (bad !== undefined) {
      ctx.report(keyAt, bad);
      valid = false;
    } else {
      params[key] = v;
    }
  }
  if (provider === undefined || !valid) return undefined;
  const spec = PRESETS[provider];
  const missingAt = (key: string): At => f.get(key) ?? { node: at.node, path: `${at.path}.${key}`, pos: at.pos };
  for (const [key, p] of Object.entries(spec.params)) {
    if (p.required !== true || params[key] !== undefined) continue;
    const what = Array.isArray(p.values) ? `one of ${p.values.join(', ')}` : (p.values as { what: string }).what;
    ctx.report(missingAt(key), `missing ${key}: ${provider} needs ${what}`);
    valid = false;
  }
  if (!valid) return undefined;
  const problems = spec.check?.(params) ?? [];
  for (const [key, message] of problems) ctx.report(missingAt(key), message);
  if (problems.length > 0) return undefined;
  return { preset: { provider, params, resolver: resolverName ?? DEFAULT_RESOLVER }, at, resolverName, resolverAt };
}

/** A preset param: a string, or a YAML boolean (`dualstack: true`) kept as "true"/"false". */
function readParam(ctx: Ctx, at: At): string | undefined {
  const v = scalar(at);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' && isScalar(at.node)) {
    // YAML reads 012345678901 as the number 12345678901: show what was written, quoted.
    const written = at.node.source ?? String(v);
    return ctx.report(at, `expected a string, got the number ${written}; quote it: "${written}"`);
  }
  return readString(ctx, at, 'a string');
}

/**
 * Expands valid presets into dynamic routes (no upstream, no port), one per preset, in order.
 * A host a file route already names is left to that route when the route is dynamic with no
 * port too (same behaviour, the file's origin); a file route with an upstream or port for it is
 * a problem at the route's host entry. A host several presets produce is kept once, first wins.
 */
export function expandPresets(ctx: Ctx, presets: readonly ReadPreset[], routes: readonly RouteConfig[]): RouteConfig[] {
  const fileRoute = new Map<string, RouteConfig>();
  for (const r of routes) for (const h of r.hosts) if (!fileRoute.has(h)) fileRoute.set(h, r);
  const hostAt = new Map<string, At>();
  for (const { pattern, at } of ctx.hosts) if (!hostAt.has(pattern)) hostAt.set(pattern, at);
  const taken = new Set(fileRoute.keys());
  const reported = new Set<string>();
  const out: RouteConfig[] = [];
  for (const { preset: { provider, params, resolver }, at } of presets) {
    if (!isProvider(provider)) continue;
    const hosts: string[] = [];
    for (const generated of presetHosts(provider, params)) {
      // The table only builds valid names from validated params; a failure here is a bug in
      // the table (or an over-long name), reported at the preset rather than crashing.
      const checked = normalizeHostPattern(generated);
      if (!checked.ok) {
        ctx.report(at, `${presetLabel(provider, params)} produces an invalid host: ${checked.reason}`);
        continue;
      }
      const host = checked.value;
      const route = fileRoute.get(host);
      if (route !== undefined && (route.upstream !== null || route.port !== null || route.resolver !== resolver) && !reported.has(host)) {
        reported.add(host);
        const what = route.upstream !== null ? 'upstream' : route.port !== null ? 'port' : `resolver (${route.resolver}, the preset's is ${resolver})`;
        ctx.report(hostAt.get(host) ?? at, `host "${host}" is also in ${presetLabel(provider, params)} with a different ${what}`);
      }
      if (taken.has(host)) continue;
      taken.add(host);
      hosts.push(host);
    }
    if (hosts.length > 0) out.push({ hosts, upstream: null, port: null, origin: presetOrigin(provider, params), resolver });
  }
  return out;
}

/** A route with its `resolver` as written and where, for the check against the configured names. */
export interface ReadRoute {
  readonly route: RouteConfig;
  readonly resolverName: string | undefined;
  readonly resolverAt: At | undefined;
}

/** `resolver` of a route or preset: a string (checked against the configured names later). */
function readResolverRef(ctx: Ctx, at: At): string | undefined {
  return readString(ctx, at, 'a resolver name (a key of `resolvers`, or "default")');
}

export function readRoute(ctx: Ctx, at: At): ReadRoute | undefined {
  const f = readMap(ctx, at, ['hosts', 'upstream', 'port', 'resolver']);
  if (f === undefined) return undefined;
  const hosts = field(ctx, f, 'hosts', (c, a) => nonEmptyList(c, a, readList(c, a, (c2, a2) => {
    const s = readString(c2, a2, 'a host name or "*.suffix" pattern');
    const pattern = s === undefined ? undefined : parsedAt(c2, a2, normalizeHostPattern(s));
    if (pattern !== undefined) c2.hosts.push({ pattern, at: a2 });
    return pattern;
  }), 'a route needs at least one host'));
  const upstream = field(ctx, f, 'upstream', hostPort({}));
  const port = field(ctx, f, 'port', int(1, 65535));
  const portAt = f.get('port');
  const resolverName = field(ctx, f, 'resolver', readResolverRef);
  const resolverAt = f.get('resolver');
  const uselessResolver = resolverAt !== undefined && upstream !== undefined && ipBytes(upstream.host) !== undefined;
  if (uselessResolver) ctx.report(resolverAt, `upstream ${formatHostPort(upstream)} is an IP address: no resolver is used; remove resolver`);
  if (f.has('upstream') && portAt !== undefined) {
    ctx.report(portAt, 'port and upstream are mutually exclusive: upstream already names its port');
  }
  if (!f.has('hosts')) ctx.report(at, 'missing hosts: list the host names this route allows');
  if (hosts === undefined || (f.has('upstream') && upstream === undefined) || (portAt !== undefined && port === undefined)
    || (resolverAt !== undefined && resolverName === undefined) || uselessResolver) {
    return undefined;
  }
  const { line, col } = ctx.lines.linePos(at.pos);
  const route = { hosts, upstream: upstream ?? null, port: port ?? null, origin: `${ctx.file}:${line}:${col}`, resolver: resolverName ?? DEFAULT_RESOLVER };
  return { route, resolverName, resolverAt };
}

/** SPEC §3: a host pattern may appear once across all routes (exact or wildcard). */
export function checkDuplicateHosts(ctx: Ctx): void {
  const first = new Map<string, At>();
  for (const { pattern, at } of ctx.hosts) {
    const prev = first.get(pattern);
    if (prev === undefined) first.set(pattern, at);
    else ctx.report(at, `duplicate host "${pattern}" (already at ${ctx.where(prev)})`);
  }
}
