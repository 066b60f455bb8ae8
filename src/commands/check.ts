import { formatHostPort } from '../config/address.js';
import { formatDuration } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { describeRouteTarget, Router } from '../decide/router.js';

/** `check`: validates `file` and prints the effective configuration and route table (SPEC §2). */
export async function checkCommand(file: string, out: (line: string) => void = console.log): Promise<void> {
  const config = await loadConfig(file);
  for (const line of describeConfig(config)) out(line);
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
    const servers = res.servers === null ? '/etc/resolv.conf' : res.servers.map(formatHostPort).join(', ');
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
