// Presets in the config file (SPEC §3 `presets`): validation at exact positions, expansion into
// dynamic routes after the file's routes, conflicts with file routes, and what `check` prints.
import t from 'tap';
import { describeConfig } from '../../src/commands/check.js';
import { loadConfigText } from '../../src/config/load.js';
import { Router } from '../../src/decide/router.js';
import { configProblems } from '../helpers/config-problems.js';

const L = 'listen:\n  - address: "127.0.0.1:8443"\n';


const ERRORS: { name: string; text: string; want: string[] }[] = [
  {
    name: 'unknown provider lists the valid ones',
    text: L + 'presets:\n  - provider: aliyun\n    region: cn-beijing\n',
    want: ['c.yaml:4:15: presets[0].provider: expected one of aliyun-acr, aws-ecr, dockerhub, ghcr, gar, quay, azure-acr, harbor, got the string "aliyun"'],
  },
  {
    name: 'missing provider',
    text: L + 'presets:\n  - region: cn-beijing\n',
    want: ['c.yaml:4:5: presets[0]: missing provider (one of: aliyun-acr, aws-ecr, dockerhub, ghcr, gar, quay, azure-acr, harbor)'],
  },
  {
    name: 'a param the provider does not take',
    text: L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    account: "123456789012"\n',
    want: ['c.yaml:6:5: presets[0].account: unknown key (expected one of: provider, resolver, region, network, edition, instance)'],
  },
  {
    name: 'a param no provider takes',
    text: L + 'presets:\n  - provider: ghcr\n    zone: a\n',
    want: ['c.yaml:5:5: presets[0].zone: unknown key (expected one of: provider, resolver)'],
  },
  {
    name: 'missing required param, at the preset',
    text: L + 'presets:\n  - provider: aliyun-acr\n    network: vpc\n',
    want: ['c.yaml:4:5: presets[0].region: missing region: aliyun-acr needs a region ID such as "cn-beijing"'],
  },
  {
    name: 'bad region',
    text: L + 'presets:\n  - provider: aliyun-acr\n    region: Beijing\n',
    want: ['c.yaml:5:13: presets[0].region: "Beijing" is not a region ID such as "cn-beijing"'],
  },
  {
    name: 'bad network',
    text: L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    network: intranet\n',
    want: ['c.yaml:6:14: presets[0].network: expected one of internet, vpc, got "intranet"'],
  },
  {
    name: 'enterprise without instance',
    text: L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    edition: enterprise\n',
    want: ['c.yaml:4:5: presets[0].instance: missing instance: an enterprise edition preset needs the instance name (NAME in NAME-registry.REGION.cr.aliyuncs.com)'],
  },
  {
    name: 'personal instance that is not crpi-',
    text: L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    instance: my-ee\n',
    want: ['c.yaml:6:15: presets[0].instance: "my-ee" is not a personal edition instance ID such as "crpi-abc123"'],
  },
  {
    name: 'account of 11 digits, and an unquoted one',
    text: L + 'presets:\n  - provider: aws-ecr\n    region: us-east-1\n    account: "12345678901"\n  - provider: aws-ecr\n    region: us-east-1\n    account: 123456789012\n',
    want: [
      'c.yaml:6:14: presets[0].account: "12345678901" is not a 12-digit account ID (quoted) such as "123456789012"',
      'c.yaml:9:14: presets[1].account: expected a string, got the number 123456789012; quote it: "123456789012"',
    ],
  },
  {
    name: 'dualstack must be a boolean',
    text: L + 'presets:\n  - provider: aws-ecr\n    region: us-east-1\n    dualstack: yes\n',
    want: ['c.yaml:6:16: presets[0].dualstack: expected one of true, false, got "yes"'],
  },
  {
    name: 'missing location and name/region, each at its preset',
    text: L + 'presets:\n  - provider: gar\n  - provider: azure-acr\n    name: contoso\n',
    want: [
      'c.yaml:4:5: presets[0].location: missing location: gar needs a location such as "europe-west1" or "us"',
      'c.yaml:5:5: presets[1].region: missing region: azure-acr needs region (the dedicated data endpoint NAME.REGION.data.azurecr.io) or storage_account (the ACCOUNT.blob.core.windows.net blobs are redirected to)',
    ],
  },
  {
    name: 'harbor host must be a host name',
    text: L + 'presets:\n  - provider: harbor\n    host: "*.example.com"\n',
    want: ['c.yaml:5:11: presets[0].host: "*.example.com" is not a host name such as "harbor.example.com"'],
  },
  {
    name: 'a route with an upstream for a preset host',
    text: L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    network: vpc\nroutes:\n  - hosts: ["x.example.com", "registry-vpc.cn-beijing.aliyuncs.com"]\n    upstream: "10.0.0.5:443"\n',
    want: ['c.yaml:8:30: routes[0].hosts[1]: host "registry-vpc.cn-beijing.aliyuncs.com" is also in preset aliyun-acr (cn-beijing vpc) with a different upstream'],
  },
  {
    name: 'a route with a port for a preset wildcard',
    text: L + 'presets:\n  - provider: aws-ecr\n    region: us-east-1\nroutes:\n  - hosts: ["*.dkr.ecr.us-east-1.amazonaws.com"]\n    port: 8443\n',
    want: ['c.yaml:7:13: routes[0].hosts[0]: host "*.dkr.ecr.us-east-1.amazonaws.com" is also in preset aws-ecr (us-east-1) with a different port'],
  },
];

