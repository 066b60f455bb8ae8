// Validation, defaults and the snake_case → camelCase mapping for the config file (SPEC §3).
// Pure: a parsed YAML node tree goes in, a deep-frozen Config or every problem comes out.
// With schema-routes.ts (routes and presets) the only code that knows YAML key names; the only
// one that supplies defaults.

import { isScalar, type LineCounter } from 'yaml';
import type { ConfigProblem } from '../errors.js';
import { addressesOverlap, formatHostPort } from './address.js';
import { formatDuration } from './duration.js';
import { bareAddressFix, bareListenHint, listenListForm } from './listen-forms.js';
import { DEFAULT_RESOLVER, checkDuplicateHosts, expandPresets, readPreset, readRoute } from './schema-routes.js';
import {
  type At, Ctx, describe, readMap, field, readList, list, scalar, int, readBool, oneOf, duration, hostPort, readCidr, nonEmptyList, expected,
  readEntries,
} from './node-reader.js';
import type {
  Cidr, Config, DataPathSetting, HostPort, LimitsConfig, ListenerConfig, LogLevel, PresetConfig, ResolverConfig,
} from './types.js';

/** Every default of SPEC §3. `listen` and `routes` have none: they are required. */
export const DEFAULTS = {
  metricsAddress: { host: '127.0.0.1', port: 9464 },
  logLevel: 'info',
  workers: 1,
  dataPath: 'auto',
  listener: { protocol: 'tls', proxyProtocol: false, proxyProtocolFrom: [] },
  limits: {
    clientHelloTimeoutMs: 5_000,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 600_000,
    drainTimeoutMs: 30_000,
    maxConnections: 10_000,
    maxConnectionsPerClient: 0,
    clientIpv6Prefix: 64,
  },
  clientsAllow: null,
  resolver: { name: 'default', servers: null, prefer: 'ipv4', timeoutMs: 2_000, minTtlMs: 5_000, maxTtlMs: 300_000, negativeTtlMs: 5_000 },
  upstreamNetworks: [],
  presets: [],
} as const satisfies {
  metricsAddress: HostPort; logLevel: LogLevel; workers: number; dataPath: DataPathSetting; limits: LimitsConfig; resolver: ResolverConfig;
  listener: Omit<ListenerConfig, 'address'>; clientsAllow: null; upstreamNetworks: readonly Cidr[];
  presets: readonly PresetConfig[];
};

const MAX_WORKERS = 64;

/**
 * A resolver name: it becomes a metrics label value and appears in `check`, so it is short and
 * plain. At most MAX_RESOLVERS names, so the label stays bounded by the config.
 */
const RESOLVER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_RESOLVERS = 32;
const DATA_PATHS: readonly DataPathSetting[] = ['auto', 'streams'];
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Features SPEC §3 specifies that are NOT BUILT YET. Accepting them silently would mislead (an
 * ignored `clients.allow` leaves a bastion open), so each is refused at its position. Delete
 * the entry in the commit that builds the feature. `key` is a key path with `[]` for any index;
 * `when` sees the parsed value.
 */
const UNBUILT: readonly { key: string; when: (value: unknown) => boolean; message: string }[] = [];

/** The result of validation: a deep-frozen Config, or every problem found (never empty). */
export type Validation =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/**
 * Validates a parsed YAML document (`doc.contents` of yaml's parseDocument; null for an empty
 * file), fills in defaults and maps keys to the Config types. `lines` is the LineCounter the
 * document was parsed with, so every problem gets a 1-based line and column; `file` names it.
 */
export function validateConfig(root: unknown, lines: LineCounter, file: string): Validation {
  const ctx = new Ctx(file, lines);
  const config = readConfig(ctx, { node: root, path: '', pos: 0 });
  for (const seen of ctx.seen) {
    const key = seen.path.replace(/\[\d+\]/g, '[]');
    for (const u of UNBUILT) {
      if (u.key === key && u.when(seen.value)) ctx.report(seen.at, u.message);
    }
  }
  if (ctx.problems.length > 0 || config === undefined) {
    const problems = [...ctx.problems].sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems: problems.length > 0 ? problems : [ctx.problem(0, '', 'invalid config')] };
  }
  return { ok: true, config: deepFreeze(config) };
}

