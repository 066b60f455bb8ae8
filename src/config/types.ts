// The validated, frozen configuration (SPEC §3). Produced only by config/schema.ts; YAML keys
// are snake_case, these fields camelCase. After load nothing reads YAML or process.env.

/** An IP address or DNS name with a port. `host` never has brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A CIDR block; `address` is the network address as written (normalised by net.BlockList). */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

export type ListenProtocol = 'tls' | 'http';

export interface ListenerConfig {
  /** IP literal and port to bind ("0.0.0.0", "::", "127.0.0.1"). */
  readonly address: HostPort;
  readonly protocol: ListenProtocol;
  readonly proxyProtocol: boolean;
  readonly proxyProtocolFrom: readonly Cidr[];
}

export interface MetricsConfig {
  readonly address: HostPort;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LimitsConfig {
  readonly clientHelloTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly maxConnections: number;
  /** 0 means no per-client cap. */
  readonly maxConnectionsPerClient: number;
  /** IPv6 clients are counted per network of this prefix length (1..128) for the per-client cap. */
  readonly clientIpv6Prefix: number;
}

export interface ClientsConfig {
  /** Source CIDRs allowed to connect; null means any source. */
  readonly allow: readonly Cidr[] | null;
}

export interface ResolverConfig {
  /** "default" for the unnamed `resolver`, else its key under `resolvers`. */
  readonly name: string;
  /** DNS servers; null means the system's /etc/resolv.conf servers. */
  readonly servers: readonly HostPort[] | null;
  readonly prefer: 'ipv4' | 'ipv6';
  readonly timeoutMs: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  readonly negativeTtlMs: number;
}

export interface RouteConfig {
  /** Lowercased patterns without trailing dot: exact names or `*.suffix`. */
  readonly hosts: readonly string[];
  /** Static upstream, or null to connect to the SNI name itself. */
  readonly upstream: HostPort | null;
  /** Upstream port for dynamic routes; null means the listener's port. */
  readonly port: number | null;
  /** Where the route comes from: "file:line:col" of the route, or "preset NAME (params)". */
  readonly origin: string;
  /** Name of the resolver that resolves the names this route dials (a key of Config.resolvers). */
  readonly resolver: string;
}

export interface PresetConfig {
  readonly provider: string;
  /** Provider-specific parameters (region, network, edition, ...), validated by the preset. */
  readonly params: Readonly<Record<string, string>>;
  /** Name of the resolver its routes use. */
  readonly resolver: string;
}

/**
 * data_path: `auto` relays on the user-buffer path where this Node allows it (else streams, with
 * a warning); `streams` forces the portable stream path.
 */
export type DataPathSetting = 'auto' | 'streams';

export interface Config {
  /** The file this config was read from (for messages). */
  readonly file: string;
  readonly listen: readonly ListenerConfig[];
  readonly metrics: MetricsConfig;
  readonly log: { readonly level: LogLevel };
  /** Worker processes; 'auto' = number of cores. */
  readonly workers: number | 'auto';
  /** How bytes are relayed (data_path); read at start, a change needs a restart. */
  readonly dataPath: DataPathSetting;
  readonly limits: LimitsConfig;
  readonly clients: ClientsConfig;
  /** The unnamed `resolver` (name "default"): routes without `resolver` use it. */
  readonly resolver: ResolverConfig;
  /** Every resolver, the default first, then `resolvers` in file order; names are unique. */
  readonly resolvers: readonly ResolverConfig[];
  /** CIDRs resolved upstream addresses must fall in; empty = any. */
  readonly upstreamNetworks: readonly Cidr[];
  readonly presets: readonly PresetConfig[];
  readonly routes: readonly RouteConfig[];
}
