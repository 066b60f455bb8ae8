// The per-host plain counts (handed to prom-client when read) against prom-client updated
// directly, call for call: the exposition must be the same.
import { Registry } from 'prom-client';
import t from 'tap';
import { Metrics } from '../../src/observe/metrics.js';

await t.test('counts kept as plain numbers read exactly as prom-client updated per call', async (t) => {
  const plain = new Metrics(new Registry(), { defaultMetrics: false });
  const direct = new Metrics(new Registry(), { defaultMetrics: false });
  for (const m of [plain, direct]) m.touchHost('registry.example.com');
  const steps: [string, string, number, number][] = [
    ['', 'registry.example.com', 120, 4000],
    ['', '*.example.org', 0, 77],
    ['', 'registry.example.com', 5, 0],
  ];
  let read = '';
  for (const [i, [from, to, up, down]] of steps.entries()) {
    plain.addActive(from, 1);
    direct.active.inc({ host: from });
    plain.addActive(from, -1);
    plain.addActive(to, 1);
    direct.active.dec({ host: from });
    direct.active.inc({ host: to });
    plain.addBytes(to, up, down);
    if (up > 0) direct.bytes.inc({ host: to, direction: 'upload' }, up);
    if (down > 0) direct.bytes.inc({ host: to, direction: 'download' }, down);
    plain.observeUpstreamConnect(to, 0.003 * (i + 1));
    direct.upstreamConnectDuration.observe({ host: to }, 0.003 * (i + 1));
    if (i === 1) read = await plain.registry.metrics(); // a scrape in between hands over what is pending
    plain.addActive(to, -1);
    direct.active.dec({ host: to });
    for (const m of [plain, direct]) m.countOutcome(to, i === 2 ? 'upstream_unreachable' : 'forwarded', 1_700_000_000_000);
    plain.observeConnectionDuration(to, 0.5 * i);
    direct.connectionDuration.observe({ host: to }, 0.5 * i);
  }
  plain.countOutcome('', 'not_tls', 1_700_000_000_000);
  direct.countOutcome('', 'not_tls', 1_700_000_000_000);
  t.match(read, /sni_forwarder_active_connections\{host="\*\.example\.org"\} 1/, 'a scrape sees the counts so far');
  t.equal(await plain.registry.metrics(), await direct.registry.metrics());
  t.equal(await plain.registry.metrics(), await direct.registry.metrics(), 'and again: nothing handed over twice');
  const json = await plain.registry.getMetricsAsJSON();
  t.ok(json.some((m) => m.name === 'sni_forwarder_connections_total' && m.values.length === 4), 'the JSON the cluster aggregates reads them too');
});
