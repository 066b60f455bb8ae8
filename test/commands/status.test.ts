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
    'http://127.0.0.1:9464/metrics: version 1.2.3, active 0, forwarded 1, refused 1, upload 0 B, download 118 MiB',
    '',
    'host                  resolver  upload  download  active  forwarded  not_allowed  last failure',
    'registry.example.com  aws          0 B   118 MiB       0          1            0  -',
    'x?[2Jy                -            0 B       0 B       0          0            0  -',
    '(no route)            -            0 B       0 B       0          0            1  not_allowed, 42 s ago',
    '--------------------  --------  ------  --------  ------  ---------  -----------  ---------------------',
    'total                              0 B   118 MiB       0          1            1  not_allowed, 42 s ago',
    '',
    'dns lookups by resolver:',
    '  default: hit 0, miss 0, stale 0, failure 0',
    '  aws: hit 0, miss 1, stale 0, failure 0',
    '  e?[2J: hit 1, miss 0, stale 0, failure 0',
  ]);
});
