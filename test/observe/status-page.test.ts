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
  t.match(html, `<td data-key="host">${ESCAPED}</td>`, 'the host cell');
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
  t.match(html, '<td class="n bad" data-key="refused:upstream_unreachable" data-value="1">1</td>', 'a failure count stands out');
  t.match(html, '<th class="group" colspan="1">refused or failed</th>');
  t.match(html, '<th class="n" data-key="refused:upstream_unreachable">upstream_<wbr>unreachable</th>', 'long outcome names may wrap');
  t.match(html, '<h2>Routes (1)</h2>');
});

await t.test('routes: none configured, or not known', async (t) => {
  t.match(await page('a.test', []), 'No routes configured');
  const m = new Metrics(new Registry(), { defaultMetrics: false });
  const html = renderStatusPage(buildStatusReport(parseExposition(await m.registry.metrics())), null, 0);
  t.match(html, 'Routes are not available here.');
  t.match(html, '<tr data-host=""><td data-key="host">(no route)</td>', 'a fresh daemon has the unrouted row');
  t.notMatch(html, 'refused or failed', 'no failure columns before any failure');
});
