// The HTML status page served at GET / on the metrics address. Pure: a report in, a complete
// dependency-free document out (inline CSS, no script, no external resource), refreshed by the
// browser every few seconds. Every value that came from the config or the metrics is escaped.
//
// Layout (issue #16): it must fit a 1024 px window without scrolling sideways. The host table has
// a fixed set of columns whatever outcomes happened (refusals and failures are one count each,
// broken down in a table of their own), and every cell that holds a name or an address may wrap:
// host names after a ".", with the full name on hover.
import {
  describeListeners, describeReload, outcomeRows, statusSummary, statusTable, type StatusCell,
} from './status-table.js';
import { formatAgo, formatTime } from './status-format.js';
import { DNS_LOOKUP_RESULTS } from './metrics.js';
import type { StatusReport } from './status.js';

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
.summary{color:#444;margin:0 0 .6em}.summary b{color:#1b1f24;font-weight:600}
dl.state{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:0 0 1em}
dl.state dt{color:#444}dl.state dd{margin:0;overflow-wrap:anywhere}
.alert{background:#fef3f2;border:1px solid #fda29b;color:#b42318;padding:.4em .7em;margin:.5em 0 1em;max-width:60em}
table{border-collapse:collapse;max-width:100%}th,td{padding:.3em .5em;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
th{background:#f3f4f6;font-weight:600;vertical-align:bottom;white-space:normal}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.name,td.wrap{white-space:normal;overflow-wrap:anywhere}td.name{min-width:10em}
tr.total td{font-weight:600;border-top:2px solid #999}td.bad,dd.bad{color:#b42318}
.muted{color:#777}code{font-family:ui-monospace,monospace;font-size:.95em}
`;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Escaped text that may break after each "." (host names, addresses). */
function breakable(s: string): string {
  return escapeHtml(s).replaceAll('.', '.<wbr>');
}

/** A table cell; `data-key` names its column and `data-value` holds the exact figure, for scripts. */
function cell(c: StatusCell, key: string, classes: readonly string[], html = escapeHtml(c.text)): string {
  const attrs: string[] = [];
  if (classes.length > 0) attrs.push(`class="${classes.join(' ')}"`);
  attrs.push(`data-key="${escapeHtml(key)}"`);
  if (c.value !== undefined) attrs.push(`data-value="${escapeHtml(String(c.value))}"`);
  if (c.title !== undefined) attrs.push(`title="${escapeHtml(c.title)}"`);
  return `<td ${attrs.join(' ')}>${html}</td>`;
}

/** The per-resolver lookup counts as a table (sni_forwarder_dns_lookups_total). */
function resolverTable(report: StatusReport): string {
  if (report.resolvers.length === 0) return '<p class="muted">No lookups counted.</p>';
  const head = `<tr><th>resolver</th>${DNS_LOOKUP_RESULTS.map((k) => `<th class="n">${k}</th>`).join('')}</tr>`;
  const rows = report.resolvers.map((r) => `<tr data-resolver="${escapeHtml(r.resolver)}"><td>${escapeHtml(r.resolver)}</td>${DNS_LOOKUP_RESULTS
    .map((k) => `<td class="n${k === 'failure' && r[k] > 0 ? ' bad' : ''}" data-key="${k}" data-value="${r[k]}">${r[k]}</td>`).join('')}</tr>`);
  return `<table id="resolvers"><thead>${head}</thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

/** The per-host table: one row per host, then the totals. */
function hostTable(report: StatusReport, nowSeconds: number): string {
  const table = statusTable(report, nowSeconds);
  const head = table.columns.map((col) => `<th${col.numeric ? ' class="n"' : ''} data-key="${escapeHtml(col.key)}">${escapeHtml(col.title)}</th>`).join('');
  const row = (cells: readonly StatusCell[], cls: string, host: string | null): string => {
    const tds = cells.map((c, i) => {
      const col = table.columns[i];
      const key = col?.key ?? '';
      if (key === 'host') return cell({ ...c, title: c.text }, key, ['name'], breakable(c.text));
      const classes: string[] = [];
      if (col?.numeric === true) classes.push('n');
      if ((key === 'refused' || key === 'failed') && c.value !== undefined && c.value > 0) classes.push('bad');
      return cell(c, key, classes);
    });
    const hostAttr = host === null ? '' : ` data-host="${escapeHtml(host)}"`;
    return `<tr${cls === '' ? '' : ` class="${cls}"`}${hostAttr}>${tds.join('')}</tr>`;
  };
  const body = report.hosts.map((h, i) => row(table.rows[i] ?? [], '', h.host)).join('\n');
  return `<table id="hosts">
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
<tfoot>${row(table.total, 'total', null)}</tfoot>
</table>`;
}

/** Refusals, then failures, by outcome: count, the newest, and the hosts. */
function outcomeTable(report: StatusReport, nowSeconds: number): string {
  const rows = outcomeRows(report);
  if (rows.length === 0) return '<p class="muted" id="outcomes">None since start.</p>';
  const body = rows.map((r) => {
    const last = r.lastSeconds === null ? '-' : formatAgo(nowSeconds - r.lastSeconds);
    const hosts = r.hosts.map((h) => `${breakable(h.host)} ${h.count}`).join(', ');
    return `<tr data-outcome="${escapeHtml(r.outcome)}"><td data-key="outcome"><code>${escapeHtml(r.outcome)}</code></td>` +
      `<td data-key="kind">${r.kind}</td><td class="n" data-key="count" data-value="${r.count}">${r.count}</td>` +
      `<td data-key="last"${r.lastSeconds === null ? '' : ` title="${escapeHtml(formatTime(r.lastSeconds))}"`}>${escapeHtml(last)}</td>` +
      `<td class="wrap" data-key="hosts">${hosts}</td></tr>`;
  }).join('\n');
  return `<table id="outcomes"><thead><tr><th>outcome</th><th>kind</th><th class="n">count</th><th>last</th><th>hosts</th></tr></thead><tbody>
${body}
</tbody></table>`;
}

/** The routes in force, or why there are none to show. */
function routeTable(routes: readonly RouteRow[] | null): string {
  if (routes === null) return '<p class="muted">Routes are not available here.</p>';
  if (routes.length === 0) return '<p class="muted">No routes configured: every connection is refused.</p>';
  return `<table id="routes"><thead><tr><th>hosts</th><th>connects to</th><th>resolver</th><th>configured at</th></tr></thead><tbody>\n${routes
    .map((r) => `<tr><td class="name"><code>${breakable(r.pattern)}</code></td><td class="wrap"><code>${escapeHtml(r.target)}</code></td>` +
      `<td>${r.resolver === null ? '<span class="muted">-</span>' : escapeHtml(r.resolver)}</td>` +
      `<td class="wrap muted">${escapeHtml(r.origin)}</td></tr>`)
    .join('\n')}\n</tbody></table>`;
}

/**
 * The status page for `report` as of `nowSeconds`: summary, listeners, readiness and the last
 * reload, the per-host table, refusals and failures by outcome, and the routes (null when the
 * server was given none, e.g. in a test of the page alone).
 */
export function renderStatusPage(report: StatusReport, routes: readonly RouteRow[] | null, nowSeconds: number): string {
  const summary = statusSummary(report, nowSeconds)
    .map(([k, v]) => `<span>${escapeHtml(k)} <b>${escapeHtml(v)}</b></span>`)
    .join(' · ');
  const reload = describeReload(report.reload, nowSeconds);
  const alerts: string[] = [];
  if (report.ready === false) alerts.push('<p class="alert" id="not-ready">Not ready: the daemon is starting or shutting down and accepts no connections.</p>');
  if (reload.bad) alerts.push(`<p class="alert" id="reload-rejected">Last reload ${escapeHtml(reload.text)}.</p>`);
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
${alerts.join('\n')}
<dl class="state">
<dt>listeners</dt><dd id="listeners">${breakable(describeListeners(report.listeners))}</dd>
<dt>last reload</dt><dd id="reload"${reload.bad ? ' class="bad"' : ''}>${escapeHtml(reload.text)}</dd>
</dl>
<h2>Connections by route host</h2>
${hostTable(report, nowSeconds)}
<h2>Refused and failed, by outcome</h2>
${outcomeTable(report, nowSeconds)}
<h2>Routes${routes === null ? '' : ` (${routes.length})`}</h2>
${routeTable(routes)}
<h2>DNS lookups by resolver</h2>
${resolverTable(report)}
<p class="muted">As of ${escapeHtml(formatTime(nowSeconds))}; refreshes every ${STATUS_REFRESH_SECONDS} s. Refused: the policy, a limit or the client said no. Failed: the upstream could not be reached. Raw figures: <a href="/metrics">/metrics</a>.</p>
</body>
</html>
`;
}
