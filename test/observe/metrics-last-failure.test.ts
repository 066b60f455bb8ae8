// Metrics recorded by countOutcome: the outcome counter and the last-failure time.
import { Registry } from 'prom-client';
import t from 'tap';
import { Metrics } from '../../src/observe/metrics.js';

const T0 = Date.UTC(2026, 10, 28, 10, 0, 0); // ms

function metrics(): Metrics {
  return new Metrics(new Registry(), { defaultMetrics: false });
}

await t.test('countOutcome stamps failures, not forwarded connections', async (t) => {
  const m = metrics();
  m.countOutcome('a.test', 'forwarded', T0);
  m.countOutcome('a.test', 'limit', T0 + 1500);
  m.countOutcome('a.test', 'limit', T0 + 2500);
  m.countOutcome('', 'no_sni', T0 + 100);
  const values = (await m.lastFailure.get()).values.map((v) => [v.labels, v.value]);
  t.same(values, [[{ host: 'a.test', outcome: 'limit' }, (T0 + 2500) / 1000], [{ host: '', outcome: 'no_sni' }, (T0 + 100) / 1000]],
    'one series per host and failed outcome, holding the latest time');
  const counts = (await m.connections.get()).values.map((v) => [v.labels.outcome, v.value]);
  t.same(counts, [['forwarded', 1], ['limit', 2], ['no_sni', 1]]);
});
