// The HTML status page served at GET / on the metrics address. Pure: a report in, a complete
// dependency-free document out (inline CSS, no script, no external resource), refreshed by the
// browser every few seconds. Every value that came from the config or the metrics is escaped.
import { statusSummary, statusTable, formatTime, type StatusCell, type StatusColumn, type StatusReport } from './status.js';

/** One configured route as `check` describes it: pattern, where it connects, where it came from. */
export interface RouteRow {
  readonly pattern: string;
  readonly target: string;
  readonly origin: string;
  /** The resolver it uses; null when it dials an IP address. */
  readonly resolver: string | null;
}

/** Seconds between the browser's reloads of the page. */
export const STATUS_REFRESH_SECONDS = 5;

/** The page's whole stylesheet; http.ts allows exactly this text by its hash in the CSP. */
export const STATUS_CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:1.2em 1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.35em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
.summary{color:#444;margin:0 0 1em}.summary b{color:#1b1f24;font-weight:600}
table{border-collapse:collapse}th,td{padding:.3em .5em;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
th{background:#f3f4f6;font-weight:600;vertical-align:bottom}th.n{white-space:normal}th.group{text-align:center;border-bottom:1px solid #bbb}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;border-top:2px solid #999}td.bad{color:#b42318}
.muted{color:#777}code{font-family:ui-monospace,monospace;font-size:.95em}
`;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Escaped heading text; a long one may break after each "_" (upstream_unreachable). */
function wrappable(title: string): string {
  const text = escapeHtml(title);
  return title.length > 8 ? text.replaceAll('_', '_<wbr>') : text;
}

/** A table cell; `data-key` names its column and `data-value` holds the exact figure, for scripts. */
function cell(c: StatusCell, key: string, classes: readonly string[]): string {
  const attrs: string[] = [];
  if (classes.length > 0) attrs.push(`class="${classes.join(' ')}"`);
  attrs.push(`data-key="${escapeHtml(key)}"`);
  if (c.value !== undefined) attrs.push(`data-value="${escapeHtml(String(c.value))}"`);
  if (c.title !== undefined) attrs.push(`title="${escapeHtml(c.title)}"`);
  return `<td ${attrs.join(' ')}>${escapeHtml(c.text)}</td>`;
}

/** The per-resolver lookup counts as a table (sni_forwarder_dns_lookups_total). */
function resolverTable(report: StatusReport): string {
  if (report.resolvers.length === 0) return '<p class="muted">No lookups counted.</p>';
  const keys = ['hit', 'miss', 'stale', 'failure'] as const;
  const head = `<tr><th>resolver</th>${keys.map((k) => `<th class="n">${k}</th>`).join('')}</tr>`;
  const rows = report.resolvers.map((r) => `<tr data-resolver="${escapeHtml(r.resolver)}"><td>${escapeHtml(r.resolver)}</td>${keys
    .map((k) => `<td class="n${k === 'failure' && r[k] > 0 ? ' bad' : ''}" data-key="${k}" data-value="${r[k]}">${r[k]}</td>`).join('')}</tr>`);
  return `<table id="resolvers"><thead>${head}</thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

/**
 * The status page for `report` as of `nowSeconds`: summary, per-host table, and the routes
 * (null when the server was given none, e.g. in a test of the page alone).
 */
export function renderStatusPage(report: StatusReport, routes: readonly RouteRow[] | null, nowSeconds: number): string {
  const table = statusTable(report, nowSeconds);
  // Outcome columns sit under one "refused or failed" heading; long names may break after "_".
  const refusedCount = table.columns.filter((col) => col.key.startsWith('refused:')).length;
  const span = (col: StatusColumn): string => (refusedCount > 0 && !col.key.startsWith('refused:') ? ' rowspan="2"' : '');
  const th = (col: StatusColumn): string =>
    `<th${col.numeric ? ' class="n"' : ''}${span(col)} data-key="${escapeHtml(col.key)}">${wrappable(col.title)}</th>`;
  const before = table.columns.filter((col) => !col.key.startsWith('refused:') && col.key !== 'last_failure');
  const after = table.columns.filter((col) => col.key === 'last_failure');
  const head = refusedCount === 0
    ? `<tr>${table.columns.map(th).join('')}</tr>`
    : `<tr>${before.map(th).join('')}<th class="group" colspan="${refusedCount}">refused or failed</th>${after.map(th).join('')}</tr>\n` +
      `<tr>${table.columns.filter((col) => col.key.startsWith('refused:')).map(th).join('')}</tr>`;
  const row = (cells: readonly StatusCell[], cls: string, host: string | null): string => {
    const tds = cells.map((c, i) => {
      const col = table.columns[i];
      const classes: string[] = [];
      if (col?.numeric === true) classes.push('n');
      if (col?.key.startsWith('refused:') === true && c.value !== undefined && c.value > 0) classes.push('bad');
      return cell(c, col?.key ?? '', classes);
    });
    const hostAttr = host === null ? '' : ` data-host="${escapeHtml(host)}"`;
    return `<tr${cls === '' ? '' : ` class="${cls}"`}${hostAttr}>${tds.join('')}</tr>`;
  };
  const body = report.hosts.map((h, i) => row(table.rows[i] ?? [], '', h.host)).join('\n');
  const summary = statusSummary(report, nowSeconds)
    .map(([k, v]) => `<span>${escapeHtml(k)} <b>${escapeHtml(v)}</b></span>`)
    .join(' · ');
  const routeRows = routes === null
    ? '<p class="muted">Routes are not available here.</p>'
    : routes.length === 0
      ? '<p class="muted">No routes configured: every connection is refused.</p>'
      : `<table id="routes"><thead><tr><th>hosts</th><th>connects to</th><th>resolver</th><th>configured at</th></tr></thead><tbody>\n${routes
        .map((r) => `<tr><td><code>${escapeHtml(r.pattern)}</code></td><td><code>${escapeHtml(r.target)}</code></td><td>${r.resolver === null ? '<span class="muted">-</span>' : escapeHtml(r.resolver)}</td><td class="muted">${escapeHtml(r.origin)}</td></tr>`)
        .join('\n')}\n</tbody></table>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sni-forwarder status</title>
<style>${STATUS_CSS}</style>
</head>
<body>
<h1>sni-forwarder</h1>
<p class="summary">${summary}</p>
<h2>Connections by route host</h2>
<table id="hosts">
<thead>${head}</thead>
<tbody>
${body}
</tbody>
<tfoot>${row(table.total, 'total', null)}</tfoot>
</table>
<h2>Routes${routes === null ? '' : ` (${routes.length})`}</h2>
${routeRows}
<h2>DNS lookups by resolver</h2>
${resolverTable(report)}
<p class="muted">As of ${escapeHtml(formatTime(nowSeconds))}; refreshes every ${STATUS_REFRESH_SECONDS} s. Raw figures: <a href="/metrics">/metrics</a>.</p>
</body>
</html>
`;
}
