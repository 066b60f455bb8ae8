import { loadConfig } from '../config/load.js';
import { Daemon } from '../daemon/server.js';
import { Reloader } from '../daemon/reload.js';
import { takeInheritedSockets } from '../daemon/socket-activation.js';
import { createLogger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';

/** `run`: starts the daemon on `file` and keeps it running until SIGTERM/SIGINT (SPEC §2, §6). */
export async function runCommand(file: string): Promise<void> {
  const config = await loadConfig(file);
  const log = createLogger(config.log.level);
  // A bug must crash the process so that systemd restarts it (STYLE §3).
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    process.exit(70);
  });
  log.info({ config: file, node: process.version }, 'starting');
  const inherited = await takeInheritedSockets();
  const daemon = await Daemon.start(config, log, new Metrics(), inherited);
  const reloader = new Reloader(file, daemon, log);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
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
  process.on('SIGHUP', () => {
    if (!stopping) reloader.request();
  });
}