// ---- sections: snake_case YAML keys → camelCase Config fields, with defaults ----

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function readConfig(ctx: Ctx, at: At): Config | undefined {
  if (at.node === null || at.node === undefined || (isScalar(at.node) && at.node.value === null)) {
    return ctx.report(at, 'empty config: expected a mapping with at least listen and routes');
  }
  const f = readMap(ctx, at, [
    'listen', 'metrics', 'log', 'workers', 'data_path', 'limits', 'clients', 'resolver', 'resolvers', 'upstream_networks', 'presets', 'routes',
  ]);
  if (f === undefined) return undefined;

  if (!f.has('listen')) ctx.report(at, 'missing listen: at least one listener address is required');
  const listen = field(ctx, f, 'listen', (c, a) =>
    isScalar(a.node) ? listenNotAList(c, a) : nonEmptyList(c, a, readList(c, a, readListener), 'at least one listener is required'));
  const metrics = field(ctx, f, 'metrics', readMetrics);
  const log = field(ctx, f, 'log', (c, a) => {
    const m = readMap(c, a, ['level']);
    return m && { level: field(c, m, 'level', oneOf(LOG_LEVELS)) ?? DEFAULTS.logLevel };
  });
  const workers = field(ctx, f, 'workers', readWorkers);
  const dataPath = field(ctx, f, 'data_path', oneOf(DATA_PATHS));
  const limits = field(ctx, f, 'limits', readLimits);
  const clients = field(ctx, f, 'clients', readClients);
  const resolver = field(ctx, f, 'resolver', (c, a) => readResolver(c, a, DEFAULT_RESOLVER));
  const named = field(ctx, f, 'resolvers', readResolvers);
  const upstreamNetworks = field(ctx, f, 'upstream_networks', list(readCidr));
  const presets = field(ctx, f, 'presets', list(readPreset));
  const readRoutes = field(ctx, f, 'routes', list(readRoute));
  const routes = readRoutes?.map((r) => r.route);
  // An invalid `resolvers` was reported already; names are only checked against a valid one.
  if (named !== undefined || !f.has('resolvers')) {
    const names = [DEFAULT_RESOLVER, ...(named ?? []).map((r) => r.name)];
    for (const r of [...(readRoutes ?? []), ...(presets ?? [])]) {
      if (r.resolverAt !== undefined) checkResolverName(ctx, r.resolverAt, r.resolverName, names);
    }
  }

  // An invalid routes/presets list was reported already; only a valid or absent one can be empty.
  const routesKnown = routes !== undefined || !f.has('routes');
  const presetsKnown = presets !== undefined || !f.has('presets');
  if (routesKnown && presetsKnown && (routes?.length ?? 0) + (presets?.length ?? 0) === 0) {
    ctx.report(f.get('routes') ?? at, 'no routes: nothing would be forwarded');
  }
  checkDuplicateHosts(ctx);
  // Preset routes come after the file's routes: `check` lists them last and a file route keeps
  // its own origin for a host both name.
  const presetRoutes = presets !== undefined && routesKnown ? expandPresets(ctx, presets, routes ?? []) : [];
  const metricsAddress = metrics?.address ?? DEFAULTS.metricsAddress;
  if (listen !== undefined) checkListenAddresses(ctx, listen, metricsAddress, metrics?.at);

  if (listen === undefined || (metrics === undefined && f.has('metrics'))) return undefined;
  return {
    file: ctx.file,
    listen: listen.map((l) => l.listener),
    metrics: { address: metricsAddress },
    log: log ?? { level: DEFAULTS.logLevel },
    workers: workers ?? DEFAULTS.workers,
    dataPath: dataPath ?? DEFAULTS.dataPath,
    limits: limits ?? DEFAULTS.limits,
    clients: clients ?? { allow: DEFAULTS.clientsAllow },
    resolver: resolver ?? DEFAULTS.resolver,
    resolvers: [resolver ?? DEFAULTS.resolver, ...(named ?? [])],
    upstreamNetworks: upstreamNetworks ?? DEFAULTS.upstreamNetworks,
    presets: presets?.map((p) => p.preset) ?? DEFAULTS.presets,
    routes: [...(routes ?? []), ...presetRoutes],
  };
}

/** A listener with the position of its address, for the overlap check. */
interface ReadListener {
  readonly listener: ListenerConfig;
  readonly addressAt: At;
}

/** `listen: ":443"` (an nginx or HAProxy habit): the list form to write instead. */
function listenNotAList(ctx: Ctx, at: At): undefined {
  const v = scalar(at);
  const fix = bareAddressFix(v, '0.0.0.0') ?? (typeof v === 'string' ? v : '0.0.0.0:443');
  return ctx.report(at, `expected a list of listeners, got ${describe(at.node)}; write ${listenListForm(fix)}`);
}

