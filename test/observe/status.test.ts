// The status report and table, from the exposition of real Metrics instances (a single process,
// and two "workers" aggregated the way a cluster primary does).
import { AggregatorRegistry, Registry } from 'prom-client';
import t from 'tap';
import { parseExposition } from '../../src/observe/exposition.js';
import { Metrics } from '../../src/observe/metrics.js';
import { buildStatusReport, UNROUTED_LABEL } from '../../src/observe/status.js';
import { formatAgo, formatBytes, formatTime, formatUptime, shortenMiddle } from '../../src/observe/status-format.js';
import { describeListeners, describeReload, outcomeRows, resolverLines, statusSummary, statusTable } from '../../src/observe/status-table.js';

const T0 = Date.UTC(2026, 10, 28, 10, 0, 0); // ms

function metrics(): Metrics {
  return new Metrics(new Registry(), { defaultMetrics: false });
}

/** a.test: 2 forwarded, 1 upstream_unreachable at T0+1s, 1 dns_failure at T0+5s; b.test idle; "" 3 not_allowed. */
function traffic(m: Metrics): void {
  for (const h of ['b.test', 'a.test']) m.touchHost(h);
  m.setRoutes([{ host: 'a.test', resolver: 'aws' }, { host: 'b.test', resolver: null }]);
  for (const name of ['default', 'aws']) m.touchResolver(name);
  m.dnsLookups.inc({ resolver: 'aws', result: 'miss' });
  m.dnsLookups.inc({ resolver: 'aws', result: 'stale' }, 2);
  m.bytes.inc({ host: 'a.test', direction: 'upload' }, 1500);
  m.bytes.inc({ host: 'a.test', direction: 'download' }, 3 * 1024 * 1024);
  m.active.inc({ host: 'a.test' }, 2);
  m.countOutcome('a.test', 'forwarded', T0);
  m.countOutcome('a.test', 'forwarded', T0);
  m.countOutcome('a.test', 'upstream_unreachable', T0 + 1000);
  m.countOutcome('a.test', 'dns_failure', T0 + 5000);
  for (let i = 0; i < 3; i++) m.countOutcome('', 'not_allowed', T0 + 2000 + i);
}

await t.test('per-host figures from one process', async (t) => {
  const m = metrics();
  traffic(m);
  const r = buildStatusReport(parseExposition(await m.registry.metrics()));
  t.same(r.hosts.map((h) => h.host), ['a.test', 'b.test', ''], 'by name, the unrouted row last');
  t.same(r.hosts[0], {
    host: 'a.test', uploadBytes: 1500, downloadBytes: 3 * 1024 * 1024, active: 2, forwarded: 2,
    refused: {}, failed: { upstream_unreachable: 1, dns_failure: 1 },
    lastFailure: { outcome: 'dns_failure', atSeconds: (T0 + 5000) / 1000 },
    lastByOutcome: { upstream_unreachable: (T0 + 1000) / 1000, dns_failure: (T0 + 5000) / 1000 }, resolver: 'aws',
  });
  t.same(r.hosts[1], { host: 'b.test', uploadBytes: 0, downloadBytes: 0, active: 0, forwarded: 0, refused: {}, failed: {}, lastFailure: null, lastByOutcome: {}, resolver: '' });
  t.same(r.resolvers, [
    { resolver: 'default', hit: 0, miss: 0, stale: 0, failure: 0 },
    { resolver: 'aws', hit: 0, miss: 1, stale: 2, failure: 0 },
  ], 'lookups per configured resolver, in config order');
  t.same(resolverLines(r), ['default: hit 0, miss 0, stale 0, failure 0', 'aws: hit 0, miss 1, stale 2, failure 0; routes a.test']);
  t.same(r.hosts[2]?.refused, { not_allowed: 3 });
  t.same(r.hosts[2]?.lastFailure, { outcome: 'not_allowed', atSeconds: (T0 + 2002) / 1000 });
  t.same(r.refusedOutcomes, ['not_allowed'], 'refusals: zero counts left out');
  t.same(r.failedOutcomes, ['dns_failure', 'upstream_unreachable'], 'failures apart, in the Outcome union order');
  t.equal(r.totals.forwarded, 2);
  t.same(r.totals.refused, { not_allowed: 3 });
  t.same(r.totals.failed, { upstream_unreachable: 1, dns_failure: 1 });
  t.equal(r.totals.lastFailure?.outcome, 'dns_failure');
  t.equal(r.version, 'unknown', 'build_info without a version given');
  t.equal(r.startTimeSeconds, null);
});

