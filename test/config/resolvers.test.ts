// Named resolvers in the config file (issue #17): `resolvers:` beside the unnamed `resolver`,
// `routes[].resolver` and `presets[].resolver`, validated at exact positions, and what `check`
// and the router make of them.
import t from 'tap';
import { describeConfig } from '../../src/commands/check.js';
import { loadConfigText } from '../../src/config/load.js';
import { Router, describeRouteTarget } from '../../src/decide/router.js';
import { configProblems } from '../helpers/config-problems.js';

const L = 'listen:\n  - address: "127.0.0.1:8443"\n';
const R = 'resolvers:\n  aws:\n    servers: ["10.0.0.2"]\n  aliyun:\n    servers: ["100.100.2.136:53"]\n    max_ttl: 1m\n';

await t.test('resolvers: each name gets the settings `resolver` takes, with the same defaults', (t) => {
  const config = loadConfigText(L + R + 'resolver:\n  servers: ["192.0.2.53"]\nroutes:\n  - hosts: ["a.example.com"]\n', 'c.yaml');
  t.strictSame(config.resolvers.map((r) => r.name), ['default', 'aws', 'aliyun'], 'the unnamed one first, then file order');
  t.equal(config.resolvers[0], config.resolver, 'the default is the unnamed resolver');
  t.strictSame(config.resolvers[1], {
    name: 'aws', servers: [{ host: '10.0.0.2', port: 53 }], prefer: 'ipv4', timeoutMs: 2_000, minTtlMs: 5_000, maxTtlMs: 300_000, negativeTtlMs: 5_000,
  });
  t.equal(config.resolvers[2]?.maxTtlMs, 60_000);
  t.ok(Object.isFrozen(config.resolvers[1]), 'frozen like the rest');
  t.end();
});

await t.test('routes and presets pick a resolver; without one they use the default', (t) => {
  const config = loadConfigText(L + R + `
presets:
  - provider: aws-ecr
    region: us-east-1
    resolver: aws
routes:
  - hosts: ["registry-vpc.cn-beijing.aliyuncs.com"]
    resolver: aliyun
  - hosts: ["plain.example.com"]
  - hosts: ["static.example.com"]
    upstream: "harbor.internal.example:443"
    resolver: aws
  - hosts: ["explicit.example.com"]
    resolver: default
`, 'c.yaml');
  const router = Router.compile(config.routes);
  t.equal(router.match('registry-vpc.cn-beijing.aliyuncs.com')?.resolver, 'aliyun');
  t.equal(router.match('plain.example.com')?.resolver, 'default');
  t.equal(router.match('static.example.com')?.resolver, 'aws', 'a static upstream named by DNS uses the route\'s resolver');
  t.equal(router.match('explicit.example.com')?.resolver, 'default', '"default" may be named');
  t.equal(router.match('api.ecr.us-east-1.amazonaws.com')?.resolver, 'aws', 'preset routes take the preset\'s resolver');
  t.equal(router.match('123456789012.dkr.ecr.us-east-1.amazonaws.com')?.resolver, 'aws');
  t.equal(describeRouteTarget(router.match('static.example.com')!), 'harbor.internal.example:443 via resolver aws');
  t.end();
});

await t.test('check lists every resolver and which one each route uses', (t) => {
  const config = loadConfigText(L + R + `
routes:
  - hosts: ["a.acr.example"]
    resolver: aliyun
  - hosts: ["b.example.com"]
  - hosts: ["c.example.com"]
    upstream: "10.1.2.3:443"
`, 'c.yaml');
  const lines = describeConfig(config);
  t.strictSame(lines.filter((l) => l.startsWith('resolver ')), [
    'resolver default /etc/resolv.conf prefer=ipv4 timeout=2s ttl=5s..5m',
    'resolver aws 10.0.0.2:53 prefer=ipv4 timeout=2s ttl=5s..5m',
    'resolver aliyun 100.100.2.136:53 prefer=ipv4 timeout=2s ttl=5s..1m',
  ]);
  t.strictSame(lines.slice(lines.indexOf('routes (3):') + 1), [
    "  a.acr.example  -> <sni name>:<listener's port> via resolver aliyun  (c.yaml:11:5)",
    "  b.example.com  -> <sni name>:<listener's port> via resolver default  (c.yaml:13:5)",
    '  c.example.com  -> 10.1.2.3:443  (c.yaml:14:5)',
  ], 'an IP address upstream names no resolver');
  t.end();
});