function readListener(ctx: Ctx, at: At): ReadListener | undefined {
  if (isScalar(at.node)) {
    const v = scalar(at);
    const fix = bareAddressFix(v, '0.0.0.0') ?? (typeof v === 'string' ? v : '0.0.0.0:443');
    return ctx.report(at, `expected a listener mapping, got ${describe(at.node)}; write - address: "${fix}"`);
  }
  const f = readMap(ctx, at, ['address', 'protocol', 'proxy_protocol', 'proxy_protocol_from']);
  if (f === undefined) return undefined;
  const address = field(ctx, f, 'address', listenAddress('0.0.0.0', 'every address'));
  const d = DEFAULTS.listener;
  const protocol = field(ctx, f, 'protocol', oneOf(['tls', 'http'] as const)) ?? d.protocol;
  const proxyProtocol = field(ctx, f, 'proxy_protocol', readBool) ?? d.proxyProtocol;
  const fromRead = field(ctx, f, 'proxy_protocol_from', list(readCidr));
  const proxyProtocolFrom = fromRead ?? d.proxyProtocolFrom;
  const proxyAt = f.get('proxy_protocol');
  if (proxyProtocol && proxyAt !== undefined && (fromRead?.length === 0 || !f.has('proxy_protocol_from'))) {
    // An empty list would let every peer send a header and so claim any client address, past
    // clients.allow and max_connections_per_client: a door the operator must open by name.
    ctx.report(proxyAt, `proxy_protocol is on but proxy_protocol_from is ${fromRead === undefined ? 'not set' : 'empty'}:`
      + ' any peer could claim any client address; set it to the load balancers\' addresses'
      + ' (["0.0.0.0/0", "::/0"] trusts every peer)');
  }
  const addressAt = f.get('address');
  if (addressAt === undefined) return ctx.report(at, 'missing address, such as "0.0.0.0:443"');
  return address && { listener: { address, protocol, proxyProtocol, proxyProtocolFrom }, addressAt };
}

/** metrics: absent address = the default; `at` locates an explicit one for the clash check. */
function readMetrics(ctx: Ctx, at: At): { address: HostPort | undefined; at: At | undefined } | undefined {
  const f = readMap(ctx, at, ['address']);
  if (f === undefined) return undefined;
  const address = field(ctx, f, 'address', listenAddress('127.0.0.1', 'loopback'));
  return f.has('address') && address === undefined ? undefined : { address, at: f.get('address') };
}

/**
 * A listener or metrics address ("ip:port"); one written without an IP (":443", "*:443", 443)
 * gets the fix spelled out, with `host` for a listener's every-address or metrics' loopback.
 */
const listenAddress = (host: string, what: string) => (ctx: Ctx, at: At): HostPort | undefined => {
  const fix = bareAddressFix(scalar(at), host);
  if (fix === undefined) return hostPort({ requireIp: true, allowPortZero: true })(ctx, at);
  const written = typeof scalar(at) === 'string' ? JSON.stringify(scalar(at)) : `the number ${String(scalar(at))}`;
  return ctx.report(at, host === '0.0.0.0' ? bareListenHint(written, fix) : `${written} has no IP address; write "${fix}" (${what})`);
};

function readClients(ctx: Ctx, at: At): { allow: readonly Cidr[] | null } | undefined {
  const f = readMap(ctx, at, ['allow']);
  if (f === undefined) return undefined;
  const allow = field(ctx, f, 'allow', (c, a) => nonEmptyList(c, a, readList(c, a, readCidr),
    'it would refuse every client; remove the key to accept any source'));
  return f.has('allow') && allow === undefined ? undefined : { allow: allow ?? DEFAULTS.clientsAllow };
}

function readWorkers(ctx: Ctx, at: At): number | 'auto' | undefined {
  const v = scalar(at);
  if (v === 'auto') return 'auto';
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_WORKERS) return v;
  return expected(ctx, at, `an integer 1..${MAX_WORKERS} or "auto"`);
}

/** limits: key → field, parser. All values are numbers. */
const LIMITS: readonly [string, keyof LimitsConfig, (ctx: Ctx, at: At) => number | undefined][] = [
  ['client_hello_timeout', 'clientHelloTimeoutMs', duration(1)],
  ['connect_timeout', 'connectTimeoutMs', duration(1)],
  ['idle_timeout', 'idleTimeoutMs', duration(1)],
  ['drain_timeout', 'drainTimeoutMs', duration(1)],
  ['max_connections', 'maxConnections', int(1, 1_000_000_000)],
  ['max_connections_per_client', 'maxConnectionsPerClient', int(0, 1_000_000_000)],
  ['client_ipv6_prefix', 'clientIpv6Prefix', int(1, 128)],
];

