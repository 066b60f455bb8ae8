import { formatHostPort } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import type { HostPort } from '../config/types.js';
import { ConfigError, errorCode } from '../errors.js';
import { parseExposition } from '../observe/exposition.js';
import { secondsOption } from './options.js';
import { formatAgo, shortenMiddle } from '../observe/status-format.js';
import { buildStatusReport, type StatusReport } from '../observe/status.js';
import {
  describeListeners, describeReload, outcomeRows, resolverLines, statusSummary, statusTable, type StatusCell,
} from '../observe/status-table.js';
import { wrapText } from './output.js';

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

/** Widest line `status` prints (issue #16: a 100-column terminal or mail shows it whole). */
export const STATUS_COLUMNS = 100;

/** Narrowest the host column gets before the table is allowed past STATUS_COLUMNS. */
const MIN_HOST_COLUMN = 16;

/**
 * The terminal view, at most STATUS_COLUMNS wide: the summary, listeners and last reload; the
 * per-host table (long host names shortened in the middle); then refusals and failures by
 * outcome, each with its count, the newest and the hosts.
 */
export function describeStatus(report: StatusReport, nowSeconds: number, url: string): string[] {
  // Label values are printed, not interpreted: no terminal escape sequence gets through.
  const text = (s: string): string => s.replace(/\p{Cc}/gu, '?');
  const summary = statusSummary(report, nowSeconds).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    ...wrapText(text(`${url}: ${summary}`), STATUS_COLUMNS, '  '),
    ...wrapText(text(`listeners: ${describeListeners(report.listeners)}`), STATUS_COLUMNS, '  '),
    ...wrapText(text(`last reload: ${describeReload(report.reload, nowSeconds).text}`), STATUS_COLUMNS, '  '),
    '',
    ...hostLines(report, nowSeconds, text),
  ];
  const outcomes = outcomeRows(report);
  for (const kind of ['refused', 'failed'] as const) {
    const rows = outcomes.filter((r) => r.kind === kind);
    if (rows.length === 0) continue;
    lines.push('', kind === 'refused' ? 'refused (the policy, a limit or the client said no):' : 'failed (the upstream could not be reached):');
    const width = Math.max(...rows.map((r) => r.outcome.length));
    const countWidth = Math.max(...rows.map((r) => String(r.count).length));
    for (const r of rows) {
      const last = r.lastSeconds === null ? '' : `  last ${formatAgo(nowSeconds - r.lastSeconds)}`;
      const hosts = r.hosts.map((h) => `${shortenMiddle(h.host, 60)} ${h.count}`).join(', ');
      const head = `  ${r.outcome.padEnd(width)}  ${String(r.count).padStart(countWidth)}`;
      lines.push(...wrapText(text(`${head}${last}  ${hosts}`), STATUS_COLUMNS, ' '.repeat(head.length + 2)));
    }
  }
  return lines;
}

/** The per-host table without the "last" column (the outcome lines have it), fitted to STATUS_COLUMNS. */
function hostLines(report: StatusReport, nowSeconds: number, text: (s: string) => string): string[] {
  const table = statusTable(report, nowSeconds);
  const keep = table.columns.map((c, i) => [c, i] as const).filter(([c]) => c.key !== 'last_failure');
  const pick = (cells: readonly StatusCell[]): string[] => keep.map(([, i]) => text(cells[i]?.text ?? ''));
  const grid = [keep.map(([c]) => c.title), ...table.rows.map(pick), pick(table.total)];
  const widths = keep.map((_, j) => Math.max(...grid.map((r) => (r[j] ?? '').length)));
  const others = widths.slice(1).reduce((a, w) => a + w + 2, 0);
  const hostWidth = Math.min(widths[0] ?? 0, Math.max(MIN_HOST_COLUMN, STATUS_COLUMNS - others));
  widths[0] = hostWidth;
  const line = (cells: readonly string[]): string =>
    cells.map((c, j) => (j === 0 ? shortenMiddle(c, hostWidth).padEnd(hostWidth) : c.padStart(widths[j] ?? 0))).join('  ').trimEnd();
  const lines = grid.slice(0, -1).map(line);
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push(line(grid[grid.length - 1] ?? []));
  const dns = resolverLines(report);
  if (dns.length > 0) lines.push('', 'dns lookups by resolver:', ...dns.flatMap((l) => wrapText(`  ${text(l)}`, STATUS_COLUMNS, '    ')));
  return lines;
}
