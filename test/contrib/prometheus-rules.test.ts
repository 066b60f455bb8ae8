// contrib/prometheus/sni-forwarder.rules.yaml (issue 9): promtool accepts the rules, its unit
// tests pass, every alert has a firing and a not-firing case, and those cases can fail: an alert
// whose expression never fires (or always fires) makes `promtool test rules` fail.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { prometheusAvailable, promtool } from '../helpers/prometheus.js';

const DIR = resolve(import.meta.dirname, '../../../contrib/prometheus');
const RULES = join(DIR, 'sni-forwarder.rules.yaml');
const TESTS = join(DIR, 'sni-forwarder.rules.test.yaml');
const skip = await prometheusAvailable();

interface Rule { alert?: string; record?: string; expr: string }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface AlertCase { eval_time: string; alertname: string; exp_alerts?: unknown[] }
interface TestFile { rule_files: string[]; tests: { alert_rule_test?: AlertCase[] }[] }

const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined).map((r) => r.alert!);

await t.test('promtool check rules accepts the file', { skip }, async (t) => {
  const r = await promtool(['check', 'rules', RULES]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /SUCCESS: 11 rules found/);
});

await t.test('the alerts an operator needs are all there', (t) => {
  t.same([...alerts].sort(), [
    'SniForwarderConfigReloadFailed', 'SniForwarderConnectionsNearLimit', 'SniForwarderDnsFailures', 'SniForwarderDown',
    'SniForwarderProbing', 'SniForwarderStaleDns', 'SniForwarderUpstreamUnreachable',
  ]);
  t.end();
});

await t.test('every alert has a firing and a not-firing unit test', (t) => {
  const tests = parse(readFileSync(TESTS, 'utf8')) as TestFile;
  const cases = tests.tests.flatMap((c) => c.alert_rule_test ?? []);
  for (const alert of alerts) {
    const mine = cases.filter((c) => c.alertname === alert);
    t.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} fires in a test`);
    t.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} is expected silent in a test`);
  }
  t.end();
});

await t.test('promtool test rules passes', { skip }, async (t) => {
  const r = await promtool(['test', 'rules', TESTS]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /SUCCESS/);
});

await t.test('the unit tests catch an alert that never fires or always fires', { skip }, async (t) => {
  const mutations = alerts.flatMap((alert) => [['never fires', 'vector(0) > 1'], ['always fires', 'vector(1)']].map(([what, expr]) => ({ alert, what, expr })));
  // Each mutation in its own directory, all at once: promtool mostly waits, so this is quick.
  const results = await Promise.all(mutations.map(async ({ alert, expr }) => {
    const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-rules-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    copyFileSync(TESTS, join(dir, 'sni-forwarder.rules.test.yaml'));
    const broken = parse(readFileSync(RULES, 'utf8')) as RuleFile;
    for (const rule of broken.groups.flatMap((g) => g.rules)) if (rule.alert === alert) rule.expr = expr!;
    writeFileSync(join(dir, 'sni-forwarder.rules.yaml'), JSON.stringify(broken));
    return promtool(['test', 'rules', join(dir, 'sni-forwarder.rules.test.yaml')]);
  }));
  mutations.forEach(({ alert, what }, i) => {
    const r = results[i]!;
    t.not(r.code, 0, `${alert} when it ${what}: promtool test rules fails`);
    t.match(r.stdout + r.stderr, new RegExp(`alertname: ${alert}\\b`), `the failure names ${alert}`);
  });
});
