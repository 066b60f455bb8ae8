// The tables and phrases both status views draw from a StatusReport: the page on the metrics
// address and `sni-forwarder status`. Pure: a report in, display strings out.
import { DNS_LOOKUP_RESULTS } from './metrics.js';
import { formatAgo, formatBytes, formatTime, formatUptime } from './status-format.js';
import { UNROUTED_LABEL, type HostStatus, type ListenerStatus, type ReloadStatus, type StatusReport } from './status.js';

/** One table cell: the text shown, and for figures the exact number behind it. */
export interface StatusCell {
  readonly text: string;
  readonly value?: number;
  /** Longer form of the text (an absolute time, exact bytes), for a tooltip. */
  readonly title?: string;
}

/** A column: its heading, whether it holds figures (right-aligned), and a stable key. */
export interface StatusColumn {
  readonly key: string;
  readonly title: string;
  readonly numeric: boolean;
}

/** The per-host table both views draw: one row per host, then the totals row. */
export interface StatusTable {
  readonly columns: readonly StatusColumn[];
  readonly rows: readonly (readonly StatusCell[])[];
  readonly total: readonly StatusCell[];
}

/**
 * The table for `report` as of `nowSeconds` (unix time; "last refused or failed" is shown relative
 * to it). A fixed set of columns, whatever the outcomes seen, so that it fits a screen: refusals
 * and failures are one count each (the outcomes behind them in the cell's title, and in
 * `outcomeRows`).
 */
export function statusTable(report: StatusReport, nowSeconds: number): StatusTable {
  const columns: StatusColumn[] = [
    { key: 'host', title: 'host', numeric: false },
    { key: 'upload', title: 'upload', numeric: true },
    { key: 'download', title: 'download', numeric: true },
    { key: 'active', title: 'active', numeric: true },
    { key: 'forwarded', title: 'forwarded', numeric: true },
    { key: 'refused', title: 'refused', numeric: true },
    { key: 'failed', title: 'failed', numeric: true },
    { key: 'last_failure', title: 'last refused or failed', numeric: false },
  ];
  const row = (h: HostStatus, name: string): StatusCell[] => [
    { text: name },
    bytesCell(h.uploadBytes),
    bytesCell(h.downloadBytes),
    countCell(h.active),
    countCell(h.forwarded),
    outcomesCell(h.refused, report.refusedOutcomes),
    outcomesCell(h.failed, report.failedOutcomes),
    h.lastFailure === null
      ? { text: '-' }
      : {
          text: `${h.lastFailure.outcome}, ${formatAgo(nowSeconds - h.lastFailure.atSeconds)}`,
          value: h.lastFailure.atSeconds,
          title: formatTime(h.lastFailure.atSeconds),
        },
  ];
  return {
    columns,
    rows: report.hosts.map((h) => row(h, h.host === '' ? UNROUTED_LABEL : h.host)),
    total: row(report.totals, 'total'),
  };
}

/** One refusal or failure outcome over all hosts: how many, the newest, and where. */
export interface OutcomeRow {
  readonly outcome: string;
  readonly kind: 'refused' | 'failed';
  readonly count: number;
  /** Unix time of the newest, or null when the metrics have none. */
  readonly lastSeconds: number | null;
  /** Hosts it happened on (UNROUTED_LABEL for ""), most first. */
  readonly hosts: readonly { readonly host: string; readonly count: number }[];
}

/** The refusals, then the failures, each in the Outcome union's order. */
export function outcomeRows(report: StatusReport): OutcomeRow[] {
  const rows = (kind: 'refused' | 'failed', outcomes: readonly string[]): OutcomeRow[] => outcomes.map((outcome) => ({
    outcome,
    kind,
    count: report.totals[kind][outcome] ?? 0,
    lastSeconds: report.totals.lastByOutcome[outcome] ?? null,
    hosts: report.hosts
      .map((h) => ({ host: h.host === '' ? UNROUTED_LABEL : h.host, count: h[kind][outcome] ?? 0 }))
      .filter((h) => h.count > 0)
      .sort((a, b) => b.count - a.count),
  }));
  return [...rows('refused', report.refusedOutcomes), ...rows('failed', report.failedOutcomes)];
}