const ERRORS: { name: string; text: string; want: string[] }[] = [
  {
    name: 'a route naming an unknown resolver: the message lists the configured names',
    text: L + R + 'routes:\n  - hosts: ["a.example.com"]\n    resolver: azure\n',
    want: ['c.yaml:11:15: routes[0].resolver: unknown resolver "azure" (configured: default, aws, aliyun)'],
  },
  {
    name: 'a preset naming an unknown resolver, without any resolvers configured',
    text: L + 'presets:\n  - provider: ghcr\n    resolver: aws\n',
    want: ['c.yaml:5:15: presets[0].resolver: unknown resolver "aws" (configured: default)'],
  },
  {
    name: '"default" cannot be redefined under resolvers',
    text: L + 'resolvers:\n  default:\n    servers: ["10.0.0.2"]\nroutes:\n  - hosts: ["a.example.com"]\n',
    want: ['c.yaml:4:3: resolvers.default: "default" is the unnamed resolver: configure it under the top-level `resolver` key'],
  },
  {
    name: 'a resolver name that would not make a plain label',
    text: L + 'resolvers:\n  "AWS VPC":\n    servers: ["10.0.0.2"]\nroutes:\n  - hosts: ["a.example.com"]\n',
    want: ['c.yaml:4:3: resolvers.AWS VPC: resolver name "AWS VPC" is not valid: use lowercase letters, digits, "-" and "_", starting with a letter, at most 32 characters'],
  },
  {
    name: 'a bad setting inside a named resolver is reported at its path',
    text: L + 'resolvers:\n  aws:\n    servers: ["dns.example"]\n    prefer: ipv5\nroutes:\n  - hosts: ["a.example.com"]\n    resolver: aws\n',
    want: [
      'c.yaml:5:15: resolvers.aws.servers[0]: "dns.example": expected an IP address, not a host name',
      'c.yaml:6:13: resolvers.aws.prefer: expected one of ipv4, ipv6, got the string "ipv5"',
    ],
  },
  {
    name: 'an unknown key inside a named resolver',
    text: L + 'resolvers:\n  aws:\n    server: ["10.0.0.2"]\nroutes:\n  - hosts: ["a.example.com"]\n',
    want: ['c.yaml:5:5: resolvers.aws.server: unknown key; did you mean servers? (expected one of: servers, prefer, timeout, min_ttl, max_ttl, negative_ttl)'],
  },
  {
    name: 'resolvers must be a non-empty mapping',
    text: L + 'resolvers: {}\nroutes:\n  - hosts: ["a.example.com"]\n',
    want: ['c.yaml:3:12: resolvers: empty mapping: name at least one resolver, or remove the key'],
  },
  {
    name: 'resolvers as a list',
    text: L + 'resolvers:\n  - servers: ["10.0.0.2"]\nroutes:\n  - hosts: ["a.example.com"]\n',
    want: ['c.yaml:4:3: resolvers: expected a mapping, got a list'],
  },
  {
    name: 'a resolver on a route to an IP address has no effect: refused',
    text: L + R + 'routes:\n  - hosts: ["a.example.com"]\n    upstream: "10.1.2.3:443"\n    resolver: aws\n',
    want: ['c.yaml:12:15: routes[0].resolver: upstream 10.1.2.3:443 is an IP address: no resolver is used; remove resolver'],
  },
  {
    name: 'resolver must be a string',
    text: L + R + 'routes:\n  - hosts: ["a.example.com"]\n    resolver: 5\n',
    want: ['c.yaml:11:15: routes[0].resolver: expected a resolver name (a key of `resolvers`, or "default"), got number 5'],
  },
  {
    name: 'a file route relisting a preset host with another resolver',
    text: L + R + 'presets:\n  - provider: ghcr\n    resolver: aws\nroutes:\n  - hosts: ["ghcr.io"]\n',
    want: ['c.yaml:13:13: routes[0].hosts[0]: host "ghcr.io" is also in preset ghcr with a different resolver (default, the preset\'s is aws)'],
  },
];

for (const c of ERRORS) {
  await t.test(c.name, (t) => {
    t.strictSame(configProblems(c.text), c.want);
    t.end();
  });
}

await t.test('a file route relisting a preset host with the same resolver is accepted', (t) => {
  t.strictSame(configProblems(L + R + 'presets:\n  - provider: ghcr\n    resolver: aws\nroutes:\n  - hosts: ["ghcr.io"]\n    resolver: aws\n'), ['OK']);
  t.end();
});

await t.test('at most 32 named resolvers: the metrics label stays bounded by the config', (t) => {
  const many = (n: number): string => `${L}resolvers:\n${Array.from({ length: n }, (_, i) => `  r${i}:\n    servers: ["10.0.0.${i + 1}"]\n`).join('')}routes:\n  - hosts: ["a.example.com"]\n`;
  t.strictSame(configProblems(many(32)), ['OK']);
  t.strictSame(configProblems(many(33)), ['c.yaml:4:3: resolvers: 33 resolvers: at most 32 may be named']);
  t.end();
});

await t.test('names that are also Object.prototype keys are ordinary names', (t) => {
  const config = loadConfigText(L + 'resolvers:\n  constructor:\n    servers: ["10.0.0.2"]\n  tostring:\n    servers: ["10.0.0.3"]\nroutes:\n  - hosts: ["a.example.com"]\n    resolver: constructor\n', 'c.yaml');
  t.strictSame(config.resolvers.map((r) => r.name), ['default', 'constructor', 'tostring']);
  t.equal(Router.compile(config.routes).match('a.example.com')?.resolver, 'constructor');
  t.strictSame(configProblems(L + 'routes:\n  - hosts: ["a.example.com"]\n    resolver: constructor\n'),
    ['c.yaml:5:15: routes[0].resolver: unknown resolver "constructor" (configured: default)']);
  t.end();
});
