// The pure parts of `status`: which URL it asks, and the aligned text table.
import { Registry } from 'prom-client';
import t from 'tap';
import { describeStatus, metricsUrl, metricsUrlFor } from '../../src/commands/status.js';
import { parseExposition } from '../../src/observe/exposition.js';
import { Metrics } from '../../src/observe/metrics.js';
import { buildStatusReport } from '../../src/observe/status.js';

await t.test('--metrics URL: a bare address or origin gets /metrics, other paths are kept', (t) => {
  const cases: [string, string][] = [
    ['127.0.0.1:9464', 'http://127.0.0.1:9464/metrics'],
    ['http://10.0.0.5:9464', 'http://10.0.0.5:9464/metrics'],
    ['http://10.0.0.5:9464/', 'http://10.0.0.5:9464/metrics'],
    ['https://bastion.example/forwarder/metrics', 'https://bastion.example/forwarder/metrics'],
    ['[::1]:9464', 'http://[::1]:9464/metrics'],
  ];
  for (const [input, want] of cases) t.equal(metricsUrl(input), want, input);
  t.throws(() => metricsUrl('http://'), { message: '--metrics: not a URL: "http://"' });
  t.throws(() => metricsUrl('file:///etc/passwd'), { message: /expected an http or https URL/ });
  t.end();
});

await t.test('metrics.address: wildcards are asked on loopback', (t) => {
  t.equal(metricsUrlFor({ host: '0.0.0.0', port: 9464 }), 'http://127.0.0.1:9464/metrics');
  t.equal(metricsUrlFor({ host: '::', port: 9464 }), 'http://[::1]:9464/metrics');
  t.equal(metricsUrlFor({ host: '10.0.0.5', port: 80 }), 'http://10.0.0.5:80/metrics');
  t.end();
});

await t.test('status fits 100 columns: long names shortened in the middle, refusals apart from failures', async (t) => {
  const m = new Metrics(new Registry(), { defaultMetrics: false, version: '1.2.3' });
  const long = `${'a'.repeat(70)}.registry-vpc.cn-beijing.aliyuncs.com`;
  m.touchHost(long);
  m.ready.set(1);
  m.setListeners([{ listener: '0.0.0.0:443', protocol: 'tls', inherited: true }]);
  m.bytes.inc({ host: long, direction: 'download' }, 5 * 1024 ** 4);
  for (const o of ['not_allowed', 'no_sni', 'not_tls', 'client_denied', 'limit', 'hello_timeout', 'loop', 'bad_proxy_header'] as const) {
    m.countOutcome('', o, 1_000_000);
  }
  m.countOutcome(long, 'dns_failure', 1_000_000);
  m.countOutcome(long, 'upstream_unreachable', 1_000_000);
  m.recordReload('failure', 1_000_000);
  const lines = describeStatus(buildStatusReport(parseExposition(await m.registry.metrics())), 1042, 'http://127.0.0.1:9464/metrics');
  t.ok(lines.every((l) => l.length <= 100), `widest line ${Math.max(...lines.map((l) => l.length))}`);
  const row = lines.find((l) => l.startsWith('aaaa'));
  t.match(row, /^a+…[a-z.-]*\.aliyuncs\.com +0 B +5\.00 TiB +0 +0 +0 +2$/, 'the host shortened in the middle, the figures whole');
  t.equal(lines.indexOf('failed (the upstream could not be reached):') > lines.indexOf('refused (the policy, a limit or the client said no):'), true);
  t.same(lines.filter((l) => /^ {2}(dns_failure|upstream_unreachable) /.test(l)).length, 2, 'the two failures under failed');
  t.same(lines.filter((l) => /^ {2}(not_allowed|no_sni|not_tls|client_denied|limit|hello_timeout|loop|bad_proxy_header) /.test(l)).length, 8);
  t.match(lines.join('\n'), /\nlisteners: 0\.0\.0\.0:443 tls \(from systemd\)\nlast reload: REJECTED 42 s ago/);
});

await t.test('the text table is aligned, numbers to the right, and control characters never reach the terminal', async (t) => {
  const m = new Metrics(new Registry(), { defaultMetrics: false, version: '1.2.3' });
  m.touchHost('registry.example.com');
  m.touchHost('x\u001b[2Jy');
  m.bytes.inc({ host: 'registry.example.com', direction: 'download' }, 123_456_789);
  m.countOutcome('registry.example.com', 'forwarded', 1_000_000);
  m.countOutcome('', 'not_allowed', 1_000_000); // ms: 42 s before the table's 1042 s
  m.setRoutes([{ host: 'registry.example.com', resolver: 'aws' }, { host: 'x\u001b[2Jy', resolver: null }]);
  m.touchResolver('default');
  m.touchResolver('aws');
  m.dnsLookups.inc({ resolver: 'aws', result: 'miss' });
  // Label values come from the exposition, not from a validated config: escaped all the same.
  m.dnsLookups.inc({ resolver: 'e\u001b[2J', result: 'hit' });
  const report = buildStatusReport(parseExposition(await m.registry.metrics()));
  const lines = describeStatus(report, 1042, 'http://127.0.0.1:9464/metrics');
  t.same(lines, [
    'http://127.0.0.1:9464/metrics: version 1.2.3, ready NO, active 0, forwarded 1, refused 1, failed 0,',
    '  upload 0 B, download 118 MiB',
    'listeners: -',
    'last reload: none since start',
    '',
    'host                  upload  download  active  forwarded  refused  failed',
    'registry.example.com     0 B   118 MiB       0          1        0       0',
    'x?[2Jy                   0 B       0 B       0          0        0       0',
    '(no route)               0 B       0 B       0          0        1       0',
    '--------------------  ------  --------  ------  ---------  -------  ------',
    'total                    0 B   118 MiB       0          1        1       0',
    '',
    'dns lookups by resolver:',
    '  default: hit 0, miss 0, stale 0, failure 0',
    '  aws: hit 0, miss 1, stale 0, failure 0; routes registry.example.com',
    '  e?[2J: hit 1, miss 0, stale 0, failure 0',
    '',
    'refused (the policy, a limit or the client said no):',
    '  not_allowed  1  last 42 s ago  (no route) 1',
  ]);
});
