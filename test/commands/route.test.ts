// `route HOST` end to end (SPEC §2): the built CLI on temp configs; exact stdout, exit 0 when a
// route matches and 1 when the name is refused or the config is invalid.
import t from 'tap';
import { runCli, writeConfig } from '../helpers/daemon.js';

// Line numbers matter: origins are "file:line:col" of each route item.
const YAML = [
  'listen:', //                                                     1
  '  - address: "127.0.0.1:8443"', //                               2
  '  - address: "127.0.0.1:8080"', //                               3
  '    protocol: http', //                                          4
  'resolver:', //                                                   5
  '  servers: ["100.100.2.136", "[fd00::53]:5353"]', //             6
  'upstream_networks: ["192.168.0.0/16", "100.64.0.0/10"]', //      7
  'routes:', //                                                     8
  '  - hosts: ["registry.example.com", "*.s3.example.com"]', //     9
  '  - hosts: ["harbor.internal.example"]', //                     10
  '    upstream: "10.1.2.3:443"', //                               11
  '  - hosts: ["auth.example.com"]', //                            12
  '    upstream: "auth-backend.example.net:8443"', //              13
  '  - hosts: ["dl.example.com"]', //                              14
  '    port: 443', //                                              15
  '',
].join('\n');
const file = writeConfig(YAML);

const NETS = 'upstream_networks: applies; resolved addresses outside 192.168.0.0/16, 100.64.0.0/10 are dropped, and none left means refused (not_allowed)';
const RESOLVER = 'resolved by: resolver default (100.100.2.136:53, [fd00::53]:5353)';
const SPECIAL_RULE = 'resolved addresses in these blocks are refused (not_allowed) unless an upstream_networks entry within the block lists them: '
  + 'unspecified 0.0.0.0/8, ::/128; loopback 127.0.0.0/8, ::1/128; link-local 169.254.0.0/16, fe80::/10; '
  + 'cloud metadata 169.254.169.254/32, fd00:ec2::254/128, 100.100.100.200/32; multicast 224.0.0.0/4, ff00::/8; broadcast 255.255.255.255/32'
  + ' (the IPv4 blocks also inside NAT64 64:ff9b::/96, 6to4 2002::/16)';
// 100.64.0.0/10 holds Alibaba's metadata address 100.100.100.200 but does not open it.
const SPECIAL = `special addresses: ${SPECIAL_RULE}; none opened`;

