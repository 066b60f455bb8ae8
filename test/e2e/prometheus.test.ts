// Monitoring end to end (issue 9): the built daemon after traffic of every outcome, a real
// Prometheus (Debian's) scraping it every second with contrib/prometheus's rules loaded, and
// contrib/grafana's dashboard queries run against that Prometheus.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric, parseMetrics, type LogLine } from '../helpers/daemon.js';
import { fetchHello, Origin, PATTERN_CHUNK, startTlsOrigin } from '../helpers/origin.js';
import { freePort } from '../helpers/proc.js';
import { Prometheus, prometheusAvailable, promtool, type VectorSample } from '../helpers/prometheus.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const RULES = resolve(ROOT, 'contrib/prometheus/sni-forwarder.rules.yaml');
const DASHBOARD = resolve(ROOT, 'contrib/grafana/sni-forwarder.json');
const VERSION = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const OUTCOMES = ['forwarded', 'client_denied', 'not_tls', 'no_sni', 'not_allowed', 'hello_timeout', 'dns_failure',
  'upstream_unreachable', 'loop', 'limit', 'bad_proxy_header'] as const;

const skip = await prometheusAvailable();
if (skip !== false) {
  t.pass(`skipped: ${skip}`, { skip });
} else {
  await main();
}

async function main(): Promise<void> {
  const { ca, leaf, origin } = await startTlsOrigin('bytes', ['bytes.test', 'long.test'], (fn) => t.teardown(fn));
  const longOrigin = new Origin('long', leaf);
  await longOrigin.listen();
  t.teardown(() => longOrigin.close());
  const ownPort = await freePort();
  const closedPort = await freePort();
  const deadDns = await freePort(); // nothing answers DNS there: the resolver gets ECONNREFUSED
  const config = (maxConnections: number): string => `
listen:
  - address: "127.0.0.1:${ownPort}"
  - address: "127.0.0.1:0"
    proxy_protocol: true
    proxy_protocol_from: ["127.0.0.1/32"]
metrics:
  address: "127.0.0.1:0"
clients:
  allow: ["127.0.0.1/32", "127.0.0.4/32"]
limits:
  client_hello_timeout: 500ms
  connect_timeout: 2s
  max_connections: ${maxConnections}
  max_connections_per_client: 3
resolver:
  servers: ["127.0.0.1:${deadDns}"]
  timeout: 500ms
routes:
  - hosts: ["bytes.test"]
    upstream: "127.0.0.1:${origin.port}"
  - hosts: ["long.test"]
    upstream: "127.0.0.1:${longOrigin.port}"
  - hosts: ["nxdomain.test"]
    port: ${origin.port}
  - hosts: ["closed.test"]
    upstream: "127.0.0.1:${closedPort}"
  - hosts: ["loop.test"]
    upstream: "127.0.0.1:${ownPort}"
`;
  const d = await DaemonProcess.start(config(500));
  t.teardown(() => d.stop());
  const ppPort = d.listenerPort(1);
  const target = d.metricsUrl.replace('http://', '');
  const prom = await Prometheus.start([target], [RULES]);
  t.teardown(() => prom.stop());
  const promStartedAt = Date.now();

  const access = (match: (l: LogLine) => boolean): Promise<LogLine> => d.accessLine(match);

  // First, while Prometheus takes its few seconds to start scraping the new target.
  await t.test('workers: 2 — the aggregated /metrics lints clean, build_info is 1, limits sum', async (t) => {
    const wOrigin = new Origin('workers', leaf);
    await wOrigin.listen();
    t.teardown(() => wOrigin.close());
    const w = await DaemonProcess.start(loopbackConfig(`
workers: 2
limits:
  max_connections: 300
routes:
  - hosts: ["bytes.test"]
    upstream: "127.0.0.1:${wOrigin.port}"
`));
    t.teardown(() => w.stop());
    await w.waitFor((l) => l.msg === 'ready' && l['workers'] === 2);
    t.equal(await fetchHello({ port: w.listenerPort(), servername: 'bytes.test', caPem: ca.caPem }), 'hello from workers\n');
    await w.accessLine((l) => l['outcome'] === 'forwarded');
    const body = await (await fetch(`${w.metricsUrl}/metrics`)).text();
    const lint = await promtool(['check', 'metrics'], body);
    t.equal(lint.code, 0, 'promtool check metrics exits 0');
    t.equal(lint.stdout + lint.stderr, '', 'and prints nothing');
    const m = parseMetrics(body);
    t.equal(m.get(metric('sni_forwarder_build_info', { version: VERSION, node_version: process.version, data_path: 'user-buffers' })), 1, 'build_info 1, not 2');
    t.equal(m.get('sni_forwarder_max_connections'), 600, 'max_connections: 300 per worker, summed');
  });

  const refused = (opts: { servername: string; port?: number; localAddress?: string }): Promise<string> =>
    fetchHello({ port: opts.port ?? ownPort, servername: opts.servername, caPem: ca.caPem, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) })
      .then((body) => `unexpected answer: ${body}`, (err: unknown) => String(err));
  async function raw(send: string | null, from = '127.0.0.1'): Promise<void> {
    const s = connect({ port: ownPort, host: '127.0.0.1', localAddress: from });
    s.on('error', () => {});
    await once(s, 'connect');
    if (send !== null) s.write(send);
    await once(s, 'close');
  }

  // A keep-alive agent, destroyed after the transfer: with `Connection: close` node's https
  // server closes without reading the client's close_notify and the origin's count misses it.
  function transfer(agent: Agent, servername: string, method: 'GET' | 'POST', path: string): ReturnType<typeof httpsRequest> {
    return httpsRequest({ host: '127.0.0.1', port: ownPort, servername, ca: ca.caPem, method, path, agent });
  }

  await t.test('traffic of every outcome: counted, and promtool check metrics reports nothing', async (t) => {
    // forwarded: 1 MiB down and 256 KiB up on one connection to bytes.test.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = transfer(agent, 'bytes.test', 'GET', `/blob?size=${1024 * 1024}`);
    get.end();
    const [res] = (await once(get, 'response')) as [IncomingMessage];
    let down = 0;
    for await (const c of res) down += (c as Buffer).length;
    t.equal(down, 1024 * 1024, 'downloaded through the forwarder');
    const post = transfer(agent, 'bytes.test', 'POST', '/upload');
    post.setHeader('content-length', String(4 * PATTERN_CHUNK.length));
    for (let i = 0; i < 4; i++) post.write(PATTERN_CHUNK);
    post.end();
    const [up] = (await once(post, 'response')) as [IncomingMessage];
    let reply = '';
    for await (const c of up) reply += String(c);
    t.equal((JSON.parse(reply) as { bytes: number }).bytes, 4 * PATTERN_CHUNK.length, 'uploaded through the forwarder');
    agent.destroy();
    await access((l) => l['outcome'] === 'forwarded');

    t.match(await refused({ servername: 'denied.test' }), /unrecognized name|alert/i);
    await access((l) => l['outcome'] === 'not_allowed');
    t.match(await refused({ servername: '' }), /unrecognized name|alert/i);
    await access((l) => l['outcome'] === 'no_sni');
    await raw('GET / HTTP/1.1\r\nHost: bytes.test\r\n\r\n');
    await access((l) => l['outcome'] === 'not_tls');
    await raw(null);
    await access((l) => l['outcome'] === 'hello_timeout');
    t.match(await refused({ servername: 'nxdomain.test' }), /internal error|alert/i);
    await access((l) => l['outcome'] === 'dns_failure');
    t.match(await refused({ servername: 'closed.test' }), /internal error|alert/i);
    await access((l) => l['outcome'] === 'upstream_unreachable');
    t.match(await refused({ servername: 'loop.test' }), /internal error|alert/i);
    await access((l) => l['outcome'] === 'loop');
    await refused({ servername: 'bytes.test', localAddress: '127.0.0.2' });
    await access((l) => l['outcome'] === 'client_denied');
    await refused({ servername: 'bytes.test', port: ppPort });
    await access((l) => l['outcome'] === 'bad_proxy_header');
    // limit: three open connections from 127.0.0.4 (max_connections_per_client 3), then a fourth.
    const held: TLSSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const tcp = connect({ port: ownPort, host: '127.0.0.1', localAddress: '127.0.0.4' });
      const s = tlsConnect({ socket: tcp, servername: 'bytes.test', ca: ca.caPem });
      s.on('error', () => {});
      await once(s, 'secureConnect');
      held.push(s);
    }
    await raw(null, '127.0.0.4');
    await access((l) => l['outcome'] === 'limit');
    for (const s of held) s.end();
    await d.waitForCount((l) => l.msg === 'connection' && l['outcome'] === 'forwarded' && String(l['client']).startsWith('127.0.0.4:'), 3);

    const body = await (await fetch(`${d.metricsUrl}/metrics`)).text();
    const m = parseMetrics(body);
    for (const outcome of OUTCOMES) {
      const n = [...m.entries()].filter(([k]) => k.startsWith('sni_forwarder_connections_total{') && k.includes(`outcome="${outcome}"`)).reduce((a, [, v]) => a + v, 0);
      t.ok(n >= 1, `connections_total{outcome="${outcome}"} = ${n}`);
    }
    t.equal(m.get(metric('sni_forwarder_build_info', { version: VERSION, node_version: process.version, data_path: 'user-buffers' })), 1, `build_info{version="${VERSION}"} 1`);
    t.equal(m.get('sni_forwarder_max_connections'), 500, 'max_connections from the config');
    t.notOk(/nodejs_active_\w+_total/.test(body), 'no *_total gauges');
    t.ok(m.has(metric('nodejs_active_handles', { type: 'Socket' })), 'active handles still exported, under a conforming name');
    const lint = await promtool(['check', 'metrics'], body);
    t.equal(lint.code, 0, 'promtool check metrics exits 0');
    t.equal(lint.stdout + lint.stderr, '', 'and prints nothing');
  });

  await t.test('a reload updates max_connections; a rejected one is counted and alerted on', async (t) => {
    // Prometheus applies new targets after a few seconds: the failure counter's 0 must be
    // scraped before the rejected reload, or increase() has nothing to compare the 1 with.
    const up = await prom.waitForQuery('up{job="sni-forwarder"} == 1', (r) => r.length === 1);
    t.equal(up.length, 1, 'Prometheus is scraping the forwarder');
    writeFileSync(d.configFile, config(400));
    d.child.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded');
    let m = await d.metrics();
    t.equal(m.get('sni_forwarder_max_connections'), 400, 'max_connections follows the reload');
    t.equal(m.get(metric('sni_forwarder_config_reloads_total', { result: 'success' })), 1);
    writeFileSync(d.configFile, 'listen: [\n');
    d.child.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reload rejected: keeping the running configuration');
    m = await d.metrics();
    t.equal(m.get(metric('sni_forwarder_config_reloads_total', { result: 'failure' })), 1);
    t.equal(m.get('sni_forwarder_max_connections'), 400, 'unchanged by the rejected reload');
    const firing = await prom.waitForQuery('ALERTS{alertname="SniForwarderConfigReloadFailed", alertstate="firing"}', (r) => r.length > 0);
    t.equal(firing.length, 1, 'the real Prometheus fires SniForwarderConfigReloadFailed from the loaded rules');
    t.equal(firing[0]?.metric['instance'], target);
  });

  await t.test('a long transfer shows a non-zero rate() while it runs', async (t) => {
    const size = 64 * 1024 * 1024;
    const bytesPerSecond = 4 * 1024 * 1024; // at this pace the transfer would take 16 s or more
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const req = transfer(agent, 'long.test', 'GET', `/blob?size=${size}`);
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let received = 0;
    let paced = true;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        received += chunk.length;
        // Pacing the reader (not a synchronisation): the transfer lasts many scrape intervals.
        if (paced) setTimeout(done, (chunk.length / bytesPerSecond) * 1000);
        else done();
      },
    });
    const finished = pipeline(res, sink);
    const rateExpr = 'sum(rate(sni_forwarder_bytes_total{host="long.test", direction="download"}[5s]))';
    const rate = await prom.waitForQuery(rateExpr, (r) => Number(r[0]?.value[1] ?? 0) > 0);
    const seenAt = received;
    const open = d.lines.some((l) => l.msg === 'connection' && l['host'] === 'long.test');
    const active = await prom.query('sni_forwarder_active_connections{host="long.test"}');
    t.ok(Number(rate[0]?.value[1] ?? 0) > 0, `rate() = ${Number(rate[0]?.value[1] ?? 0).toFixed(0)} B/s during the transfer`);
    t.ok(seenAt < size, `seen after ${(seenAt / 1048576).toFixed(1)} of ${size / 1048576} MiB`);
    t.notOk(open, 'no access line yet: the connection is still open');
    t.equal(active.data?.result[0]?.value[1], '1', 'Prometheus sees it as an active connection');
    paced = false;
    await finished;
    agent.destroy();
    t.equal(received, size, 'the transfer then completes');
    await access((l) => l['host'] === 'long.test');
  });

  await t.test('Prometheus: sum by (host, direction) of bytes_total equals the origins counts', async (t) => {
    const want = (): Record<string, number> => {
      const b = origin.totals();
      const l = longOrigin.totals();
      const out: Record<string, number> = { 'bytes.test/upload': b.upload, 'bytes.test/download': b.download, 'long.test/upload': l.upload, 'long.test/download': l.download };
      for (const h of ['nxdomain.test', 'closed.test', 'loop.test']) for (const dir of ['upload', 'download']) out[`${h}/${dir}`] = 0;
      return out;
    };
    const asMap = (r: VectorSample[]): Record<string, number> => Object.fromEntries(r.map((s) => [`${s.metric['host'] ?? ''}/${s.metric['direction'] ?? ''}`, Number(s.value[1])]));
    // Waits until every origin connection has closed and the last scrape carries the final counts.
    const result = await prom.waitForQuery('sum by (host, direction) (sni_forwarder_bytes_total)', (r) => isDeepStrictEqual(asMap(r), want()));
    const forwarded = (host: string): number => d.lines.filter((l) => l.msg === 'connection' && l['host'] === host && l['outcome'] === 'forwarded').length;
    t.equal(origin.closed.length, forwarded('bytes.test'), 'bytes.test: every forwarded connection closed at the origin');
    t.equal(longOrigin.closed.length, forwarded('long.test'), 'long.test: likewise');
    t.same(asMap(result), want(), 'per host and direction, as Prometheus scraped it');
    t.ok(want()['bytes.test/download']! > 1024 * 1024 && want()['long.test/download']! > 64 * 1024 * 1024, 'real transfers behind the numbers');
    const notAllowed = await prom.waitForQuery('sni_forwarder_connections_total{outcome="not_allowed"}', (r) => Number(r[0]?.value[1] ?? 0) >= 1);
    t.equal(notAllowed.length, 1, 'connections_total{outcome="not_allowed"} is scraped');
    t.equal(notAllowed[0]?.metric['host'], undefined, 'host="" (Prometheus drops empty labels)');
    t.ok(Number(notAllowed[0]?.value[1]) >= 1);
  });

  await t.test('the rules load into Prometheus and evaluate without errors', async (t) => {
    const rules = await prom.api<unknown>('/api/v1/rules', {});
    const groups = (rules.data as unknown as { groups: { rules: { name: string; health: string; lastError?: string }[] }[] }).groups;
    const all = groups.flatMap((g) => g.rules);
    t.equal(all.length, 11, 'every rule of the file');
    for (const r of all) t.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? 'evaluated'}`);
    const rec = await prom.waitForQuery('host_direction:sni_forwarder_bytes:rate5m{host="long.test", direction="download"}', (r) => Number(r[0]?.value[1] ?? 0) > 0);
    t.ok(Number(rec[0]?.value[1] ?? 0) > 0, 'the per-host throughput recording rule has the long transfer');
  });

  await t.test('every dashboard query parses and returns data from the real Prometheus', async (t) => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    t.equal(dash.templating.list.find((v) => v.name === 'datasource')?.query, 'prometheus', 'a Prometheus data source variable');
    const substitute = (expr: string): string => expr
      .replaceAll('$__rate_interval', '5s').replaceAll('$instance', '.*').replaceAll('$host', '.*');
    for (const v of dash.templating.list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(substitute(v.definition ?? ''));
      t.ok(m, `variable ${v.name}: label_values(selector, label)`);
      const values = await prom.api<string[]>(`/api/v1/label/${m?.[2] ?? ''}/values`, { 'match[]': m?.[1] ?? '' });
      t.equal(values.status, 'success', `variable ${v.name} query runs`);
      t.ok((values.data as unknown as string[]).length > 0, `variable ${v.name}: ${JSON.stringify(values.data)}`);
    }
    const panels = dash.panels.filter((p) => p.type !== 'row');
    const exprs = panels.flatMap((p) => p.targets.map((x) => x.expr));
    for (const name of ['sni_forwarder_bytes_total', 'sni_forwarder_connections_total', 'sni_forwarder_active_connections',
      'sni_forwarder_upstream_connect_duration_seconds_bucket', 'sni_forwarder_client_hello_bytes_bucket', 'sni_forwarder_config_reloads_total']) {
      t.ok(exprs.some((e) => e.includes(name)), `a panel shows ${name}`);
    }
    t.ok(exprs.some((e) => e.includes('histogram_quantile(0.5,') && e.includes('upstream_connect')) && exprs.some((e) => e.includes('histogram_quantile(0.99,') && e.includes('upstream_connect')), 'connect latency p50 and p99');
    const seconds = Math.ceil((Date.now() - promStartedAt) / 1000);
    for (const p of panels) {
      t.equal(p.datasource.uid, '${datasource}', `${p.title}: uses the datasource variable`);
      for (const target of p.targets) {
        const expr = substitute(target.expr);
        t.notMatch(expr, /\$/, `${p.title}: every variable substituted`);
        const instant = await prom.query(expr);
        t.equal(instant.status, 'success', `${p.title} ${target.refId}: instant query ${instant.error ?? ''}`);
        t.ok((instant.data?.result.length ?? 0) > 0, `${p.title} ${target.refId}: instant result not empty`);
        const range = await prom.queryRange(expr, seconds);
        t.equal(range.status, 'success', `${p.title} ${target.refId}: range query ${range.error ?? ''}`);
        const points = (range.data?.result ?? []).reduce((n, s) => n + s.values.length, 0);
        t.ok(points > 0, `${p.title} ${target.refId}: ${range.data?.result.length ?? 0} series, ${points} points over ${seconds} s`);
      }
    }
  });

}

interface Dashboard {
  panels: { type: string; title: string; datasource: { uid: string }; targets: { refId: string; expr: string }[] }[];
  templating: { list: { name: string; type: string; query?: unknown; definition?: string }[] };
}
