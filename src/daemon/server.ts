import { isDeepStrictEqual } from 'node:util';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { formatHostPort, unmapIPv4 } from '../config/address.js';
import type { Config, ListenerConfig } from '../config/types.js';
import { formatAddress } from '../connect/dial.js';
import { ownAddressChecker } from '../connect/loop-guard.js';
import { ResolverSet } from '../connect/resolver-set.js';
import { Connection, type ConnectionEnv, type ListenerInfo } from '../connection.js';
import type { DataPath } from '../relay/pipe.js';
import { OpenConnections } from '../open-connections.js';
import { CidrSet } from '../decide/cidr-set.js';
import type { ClientSlots } from '../decide/client-slots.js';
import { describeRouteTarget, routeResolver, Router } from '../decide/router.js';
import { SetupError } from '../errors.js';
import { LogBudget, type Logger } from '../observe/log.js';
import { MetricsServer } from '../observe/http.js';
import { Metrics } from '../observe/metrics.js';
import { bindFailure } from './bind-error.js';
import { sameSocketAddress } from '../config/socket-unit.js';
import { FdWatch } from './fd-watch.js';
import type { RouteRow } from '../observe/status-page.js';
import type { InheritedSocket } from './socket-activation.js';

/**
 * Accept queue length asked of the kernel (capped by net.core.somaxconn, 4096 on current Linux):
 * a burst of thousands of connections must queue, not have its SYNs dropped and retried.
 */
const LISTEN_BACKLOG = 4096;

/** How often live byte counters are brought up to date for long transfers (SPEC §5). */
const BYTE_SAMPLE_INTERVAL_MS = 1000;

/** A bound listener and what it was configured as. */
export interface BoundListener {
  readonly config: ListenerConfig;
  /** "host:port" as configured: the listener's identity across reloads. */
  readonly label: string;
  readonly bound: AddressInfo;
  /** True when the socket came from systemd (LISTEN_FDS) rather than being bound here. */
  readonly inherited: boolean;
}

/**
 * A listener as the daemon keeps it. `config` and `info` are replaced when a reload changes a
 * kept listener's settings: each accepted socket reads `info` at accept, so new connections get
 * the new settings and open ones keep what they started with.
 */
interface ActiveListener {
  readonly label: string;
  readonly bound: AddressInfo;
  readonly inherited: boolean;
  readonly server: Server;
  config: ListenerConfig;
  info: ListenerInfo;
}

/** What a connection needs to know of the listener it arrived on. */
function listenerInfo(lc: ListenerConfig, label: string, port: number): ListenerInfo {
  return {
    label,
    port,
    protocol: lc.protocol,
    proxyProtocol: lc.proxyProtocol,
    proxyFrom: new CidrSet(lc.proxyProtocolFrom),
  };
}

/** Whether systemd's socket `s` is the one listener `lc` asks for (same bound address and port). */
function inheritedMatches(s: InheritedSocket, lc: ListenerConfig): boolean {
  return sameSocketAddress({ host: unmapIPv4(s.bound.address), port: s.bound.port }, lc.address);
}

/** The startup error for inherited sockets that match no listener: both sides, and the two fixes. */
function unmatchedSocketsMessage(unmatched: readonly InheritedSocket[], config: Config): string {
  const sockets = unmatched.map((s) => `${formatAddress(unmapIPv4(s.bound.address), s.bound.port)} (fd ${s.fd})`).join(', ');
  const listen = config.listen.map((l) => formatHostPort(l.address)).join(', ');
  const first = unmatched[0];
  const add = first === undefined ? '' : formatAddress(unmapIPv4(first.bound.address), first.bound.port);
  return `systemd passed socket(s) ${sockets} that match no listen entry of ${config.file} (${listen}); ` +
    `add { address: "${add}" } to listen, or make the socket unit's ListenStream= match listen ` +
    `(systemctl cat sni-forwarder.socket | sni-forwarder check -c ${config.file} --unit - compares them)`;
}

/** How a Daemon is started; every field has a default. */
export interface DaemonOptions {
  /** The metrics to count in (default: a fresh registry). */
  readonly metrics?: Metrics;
  /** Listening sockets from systemd socket activation. */
  readonly inherited?: readonly InheritedSocket[];
  /** Serve /metrics etc. on metrics.address (default true; cluster workers leave it to the primary). */
  readonly serveMetrics?: boolean;
  /** Where max_connections_per_client is counted (default: in this process; workers ask the primary). */
  readonly clientSlots?: ClientSlots;
  /** How connections relay bytes (default user-buffers, where each socket allows it). */
  readonly dataPath?: DataPath;
}

