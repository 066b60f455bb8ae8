import cluster, { type Worker } from 'node:cluster';
import { loadConfig } from '../config/load.js';
import { Reloader } from '../daemon/reload.js';
import { Daemon } from '../daemon/server.js';
import { takeInheritedSockets } from '../daemon/socket-activation.js';
import { onPrimaryMessage, PrimaryClientSlots, reportMetricsToPrimary, runPrimary, tellPrimary, workerCount } from '../daemon/workers.js';
import { ConfigError, SetupError } from '../errors.js';
import { createLogger, type Logger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';
import { chooseDataPath, DATA_PATH_ENV, type DataPathChoice } from '../relay/data-path.js';
import { packageVersion } from '../version.js';

/**
 * `run`: starts the daemon on `file` and keeps it running until SIGTERM/SIGINT (SPEC §2, §6).
 * With `workers` above 1 this process becomes the cluster primary and forks the workers, which
 * come back here (cluster.isWorker) to run a Daemon each.
 */
export async function runCommand(file: string): Promise<void> {
  const worker = cluster.isWorker ? cluster.worker : undefined;
  // The metrics exist only once the logger does; lines dropped before that are not counted.
  let countDrop = (): void => {};
  // The logger comes first, so that even a config that cannot be loaded is reported as a JSON
  // line on stdout like every other line the daemon writes (issue #16: `journalctl -o cat | jq`
  // must not meet a plain-text line). The level is the config's once it is known.
  const root = createLogger('info', () => countDrop());
  const log = worker === undefined ? root : root.child({ worker: worker.id });
  crashOnBugs(log);
  try {
    await startDaemon(file, log, worker, (count) => { countDrop = count; });
  } catch (err) {
    failStart(log, file, err);
  }
}

/**
 * Startup failed (a config error, a port that cannot be bound, sockets that do not match): one
 * `fatal` line with the reason as a sentence in `problem`, then exit 1. The stack is logged
 * (under `err`) only for errors that are not the operator's config or environment.
 */
function failStart(log: Logger, file: string, err: unknown): never {
  const problem = err instanceof Error ? err.message : String(err);
  if (log.level === 'silent') log.level = 'fatal';
  log.fatal({ config: file, problem, ...(err instanceof ConfigError || err instanceof SetupError ? {} : { err }) }, 'cannot start');
  // pino's destination writes what is buffered synchronously on exit.
  process.exit(1);
}

async function startDaemon(file: string, log: Logger, worker: Worker | undefined, setCountDrop: (count: () => void) => void): Promise<void> {
  const config = await loadConfig(file);
  log.level = config.log.level;
  const path = chooseDataPath(config.dataPath, process.env[DATA_PATH_ENV]);
  const workers = workerCount(config);
  if (worker === undefined && workers > 1) {
    if (process.env['LISTEN_FDS'] !== undefined) {
      throw new Error('socket activation (LISTEN_FDS) needs workers: 1; the workers cannot share inherited sockets yet');
    }
    logStart(log, file, path, workers);
    await runPrimary(file, config, log);
    return;
  }
  if (worker === undefined) logStart(log, file, path, 1);
  const inherited = worker === undefined ? await takeInheritedSockets() : [];
  const metrics = new Metrics(undefined, { version: packageVersion(), dataPath: path.dataPath });
  setCountDrop(() => metrics.logLinesDropped.inc());
  const daemon = await Daemon.start(config, log, {
    metrics, inherited, serveMetrics: worker === undefined, dataPath: path.dataPath,
    ...(worker === undefined ? {} : { clientSlots: new PrimaryClientSlots() }),
  });
  const reloader = new Reloader(file, daemon, log);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received');
    daemon.stop(config.limits.drainTimeoutMs).then(
      () => process.exit(0),
      (err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // For `make soak`: only when node runs with --expose-gc, SIGUSR2 runs a full GC and logs the
  // memory left, so that leaks can be told from garbage. Without the flag SIGUSR2 keeps its
  // default action.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') {
    process.on('SIGUSR2', () => {
      gc();
      const m = process.memoryUsage();
      log.info({ rssBytes: m.rss, heapUsedBytes: m.heapUsed, externalBytes: m.external }, 'gc done');
    });
  }
  if (worker === undefined) {
    process.on('SIGHUP', () => {
      if (!stopping) reloader.request();
    });
    return;
  }
  // A worker: the primary relays reloads and shutdowns; a SIGHUP sent to the whole group is ignored.
  process.on('SIGHUP', () => {});
  reportMetricsToPrimary(metrics);
  onPrimaryMessage({
    reload: () => reloader.request(),
    reloadFailed: () => metrics.recordReload('failure'),
    shutdown: () => stop('shutdown'),
  });
  // Log lines are written in batches (observe/log.ts): write this worker's startup lines
  // ('listening') before the primary logs 'ready', so the journal keeps them in that order.
  // A failed flush (stdout gone) must not keep the worker from serving.
  log.flush(() => tellPrimary({ type: 'sni-forwarder:ready' }));
}

/**
 * The one start line, with the data path (issue #15: the user-buffer path reaches Node
 * internals by symbol name, and a silent fallback to streams costs about 2.7x CPU per GiB).
 */
function logStart(log: Logger, file: string, path: DataPathChoice, workers: number): void {
  log.info({ config: file, node: process.version, workers, data_path: path.dataPath, data_path_source: path.source }, 'starting');
  if (path.fallback) {
    log.warn({ data_path: path.dataPath, node: process.version }, 'user-buffer reads are not available on this Node.js: relaying on streams');
  }
}

/** A bug must crash the process so that systemd (or the primary) restarts it (STYLE §3). */
function crashOnBugs(log: Logger): void {
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    process.exit(70);
  });
}
