// LogBudget (how many refusal lines a flood may write) and the access line that carries the
// count of the lines it left out.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { LogBudget, createLogger, recordAccess, type AccessRecord } from '../../src/observe/log.js';
import { Metrics } from '../../src/observe/metrics.js';

await t.test('at most `max` lines per interval; the rest are counted and reported once', (t) => {
  let now = 1_000;
  const budget = new LogBudget(3, 10_000, () => now);
  t.same([budget.allow(), budget.allow(), budget.allow(), budget.allow(), budget.allow()], [true, true, true, false, false]);
  t.same(budget.takeSuppressed(), { suppressed: 2 }, 'two lines left out');
  t.same(budget.takeSuppressed(), {}, 'reported once, then nothing');
  now += 9_999;
  t.equal(budget.allow(), false, 'still the same interval');
  now += 1;
  t.same([budget.allow(), budget.allow(), budget.allow(), budget.allow()], [true, true, true, false], 'a new interval, a new budget');
  t.same(budget.takeSuppressed(), { suppressed: 2 });
  t.end();
});

await t.test('the access line written after refusals carries `suppressed`, and only that one', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const metrics = new Metrics(new Registry(), { defaultMetrics: false });
  const budget = new LogBudget(1, 60_000, () => 0);
  const record: AccessRecord = {
    conn: 1, client: '10.0.0.1:5000', peer: null, listener: '0.0.0.0:443', sni: null, host: '', upstream: null,
    outcome: 'limit', bytesUp: 0, bytesDown: 0, durationMs: 0.1, connectMs: null, reason: 'max_connections 1 reached', code: null, reset: null, attempts: [],
  };
  for (let i = 0; i < 4; i++) recordAccess(budget.allow() ? log : null, metrics, { ...record, conn: i + 1 }, budget);
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.same(lines.map((l) => [l['conn'], l['suppressed']]), [[1, undefined]], 'one line within the budget, nothing suppressed yet');
  const counted = (await metrics.registry.getSingleMetricAsString('sni_forwarder_connections_total')).split('\n').find((l) => l.includes('outcome="limit"'));
  t.match(counted, / 4$/, 'the metrics count every connection regardless');
  // The next line allowed (a new interval) reports the two left out before it.
  let now = 0;
  const rolling = new LogBudget(1, 60_000, () => now);
  recordAccess(rolling.allow() ? log : null, metrics, { ...record, conn: 10 }, rolling);
  recordAccess(rolling.allow() ? log : null, metrics, { ...record, conn: 11 }, rolling);
  recordAccess(rolling.allow() ? log : null, metrics, { ...record, conn: 12 }, rolling);
  now = 60_000;
  recordAccess(rolling.allow() ? log : null, metrics, { ...record, conn: 13 }, rolling);
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.same(lines.slice(1).map((l) => [l['conn'], l['suppressed']]), [[10, undefined], [13, 2]]);
});

await t.test('createLogger writes whole lines, any characters, in batches (buffer mode)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sni-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, 'out'), 'w');
  const log = createLogger('info', () => {}, fd);
  const names = ['ascii', 'é€ and 🙂', 'quote " backslash \\ newline \n', 'x'.repeat(5000)];
  for (let i = 0; i < 200; i++) log.info({ i, name: names[i % names.length] }, 'line');
  await new Promise<void>((resolve, reject) => log.flush((err) => (err ? reject(err) : resolve())));
  closeSync(fd);
  const lines = readFileSync(join(dir, 'out'), 'utf8').split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  const parsed = lines.map((l) => JSON.parse(l) as { i: number; name: string; msg: string; time: string; pid: number });
  t.same(parsed.map((p) => p.i), [...Array(200).keys()], 'every line, in order');
  t.ok(parsed.every((p, i) => p.name === names[i % names.length] && p.msg === 'line' && p.pid === process.pid), 'every byte intact');
  t.ok(parsed.every((p) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(p.time)), 'ISO time');
});
