// The status page's HTML: every value escaped, a self-contained document that refreshes itself.
import { Registry } from 'prom-client';
import t from 'tap';
import { parseExposition } from '../../src/observe/exposition.js';
import { Metrics } from '../../src/observe/metrics.js';
import { buildStatusReport } from '../../src/observe/status.js';
import { escapeHtml, renderStatusPage, STATUS_REFRESH_SECONDS } from '../../src/observe/status-page.js';

const HOSTILE = `<script>alert("x")</script>'&amp;`;
const ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;amp;';

await t.test('escapeHtml', (t) => {
  t.equal(escapeHtml(HOSTILE), ESCAPED);
  t.equal(escapeHtml('registry.example.com'), 'registry.example.com');
  t.end();
});

async function page(host: string, routes = [{ pattern: host, target: `${host}:443 <b>`, origin: `"${host}"`, resolver: 'default' }]): Promise<string> {
  const m = new Metrics(new Registry(), { defaultMetrics: false });
  m.touchHost(host);
  m.bytes.inc({ host, direction: 'upload' }, 10);
  m.countOutcome(host, 'upstream_unreachable', 1_000_000_000); // ms: 1,000,000 s
  return renderStatusPage(buildStatusReport(parseExposition(await m.registry.metrics())), routes, 1_000_010);
}

await t.test('label values and routes are escaped wherever they appear', async (t) => {
  const html = await page(HOSTILE);
  t.notMatch(html, /<script/i, 'no script element');
  t.notMatch(html, ':443 <b>', 'no markup from a route target');
  t.match(html, `<td class="name" data-key="host" title="${ESCAPED}">${ESCAPED}</td>`, 'the host cell and its title');
  t.match(html, `data-host="${ESCAPED}"`, 'the row attribute');
  t.match(html, `<code>${ESCAPED}:443 &lt;b&gt;</code>`, 'the route target');
  t.match(html, `&quot;${ESCAPED}&quot;`, 'the route origin');
  // Every attribute value is quoted and free of raw quotes: count quotes per tag.
  for (const tag of html.match(/<[a-z][^>]*>/g) ?? []) t.equal((tag.match(/"/g) ?? []).length % 2, 0, tag);
});

await t.test('a self-contained page that refreshes itself', async (t) => {
  const html = await page('a.test');
  t.match(html, /^<!DOCTYPE html>/);
  t.match(html, `<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">`);
  t.notMatch(html, /<script|<link|<img|<iframe|src=|url\(|@import/i, 'nothing loaded, nothing run');
  t.same([...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]), ['/metrics'], 'the one link is relative');
  t.match(html, '<td data-key="last_failure" data-value="1000000" title="1970-01-12 13:46:40 UTC">upstream_unreachable, 10 s ago</td>');
  t.match(html, '<td class="n bad" data-key="failed" data-value="1" title="upstream_unreachable 1">1</td>', 'a failure count stands out, its outcome in the title');
  t.match(html, '<td class="n" data-key="refused" data-value="0">0</td>', 'refusals apart from failures');
  t.match(html, '<tr data-outcome="upstream_unreachable"><td data-key="outcome"><code>upstream_unreachable</code></td><td data-key="kind">failed</td>' +
    '<td class="n" data-key="count" data-value="1">1</td><td data-key="last" title="1970-01-12 13:46:40 UTC">10 s ago</td>' +
    '<td class="wrap" data-key="hosts">a.<wbr>test 1</td></tr>', 'the outcome table');
  t.match(html, '<h2>Routes (1)</h2>');
  t.match(html, '<dd id="listeners">-</dd>');
  t.match(html, '<p class="alert" id="not-ready">', 'a daemon whose ready gauge is 0 says so');
});

await t.test('a rejected reload is an alert at the top', async (t) => {
  const m = new Metrics(new Registry(), { defaultMetrics: false });
  m.ready.set(1);
  m.recordReload('failure', 1_000_000_000);
  const html = renderStatusPage(buildStatusReport(parseExposition(await m.registry.metrics())), [], 1_000_003);
  t.match(html, '<p class="alert" id="reload-rejected">Last reload REJECTED 3 s ago (1970-01-12 13:46:40 UTC, 1 since start): ' +
    'the daemon runs the configuration it had before; the journal says why (&quot;reload rejected&quot;).</p>');
  t.match(html, '<dd id="reload" class="bad">REJECTED 3 s ago');
  t.notMatch(html, 'id="not-ready"');
});

await t.test('routes: none configured, or not known', async (t) => {
  t.match(await page('a.test', []), 'No routes configured');
  const m = new Metrics(new Registry(), { defaultMetrics: false });
  const html = renderStatusPage(buildStatusReport(parseExposition(await m.registry.metrics())), null, 0);
  t.match(html, 'Routes are not available here.');
  t.match(html, '<tr data-host=""><td class="name" data-key="host" title="(no route)">(no route)</td>', 'a fresh daemon has the unrouted row');
  t.match(html, '<p class="muted" id="outcomes">None since start.</p>', 'no outcome table before any refusal or failure');
  t.same(html.match(/<th[ >]/g)?.length, 8, 'the host table has its fixed columns');
});
