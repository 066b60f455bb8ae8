import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Outcome } from '../errors.js';

const PREFIX = 'sni_forwarder_';

/** Upload is client→upstream, download upstream→client (SPEC §5). */
export type Direction = 'upload' | 'download';

/** prom-client default gauges whose names end in _total (promlint: only counters may). */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Result label of sni_forwarder_dns_lookups_total. */
export type DnsLookupResult = 'hit' | 'miss' | 'stale' | 'failure';
/** Every DnsLookupResult, in the order status views list them. */
export const DNS_LOOKUP_RESULTS: readonly DnsLookupResult[] = ['hit', 'miss', 'stale', 'failure'];

/**
 * One route host's per-connection counts as plain numbers, handed to prom-client when a metric
 * is read (its collect hook). Per connection prom-client hashed a labels object for each of
 * about ten updates (issue #18); the counters and the gauge now cost an addition each, and the
 * histograms get one frozen labels object per host instead of a new one per call.
 */
class HostSeries {
  readonly labels: { readonly host: string };
  /** Change of sni_forwarder_active_connections not yet handed over. */
  active = 0;
  /**
   * addActive was called since the last hand-over: the gauge is then updated even when the
   * change adds up to 0, so that its series exists exactly when prom-client updated per call
   * would have made it.
   */
  activeChanged = false;
  bytesUp = 0;
  bytesDown = 0;
  /** Connections closed per outcome, not yet handed over. */
  readonly outcomes = new Map<Outcome, number>();

  constructor(host: string) {
    this.labels = Object.freeze({ host });
  }
}

/**
 * Every metric the forwarder exports, built on one injected Registry so that each test (and
 * each daemon) has its own. `host` labels are configured route patterns or "" (STYLE §8).
 */
export class Metrics {
  readonly registry: Registry;
  readonly bytes: Counter<'host' | 'direction'>;
  readonly connections: Counter<'host' | 'outcome'>;
  readonly active: Gauge<'host'>;
  readonly connectionDuration: Histogram<'host'>;
  readonly upstreamConnectDuration: Histogram<'host'>;
  readonly configReloads: Counter<'result'>;
  readonly clientHelloBytes: Histogram;
  readonly dnsLookups: Counter<'resolver' | 'result'>;
  readonly routeInfo: Gauge<'host' | 'resolver'>;
  readonly buildInfo: Gauge<'version' | 'node_version' | 'data_path'>;
  readonly maxConnections: Gauge;
  readonly lastFailure: Gauge<'host' | 'outcome'>;
  readonly logLinesDropped: Counter;
  readonly ready: Gauge;
  readonly listenerInfo: Gauge<'listener' | 'protocol' | 'inherited'>;
  readonly lastReloadSuccessful: Gauge;
  readonly lastReload: Gauge<'result'>;
  readonly #series = new Map<string, HostSeries>();
  /** What changed since the last hand-over to prom-client, in the order it first changed. */
  #activeTouched: HostSeries[] = [];
  #bytesTouched: [HostSeries, Direction][] = [];
  #outcomesTouched: [HostSeries, Outcome][] = [];