function readLimits(ctx: Ctx, at: At): LimitsConfig | undefined {
  const f = readMap(ctx, at, LIMITS.map(([key]) => key));
  if (f === undefined) return undefined;
  const out: Mutable<LimitsConfig> = { ...DEFAULTS.limits };
  for (const [key, name, parse] of LIMITS) out[name] = field(ctx, f, key, parse) ?? out[name];
  return out;
}

/**
 * `resolvers`: name → the settings `resolver` takes. Names follow RESOLVER_NAME; "default" is
 * the unnamed `resolver` and cannot be redefined here.
 */
function readResolvers(ctx: Ctx, at: At): ResolverConfig[] | undefined {
  const out = readEntries(ctx, at, (c, name, keyAt, valueAt) => {
    if (name === DEFAULT_RESOLVER) {
      return c.report(keyAt, `"${DEFAULT_RESOLVER}" is the unnamed resolver: configure it under the top-level \`resolver\` key`);
    }
    if (!RESOLVER_NAME.test(name)) {
      return c.report(keyAt, `resolver name ${JSON.stringify(name)} is not valid: use lowercase letters, digits, "-" and "_", starting with a letter, at most 32 characters`);
    }
    return readResolver(c, valueAt, name);
  });
  if (out !== undefined && out.length === 0) return ctx.report(at, 'empty mapping: name at least one resolver, or remove the key');
  if (out !== undefined && out.length > MAX_RESOLVERS) return ctx.report(at, `${out.length} resolvers: at most ${MAX_RESOLVERS} may be named`);
  return out;
}

/** A route's or preset's `resolver` must name a configured resolver; reports it at `at` otherwise. */
function checkResolverName(ctx: Ctx, at: At, name: string | undefined, names: readonly string[]): void {
  if (name === undefined || names.includes(name)) return;
  ctx.report(at, `unknown resolver ${JSON.stringify(name)} (configured: ${names.join(', ')})`);
}

function readResolver(ctx: Ctx, at: At, name: string): ResolverConfig | undefined {
  const f = readMap(ctx, at, ['servers', 'prefer', 'timeout', 'min_ttl', 'max_ttl', 'negative_ttl']);
  if (f === undefined) return undefined;
  const d = DEFAULTS.resolver;
  const servers = field(ctx, f, 'servers', (c, a) => nonEmptyList(c, a,
    readList(c, a, hostPort({ requireIp: true, defaultPort: 53 })), 'remove the key to use /etc/resolv.conf'));
  const out: ResolverConfig = {
    name,
    servers: servers ?? d.servers,
    prefer: field(ctx, f, 'prefer', oneOf(['ipv4', 'ipv6'] as const)) ?? d.prefer,
    timeoutMs: field(ctx, f, 'timeout', duration(1)) ?? d.timeoutMs,
    minTtlMs: field(ctx, f, 'min_ttl', duration(0)) ?? d.minTtlMs,
    maxTtlMs: field(ctx, f, 'max_ttl', duration(0)) ?? d.maxTtlMs,
    negativeTtlMs: field(ctx, f, 'negative_ttl', duration(0)) ?? d.negativeTtlMs,
  };
  if (out.minTtlMs > out.maxTtlMs) {
    ctx.report(f.get('min_ttl') ?? f.get('max_ttl') ?? at,
      `min_ttl (${formatDuration(out.minTtlMs)}) is greater than max_ttl (${formatDuration(out.maxTtlMs)})`);
  }
  return out;
}

/** Listeners that would collide when bound, with each other or with the metrics endpoint. */
function checkListenAddresses(ctx: Ctx, listen: readonly ReadListener[], metrics: HostPort, metricsAt: At | undefined): void {
  listen.forEach(({ listener: { address }, addressAt }, i) => {
    const clash = listen.findIndex((other, j) => j < i && addressesOverlap(other.listener.address, address));
    if (clash !== -1) {
      ctx.report(addressAt, `${formatHostPort(address)} overlaps listen[${clash}] (${formatHostPort(listen[clash]?.listener.address ?? address)})`);
    }
    if (addressesOverlap(address, metrics)) {
      const what = `metrics address ${formatHostPort(metrics)} clashes with listen[${i}] (${formatHostPort(address)})`;
      ctx.report(metricsAt ?? addressAt, metricsAt === undefined ? `${what}; metrics uses it by default` : what);
    }
  });
}

/** Freezes a plain value and everything reachable from it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value as object)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
