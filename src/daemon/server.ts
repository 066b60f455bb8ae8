import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Config, ListenerConfig } from '../config/types.js';
import { formatAddress } from '../connect/dial.js';
import { ownAddressChecker } from '../connect/loop-guard.js';
import { UpstreamResolver } from '../connect/resolver.js';
import { Connection, OpenConnections, type ConnectionEnv, type ListenerInfo } from '../connection.js';
import { CidrSet } from '../decide/cidr-set.js';
import { Router } from '../decide/router.js';
import type { Logger } from '../observe/log.js';
import { MetricsServer } from '../observe/http.js';
import { Metrics } from '../observe/metrics.js';
import { errorCode } from '../errors.js';

/** How often live byte counters are brought up to date for long transfers (SPEC §5). */
const BYTE_SAMPLE_INTERVAL_MS = 1000;

/** A bound listener and what it was configured as. */
export interface BoundListener {
  readonly config: ListenerConfig;
  /** "host:port" as configured. */
  readonly label: string;
  readonly bound: AddressInfo;
}

/**
 * The running daemon: listeners that hand each accepted socket to a Connection, the metrics
 * HTTP server, and the live byte sampler. Owns every server socket it binds.
 */
export class Daemon {
  readonly metrics: Metrics;
  readonly #log: Logger;
  readonly #open = new OpenConnections();
  readonly #servers: Server[] = [];
  readonly #listeners: BoundListener[] = [];
  readonly #http: MetricsServer;
  #env: ConnectionEnv | null = null;
  #ready = false;
  #sampler: NodeJS.Timeout | null = null;
  #metricsAddress: AddressInfo | null = null;

  private constructor(log: Logger, metrics: Metrics) {
    this.#log = log;
    this.metrics = metrics;
    this.#http = new MetricsServer(metrics, () => this.#ready);
  }

  /** Binds every listener and the metrics address; rejects (after closing what it bound) on failure. */
  static async start(config: Config, log: Logger, metrics: Metrics = new Metrics()): Promise<Daemon> {
    const daemon = new Daemon(log, metrics);
    try {
      await daemon.#start(config);
    } catch (err) {
      daemon.#closeServers();
      await daemon.#http.close().catch(() => {});
      throw err;
    }
    return daemon;
  }

  /** The listeners as bound (ports resolved when configured as 0). */
  get listeners(): readonly BoundListener[] {
    return this.#listeners;
  }

  get metricsAddress(): AddressInfo | null {
    return this.#metricsAddress;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.#open.size;
  }

  async #start(config: Config): Promise<void> {
    this.#metricsAddress = await this.#http.listen(config.metrics.address).catch((err: unknown) => {
      throw new Error(`cannot listen on metrics address ${formatAddress(config.metrics.address.host, config.metrics.address.port)}: ${errorCode(err)}`, { cause: err });
    });
    this.#log.info({ address: formatAddress(this.#metricsAddress.address, this.#metricsAddress.port) }, 'metrics listening');
    const resolver = new UpstreamResolver(config.resolver, (result) => this.metrics.dnsLookups.inc({ result }));
    const router = Router.compile(config.routes);
    for (const r of router.routes) this.metrics.touchHost(r.pattern);
    // The loop guard needs the bound addresses, so the env is completed once all are bound; no
    // connection is accepted before that because the servers only start accepting in listen().
    const envBox: { env: ConnectionEnv | null } = { env: null };
    for (const lc of config.listen) {
      const label = formatAddress(lc.address.host, lc.address.port);
      const server = createServer({ allowHalfOpen: true, noDelay: true });
      const bound = await new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', (err) => reject(new Error(`cannot listen on ${label}: ${errorCode(err)}`, { cause: err })));
        server.listen({ port: lc.address.port, host: lc.address.host, backlog: 1024 }, () => {
          server.removeAllListeners('error');
          resolve(server.address() as AddressInfo);
        });
      });
      this.#servers.push(server);
      const info: ListenerInfo = { label, port: bound.port };
      server.on('connection', (socket: Socket) => this.#accept(socket, info));
      server.on('error', (err) => this.#log.error({ err, listener: label }, 'listener error'));
      this.#listeners.push({ config: lc, label, bound });
      this.#log.info({ listener: label, address: formatAddress(bound.address, bound.port), protocol: lc.protocol }, 'listening');
    }
    envBox.env = {
      router,
      resolver,
      limits: config.limits,
      metrics: this.metrics,
      log: this.#log,
      upstreamNetworks: config.upstreamNetworks.length > 0 ? new CidrSet(config.upstreamNetworks) : null,
      isOwnAddress: ownAddressChecker(this.#listeners.map((l) => ({ address: l.bound.address, port: l.bound.port }))),
      open: this.#open,
    };
    this.#env = envBox.env;
    this.#sampler = setInterval(() => {
      for (const c of this.#open.list()) c.flushBytes();
    }, BYTE_SAMPLE_INTERVAL_MS);
    this.#sampler.unref();
    this.#ready = true;
    this.#log.info({ routes: router.routes.length, resolver: resolver.servers }, 'ready');
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

  /**
   * Stops accepting, waits up to `drainMs` for open connections to finish, then closes the
   * rest, the sampler and the metrics server (SPEC §6).
   */
  async stop(drainMs: number): Promise<void> {
    this.#ready = false;
    const open = this.#open.size;
    this.#log.info({ open, drainMs }, 'shutting down');
    this.#closeServers();
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      deadline = setTimeout(() => resolve('expired'), drainMs);
    });
    if ((await Promise.race([this.#open.whenEmpty(), expired])) === 'expired') {
      for (const c of this.#open.list()) c.destroy();
      await this.#open.whenEmpty();
    }
    clearTimeout(deadline);
    if (this.#sampler !== null) clearInterval(this.#sampler);
    this.#env?.resolver.cancel();
    await this.#http.close();
    this.#log.info({ remaining: this.#open.size }, 'stopped');
  }

  /** Stops accepting; open connections are not affected (close()'s callback would wait for them). */
  #closeServers(): void {
    for (const s of this.#servers) s.close();
    this.#servers.length = 0;
  }
}
