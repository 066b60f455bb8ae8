// The exposition reader against what prom-client really writes, plus malformed lines.
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { parseExposition, parseSampleLine } from '../../src/observe/exposition.js';
import { FC_SEED, runs } from '../helpers/parser-properties.js';

await t.test('reads every sample prom-client writes, label escapes included', async (t) => {
  const registry = new Registry();
  const c = new Counter({ name: 'x_total', help: 'h', labelNames: ['host', 'k'], registers: [registry] });
  const awkward = 'a"b\\c\nd,e}f=g';
  c.inc({ host: awkward, k: '' }, 3);
  c.inc({ host: 'plain', k: 'v' }, 1.5);
  new Gauge({ name: 'g', help: 'h', registers: [registry] }).set(-2e-7);
  new Histogram({ name: 'h_seconds', help: 'h', buckets: [1], registers: [registry] }).observe(0.5);
  const samples = parseExposition(await registry.metrics());
  t.same(samples.filter((s) => s.name === 'x_total'), [
    { name: 'x_total', labels: { host: awkward, k: '' }, value: 3 },
    { name: 'x_total', labels: { host: 'plain', k: 'v' }, value: 1.5 },
  ]);
  t.same(samples.find((s) => s.name === 'g'), { name: 'g', labels: {}, value: -2e-7 });
  t.same(samples.filter((s) => s.name === 'h_seconds_bucket').map((s) => [s.labels['le'], s.value]), [['1', 1], ['+Inf', 1]]);
  t.equal(samples.find((s) => s.name === 'h_seconds_count')?.value, 1);
});

await t.test('special values and a trailing timestamp', (t) => {
  t.same(parseSampleLine('a +Inf'), { name: 'a', labels: {}, value: Infinity });
  t.same(parseSampleLine('a -Inf'), { name: 'a', labels: {}, value: -Infinity });
  t.ok(Number.isNaN(parseSampleLine('a NaN')?.value));
  t.same(parseSampleLine('a{b="c"} 4 1700000000000'), { name: 'a', labels: { b: 'c' }, value: 4 });
  t.same(parseSampleLine('a{b="c",} 4'), { name: 'a', labels: { b: 'c' }, value: 4 }, 'trailing comma is allowed by the format');
  t.end();
});

await t.test('malformed lines are skipped', (t) => {
  const bad = [
    '1a 2', 'a', 'a ', 'a x', 'a 1 2 3', 'a{ 1', 'a{b} 1', 'a{b=c} 1', 'a{b="c} 1', 'a{b="c\\x"} 1',
    'a{b="c"d="e"} 1', 'a{b="c"}1', 'a{"b"="c"} 1',
  ];
  for (const line of bad) t.equal(parseSampleLine(line), undefined, JSON.stringify(line));
  t.same(parseExposition(['# HELP a x', 'a{', 'a 1', '', 'garbage here'].join('\n')), [{ name: 'a', labels: {}, value: 1 }]);
  t.end();
});

await t.test(`random text never throws (seed ${FC_SEED})`, (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
    parseExposition(s);
    parseExposition(`a{${s}} 1`);
  }), runs(2000));
  t.pass('no exception');
  t.end();
});
