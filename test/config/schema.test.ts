import t from 'tap';
import { LineCounter, parseDocument } from 'yaml';
import { DEFAULTS, validateConfig } from '../../src/config/schema.js';

function validate(text: string) {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  return validateConfig(doc.contents, lines, 'c.yaml');
}

await t.test('an empty document is one problem at 1:1', (t) => {
  t.same(validateConfig(null, new LineCounter(), 'c.yaml'), {
    ok: false,
    problems: [{ file: 'c.yaml', line: 1, col: 1, path: '', message: 'empty config: expected a mapping with at least listen and routes' }],
  });
  t.end();
});

await t.test('problems come back sorted by position', (t) => {
  const result = validate('workers: 0\nlisten:\n  - address: "127.0.0.1:1"\n    protocol: htp\nroutes:\n  - hosts: ["a..b"]\n');
  t.equal(result.ok, false);
  if (result.ok) return t.end();
  t.same(result.problems.map((p) => `${p.line}:${p.col} ${p.path}`), ['1:10 workers', '4:15 listen[0].protocol', '6:13 routes[0].hosts[0]']);
  t.end();
});

await t.test('explicit values equal to the defaults of unbuilt features are accepted', (t) => {
  const result = validate([
    'listen:',
    '  - address: "127.0.0.1:0"',
    '    protocol: tls',
    '    proxy_protocol: false',
    '    proxy_protocol_from: []',
    'workers: 1',
    'limits:',
    '  max_connections_per_client: 0',
    'upstream_networks: []',
    'presets: []',
    'routes:',
    '  - hosts: ["a.example.com"]',
    '',
  ].join('\n'));
  t.equal(result.ok, true);
  t.end();
});

await t.test('presets count as routes: a config with presets and no routes is valid', (t) => {
  const result = validate('listen:\n  - address: "127.0.0.1:0"\npresets:\n  - provider: aliyun-acr\n    region: cn-beijing\n');
  t.same(result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`), []);
  const bad = validate('listen:\n  - address: "127.0.0.1:0"\npresets:\n  - region: 1\n    colour: red\n');
  t.same(bad.ok ? [] : bad.problems.map((p) => `${p.path}: ${p.message}`), [
    'presets[0]: missing provider (one of: aliyun-acr, aws-ecr, dockerhub, ghcr, gar, quay, azure-acr, harbor)',
    'presets[0].region: expected a string, got the number 1; quote it: "1"',
    'presets[0].colour: unknown key (expected one of: provider, resolver, region, network, edition, instance, account, dualstack, aws_s3_host, location, name, storage_account, host, storage)',
  ]);
  t.end();
});

await t.test('DEFAULTS are frozen and match SPEC §3', (t) => {
  const result = validate('listen:\n  - address: "127.0.0.1:0"\nroutes:\n  - hosts: ["a.example.com"]\n');
  t.ok(result.ok);
  t.ok(Object.isFrozen(DEFAULTS.limits) && Object.isFrozen(DEFAULTS.resolver));
  t.same(DEFAULTS.limits, {
    clientHelloTimeoutMs: 5_000, connectTimeoutMs: 5_000, idleTimeoutMs: 600_000, drainTimeoutMs: 30_000,
    maxConnections: 10_000, maxConnectionsPerClient: 0, clientIpv6Prefix: 64,
  });
  t.end();
});