await t.test('a cluster aggregate sums the counts and keeps the newest failure', async (t) => {
  const w1 = metrics();
  const w2 = metrics();
  traffic(w1);
  w2.touchHost('a.test');
  w2.bytes.inc({ host: 'a.test', direction: 'upload' }, 500);
  w2.countOutcome('a.test', 'forwarded', T0);
  w2.countOutcome('a.test', 'upstream_unreachable', T0 + 9000);
  const aggregate = AggregatorRegistry.aggregate([await w1.registry.getMetricsAsJSON(), await w2.registry.getMetricsAsJSON()]);
  const r = buildStatusReport(parseExposition(await aggregate.metrics()));
  const a = r.hosts.find((h) => h.host === 'a.test');
  t.equal(a?.uploadBytes, 2000);
  t.equal(a?.forwarded, 3);
  t.same(a?.failed, { upstream_unreachable: 2, dns_failure: 1 });
  t.same(a?.lastFailure, { outcome: 'upstream_unreachable', atSeconds: (T0 + 9000) / 1000 }, 'max, not the sum of two times');
});

await t.test('version and start time when exported', async (t) => {
  const m = new Metrics(new Registry(), { defaultMetrics: true, version: '1.2.3' });
  const r = buildStatusReport(parseExposition(await m.registry.metrics()));
  t.equal(r.version, '1.2.3');
  const startMs = Date.now() - process.uptime() * 1000;
  t.ok(r.startTimeSeconds !== null && Math.abs(r.startTimeSeconds - startMs / 1000) < 2, `process start ${r.startTimeSeconds}`);
  t.same(statusSummary(r, (r.startTimeSeconds ?? 0) + 65).slice(0, 2).map(([k]) => k), ['version', 'up']);
  t.match(statusSummary(r, (r.startTimeSeconds ?? 0) + 65)[1]?.[1], /^1 min 5 s \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
});

await t.test('the table: the same columns whatever the outcomes, totals', async (t) => {
  const m = metrics();
  traffic(m);
  const r = buildStatusReport(parseExposition(await m.registry.metrics()));
  const table = statusTable(r, (T0 + 17_000) / 1000);
  t.same(table.columns.map((c) => c.title),
    ['host', 'upload', 'download', 'active', 'forwarded', 'refused', 'failed', 'last refused or failed']);
  t.same(table.rows.map((row) => row.map((c) => c.text)), [
    ['a.test', '1.46 KiB', '3.00 MiB', '2', '2', '0', '2', 'dns_failure, 12 s ago'],
    ['b.test', '0 B', '0 B', '0', '0', '0', '0', '-'],
    [UNROUTED_LABEL, '0 B', '0 B', '0', '0', '3', '0', 'not_allowed, 14 s ago'],
  ]);
  t.same(table.total.map((c) => c.text), ['total', '1.46 KiB', '3.00 MiB', '2', '2', '3', '2', 'dns_failure, 12 s ago']);
  t.equal(table.rows[0]?.[1]?.value, 1500, 'the exact figure travels with the text');
  t.equal(table.rows[0]?.[6]?.title, 'dns_failure 1, upstream_unreachable 1', 'the outcomes behind a count');
  t.equal(table.rows[0]?.[7]?.title, '2026-11-28 10:00:05 UTC');
  t.same(outcomeRows(r), [
    { outcome: 'not_allowed', kind: 'refused', count: 3, lastSeconds: (T0 + 2002) / 1000, hosts: [{ host: UNROUTED_LABEL, count: 3 }] },
    { outcome: 'dns_failure', kind: 'failed', count: 1, lastSeconds: (T0 + 5000) / 1000, hosts: [{ host: 'a.test', count: 1 }] },
    { outcome: 'upstream_unreachable', kind: 'failed', count: 1, lastSeconds: (T0 + 1000) / 1000, hosts: [{ host: 'a.test', count: 1 }] },
  ]);
});

await t.test('readiness, listeners and reloads from their metrics', async (t) => {
  const m = metrics();
  const before = buildStatusReport(parseExposition(await m.registry.metrics()));
  t.same([before.ready, before.listeners, before.reload], [false, [], { inForce: true, successes: 0, failures: 0, lastSuccessSeconds: null, lastFailureSeconds: null }]);
  t.same(describeReload(before.reload, T0 / 1000), { text: 'none since start', bad: false });
  m.ready.set(1);
  m.setListeners([{ listener: '0.0.0.0:443', protocol: 'tls', inherited: true }, { listener: '0.0.0.0:80', protocol: 'http', inherited: false }]);
  m.recordReload('success', T0);
  m.recordReload('failure', T0 + 30_000);
  const r = buildStatusReport(parseExposition(await m.registry.metrics()));
  t.equal(r.ready, true);
  t.equal(describeListeners(r.listeners), '0.0.0.0:443 tls (from systemd), 0.0.0.0:80 http');
  t.same(r.reload, { inForce: false, successes: 1, failures: 1, lastSuccessSeconds: T0 / 1000, lastFailureSeconds: (T0 + 30_000) / 1000 });
  t.same(describeReload(r.reload, (T0 + 42_000) / 1000), {
    text: 'REJECTED 12 s ago (2026-11-28 10:00:30 UTC, 2 since start): the daemon runs the configuration it had before; the journal says why ("reload rejected")',
    bad: true,
  });
  m.recordReload('success', T0 + 60_000);
  m.setListeners([{ listener: '0.0.0.0:443', protocol: 'tls', inherited: true }]);
  const fixed = buildStatusReport(parseExposition(await m.registry.metrics()));
  t.same(describeReload(fixed.reload, (T0 + 65_000) / 1000), { text: 'ok 5 s ago (2026-11-28 10:01:00 UTC, 3 since start)', bad: false });
  t.equal(fixed.listeners.length, 1, 'a listener gone after a reload is gone from the report');
  t.same(statusSummary(fixed, T0 / 1000).map(([k]) => k), ['version', 'ready', 'active', 'forwarded', 'refused', 'failed', 'upload', 'download']);
});

await t.test('formatting', (t) => {
  const cases: [string, string][] = [
    [formatBytes(0), '0 B'], [formatBytes(1023), '1023 B'], [formatBytes(1024), '1.00 KiB'], [formatBytes(15 * 1024 + 512), '15.5 KiB'],
    [formatBytes(5 * 1024 ** 3), '5.00 GiB'], [formatBytes(117.4 * 1024 ** 2), '117 MiB'], [formatBytes(3 * 1024 ** 6), '3072 PiB'],
    [formatAgo(-3), '0 s ago'], [formatAgo(59.9), '59 s ago'], [formatAgo(60), '1 min ago'], [formatAgo(7200), '2 h ago'], [formatAgo(3 * 86_400 + 5), '3 d ago'],
    [formatUptime(0), '0 s'], [formatUptime(45), '45 s'], [formatUptime(192), '3 min 12 s'], [formatUptime(3600), '1 h'],
    [formatUptime(5 * 3600 + 180 + 9), '5 h 3 min'], [formatUptime(2 * 86_400 + 4 * 3600 + 1), '2 d 4 h'],
    [formatTime(T0 / 1000 + 0.9), '2026-11-28 10:00:00 UTC'], [formatTime(NaN), '-'],
    [shortenMiddle('registry.example.com', 40), 'registry.example.com'],
    [shortenMiddle('registry-vpc.cn-beijing.aliyuncs.com', 20), 'registr…aliyuncs.com'],
    [shortenMiddle('abcdefghij', 1), 'a…hij'],
  ];
  for (const [got, want] of cases) t.equal(got, want);
  t.end();
});
