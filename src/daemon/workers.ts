// workers: N (node:cluster). The primary binds only the metrics endpoint and serves the sum over
// workers (prom-client's AggregatorRegistry); the workers run a Daemon each and share the
// listeners, which node:cluster binds once in the primary and hands out round-robin. The primary
// also keeps the max_connections_per_client count, so that it holds across workers.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observe/log.js';
import { MetricsServer } from '../observe/http.js';
import type { Metrics } from '../observe/metrics.js';
import { ClientSlotTable, type ClientSlots } from '../decide/client-slots.js';
import { Router } from '../decide/router.js';
import { FdWatch } from './fd-watch.js';
import { listenMetrics, routeRows } from './server.js';

/** Messages between the primary and its workers over the cluster IPC channel. */
export type WorkerMessage =
  | { readonly type: 'sni-forwarder:ready' }
  | { readonly type: 'sni-forwarder:reload' }
  | { readonly type: 'sni-forwarder:reload-failed' }
  | { readonly type: 'sni-forwarder:shutdown' }
  /** Worker → primary: take a max_connections_per_client slot; answered by slot-answer. */
  | { readonly type: 'sni-forwarder:slot-acquire'; readonly id: number; readonly key: string; readonly limit: number }
  | { readonly type: 'sni-forwarder:slot-answer'; readonly id: number; readonly ok: boolean }
  /** Worker → primary: a connection that held a slot closed. */
  | { readonly type: 'sni-forwarder:slot-release'; readonly key: string };

/** Restart backoff for a worker that died: doubles from 1 s up to 30 s, reset after 60 s alive. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STABLE_AFTER_MS = 60_000;

/** The number of worker processes `workers` asks for. */
export function workerCount(config: Config): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers;
}

function isWorkerMessage(m: unknown): m is WorkerMessage {
  if (typeof m !== 'object' || m === null || !('type' in m) || typeof m.type !== 'string') return false;
  switch (m.type) {
    case 'sni-forwarder:slot-acquire':
      return 'id' in m && typeof m.id === 'number' && 'key' in m && typeof m.key === 'string' && 'limit' in m && typeof m.limit === 'number';
    case 'sni-forwarder:slot-answer':
      return 'id' in m && typeof m.id === 'number' && 'ok' in m && typeof m.ok === 'boolean';
    case 'sni-forwarder:slot-release':
      return 'key' in m && typeof m.key === 'string';
    default:
      return m.type.startsWith('sni-forwarder:');
  }
}

/** Sends a message to the primary (worker side); a closed channel means we are going away anyway. */
export function tellPrimary(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

/** Worker side: the metrics this worker reports to the primary's aggregate. */
export function reportMetricsToPrimary(metrics: Metrics): void {
  AggregatorRegistry.setRegistries([metrics.registry]);
  // prom-client answers the primary's requests only once an AggregatorRegistry has been made in
  // this process (its constructor adds the IPC listener); the instance itself is not needed.
  new AggregatorRegistry();
}

/**
 * Worker side: max_connections_per_client slots counted by the primary, so that the cap holds
 * across workers. Each acquire is one IPC round trip; it is answered false if the channel to
 * the primary is closed (the worker is going away then).
 */
export class PrimaryClientSlots implements ClientSlots {
  #nextId = 1;
  readonly #pending = new Map<number, (ok: boolean) => void>();

  constructor() {
    process.on('message', (m: unknown) => {
      if (!isWorkerMessage(m) || m.type !== 'sni-forwarder:slot-answer') return;
      const resolve = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      resolve?.(m.ok);
    });
    process.once('disconnect', () => {
      for (const resolve of this.#pending.values()) resolve(false);
      this.#pending.clear();
    });
  }

  acquire(key: string, limit: number): Promise<boolean> {
    if (!process.connected) return Promise.resolve(false);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      tellPrimary({ type: 'sni-forwarder:slot-acquire', id, key, limit });
    });
  }

  release(key: string): void {
    tellPrimary({ type: 'sni-forwarder:slot-release', key });
  }
}

