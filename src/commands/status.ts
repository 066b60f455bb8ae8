import { formatHostPort } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import type { HostPort } from '../config/types.js';
import { ConfigError, errorCode } from '../errors.js';
import { parseExposition } from '../observe/exposition.js';
import { secondsOption } from './options.js';
import { buildStatusReport, statusSummary, statusTable, type StatusReport } from '../observe/status.js';

/** Options of `status`, as commander hands them over. */
export interface StatusCommandOptions {
  readonly config: string;
  readonly metrics?: string;
  readonly json?: boolean;
  readonly timeout?: string;
}

/**
 * `status`: fetches /metrics from the running daemon (`--metrics URL`, or metrics.address of the
 * config file) and prints the per-host table the status page shows (SPEC §5). Rejects with a
 * one-line error when the daemon cannot be reached or does not answer with its metrics.
 */
export async function statusCommand(opts: StatusCommandOptions, out: (line: string) => void = console.log): Promise<void> {
  const url = opts.metrics !== undefined ? metricsUrl(opts.metrics) : metricsUrlFor(await configuredAddress(opts.config));
  const timeoutMs = secondsOption('--timeout', opts.timeout ?? '5');
  const text = await fetchMetrics(url, timeoutMs);
  const report = buildStatusReport(parseExposition(text));
  const now = Date.now() / 1000;
  if (opts.json === true) {
    out(JSON.stringify({ url, scrapedAt: new Date(now * 1000).toISOString(), ...report }, null, 2));
    return;
  }
  for (const line of describeStatus(report, now, url)) out(line);
}

/** metrics.address of the config; a config that cannot be used says --metrics is the other way. */
async function configuredAddress(file: string): Promise<HostPort> {
  try {
    return (await loadConfig(file)).metrics.address;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(err.problems.map((p, i) => (i === 0 ? { ...p, message: `${p.message} (or name the daemon with --metrics URL)` } : p)), { cause: err });
  }
}

/** The /metrics URL for `--metrics`: a bare origin ("http://10.0.0.5:9464") gets the /metrics path. */
export function metricsUrl(s: string): string {
  let u: URL;
  try {
    u = new URL(s.includes('://') ? s : `http://${s}`);
  } catch {
    throw new Error(`--metrics: not a URL: ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--metrics: expected an http or https URL, got ${JSON.stringify(s)}`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/metrics';
  return u.toString();
}

/** The /metrics URL of a daemon listening on `address`; a wildcard address is asked on loopback. */
export function metricsUrlFor(address: HostPort): string {
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return `http://${formatHostPort({ host, port: address.port })}/metrics`;
}

/** GETs `url` with a timeout; the body, or a one-line error saying why not. */
async function fetchMetrics(url: string, timeoutMs: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    throw new Error(`cannot reach the daemon at ${url}: ${fetchFailure(err, timeoutMs)}`, { cause: err });
  }
  const body = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}, not the metrics`);
  if (!body.includes('sni_forwarder_')) throw new Error(`${url} has no sni_forwarder_ metrics: is it the forwarder's metrics address?`);
  return body;
}

/** Why fetch failed, in a few words: "ECONNREFUSED", "no answer within 5 s", "bad port". */
function fetchFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  // undici rejects with TypeError('fetch failed') and puts the socket's error in `cause`.
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = errorCode(cause);
  if (code !== 'EFAIL') return code;
  return cause instanceof Error ? cause.message : String(cause);
}

/** The terminal view: a summary line, then the per-host table with aligned columns. */
export function describeStatus(report: StatusReport, nowSeconds: number, url: string): string[] {
  const summary = statusSummary(report, nowSeconds).map(([k, v]) => `${k} ${v}`).join(', ');
  const table = statusTable(report, nowSeconds);
  // Label values are printed, not interpreted: no terminal escape sequence gets through.
  const text = (s: string): string => s.replace(/\p{Cc}/gu, '?');
  const grid = [table.columns.map((c) => c.title), ...table.rows.map((r) => r.map((c) => c.text)), table.total.map((c) => c.text)]
    .map((r) => r.map(text));
  const widths = table.columns.map((_, i) => Math.max(...grid.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (table.columns[i]?.numeric === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const lines = [text(`${url}: ${summary}`), '', line(grid[0] ?? [])];
  for (const r of grid.slice(1, -1)) lines.push(line(r));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push(line(grid[grid.length - 1] ?? []));
  return lines;
}
