// MetricsServer's status page on a real loopback socket, with metrics sources that misbehave.
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { MetricsServer, type MetricsSource } from '../../src/observe/http.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { RouteRow } from '../../src/observe/status-page.js';

async function serve(t: Test, source: MetricsSource, routes: (() => RouteRow[]) | null = null): Promise<string> {
  const http = new MetricsServer(source, () => true, routes);
  const bound = await http.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => http.close());
  return `http://127.0.0.1:${bound.port}`;
}

await t.test('GET / renders the registry and the routes of the moment', async (t) => {
  const m = new Metrics(new Registry(), { defaultMetrics: false });
  m.touchHost('a.test');
  let routes: RouteRow[] = [{ pattern: 'a.test', target: '10.0.0.1:443', origin: 'config.yaml:3:5', resolver: null }];
  const base = await serve(t, m.registry, () => routes);
  const first = await fetch(`${base}/`);
  t.equal(first.status, 200);
  t.equal(first.headers.get('cache-control'), 'no-store');
  t.match(await first.text(), '<code>10.0.0.1:443</code>');
  routes = [{ pattern: 'b.test', target: '10.0.0.2:443', origin: 'config.yaml:3:5', resolver: null }];
  m.countOutcome('a.test', 'upstream_unreachable');
  const second = await (await fetch(`${base}/?x=1`)).text();
  t.match(second, '<code>10.0.0.2:443</code>', 'asked again on every request');
  t.match(second, 'data-key="failed" data-value="1"', 'and the metrics too');
});

await t.test('a failing metrics source is a 500 with the reason, not a crash', async (t) => {
  const base = await serve(t, { contentType: 'text/plain', metrics: () => Promise.reject(new Error('workers did not answer')) });
  const res = await fetch(`${base}/`);
  t.equal(res.status, 500);
  t.equal(await res.text(), 'status page failed: Error: workers did not answer\n');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'the server still answers');
});

await t.test('a foreign exposition is rendered escaped', async (t) => {
  const text = 'sni_forwarder_connections_total{host="<img src=x>",outcome="not_allowed"} 2\n';
  const base = await serve(t, { contentType: 'text/plain', metrics: () => Promise.resolve(text) });
  const html = await (await fetch(`${base}/`)).text();
  t.notMatch(html, '<img');
  t.match(html, '<td class="name" data-key="host" title="&lt;img src=x&gt;">&lt;img src=x&gt;</td>');
  t.match(html, 'Routes are not available here.');
});

await t.test('unknown paths list the status page', async (t) => {
  const base = await serve(t, { contentType: 'text/plain', metrics: () => Promise.resolve('') });
  const res = await fetch(`${base}/nope`);
  t.equal(res.status, 404);
  t.equal(await res.text(), 'not found: try /, /metrics, /healthz, /readyz\n');
});
