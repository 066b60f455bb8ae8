// The status view shared by the page on the metrics address (GET /) and `sni-forwarder status`:
// both are built from the /metrics exposition alone, so a cluster primary's aggregate works the
// same as a single process. Pure: samples in, a report and a table of display strings out.
import { FAILURE_OUTCOMES, OUTCOMES } from '../errors.js';
import type { Sample } from './exposition.js';
import { DNS_LOOKUP_RESULTS } from './metrics.js';

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
  /** Connections refused, by outcome (the policy, a limit or the client said no; zero counts left out). */
  readonly refused: Readonly<Record<string, number>>;
  /** Connections that failed, by outcome (dns_failure, upstream_unreachable; zero counts left out). */
  readonly failed: Readonly<Record<string, number>>;
  /** The newest refusal or failure. */
  readonly lastFailure: LastFailure | null;
  /** The resolver its route uses (sni_forwarder_route_info); "" for an IP address upstream, null if unknown. */
  readonly resolver: string | null;
  /** The newest time of each refusal and failure outcome seen. */
  readonly lastByOutcome: Readonly<Record<string, number>>;
}

/** A listener as sni_forwarder_listener_info describes it. */
export interface ListenerStatus {
  readonly listener: string;
  readonly protocol: string;
  /** The socket came from systemd (socket activation). */
  readonly inherited: boolean;
}

/** The configuration's reload history since start, from the config_* metrics. */
export interface ReloadStatus {
  /** False after a rejected reload: the running configuration is not the file as it is now. Null if not exported. */
  readonly inForce: boolean | null;
  readonly successes: number;
  readonly failures: number;
  /** Unix time of the last reload of each result, null if none since start. */
  readonly lastSuccessSeconds: number | null;
  readonly lastFailureSeconds: number | null;
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
  /** Refusal outcomes with a non-zero count, in the Outcome union's order. */
  readonly refusedOutcomes: readonly string[];
  /** Failure outcomes (FAILURE_OUTCOMES) with a non-zero count, in the Outcome union's order. */
  readonly failedOutcomes: readonly string[];
  /** sni_forwarder_ready (1 = accepting); null when absent. */
  readonly ready: boolean | null;
  readonly listeners: readonly ListenerStatus[];
  readonly reload: ReloadStatus;
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
  failed: Record<string, number>;
  lastFailure: LastFailure | null;
  lastByOutcome: Record<string, number>;
  resolver: string | null;
}

function emptyHost(host: string): MutableHost {
  return { host, uploadBytes: 0, downloadBytes: 0, active: 0, forwarded: 0, refused: {}, failed: {}, lastFailure: null, lastByOutcome: {}, resolver: null };
}

/** Whether a non-forwarded outcome is a failure (else a refusal). */
export function isFailure(outcome: string): boolean {
  return FAILURE_OUTCOMES.some((o) => o === outcome);
}

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
  let ready: boolean | null = null;
  const listeners: ListenerStatus[] = [];
  const reload: { -readonly [K in keyof ReloadStatus]: ReloadStatus[K] } = {
    inForce: null, successes: 0, failures: 0, lastSuccessSeconds: null, lastFailureSeconds: null,
  };
  for (const s of samples) {
    switch (s.name) {
      case `${PREFIX}route_info`: {
        const h = hostOf(s);
        if (h !== undefined && s.value > 0) h.resolver = s.labels['resolver'] ?? null;
        break;
      }
      case `${PREFIX}dns_lookups_total`: {
        const name = s.labels['resolver'];
        const result = DNS_LOOKUP_RESULTS.find((r) => r === s.labels['result']);
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
        else if (s.value !== 0) {
          const into = isFailure(outcome) ? h.failed : h.refused;
          into[outcome] = (into[outcome] ?? 0) + s.value;
        }
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
        h.lastByOutcome[outcome] = Math.max(h.lastByOutcome[outcome] ?? 0, s.value);
        break;
      }
      case `${PREFIX}ready`:
        if (Number.isFinite(s.value)) ready = s.value >= 1;
        break;
      case `${PREFIX}listener_info`: {
        const listener = s.labels['listener'];
        if (listener !== undefined && s.value >= 1) {
          listeners.push({ listener, protocol: s.labels['protocol'] ?? '', inherited: s.labels['inherited'] === 'true' });
        }
        break;
      }
      case `${PREFIX}config_last_reload_successful`:
        if (Number.isFinite(s.value)) reload.inForce = s.value >= 1;
        break;
      case `${PREFIX}config_reloads_total`:
        if (s.labels['result'] === 'success') reload.successes = s.value;
        else if (s.labels['result'] === 'failure') reload.failures = s.value;
        break;
      case `${PREFIX}config_last_reload_timestamp_seconds`:
        if (!Number.isFinite(s.value) || s.value <= 0) break;
        if (s.labels['result'] === 'success') reload.lastSuccessSeconds = s.value;
        else if (s.labels['result'] === 'failure') reload.lastFailureSeconds = s.value;
        break;
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
    for (const [o, n] of Object.entries(h.failed)) totals.failed[o] = (totals.failed[o] ?? 0) + n;
    for (const [o, at] of Object.entries(h.lastByOutcome)) totals.lastByOutcome[o] = Math.max(totals.lastByOutcome[o] ?? 0, at);
    if (h.lastFailure !== null && (totals.lastFailure === null || h.lastFailure.atSeconds > totals.lastFailure.atSeconds)) {
      totals.lastFailure = h.lastFailure;
    }
  }
  return {
    hosts: list,
    totals,
    refusedOutcomes: Object.keys(totals.refused).sort(outcomeOrder),
    failedOutcomes: Object.keys(totals.failed).sort(outcomeOrder),
    ready,
    listeners: listeners.sort((a, b) => (a.listener < b.listener ? -1 : a.listener > b.listener ? 1 : 0)),
    reload,
    startTimeSeconds,
    version,
    resolvers: [...resolvers.values()],
  };
}
