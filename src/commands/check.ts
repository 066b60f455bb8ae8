import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { formatHostPort, formatServers } from '../config/address.js';
import { formatDuration } from '../config/duration.js';
import { unreadableReason } from '../config/file-text.js';
import { loadConfig } from '../config/load.js';
import { compareUnit, readListenStreams } from '../config/socket-unit.js';
import type { Config } from '../config/types.js';
import { describeRouteTarget, Router } from '../decide/router.js';
import { PROGRAM, warningLines } from './output.js';

/** Where `check` writes: the summary to stdout, problems and warnings to stderr (each a full line). */
export interface CheckOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const STDIO: CheckOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `check`: validates `file` and prints the effective configuration and route table (SPEC §2).
 * With `unit` (a systemd .socket file) it also compares the unit's ListenStream= addresses with
 * `listen`, as the daemon will when systemd passes them: resolves to 1 if a socket matches no
 * listener (the daemon would refuse to start), else 0. An invalid config rejects with its ConfigError.
 */
export async function checkCommand(file: string, opts: { unit?: string } = {}, io: CheckOutput = STDIO): Promise<number> {
  const config = await loadConfig(file);
  for (const line of describeConfig(config)) io.out(line);
  return opts.unit === undefined ? 0 : checkUnit(config, opts.unit, io);
}

/**
 * The unit's text: a file, or with "-" standard input, so that the unit with its drop-ins as
 * systemd merges them can be checked: `systemctl cat sni-forwarder.socket | … --unit -` (the
 * drop-ins' [Socket] sections follow the unit's, and an empty ListenStream= resets the list).
 * `label` names it in messages.
 */
async function readUnit(unit: string, label: string): Promise<string> {
  try {
    return unit === '-' ? await text(process.stdin) : await readFile(unit, 'utf8');
  } catch (err) {
    throw new Error(`${label}: cannot read the unit: ${unreadableReason(err)}`, { cause: err });
  }
}

async function checkUnit(config: Config, unit: string, io: CheckOutput): Promise<number> {
  // Lines of standard input are counted from the first line of what `systemctl cat` printed.
  const label = unit === '-' ? 'stdin' : unit;
  const unitText = await readUnit(unit, label);
  const streams = readListenStreams(unitText);
  if (streams.length === 0) {
    io.err(`${PROGRAM}: ${label}: no ListenStream= in a [Socket] section: is it the .socket unit?`);
    return 1;
  }
  const result = compareUnit(streams, config.listen);
  for (const m of result.matched) io.out(`unit     ${label}:${m.stream.line}: ListenStream=${m.stream.value} -> listen ${m.listener}`);
  for (const w of result.warnings) for (const line of warningLines(w)) io.err(line);
  for (const e of result.errors) io.err(`${PROGRAM}: ${label}:${e.stream.line}: ${e.message}`);
  return result.errors.length > 0 ? 1 : 0;
}

/** The human-readable summary `check` prints: listeners, limits, each resolver, then every route with its resolver. */
export function describeConfig(config: Config): string[] {
  const lines: string[] = [`${config.file}: ok`];
  for (const l of config.listen) lines.push(`listen   ${formatHostPort(l.address)} ${l.protocol}`);
  lines.push(`metrics  ${formatHostPort(config.metrics.address)} (status page /, /metrics /healthz /readyz)`);
  const lim = config.limits;
  lines.push(
    `limits   client_hello_timeout=${formatDuration(lim.clientHelloTimeoutMs)} connect_timeout=${formatDuration(lim.connectTimeoutMs)} ` +
      `idle_timeout=${formatDuration(lim.idleTimeoutMs)} drain_timeout=${formatDuration(lim.drainTimeoutMs)} max_connections=${lim.maxConnections}`,
  );
  for (const res of config.resolvers) {
    const servers = formatServers(res.servers);
    lines.push(`resolver ${res.name} ${servers} prefer=${res.prefer} timeout=${formatDuration(res.timeoutMs)} ttl=${formatDuration(res.minTtlMs)}..${formatDuration(res.maxTtlMs)}`);
  }
  const routes = Router.compile(config.routes).routes;
  lines.push(`routes (${routes.length}):`);
  const width = Math.max(...routes.map((r) => r.pattern.length), 4);
  for (const r of routes) {
    lines.push(`  ${r.pattern.padEnd(width)}  -> ${describeRouteTarget(r)}  (${r.origin})`);
  }
  return lines;
}