const cases: { name: string; host: string; code: number; stdout: string[] }[] = [
  {
    name: 'exact dynamic route on the listener\'s port; the name is normalised',
    host: 'Registry.Example.COM.',
    code: 0,
    stdout: [
      'host: registry.example.com', 'route: registry.example.com', `origin: ${file}:9:5`,
      'upstream: the name itself, registry.example.com (dynamic)', RESOLVER,
      'port: the listener\'s port (127.0.0.1:8443 tls, 127.0.0.1:8080 http)', NETS, SPECIAL,
    ],
  },
  {
    name: 'wildcard route',
    host: 'bucket.s3.example.com',
    code: 0,
    stdout: [
      'host: bucket.s3.example.com', 'route: *.s3.example.com', `origin: ${file}:9:5`,
      'upstream: the name itself, bucket.s3.example.com (dynamic)', RESOLVER,
      'port: the listener\'s port (127.0.0.1:8443 tls, 127.0.0.1:8080 http)', NETS, SPECIAL,
    ],
  },
  {
    name: 'dynamic route with its own port',
    host: 'dl.example.com',
    code: 0,
    stdout: [
      'host: dl.example.com', 'route: dl.example.com', `origin: ${file}:14:5`,
      'upstream: the name itself, dl.example.com (dynamic)', RESOLVER, 'port: 443', NETS, SPECIAL,
    ],
  },
  {
    name: 'static IP upstream: no resolver, upstream_networks does not apply',
    host: 'harbor.internal.example',
    code: 0,
    stdout: [
      'host: harbor.internal.example', 'route: harbor.internal.example', `origin: ${file}:10:5`,
      'upstream: 10.1.2.3:443 (static)', 'resolved by: nothing, 10.1.2.3 is an IP literal',
      'upstream_networks: does not apply; 10.1.2.3 is an IP literal, the operator\'s own choice',
      'special addresses: not screened; 10.1.2.3 is an IP literal, the operator\'s own choice',
    ],
  },
  {
    name: 'static upstream by name: resolved, and upstream_networks applies',
    host: 'auth.example.com',
    code: 0,
    stdout: [
      'host: auth.example.com', 'route: auth.example.com', `origin: ${file}:12:5`,
      'upstream: auth-backend.example.net:8443 (static)', RESOLVER, NETS, SPECIAL,
    ],
  },
  {
    name: 'refused: the wildcard\'s own suffix, with the closest pattern and why it missed',
    host: 's3.example.com',
    code: 1,
    stdout: [
      'host: s3.example.com', 'refused: no route matches s3.example.com', `closest: *.s3.example.com (${file}:9:5)`,
      'note: *.s3.example.com does not match s3.example.com itself; "*" is exactly one label',
    ],
  },
  {
    name: 'refused: two labels below a wildcard',
    host: 'a.b.s3.example.com',
    code: 1,
    stdout: [
      'host: a.b.s3.example.com', 'refused: no route matches a.b.s3.example.com', `closest: *.s3.example.com (${file}:9:5)`,
      'note: *.s3.example.com matches exactly one label before s3.example.com (x.s3.example.com), not a.b.s3.example.com',
    ],
  },
  {
    name: 'refused: closest patterns share the parent domain, sorted',
    host: 'other.example.com',
    code: 1,
    stdout: [
      'host: other.example.com', 'refused: no route matches other.example.com',
      `closest: *.s3.example.com (${file}:9:5)`, `closest: auth.example.com (${file}:12:5)`,
      `closest: dl.example.com (${file}:14:5)`, `closest: registry.example.com (${file}:9:5)`,
    ],
  },
  {
    name: 'refused: nothing shares more than the top-level domain',
    host: 'registry.example.org',
    code: 1,
    stdout: ['host: registry.example.org', 'refused: no route matches registry.example.org'],
  },
  {
    name: 'refused: an IP literal is not a host name',
    host: '10.1.2.3',
    code: 1,
    stdout: ['host: "10.1.2.3"', 'refused: not a valid host name: "10.1.2.3" is an IP address, not a host name'],
  },
  {
    name: 'refused: an IPv6 literal',
    host: '::1',
    code: 1,
    stdout: ['host: "::1"', 'refused: not a valid host name: "::1" is an IP address, not a host name'],
  },
  {
    name: 'refused: bad characters',
    host: 'my_registry.example.com',
    code: 1,
    stdout: ['host: "my_registry.example.com"', 'refused: not a valid host name: invalid character "_" in "my_registry.example.com" (letters, digits, "-" and "." only)'],
  },
  {
    name: 'refused: an empty label',
    host: 'registry..example.com',
    code: 1,
    stdout: ['host: "registry..example.com"', 'refused: not a valid host name: empty label in "registry..example.com"'],
  },
];

for (const c of cases) {
  await t.test(`route ${c.host}: ${c.name}`, async (t) => {
    const r = await runCli(['route', c.host, '-c', file]);
    t.equal(r.stdout, c.stdout.map((l) => `${l}\n`).join(''));
    t.equal(r.stderr, '');
    t.equal(r.code, c.code);
  });
}