/** Binds the metrics HTTP server on the configured address, with a clear error. */
export async function listenMetrics(http: MetricsServer, config: Config, log: Logger): Promise<AddressInfo> {
  const bound = await http.listen(config.metrics.address).catch((err: unknown) => {
    throw new SetupError(bindFailure(`metrics address ${formatHostPort(config.metrics.address)}`, config.metrics.address.port, err), { cause: err });
  });
  log.info({ address: formatAddress(bound.address, bound.port) }, 'metrics listening');
  return bound;
}

/** The routes of a compiled router as the status page lists them. */
export function routeRows(router: Router): RouteRow[] {
  return router.routes.map((r) => ({ pattern: r.pattern, target: describeRouteTarget(r), origin: r.origin, resolver: routeResolver(r) }));
}

/** What a reload changed, for its log line. */
export interface ReloadSummary {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
  /** Kept listeners whose settings (protocol, proxy_protocol, ...) changed: applied to new connections. */
  readonly changed: readonly string[];
  /** Host patterns in force, as `check` counts them. */
  readonly routes: number;
}

/**
 * The running daemon: listeners that hand each accepted socket to a Connection, the metrics
 * HTTP server, and the live byte sampler. Owns every server socket it binds. A reload swaps
 * the connection environment atomically; connections already open keep the one they started
 * with (STYLE §5).
 */
export class Daemon {
  readonly metrics: Metrics;
  readonly #log: Logger;
  readonly #open: OpenConnections;
  /** Shared across reloads, so a reload does not refill the budget mid-flood. */
  readonly #refusalLog = new LogBudget();
  /** accept() errors can repeat for every pending connection: a few lines per 10 s. */
  readonly #acceptErrorLog = new LogBudget(5, 10_000);
  #fdWatch: FdWatch | null = null;
  readonly #listeners = new Map<string, ActiveListener>();
  readonly #http: MetricsServer | null;
  readonly #inherited: InheritedSocket[];
  #config: Config | null = null;
  #env: ConnectionEnv | null = null;
  #ready = false;
  #sampler: NodeJS.Timeout | null = null;
  #metricsAddress: AddressInfo | null = null;
  readonly #dataPath: DataPath;

  private constructor(log: Logger, opts: DaemonOptions) {
    this.#log = log;
    this.metrics = opts.metrics ?? new Metrics();
    this.#open = new OpenConnections(opts.clientSlots);
    this.#inherited = [...(opts.inherited ?? [])];
    this.#dataPath = opts.dataPath ?? 'user-buffers';
    this.#http = opts.serveMetrics === false
      ? null
      : new MetricsServer(this.metrics.registry, () => this.#ready, () => (this.#env === null ? [] : routeRows(this.#env.router)));
  }

  /**
   * Binds every listener (taking systemd's sockets in `inherited` where they match) and the
   * metrics address; rejects, after closing what it bound, on failure.
   */
  static async start(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
    const daemon = new Daemon(log, opts);
    try {
      await daemon.#start(config);
    } catch (err) {
      daemon.#closeListeners([...daemon.#listeners.keys()]);
      await daemon.#http?.close().catch(() => {});
      throw err;
    }
    return daemon;
  }

  /** The listeners as bound now (ports resolved when configured as 0). */
  get listeners(): readonly BoundListener[] {
    return [...this.#listeners.values()].map(({ config, label, bound, inherited }) => ({ config, label, bound, inherited }));
  }

  get metricsAddress(): AddressInfo | null {
    return this.#metricsAddress;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.#open.size;
  }

  async #start(config: Config): Promise<void> {
    // A socket systemd passed that no listener takes would be closed, leaving its port dead while
    // the daemon reports ready (issue #16): refuse to start instead, before binding anything.
    const unmatched = this.#inherited.filter((s) => !config.listen.some((lc) => inheritedMatches(s, lc)));
    if (unmatched.length > 0) throw new SetupError(unmatchedSocketsMessage(unmatched, config));
    if (this.#http !== null) {
      this.#metricsAddress = await listenMetrics(this.#http, config, this.#log);
    }
    await this.#bindMissing(config.listen);
    this.#apply(config, null);
    this.#sampler = setInterval(() => {
      for (const c of this.#open.list()) c.flushBytes();
    }, BYTE_SAMPLE_INTERVAL_MS);
    this.#sampler.unref();
    this.#fdWatch = FdWatch.start(this.#log);
    this.#setReady(true);
    // `routes` counts host patterns, the number `check` prints as "routes (N)" and the status
    // page as "Routes (N)"; a YAML route item with two hosts is two routes.
    this.#log.info({ routes: this.#env?.router.routes.length ?? 0, resolvers: this.#env?.resolvers.describe() ?? {} }, 'ready');
  }