for (const c of ERRORS) {
  await t.test(c.name, (t) => {
    t.strictSame(configProblems(c.text), c.want);
    t.end();
  });
}

await t.test('presets expand into dynamic routes after the file routes, with their origin', (t) => {
  const config = loadConfigText(
    L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n    network: vpc\n  - provider: ghcr\nroutes:\n  - hosts: ["harbor.internal.example"]\n    upstream: "10.1.2.3:443"\n',
    'c.yaml',
  );
  t.strictSame(config.presets, [
    { provider: 'aliyun-acr', params: { region: 'cn-beijing', network: 'vpc' }, resolver: 'default' },
    { provider: 'ghcr', params: {}, resolver: 'default' },
  ]);
  t.strictSame(config.routes, [
    { hosts: ['harbor.internal.example'], upstream: { host: '10.1.2.3', port: 443 }, port: null, origin: 'c.yaml:9:5', resolver: 'default' },
    {
      hosts: ['registry-vpc.cn-beijing.aliyuncs.com', 'dockerauth-vpc.cn-beijing.aliyuncs.com', 'oss-cn-beijing-internal.aliyuncs.com', '*.oss-cn-beijing-internal.aliyuncs.com'],
      upstream: null, port: null, origin: 'preset aliyun-acr region=cn-beijing network=vpc', resolver: 'default',
    },
    { hosts: ['ghcr.io', 'pkg-containers.githubusercontent.com'], upstream: null, port: null, origin: 'preset ghcr', resolver: 'default' },
  ]);
  t.ok(Object.isFrozen(config.routes[1]?.hosts), 'preset routes are frozen too');
  const route = Router.compile(config.routes).match('abc.oss-cn-beijing-internal.aliyuncs.com');
  t.strictSame(route, { pattern: '*.oss-cn-beijing-internal.aliyuncs.com', upstream: null, port: null, origin: 'preset aliyun-acr region=cn-beijing network=vpc', resolver: 'default' });
  t.end();
});

await t.test('presets alone are enough (no routes key)', (t) => {
  const config = loadConfigText(L + 'presets:\n  - provider: quay\n', 'c.yaml');
  t.equal(config.routes.length, 1);
  t.equal(config.routes[0]?.origin, 'preset quay');
  t.end();
});