/** A refused or failed count; its title names the outcomes behind it ("not_allowed 2, no_sni 1"). */
function outcomesCell(counts: Readonly<Record<string, number>>, order: readonly string[]): StatusCell {
  const n = order.reduce((sum, o) => sum + (counts[o] ?? 0), 0);
  const parts = order.filter((o) => (counts[o] ?? 0) > 0).map((o) => `${o} ${counts[o] ?? 0}`);
  return parts.length === 0 ? { text: String(n), value: n } : { text: String(n), value: n, title: parts.join(', ') };
}

function bytesCell(n: number): StatusCell {
  return { text: formatBytes(n), value: n, title: `${n} bytes` };
}

function countCell(n: number): StatusCell {
  return { text: String(n), value: n };
}

/** What the reload metrics say, as one phrase: "none since start", "ok 5 min ago (2 since start)", "REJECTED 12 s ago; ...". */
export function describeReload(r: ReloadStatus, nowSeconds: number): { readonly text: string; readonly bad: boolean } {
  const last = Math.max(r.lastSuccessSeconds ?? 0, r.lastFailureSeconds ?? 0);
  const count = `${r.successes + r.failures} since start`;
  if (r.inForce === false) {
    const at = r.lastFailureSeconds ?? last;
    return {
      text: `REJECTED ${formatAgo(nowSeconds - at)} (${formatTime(at)}, ${count}): the daemon runs the configuration it had before; ` +
        'the journal says why ("reload rejected")',
      bad: true,
    };
  }
  if (last === 0) return { text: 'none since start', bad: false };
  return { text: `ok ${formatAgo(nowSeconds - last)} (${formatTime(last)}, ${count})`, bad: false };
}

/** The listeners as one phrase: "0.0.0.0:443 tls (from systemd), 0.0.0.0:80 http"; "-" for none. */
export function describeListeners(listeners: readonly ListenerStatus[]): string {
  if (listeners.length === 0) return '-';
  return listeners.map((l) => `${l.listener} ${l.protocol}${l.inherited ? ' (from systemd)' : ''}`).join(', ');
}

/** The summary above the table as "key value" pairs; version and uptime only when the metrics have them. */
export function statusSummary(report: StatusReport, nowSeconds: number): [string, string][] {
  const t = report.totals;
  const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);
  const pairs: [string, string][] = [];
  if (report.version !== null) pairs.push(['version', report.version]);
  if (report.startTimeSeconds !== null) {
    pairs.push(['up', `${formatUptime(nowSeconds - report.startTimeSeconds)} (since ${formatTime(report.startTimeSeconds)})`]);
  }
  if (report.ready !== null) pairs.push(['ready', report.ready ? 'yes' : 'NO']);
  pairs.push(
    ['active', String(t.active)],
    ['forwarded', String(t.forwarded)],
    ['refused', String(sum(t.refused))],
    ['failed', String(sum(t.failed))],
    ['upload', formatBytes(t.uploadBytes)],
    ['download', formatBytes(t.downloadBytes)],
  );
  return pairs;
}

/**
 * One line per resolver, "NAME: hit N, miss N, stale N, failure N; routes A, B", naming the
 * route hosts it serves (sni_forwarder_route_info), for `status`.
 */
export function resolverLines(report: StatusReport): string[] {
  return report.resolvers.map((r) => {
    const routes = report.hosts.filter((h) => h.resolver === r.resolver).map((h) => h.host);
    const counts = DNS_LOOKUP_RESULTS.map((k) => `${k} ${r[k]}`).join(', ');
    return `${r.resolver}: ${counts}${routes.length === 0 ? '' : `; routes ${routes.join(', ')}`}`;
  });
}