  /**
   * Applies a new configuration to new connections: listeners are added and removed as needed
   * (a kept listener is never closed, so no connection is refused meanwhile; its changed
   * settings apply to the connections it accepts from now on), then routes, limits, resolver
   * and log level are swapped in at once. Open connections are untouched. If a
   * new listener cannot be bound, the ones bound for this reload are closed again and the error
   * is thrown with the running configuration unchanged.
   */
  async reload(config: Config): Promise<ReloadSummary> {
    const old = this.#config;
    const wanted = new Set(config.listen.map((l) => formatHostPort(l.address)));
    const kept = [...this.#listeners.keys()].filter((k) => wanted.has(k));
    const added = await this.#bindMissing(config.listen);
    const removed = [...this.#listeners.keys()].filter((k) => !wanted.has(k));
    this.#closeListeners(removed);
    const changed = this.#updateKept(config.listen, kept);
    this.#apply(config, old);
    if (old !== null && !isDeepStrictEqual(old.metrics, config.metrics)) {
      this.#log.warn({ running: formatHostPort(old.metrics.address), configured: formatHostPort(config.metrics.address) }, 'metrics.address changes take effect on restart');
    }
    if (old !== null && old.dataPath !== config.dataPath) {
      this.#log.warn({ data_path: this.#dataPath, configured: config.dataPath }, 'data_path changes take effect on restart');
    }
    return { added, removed, kept, changed, routes: this.#env?.router.routes.length ?? 0 };
  }

  /**
   * Gives each kept listener whose settings differ in `listen` its new settings (issue 14: a
   * load balancer dropped from proxy_protocol_from must not be trusted by the next connection);
   * returns their labels.
   */
  #updateKept(listen: readonly ListenerConfig[], kept: readonly string[]): string[] {
    const changed: string[] = [];
    for (const label of kept) {
      const l = this.#listeners.get(label);
      const lc = listen.find((c) => formatHostPort(c.address) === label);
      if (l === undefined || lc === undefined || isDeepStrictEqual(l.config, lc)) continue;
      l.config = lc;
      l.info = listenerInfo(lc, label, l.bound.port);
      changed.push(label);
      this.#log.info({ listener: label, protocol: lc.protocol, proxyProtocol: lc.proxyProtocol,
        proxyProtocolFrom: lc.proxyProtocolFrom.map((c) => `${c.address}/${c.prefix}`) }, 'listener settings changed');
    }
    return changed;
  }

