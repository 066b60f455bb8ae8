// The status view shared by the page on the metrics address (GET /) and `sni-forwarder status`:
// both are built from the /metrics exposition alone, so a cluster primary's aggregate works the
// same as a single process. Pure: samples in, a report and a table of display strings out.
import { OUTCOMES } from '../errors.js';
import type { Sample } from './exposition.js';

const PREFIX = 'sni_forwarder_';

/** The label `host` carries before a route matched, as a table shows it. */
export const UNROUTED_LABEL = '(no route)';

/** The newest failure of one host: its outcome and when it happened (unix seconds). */
export interface LastFailure {
  readonly outcome: string;
  readonly atSeconds: number;
}

/** Everything the metrics say about one route host ("" before a route matched). */
export interface HostStatus {
  readonly host: string;
  readonly uploadBytes: number;
  readonly downloadBytes: number;
  readonly active: number;
  readonly forwarded: number;
  /** Connections closed with each non-forwarded outcome seen (zero counts left out). */
  readonly refused: Readonly<Record<string, number>>;
  readonly lastFailure: LastFailure | null;
  /** The resolver its route uses (sni_forwarder_route_info); "" for an IP address upstream, null if unknown. */
  readonly resolver: string | null;
}

/** Lookups one configured resolver counted (sni_forwarder_dns_lookups_total), by result. */
export interface ResolverStatus {
  readonly resolver: string;
  readonly hit: number;
  readonly miss: number;
  readonly stale: number;
  readonly failure: number;
}

/** The daemon's state as /metrics shows it; `--json` prints this. */
export interface StatusReport {
  /** Hosts by name, "" (no route) last. */
  readonly hosts: readonly HostStatus[];
  readonly totals: HostStatus;
  /** Non-forwarded outcomes with a non-zero count, in the Outcome union's order. */
  readonly refusedOutcomes: readonly string[];
  /** process_start_time_seconds; null when absent (a cluster primary omits it). */
  readonly startTimeSeconds: number | null;
  /** The `version` label of sni_forwarder_build_info, when exported. */
  readonly version: string | null;
  /** DNS lookups per resolver, by name. */
  readonly resolvers: readonly ResolverStatus[];
}

interface MutableHost {
  host: string;
  uploadBytes: number;
  downloadBytes: number;
  active: number;
  forwarded: number;
  refused: Record<string, number>;
  lastFailure: LastFailure | null;
  resolver: string | null;
}

function emptyHost(host: string): MutableHost {
  return { host, uploadBytes: 0, downloadBytes: 0, active: 0, forwarded: 0, refused: {}, lastFailure: null, resolver: null };
}

const LOOKUP_RESULTS = ['hit', 'miss', 'stale', 'failure'] as const;

