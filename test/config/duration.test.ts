import t from 'tap';
import { formatDuration, parseDuration, parseSize } from '../../src/config/duration.js';

await t.test('parseDuration accepts the documented grammar', (t) => {
  const cases: [string, number][] = [
    ['250ms', 250], ['0ms', 0], ['0s', 0], ['5s', 5_000], ['10m', 600_000], ['1h', 3_600_000],
    ['1m30s', 90_000], ['1h30m', 5_400_000], ['2h0m5s', 7_205_000], ['1s500ms', 1_500], ['1h1m1s1ms', 3_661_001],
    ['90s', 90_000], ['999999999ms', 999_999_999],
  ];
  for (const [s, want] of cases) t.equal(parseDuration(s), want, s);
  t.end();
});

await t.test('parseDuration refuses everything else', (t) => {
  const bad = ['', '5', '5 s', ' 5s', '5s ', '-5s', '+5s', '1.5s', '5S', '5sec', '1d', '30s1m', '1m1m', 'ms', 's',
    '5msms', '1h-1m', '0x10s', '1e3ms', '5s5', '1234567890s'];
  for (const s of bad) t.equal(parseDuration(s), undefined, JSON.stringify(s));
  t.end();
});

await t.test('formatDuration picks the largest exact unit', (t) => {
  const cases: [number, string][] = [[0, '0ms'], [250, '250ms'], [5_000, '5s'], [600_000, '10m'], [3_600_000, '1h'],
    [90_000, '90s'], [1_500, '1500ms']];
  for (const [ms, want] of cases) {
    t.equal(formatDuration(ms), want, String(ms));
    t.equal(parseDuration(want), ms, `${want} round-trips`);
  }
  t.end();
});

await t.test('parseSize accepts bytes and binary units only', (t) => {
  const cases: [string, number | undefined][] = [
    ['0', 0], ['65536', 65_536], ['64KiB', 65_536], ['1MiB', 1_048_576], ['2GiB', 2 * 1024 ** 3], ['10B', 10],
    ['', undefined], ['64KB', undefined], ['64kib', undefined], ['64 KiB', undefined], ['-1', undefined],
    ['1.5MiB', undefined], ['KiB', undefined], ['999999999999999GiB', undefined],
  ];
  for (const [s, want] of cases) t.equal(parseSize(s), want, JSON.stringify(s));
  t.end();
});