  /** Builds the environment new connections get from `config` and swaps it in. */
  #apply(config: Config, old: Config | null): void {
    // Each resolver whose settings did not change is kept, with its cache (issue #17).
    const resolvers = ResolverSet.build(config.resolvers, (resolver, result) => this.metrics.dnsLookups.inc({ resolver, result }),
      old === null ? null : this.#env?.resolvers ?? null);
    for (const name of resolvers.names) this.metrics.touchResolver(name);
    const router = Router.compile(config.routes);
    for (const r of router.routes) this.metrics.touchHost(r.pattern);
    this.metrics.setRoutes(router.routes.map((r) => ({ host: r.pattern, resolver: routeResolver(r) })));
    this.metrics.maxConnections.set(config.limits.maxConnections);
    this.metrics.setListeners([...this.#listeners.values()].map((l) => ({ listener: l.label, protocol: l.config.protocol, inherited: l.inherited })));
    this.#log.level = config.log.level;
    this.#env = {
      router,
      resolvers,
      limits: config.limits,
      metrics: this.metrics,
      log: this.#log,
      clientsAllow: config.clients.allow === null ? null : new CidrSet(config.clients.allow),
      refusalLog: this.#refusalLog,
      upstreamNetworks: config.upstreamNetworks.length > 0 ? new CidrSet(config.upstreamNetworks) : null,
      isOwnAddress: ownAddressChecker([...this.#listeners.values()].map((l) => ({ address: l.bound.address, port: l.bound.port }))),
      open: this.#open,
      dataPath: this.#dataPath,
    };
    this.#config = config;
  }

  /** Binds the configured listeners not bound yet; returns their labels. All or nothing. */
  async #bindMissing(listen: readonly ListenerConfig[]): Promise<string[]> {
    const added: string[] = [];
    try {
      for (const lc of listen) {
        const label = formatHostPort(lc.address);
        if (this.#listeners.has(label)) continue;
        const l = await this.#bind(lc, label);
        this.#listeners.set(label, l);
        added.push(label);
        this.#log.info({ listener: label, address: formatAddress(l.bound.address, l.bound.port), protocol: lc.protocol, inherited: l.inherited }, 'listening');
      }
    } catch (err) {
      this.#closeListeners(added);
      throw err;
    }
    return added;
  }

  async #bind(lc: ListenerConfig, label: string): Promise<ActiveListener> {
    const taken = this.#takeInherited(lc);
    if (taken !== undefined) {
      return this.#serve({ config: lc, label, bound: taken.bound, inherited: true, server: taken.server, info: listenerInfo(lc, label, taken.bound.port) });
    }
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    const bound = await new Promise<AddressInfo>((resolve, reject) => {
      server.once('error', (err) => reject(new SetupError(bindFailure(label, lc.address.port, err), { cause: err })));
      server.listen({ port: lc.address.port, host: lc.address.host, backlog: LISTEN_BACKLOG }, () => {
        server.removeAllListeners('error');
        resolve(server.address() as AddressInfo);
      });
    });
    return this.#serve({ config: lc, label, bound, inherited: false, server, info: listenerInfo(lc, label, bound.port) });
  }

  /**
   * Takes the inherited socket bound to `lc`'s address and port. (Matching by
   * FileDescriptorName cannot work for "host:port" labels: systemd refuses ':' in a name, the
   * separator of LISTEN_FDNAMES.)
   */
  #takeInherited(lc: ListenerConfig): InheritedSocket | undefined {
    const i = this.#inherited.findIndex((s) => inheritedMatches(s, lc));
    return i === -1 ? undefined : this.#inherited.splice(i, 1)[0];
  }

  /** Hands `l`'s accepted sockets to connections, with `l.info` as it is at accept; returns `l`. */
  #serve(l: ActiveListener): ActiveListener {
    const { server, label } = l;
    server.on('connection', (socket: Socket) => this.#accept(socket, l.info));
    server.on('error', (err: NodeJS.ErrnoException) => {
      // An accept() failure (EMFILE, ENFILE, ENOBUFS...) leaves the server listening: log it
      // within a budget and go on. (With libuv's EMFILE trick, EMFILE mostly never gets here:
      // FdWatch reports it instead.)
      if (err.syscall === 'accept') {
        if (this.#acceptErrorLog.allow()) this.#log.warn({ err, listener: label, ...this.#acceptErrorLog.takeSuppressed() }, 'accept failed');
        return;
      }
      this.#log.error({ err, listener: label }, 'listener error');
    });
    return l;
  }

  #accept(socket: Socket, listener: ListenerInfo): void {
    const env = this.#env;
    if (env === null) {
      // Only reachable in the instant between bind and the env being set: refuse politely.
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    new Connection(socket, env, listener).start();
  }

  /** Readiness, as /readyz answers it and the sni_forwarder_ready gauge shows it: set together. */
  #setReady(ready: boolean): void {
    this.#ready = ready;
    this.metrics.ready.set(ready ? 1 : 0);
  }

  /**
   * Stops accepting, waits up to `drainMs` for open connections to finish, then closes the
   * rest, the sampler and the metrics server (SPEC §6).
   */
  async stop(drainMs: number): Promise<void> {
    this.#setReady(false);
    this.#log.info({ open: this.#open.size, drainMs }, 'shutting down');
    this.#closeListeners([...this.#listeners.keys()]);
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      deadline = setTimeout(() => resolve('expired'), drainMs);
    });
    if ((await Promise.race([this.#open.whenEmpty(), expired])) === 'expired') {
      this.#log.warn({ open: this.#open.size }, 'drain_timeout reached: closing open connections');
      for (const c of this.#open.list()) c.destroy();
      await this.#open.whenEmpty();
    }
    clearTimeout(deadline);
    if (this.#sampler !== null) clearInterval(this.#sampler);
    this.#fdWatch?.stop();
    this.#env?.resolvers.cancel();
    await this.#http?.close();
    this.#log.info({ remaining: this.#open.size }, 'stopped');
  }

  /** Stops accepting on these listeners; open connections are not affected. */
  #closeListeners(labels: readonly string[]): void {
    for (const label of labels) {
      const l = this.#listeners.get(label);
      if (l === undefined) continue;
      l.server.close(); // its callback would wait for open connections; nobody needs it
      this.#listeners.delete(label);
      this.#log.info({ listener: label }, 'listener closed');
    }
  }
}