/** Worker side: dispatches the primary's messages. */
export function onPrimaryMessage(handlers: { reload(): void; reloadFailed(): void; shutdown(): void }): void {
  process.on('message', (m: unknown) => {
    if (!isWorkerMessage(m)) return;
    if (m.type === 'sni-forwarder:reload') handlers.reload();
    else if (m.type === 'sni-forwarder:reload-failed') handlers.reloadFailed();
    else if (m.type === 'sni-forwarder:shutdown') handlers.shutdown();
  });
}

/**
 * Runs the cluster primary until SIGTERM/SIGINT: forks the workers, restarts those that die
 * (with backoff), relays SIGHUP after validating the file once, serves the summed /metrics and
 * answers /readyz 200 while every worker is ready.
 */
export async function runPrimary(file: string, config: Config, log: Logger): Promise<void> {
  const count = workerCount(config);
  const aggregator = new AggregatorRegistry();
  const ready = new Set<number>();
  // max_connections_per_client over all workers, by worker id (a dead worker's are dropped).
  const slots = new ClientSlotTable();
  let stopping = false;
  // The routes the status page lists: the primary's own view, replaced by each valid reload.
  let routes = routeRows(Router.compile(config.routes));
  const http = new MetricsServer({ contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() },
    () => !stopping && ready.size >= count, () => routes);
  await listenMetrics(http, config, log);
  // With cluster's default round-robin scheduling the primary accepts every connection and
  // hands it to a worker, so it can run out of descriptors too (each worker watches its own).
  FdWatch.start(log);

  const startedAt = new Map<number, number>();
  let failures = 0;
  let announced = false;
  const fork = (): void => {
    const w = cluster.fork();
    startedAt.set(w.id, Date.now());
    log.info({ worker: w.id, workerPid: w.process.pid }, 'worker started');
  };
  const broadcast = (message: WorkerMessage): void => {
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w?.isConnected() === true) w.send(message);
    }
  };

  cluster.on('message', (w: Worker, m: unknown) => {
    if (!isWorkerMessage(m)) return;
    if (m.type === 'sni-forwarder:slot-acquire') {
      const ok = slots.acquire(m.key, m.limit, w.id);
      if (w.isConnected()) w.send({ type: 'sni-forwarder:slot-answer', id: m.id, ok } satisfies WorkerMessage);
      else if (ok) slots.release(m.key, w.id);
      return;
    }
    if (m.type === 'sni-forwarder:slot-release') {
      slots.release(m.key, w.id);
      return;
    }
    if (m.type !== 'sni-forwarder:ready') return;
    ready.add(w.id);
    if (!announced && ready.size >= count) {
      announced = true;
      log.info({ workers: count, routes: routes.length }, 'ready');
    }
  });
  cluster.on('exit', (w: Worker, code: number | null, signal: string | null) => {
    ready.delete(w.id);
    slots.dropOwner(w.id);
    const lived = Date.now() - (startedAt.get(w.id) ?? Date.now());
    startedAt.delete(w.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        void http.close().finally(() => { // close() does not reject; exit either way
          log.info({}, 'stopped');
          process.exit(0);
        });
      }
      return;
    }
    failures = lived > STABLE_AFTER_MS ? 1 : failures + 1;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (failures - 1));
    log.error({ worker: w.id, workerPid: w.process.pid, code, signal, restartInMs: delayMs }, 'worker died');
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });

  process.on('SIGHUP', () => {
    if (stopping) return;
    // Validate once here, so an invalid file is one log line, not one per worker.
    loadConfig(file).then(
      (next) => {
        routes = routeRows(Router.compile(next.routes));
        broadcast({ type: 'sni-forwarder:reload' });
      },
      (err: unknown) => {
        log.error({ config: file, problem: err instanceof Error ? err.message : String(err) },
          'reload rejected: keeping the running configuration');
        broadcast({ type: 'sni-forwarder:reload-failed' });
      },
    );
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'signal received');
    broadcast({ type: 'sni-forwarder:shutdown' });
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (let i = 0; i < count; i++) fork();
}