/** Known outcomes in the union's order, then unknown ones by name. */
function outcomeOrder(a: string, b: string): number {
  const ia = OUTCOMES.indexOf(a as (typeof OUTCOMES)[number]);
  const ib = OUTCOMES.indexOf(b as (typeof OUTCOMES)[number]);
  if (ia !== -1 || ib !== -1) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reads the per-host figures out of the samples of one /metrics scrape. */
export function buildStatusReport(samples: readonly Sample[]): StatusReport {
  const hosts = new Map<string, MutableHost>();
  const hostOf = (s: Sample): MutableHost | undefined => {
    const name = s.labels['host'];
    if (name === undefined || !Number.isFinite(s.value)) return undefined;
    let h = hosts.get(name);
    if (h === undefined) hosts.set(name, (h = emptyHost(name)));
    return h;
  };
  let startTimeSeconds: number | null = null;
  let version: string | null = null;
  const resolvers = new Map<string, { -readonly [K in keyof ResolverStatus]: ResolverStatus[K] }>();
  for (const s of samples) {
    switch (s.name) {
      case `${PREFIX}route_info`: {
        const h = hostOf(s);
        if (h !== undefined && s.value > 0) h.resolver = s.labels['resolver'] ?? null;
        break;
      }
      case `${PREFIX}dns_lookups_total`: {
        const name = s.labels['resolver'];
        const result = LOOKUP_RESULTS.find((r) => r === s.labels['result']);
        if (name === undefined || result === undefined || !Number.isFinite(s.value)) break;
        let r = resolvers.get(name);
        if (r === undefined) resolvers.set(name, (r = { resolver: name, hit: 0, miss: 0, stale: 0, failure: 0 }));
        r[result] += s.value;
        break;
      }
      case `${PREFIX}bytes_total`: {
        const h = hostOf(s);
        if (h === undefined) break;
        if (s.labels['direction'] === 'upload') h.uploadBytes += s.value;
        else if (s.labels['direction'] === 'download') h.downloadBytes += s.value;
        break;
      }
      case `${PREFIX}connections_total`: {
        const h = hostOf(s);
        const outcome = s.labels['outcome'];
        if (h === undefined || outcome === undefined) break;
        if (outcome === 'forwarded') h.forwarded += s.value;
        else if (s.value !== 0) h.refused[outcome] = (h.refused[outcome] ?? 0) + s.value;
        break;
      }
      case `${PREFIX}active_connections`: {
        const h = hostOf(s);
        if (h !== undefined) h.active += s.value;
        break;
      }
      case `${PREFIX}last_failure_timestamp_seconds`: {
        const h = hostOf(s);
        const outcome = s.labels['outcome'];
        if (h === undefined || outcome === undefined) break;
        if (h.lastFailure === null || s.value > h.lastFailure.atSeconds) h.lastFailure = { outcome, atSeconds: s.value };
        break;
      }
      case 'process_start_time_seconds':
        if (Number.isFinite(s.value)) startTimeSeconds = s.value;
        break;
      case `${PREFIX}build_info`:
        version = s.labels['version'] ?? version;
        break;
      default:
        break;
    }
  }
  const list = [...hosts.values()].sort((a, b) =>
    a.host === '' ? 1 : b.host === '' ? -1 : a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
  const totals = emptyHost('');
  for (const h of list) {
    totals.uploadBytes += h.uploadBytes;
    totals.downloadBytes += h.downloadBytes;
    totals.active += h.active;
    totals.forwarded += h.forwarded;
    for (const [o, n] of Object.entries(h.refused)) totals.refused[o] = (totals.refused[o] ?? 0) + n;
    if (h.lastFailure !== null && (totals.lastFailure === null || h.lastFailure.atSeconds > totals.lastFailure.atSeconds)) {
      totals.lastFailure = h.lastFailure;
    }
  }
  return {
    hosts: list,
    totals,
    refusedOutcomes: Object.keys(totals.refused).sort(outcomeOrder),
    startTimeSeconds,
    version,
    resolvers: [...resolvers.values()],
  };
}

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

/** The table for `report` as of `nowSeconds` (unix time; "last failure" is shown relative to it). */
export function statusTable(report: StatusReport, nowSeconds: number): StatusTable {
  const columns: StatusColumn[] = [
    { key: 'host', title: 'host', numeric: false },
    { key: 'resolver', title: 'resolver', numeric: false },
    { key: 'upload', title: 'upload', numeric: true },
    { key: 'download', title: 'download', numeric: true },
    { key: 'active', title: 'active', numeric: true },
    { key: 'forwarded', title: 'forwarded', numeric: true },
    ...report.refusedOutcomes.map((o) => ({ key: `refused:${o}`, title: o, numeric: true })),
    { key: 'last_failure', title: 'last failure', numeric: false },
  ];
  const row = (h: HostStatus, name: string, total = false): StatusCell[] => [
    { text: name },
    { text: total ? '' : h.resolver === null || h.resolver === '' ? '-' : h.resolver },
    bytesCell(h.uploadBytes),
    bytesCell(h.downloadBytes),
    countCell(h.active),
    countCell(h.forwarded),
    ...report.refusedOutcomes.map((o) => countCell(h.refused[o] ?? 0)),
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
    total: row(report.totals, 'total', true),
  };
}

function bytesCell(n: number): StatusCell {
  return { text: formatBytes(n), value: n, title: `${n} bytes` };
}

function countCell(n: number): StatusCell {
  return { text: String(n), value: n };
}

/** Bytes in binary units to three figures or so: "512 B", "1.50 KiB", "20.3 GiB", "117 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** A past interval, coarsely: "12 s ago", "5 min ago", "3 h ago", "2 d ago" (negative: "0 s ago"). */
export function formatAgo(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A duration to the two largest units: "45 s", "3 min 12 s", "5 h 3 min", "2 d 4 h". */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts: [number, string][] = [[Math.floor(s / 86_400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'min'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0 s';
  return parts.slice(first, first + 2).filter(([n], i) => i === 0 || n > 0).map(([n, u]) => `${n} ${u}`).join(' ');
}

/** A unix time as "2026-11-28 10:40:12 UTC": stable, sortable, independent of the viewer's locale. */
export function formatTime(unixSeconds: number): string {
  const d = new Date(Math.floor(unixSeconds) * 1000);
  return Number.isNaN(d.getTime()) ? '-' : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The summary above the table as "key value" pairs; version and uptime only when the metrics have them. */
export function statusSummary(report: StatusReport, nowSeconds: number): [string, string][] {
  const t = report.totals;
  const refused = Object.values(t.refused).reduce((a, b) => a + b, 0);
  const pairs: [string, string][] = [];
  if (report.version !== null) pairs.push(['version', report.version]);
  if (report.startTimeSeconds !== null) {
    pairs.push(['up', `${formatUptime(nowSeconds - report.startTimeSeconds)} (since ${formatTime(report.startTimeSeconds)})`]);
  }
  pairs.push(
    ['active', String(t.active)],
    ['forwarded', String(t.forwarded)],
    ['refused', String(refused)],
    ['upload', formatBytes(t.uploadBytes)],
    ['download', formatBytes(t.downloadBytes)],
  );
  return pairs;
}

/** One line per resolver: "NAME: hit N, miss N, stale N, failure N" (for `status` and the page). */
export function resolverLines(report: StatusReport): string[] {
  return report.resolvers.map((r) => `${r.resolver}: ${LOOKUP_RESULTS.map((k) => `${k} ${r[k]}`).join(', ')}`);
}