await t.test('a dynamic file route for a preset host wins silently; the preset drops it', (t) => {
  const config = loadConfigText(
    L + 'presets:\n  - provider: ghcr\nroutes:\n  - hosts: ["ghcr.io"]\n',
    'c.yaml',
  );
  t.strictSame(config.routes.map((r) => [r.hosts, r.origin]), [
    [['ghcr.io'], 'c.yaml:6:5'],
    [['pkg-containers.githubusercontent.com'], 'preset ghcr'],
  ]);
  t.end();
});

await t.test('a preset whose hosts are all in file routes adds no route', (t) => {
  const config = loadConfigText(L + 'presets:\n  - provider: ghcr\nroutes:\n  - hosts: ["ghcr.io", "pkg-containers.githubusercontent.com"]\n', 'c.yaml');
  t.equal(config.routes.length, 1);
  t.end();
});

await t.test('two presets producing the same host: kept once, by the first', (t) => {
  const config = loadConfigText(
    L + 'presets:\n  - provider: aliyun-acr\n    region: cn-beijing\n  - provider: aliyun-acr\n    region: cn-beijing\n    instance: crpi-abc123\n',
    'c.yaml',
  );
  t.strictSame(config.routes.map((r) => r.hosts), [
    ['registry.cn-beijing.aliyuncs.com', 'dockerauth.cn-beijing.aliyuncs.com', 'oss-cn-beijing.aliyuncs.com', '*.oss-cn-beijing.aliyuncs.com'],
    ['crpi-abc123.cn-beijing.personal.cr.aliyuncs.com'],
  ]);
  const dup = loadConfigText(L + 'presets:\n  - provider: ghcr\n  - provider: ghcr\n', 'c.yaml');
  t.equal(dup.routes.length, 1);
  t.end();
});

await t.test('dualstack accepts a YAML boolean and keeps it as a string', (t) => {
  const config = loadConfigText(L + 'presets:\n  - provider: aws-ecr\n    region: us-east-1\n    dualstack: true\n', 'c.yaml');
  t.strictSame(config.presets[0]?.params, { region: 'us-east-1', dualstack: 'true' });
  t.ok(config.routes[0]?.hosts.includes('ecr.us-east-1.api.aws'));
  t.end();
});

await t.test('duplicate hosts among file routes are still refused', (t) => {
  t.strictSame(configProblems(L + 'presets:\n  - provider: ghcr\nroutes:\n  - hosts: ["a.example.com"]\n  - hosts: ["a.example.com"]\n'), [
    'c.yaml:7:13: routes[1].hosts[0]: duplicate host "a.example.com" (already at routes[0].hosts[0], line 6 col 13)',
  ]);
  t.end();
});

await t.test('a wildcard route to one static upstream (Google private endpoint) matches GAR names', (t) => {
  const config = loadConfigText(L + 'routes:\n  - hosts: ["*.pkg.dev"]\n    upstream: "199.36.153.8:443"\n', 'c.yaml');
  const route = Router.compile(config.routes).match('europe-west1-docker.pkg.dev');
  t.strictSame(route, { pattern: '*.pkg.dev', upstream: { host: '199.36.153.8', port: 443 }, port: null, origin: 'c.yaml:4:5', resolver: 'default' });
  t.equal(Router.compile(config.routes).match('a.b.pkg.dev'), undefined, '* is exactly one label');
  t.end();
});

await t.test('check prints the preset routes with their origin', (t) => {
  const config = loadConfigText(
    L + 'presets:\n  - provider: gar\n    location: europe-west1\nroutes:\n  - hosts: ["harbor.internal.example"]\n    upstream: "10.1.2.3:443"\n',
    'c.yaml',
  );
  const lines = describeConfig(config);
  const i = lines.indexOf('routes (2):');
  t.not(i, -1, lines.join('\n'));
  t.strictSame(lines.slice(i + 1), [
    '  harbor.internal.example      -> 10.1.2.3:443  (c.yaml:7:5)',
    "  europe-west1-docker.pkg.dev  -> <sni name>:<listener's port> via resolver default  (preset gar location=europe-west1)",
  ]);
  t.end();
});