await t.test('route --json: the same facts for scripts', async (t) => {
  const r = await runCli(['route', 'bucket.s3.example.com', '-c', file, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(JSON.parse(r.stdout), {
    result: 'matched', host: 'bucket.s3.example.com', pattern: '*.s3.example.com', origin: `${file}:9:5`,
    connectHost: 'bucket.s3.example.com', port: null, static: false, resolvedBy: '100.100.2.136:53, [fd00::53]:5353', resolver: 'default',
    listeners: ['127.0.0.1:8443 tls', '127.0.0.1:8080 http'], upstreamNetworks: ['192.168.0.0/16', '100.64.0.0/10'],
    upstreamNetworksNote: 'applies; resolved addresses outside 192.168.0.0/16, 100.64.0.0/10 are dropped, and none left means refused (not_allowed)',
    specialAddressesOpened: [], specialAddressesNote: `${SPECIAL_RULE}; none opened`,
  });
  const refused = await runCli(['route', 'nope.example.org', '-c', file, '--json']);
  t.equal(refused.code, 1);
  t.strictSame(JSON.parse(refused.stdout), { result: 'no_route', host: 'nope.example.org', closest: [], otherRegion: [], notes: [] });
});

await t.test('route with default resolver and no upstream_networks', async (t) => {
  const plain = writeConfig('listen:\n  - address: "0.0.0.0:443"\nroutes:\n  - hosts: ["a.example.com"]\n');
  const r = await runCli(['route', 'a.example.com', '-c', plain]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, [
    'host: a.example.com', 'route: a.example.com', `origin: ${plain}:4:5`, 'upstream: the name itself, a.example.com (dynamic)',
    'resolved by: resolver default (/etc/resolv.conf)', 'port: the listener\'s port (0.0.0.0:443 tls)',
    'upstream_networks: not set; any resolved address is used unless it is special-purpose', SPECIAL, '',
  ].join('\n'));
});

await t.test('route names the upstream_networks entries that open special-purpose blocks', async (t) => {
  const opened = writeConfig([
    'listen:\n  - address: "0.0.0.0:443"',
    'upstream_networks: ["0.0.0.0/0", "127.0.0.0/8", "169.254.0.0/16", "169.254.169.254/32", "100.64.0.0/10", "::1/128"]',
    'routes:\n  - hosts: ["a.example.com"]\n',
  ].join('\n'));
  const r = await runCli(['route', 'a.example.com', '-c', opened, '--json']);
  t.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as { specialAddressesOpened: string[]; specialAddressesNote: string };
  t.strictSame(e.specialAddressesOpened, ['127.0.0.0/8 (loopback)', '169.254.0.0/16 (link-local)', '169.254.169.254/32 (link-local, cloud metadata)', '::1/128 (loopback)'],
    '0.0.0.0/0 and 100.64.0.0/10 open nothing');
  t.equal(e.specialAddressesNote, `${SPECIAL_RULE}; opened by ${e.specialAddressesOpened.join(', ')}`);
});

await t.test('route on an invalid config: the ConfigError, exit 1, nothing on stdout', async (t) => {
  const bad = writeConfig('listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.*.example"]\n');
  const r = await runCli(['route', 'a.example', '-c', bad]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^sni-forwarder: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:13: routes\\[0\\]\\.hosts\\[0\\]: `));
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.equal(r.stdout, '');
});

await t.test('route: a name allowed in another region says so', async (t) => {
  const regional = writeConfig('listen:\n  - address: "0.0.0.0:443"\npresets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    network: vpc\n');
  const r = await runCli(['route', 'registry-vpc.cn-shanghai.aliyuncs.com', '-c', regional]);
  t.equal(r.code, 1);
  t.match(r.stdout, '\nnote: registry-vpc.cn-shanghai.aliyuncs.com differs from registry-vpc.cn-beijing.aliyuncs.com only by region ' +
    '(cn-shanghai here, cn-beijing allowed by preset aliyun-acr region=cn-beijing network=vpc); to allow it, add a route for it ' +
    'or a preset with region cn-shanghai\n');
  const json = await runCli(['route', 'x.oss-cn-shanghai-internal.aliyuncs.com', '--json', '-c', regional]);
  const e = JSON.parse(json.stdout) as { otherRegion: unknown[] };
  t.same(e.otherRegion, [{ pattern: '*.oss-cn-beijing-internal.aliyuncs.com', origin: 'preset aliyun-acr region=cn-beijing network=vpc', region: 'cn-shanghai', allowedRegion: 'cn-beijing' }]);
  const typo = await runCli(['route', 'registry-vcp.cn-beijing.aliyuncs.com', '--json', '-c', regional]);
  t.same((JSON.parse(typo.stdout) as { otherRegion: unknown[] }).otherRegion, [], 'a typo is not a region');
});

await t.test('route on a missing config file: one line, exit 1', async (t) => {
  const r = await runCli(['route', 'a.example', '-c', '/nonexistent/sni-forwarder.yaml']);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'sni-forwarder: /nonexistent/sni-forwarder.yaml: cannot read config: no such file\n');
});

await t.test('route without HOST is a usage error, exit 1', async (t) => {
  const r = await runCli(['route', '-c', file]);
  t.equal(r.code, 1);
  t.match(r.stderr, /missing required argument 'host'/);
});