  /**
   * `version` and `dataPath` label sni_forwarder_build_info (the package.json version and the
   * relay's data path; "unknown" if not given).
   */
  constructor(registry: Registry = new Registry(), opts: { defaultMetrics?: boolean; version?: string; dataPath?: string } = {}) {
    this.registry = registry;
    const registers = [registry];
    this.bytes = new Counter({
      name: `${PREFIX}bytes_total`,
      help: 'Bytes forwarded, by route host and direction (upload = client to upstream).',
      labelNames: ['host', 'direction'],
      registers,
      collect: () => this.#handOverBytes(),
    });
    this.connections = new Counter({
      name: `${PREFIX}connections_total`,
      help: 'Connections closed, by route host ("" before a route matched) and outcome.',
      labelNames: ['host', 'outcome'],
      registers,
      collect: () => this.#handOverOutcomes(),
    });
    this.active = new Gauge({
      name: `${PREFIX}active_connections`,
      help: 'Connections open now, by route host ("" while the ClientHello is read).',
      labelNames: ['host'],
      registers,
      collect: () => this.#handOverActive(),
    });
    this.connectionDuration = new Histogram({
      name: `${PREFIX}connection_duration_seconds`,
      help: 'Lifetime of connections, from accept to close.',
      labelNames: ['host'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
      registers,
    });
    this.upstreamConnectDuration = new Histogram({
      name: `${PREFIX}upstream_connect_duration_seconds`,
      help: 'Time to establish the upstream TCP connection, DNS included.',
      labelNames: ['host'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.configReloads = new Counter({
      name: `${PREFIX}config_reloads_total`,
      help: 'Configuration reloads (SIGHUP), by result.',
      labelNames: ['result'],
      // Every worker applies the same reload: across a cluster the count is the max, not the sum.
      aggregator: 'max',
      registers,
    });
    this.clientHelloBytes = new Histogram({
      name: `${PREFIX}client_hello_bytes`,
      help: 'Size of ClientHellos on the wire, record headers included.',
      buckets: [256, 512, 1024, 1536, 2048, 4096, 8192, 16384, 32768, 65536],
      registers,
    });
    this.dnsLookups = new Counter({
      name: `${PREFIX}dns_lookups_total`,
      help: 'Upstream name lookups, by configured resolver name and cache result.',
      labelNames: ['resolver', 'result'],
      registers,
    });
    this.routeInfo = new Gauge({
      name: `${PREFIX}route_info`,
      help: 'Always 1 for each configured route host; resolver names the resolver it uses ("" for an IP address upstream).',
      labelNames: ['host', 'resolver'],
      // Every worker has the same routes: 1 across a cluster, not the number of workers.
      aggregator: 'max',
      registers,
    });
    this.buildInfo = new Gauge({
      name: `${PREFIX}build_info`,
      help: 'Always 1; the labels say which version runs on which Node.js, relaying on which data path (user-buffers or streams).',
      labelNames: ['version', 'node_version', 'data_path'],
      // Every worker runs the same build: 1 across a cluster, not the number of workers.
      aggregator: 'max',
      registers,
    });
    this.maxConnections = new Gauge({
      name: `${PREFIX}max_connections`,
      help: 'limits.max_connections: open connections allowed at once (per process; summed over workers).',
      registers,
    });
    this.buildInfo.set({ version: opts.version ?? 'unknown', node_version: process.version, data_path: opts.dataPath ?? 'unknown' }, 1);
    this.lastFailure = new Gauge({
      name: `${PREFIX}last_failure_timestamp_seconds`,
      help: 'Unix time of the last connection that ended with this outcome (every outcome but forwarded), by route host.',
      labelNames: ['host', 'outcome'],
      // Across a cluster the newest time any worker saw is the answer, not a sum of times.
      aggregator: 'max',
      registers,
    });
    this.logLinesDropped = new Counter({
      name: `${PREFIX}log_lines_dropped_total`,
      help: 'Log lines dropped because stdout (the journal) did not take them fast enough.',
      registers,
    });
    this.ready = new Gauge({
      name: `${PREFIX}ready`,
      help: '1 while the daemon accepts connections (what /readyz answers), 0 while starting or draining.',
      // Across a cluster: ready only when every worker is.
      aggregator: 'min',
      registers,
    });
    this.listenerInfo = new Gauge({
      name: `${PREFIX}listener_info`,
      help: 'Always 1, one series per listener bound now: its configured address, protocol, and whether systemd passed the socket.',
      labelNames: ['listener', 'protocol', 'inherited'],
      // Every worker serves the same listeners.
      aggregator: 'max',
      registers,
    });
    this.lastReloadSuccessful = new Gauge({
      name: `${PREFIX}config_last_reload_successful`,
      help: '1 when the running configuration is the file as last read (start or reload), 0 after a rejected reload.',
      aggregator: 'min',
      registers,
    });
    this.lastReload = new Gauge({
      name: `${PREFIX}config_last_reload_timestamp_seconds`,
      help: 'Unix time of the last configuration reload (SIGHUP), by result.',
      labelNames: ['result'],
      aggregator: 'max',
      registers,
    });
    this.lastReloadSuccessful.set(1);
    // Make the zero values visible from the start, so rate() and alerts work before traffic.
    for (const result of ['success', 'failure']) this.configReloads.inc({ result }, 0);
    this.active.set({ host: '' }, 0);
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: registry });
      // A gauge named *_total fails `promtool check metrics`; nodejs_active_{handles,requests,resources}
      // (by type) carry the same numbers under conforming names.
      for (const name of NON_CONFORMING_DEFAULTS) registry.removeSingleMetric(name);
    }
  }

  /** Pre-registers the zero series for a route host so dashboards see it before traffic. */
  touchHost(host: string): void {
    this.bytes.inc({ host, direction: 'upload' }, 0);
    this.bytes.inc({ host, direction: 'download' }, 0);
    this.active.inc({ host }, 0);
  }

  /** Pre-registers the zero lookup counts of a configured resolver. */
  touchResolver(resolver: string): void {
    for (const result of DNS_LOOKUP_RESULTS) this.dnsLookups.inc({ resolver, result }, 0);
  }

  /** Replaces the route_info series with one per route: host pattern → resolver name ("" for none). */
  setRoutes(routes: readonly { readonly host: string; readonly resolver: string | null }[]): void {
    this.routeInfo.reset();
    for (const r of routes) this.routeInfo.set({ host: r.host, resolver: r.resolver ?? '' }, 1);
  }

  /** Records a reload's result: the counter, the time of the last one of that result, and whether the file is in force. */
  recordReload(result: 'success' | 'failure', nowMs: number = Date.now()): void {
    this.configReloads.inc({ result });
    this.lastReload.set({ result }, nowMs / 1000);
    this.lastReloadSuccessful.set(result === 'success' ? 1 : 0);
  }

  /** Publishes the listeners bound now (after start and after each reload), replacing the previous set. */
  setListeners(listeners: readonly { readonly listener: string; readonly protocol: string; readonly inherited: boolean }[]): void {
    this.listenerInfo.reset();
    for (const l of listeners) this.listenerInfo.set({ listener: l.listener, protocol: l.protocol, inherited: String(l.inherited) }, 1);
  }

  /** Counts one finished connection; a failure also stamps its time (`nowMs`, default now). */
  countOutcome(host: string, outcome: Outcome, nowMs?: number): void {
    const series = this.#seriesOf(host);
    const n = series.outcomes.get(outcome);
    if (n === undefined) this.#outcomesTouched.push([series, outcome]);
    series.outcomes.set(outcome, (n ?? 0) + 1);
    if (outcome !== 'forwarded') this.lastFailure.set({ host, outcome }, (nowMs ?? Date.now()) / 1000);
  }

  /** Adds `delta` (+1 opened, -1 closed) to sni_forwarder_active_connections{host}. */
  addActive(host: string, delta: number): void {
    const series = this.#seriesOf(host);
    if (!series.activeChanged) {
      series.activeChanged = true;
      this.#activeTouched.push(series);
    }
    series.active += delta;
  }

  /** Adds bytes forwarded for `host` to sni_forwarder_bytes_total. */
  addBytes(host: string, upload: number, download: number): void {
    const series = this.#seriesOf(host);
    if (upload > 0) {
      if (series.bytesUp === 0) this.#bytesTouched.push([series, 'upload']);
      series.bytesUp += upload;
    }
    if (download > 0) {
      if (series.bytesDown === 0) this.#bytesTouched.push([series, 'download']);
      series.bytesDown += download;
    }
  }

  /** Observes a connection's lifetime in sni_forwarder_connection_duration_seconds{host}. */
  observeConnectionDuration(host: string, seconds: number): void {
    this.connectionDuration.observe(this.#seriesOf(host).labels, seconds);
  }

  /** Observes an upstream connect time in sni_forwarder_upstream_connect_duration_seconds{host}. */
  observeUpstreamConnect(host: string, seconds: number): void {
    this.upstreamConnectDuration.observe(this.#seriesOf(host).labels, seconds);
  }

  #seriesOf(host: string): HostSeries {
    let series = this.#series.get(host);
    if (series === undefined) {
      series = new HostSeries(host);
      this.#series.set(host, series);
    }
    return series;
  }

  // The hand-overs go in the order the counts were first touched since the last one, so that
  // series prom-client creates now come out in the order per-call updates would have made them.

  #handOverActive(): void {
    for (const s of this.#activeTouched) {
      this.active.inc(s.labels, s.active);
      s.active = 0;
      s.activeChanged = false;
    }
    this.#activeTouched = [];
  }

  #handOverBytes(): void {
    for (const [s, direction] of this.#bytesTouched) {
      const n = direction === 'upload' ? s.bytesUp : s.bytesDown;
      this.bytes.inc({ host: s.labels.host, direction }, n);
    }
    for (const [s] of this.#bytesTouched) {
      s.bytesUp = 0;
      s.bytesDown = 0;
    }
    this.#bytesTouched = [];
  }

  #handOverOutcomes(): void {
    for (const [s, outcome] of this.#outcomesTouched) this.connections.inc({ host: s.labels.host, outcome }, s.outcomes.get(outcome) ?? 0);
    for (const [s] of this.#outcomesTouched) s.outcomes.clear();
    this.#outcomesTouched = [];
  }

}

