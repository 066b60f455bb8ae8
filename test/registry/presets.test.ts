// The preset table (src/registry/presets.ts): exact host lists per provider and params, every
// host a valid pattern, param checks, and the origin/label strings `check` and messages use.
import t from 'tap';
import { normalizeHostPattern } from '../../src/config/address.js';
import {
  ALL_PARAMS, PRESETS, PROVIDERS, WILDCARD_FAMILIES, checkParamValue, familyWildcard, presetHosts, presetLabel, presetOrigin, type Provider,
} from '../../src/registry/presets.js';

const CASES: { provider: Provider; params: Record<string, string>; want: string[] }[] = [
  {
    provider: 'aliyun-acr', params: { region: 'cn-beijing' },
    want: ['registry.cn-beijing.aliyuncs.com', 'dockerauth.cn-beijing.aliyuncs.com', 'oss-cn-beijing.aliyuncs.com', '*.oss-cn-beijing.aliyuncs.com'],
  },
  {
    provider: 'aliyun-acr', params: { region: 'cn-beijing', network: 'vpc' },
    want: ['registry-vpc.cn-beijing.aliyuncs.com', 'dockerauth-vpc.cn-beijing.aliyuncs.com', 'oss-cn-beijing-internal.aliyuncs.com', '*.oss-cn-beijing-internal.aliyuncs.com'],
  },
  {
    provider: 'aliyun-acr', params: { region: 'cn-hangzhou', network: 'internet', edition: 'personal', instance: 'crpi-abc123' },
    want: ['crpi-abc123.cn-hangzhou.personal.cr.aliyuncs.com', 'dockerauth.cn-hangzhou.aliyuncs.com', 'oss-cn-hangzhou.aliyuncs.com', '*.oss-cn-hangzhou.aliyuncs.com'],
  },
  {
    provider: 'aliyun-acr', params: { region: 'cn-hangzhou', network: 'vpc', instance: 'crpi-abc123' },
    want: ['crpi-abc123-vpc.cn-hangzhou.personal.cr.aliyuncs.com', 'dockerauth-vpc.cn-hangzhou.aliyuncs.com', 'oss-cn-hangzhou-internal.aliyuncs.com', '*.oss-cn-hangzhou-internal.aliyuncs.com'],
  },
  {
    provider: 'aliyun-acr', params: { region: 'ap-southeast-1', edition: 'enterprise', instance: 'my-ee' },
    want: ['my-ee-registry.ap-southeast-1.cr.aliyuncs.com', 'dockerauth-ee.ap-southeast-1.aliyuncs.com', 'oss-ap-southeast-1.aliyuncs.com', '*.oss-ap-southeast-1.aliyuncs.com'],
  },
  {
    provider: 'aliyun-acr', params: { region: 'cn-shanghai', network: 'vpc', edition: 'enterprise', instance: 'my-ee' },
    want: ['my-ee-registry-vpc.cn-shanghai.cr.aliyuncs.com', 'dockerauth-ee-vpc.cn-shanghai.aliyuncs.com', 'oss-cn-shanghai-internal.aliyuncs.com', '*.oss-cn-shanghai-internal.aliyuncs.com'],
  },
  {
    provider: 'aws-ecr', params: { region: 'ap-southeast-1' },
    want: ['api.ecr.ap-southeast-1.amazonaws.com', '*.dkr.ecr.ap-southeast-1.amazonaws.com', 'prod-ap-southeast-1-starport-layer-bucket.s3.ap-southeast-1.amazonaws.com', 's3.ap-southeast-1.amazonaws.com'],
  },
  {
    provider: 'aws-ecr', params: { region: 'us-east-1', account: '123456789012', dualstack: 'false' },
    want: ['api.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com', 's3.us-east-1.amazonaws.com'],
  },
  {
    provider: 'aws-ecr', params: { region: 'us-east-1', account: '123456789012', dualstack: 'true' },
    want: [
      'api.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com', 's3.us-east-1.amazonaws.com',
      'ecr.us-east-1.api.aws', '123456789012.dkr-ecr.us-east-1.on.aws', 'prod-us-east-1-starport-layer-bucket.s3.dualstack.us-east-1.amazonaws.com', 's3.dualstack.us-east-1.amazonaws.com',
    ],
  },
  {
    provider: 'aws-ecr', params: { region: 'eu-west-1', dualstack: 'true' },
    want: [
      'api.ecr.eu-west-1.amazonaws.com', '*.dkr.ecr.eu-west-1.amazonaws.com', 'prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com', 's3.eu-west-1.amazonaws.com',
      'ecr.eu-west-1.api.aws', '*.dkr-ecr.eu-west-1.on.aws', 'prod-eu-west-1-starport-layer-bucket.s3.dualstack.eu-west-1.amazonaws.com', 's3.dualstack.eu-west-1.amazonaws.com',
    ],
  },
  {
    provider: 'aws-ecr', params: { region: 'cn-north-1' },
    want: ['api.ecr.cn-north-1.amazonaws.com.cn', '*.dkr.ecr.cn-north-1.amazonaws.com.cn', 'prod-cn-north-1-starport-layer-bucket.s3.cn-north-1.amazonaws.com.cn', 's3.cn-north-1.amazonaws.com.cn'],
  },
  {
    provider: 'dockerhub', params: {},
    want: ['registry-1.docker.io', 'auth.docker.io', 'production.cloudfront.docker.com', 'production.cloudflare.docker.com', 'docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com'],
  },
  {
    provider: 'dockerhub', params: { aws_s3_host: 'docker-images-prod.s3.dualstack.us-east-1.amazonaws.com' },
    want: [
      'registry-1.docker.io', 'auth.docker.io', 'production.cloudfront.docker.com', 'production.cloudflare.docker.com',
      'docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com', 'docker-images-prod.s3.dualstack.us-east-1.amazonaws.com',
    ],
  },
  { provider: 'ghcr', params: {}, want: ['ghcr.io', 'pkg-containers.githubusercontent.com'] },
  { provider: 'gar', params: { location: 'europe-west1' }, want: ['europe-west1-docker.pkg.dev'] },
  { provider: 'gar', params: { location: 'us' }, want: ['us-docker.pkg.dev'] },
  { provider: 'quay', params: {}, want: ['quay.io', 'cdn.quay.io', 'cdn01.quay.io', 'cdn02.quay.io', 'cdn03.quay.io'] },
  { provider: 'azure-acr', params: { name: 'contoso', region: 'westeurope' }, want: ['contoso.azurecr.io', 'contoso.westeurope.data.azurecr.io'] },
  { provider: 'azure-acr', params: { name: 'contoso', storage_account: 'weuprodreg01' }, want: ['contoso.azurecr.io', 'weuprodreg01.blob.core.windows.net'] },
  {
    provider: 'azure-acr', params: { name: 'contoso', region: 'westeurope', storage_account: 'weuprodreg01' },
    want: ['contoso.azurecr.io', 'contoso.westeurope.data.azurecr.io', 'weuprodreg01.blob.core.windows.net'],
  },
  { provider: 'harbor', params: { host: 'harbor.internal.example' }, want: ['harbor.internal.example'] },
  {
    provider: 'harbor', params: { host: 'harbor.internal.example', storage: 'harbor-blobs.s3.eu-west-1.amazonaws.com' },
    want: ['harbor.internal.example', 'harbor-blobs.s3.eu-west-1.amazonaws.com'],
  },
];

await t.test('each provider and params give exactly the documented hosts', (t) => {
  for (const c of CASES) {
    t.strictSame(presetHosts(c.provider, c.params), c.want, `${c.provider} ${JSON.stringify(c.params)}`);
  }
  t.end();
});

await t.test('every generated host is a valid, already normalised pattern', (t) => {
  for (const c of CASES) {
    for (const host of presetHosts(c.provider, c.params)) {
      const n = normalizeHostPattern(host);
      t.ok(n.ok && n.value === host, `${c.provider}: ${host}`);
    }
  }
  t.end();
});

await t.test('every provider has at least one case above', (t) => {
  t.strictSame([...new Set(CASES.map((c) => c.provider))].sort(), [...PROVIDERS].sort());
  t.end();
});

await t.test('ALL_PARAMS is the union of the providers\' params', (t) => {
  t.strictSame([...ALL_PARAMS].sort(), ['account', 'aws_s3_host', 'dualstack', 'edition', 'host', 'instance', 'location', 'name', 'network', 'region', 'storage', 'storage_account']);
  t.end();
});

await t.test('param values: accepted and refused with a message', (t) => {
  const ok: [Provider, string, string][] = [
    ['aliyun-acr', 'region', 'cn-beijing'], ['aliyun-acr', 'region', 'ap-southeast-1'], ['aliyun-acr', 'network', 'vpc'],
    ['aliyun-acr', 'edition', 'enterprise'], ['aws-ecr', 'region', 'us-gov-west-1'], ['aws-ecr', 'account', '000123456789'],
    ['aws-ecr', 'dualstack', 'true'], ['gar', 'location', 'northamerica-northeast1'], ['azure-acr', 'name', 'contoso01'],
    ['azure-acr', 'region', 'eastus2'], ['harbor', 'host', 'harbor.example.com'],
    ['azure-acr', 'storage_account', 'abc'], ['azure-acr', 'storage_account', 'a'.repeat(24)],
    ['dockerhub', 'aws_s3_host', 'docker-images-prod.s3.amazonaws.com'], ['dockerhub', 'aws_s3_host', 'docker-images-prod-use1.s3.us-east-1.amazonaws.com'],
    ['harbor', 'storage', 'minio.internal.example'],
  ];
  for (const [p, k, v] of ok) t.equal(checkParamValue(p, k, v), undefined, `${p} ${k}=${v}`);
  const bad: [Provider, string, string, string][] = [
    ['aliyun-acr', 'region', 'CN-Beijing', '"CN-Beijing" is not a region ID such as "cn-beijing"'],
    ['aliyun-acr', 'region', 'beijing', '"beijing" is not a region ID such as "cn-beijing"'],
    ['aliyun-acr', 'network', 'intranet', 'expected one of internet, vpc, got "intranet"'],
    ['aws-ecr', 'account', '12345', '"12345" is not a 12-digit account ID (quoted) such as "123456789012"'],
    ['aws-ecr', 'region', 'us-east', '"us-east" is not a region such as "ap-southeast-1"'],
    ['aws-ecr', 'dualstack', 'yes', 'expected one of true, false, got "yes"'],
    ['azure-acr', 'name', 'my-reg', '"my-reg" is not a registry name (5-50 lowercase letters and digits)'],
    ['harbor', 'host', '*.example.com', '"*.example.com" is not a host name such as "harbor.example.com"'],
    ['harbor', 'host', '10.0.0.1', '"10.0.0.1" is not a host name such as "harbor.example.com"'],
    // Storage params are one exact name in the provider's syntax: never a wildcard, never a
    // name outside the family.
    ['azure-acr', 'storage_account', 'ab', '"ab" is not a storage account name (3-24 lowercase letters and digits)'],
    ['azure-acr', 'storage_account', 'a'.repeat(25), `"${'a'.repeat(25)}" is not a storage account name (3-24 lowercase letters and digits)`],
    ['azure-acr', 'storage_account', 'My-Store', '"My-Store" is not a storage account name (3-24 lowercase letters and digits)'],
    ['azure-acr', 'storage_account', 'acct.blob.core.windows.net', '"acct.blob.core.windows.net" is not a storage account name (3-24 lowercase letters and digits)'],
    ...['evil.s3.amazonaws.com', '*.s3.us-east-1.amazonaws.com', 'docker-images-prod.s3.amazonaws.com.evil.example', 'docker-images-prod.evil.example',
      'x.docker-images-prod.s3.amazonaws.com', 'docker-images-prod.s3.us-east-1.amazonaws.com.cn'].map((v): [Provider, string, string, string] =>
      ['dockerhub', 'aws_s3_host', v, `${JSON.stringify(v)} is not the docker-images-prod* S3 host \`probe\` shows from inside AWS, such as "docker-images-prod.s3.dualstack.us-east-1.amazonaws.com"`]),
    ['harbor', 'storage', '*.s3.amazonaws.com', '"*.s3.amazonaws.com" is not the storage host blob downloads are redirected to, such as "harbor-blobs.s3.eu-west-1.amazonaws.com"'],
    ['ghcr', 'region', 'x', 'not a parameter of ghcr'],
  ];
  for (const [p, k, v, want] of bad) t.equal(checkParamValue(p, k, v), want, `${p} ${k}=${v}`);
  t.end();
});

await t.test('cross-param checks', (t) => {
  const aliyun = PRESETS['aliyun-acr'].check;
  const ecr = PRESETS['aws-ecr'].check;
  t.strictSame(aliyun?.({ region: 'cn-beijing', edition: 'enterprise' }),
    [['instance', 'missing instance: an enterprise edition preset needs the instance name (NAME in NAME-registry.REGION.cr.aliyuncs.com)']]);
  t.strictSame(aliyun?.({ region: 'cn-beijing', instance: 'my-ee' }),
    [['instance', '"my-ee" is not a personal edition instance ID such as "crpi-abc123"']]);
  t.strictSame(aliyun?.({ region: 'cn-beijing', instance: 'crpi-abc' }), []);
  t.strictSame(ecr?.({ region: 'cn-north-1', dualstack: 'true' }),
    [['dualstack', 'dual-stack names for the China regions are not in the preset table; list them under routes']]);
  t.strictSame(ecr?.({ region: 'us-east-1', dualstack: 'true' }), []);
  const azure = PRESETS['azure-acr'].check;
  t.strictSame(azure?.({ name: 'contoso' }), [['region', 'missing region: azure-acr needs region (the dedicated data endpoint NAME.REGION.data.azurecr.io) or storage_account (the ACCOUNT.blob.core.windows.net blobs are redirected to)']]);
  t.strictSame(azure?.({ name: 'contoso', storage_account: 'abc' }), []);
  t.end();
});

await t.test('origin and label list the params as written, in table order', (t) => {
  t.equal(presetOrigin('aliyun-acr', { network: 'vpc', region: 'cn-beijing' }), 'preset aliyun-acr region=cn-beijing network=vpc');
  t.equal(presetLabel('aliyun-acr', { network: 'vpc', region: 'cn-beijing' }), 'preset aliyun-acr (cn-beijing vpc)');
  t.equal(presetOrigin('ghcr', {}), 'preset ghcr');
  t.equal(presetLabel('ghcr', {}), 'preset ghcr');
  t.end();
});

await t.test('wildcard families: every wildcard a preset produces is in one, and nothing else is', (t) => {
  const wildcards = CASES.flatMap((c) => presetHosts(c.provider, c.params).filter((h) => h.startsWith('*.')));
  t.ok(wildcards.length > 0);
  for (const w of wildcards) t.equal(familyWildcard(`bucket1${w.slice(1)}`), w, `${w} is a family`);
  for (const f of WILDCARD_FAMILIES) {
    t.ok(wildcards.some((w) => f.suffix.test(w.slice(2))), `${f.provider} ${f.what}: some preset produces it`);
  }
  for (const host of [
    'acct.blob.core.windows.net', 'bucket.s3.amazonaws.com', 'bucket.s3.us-east-1.amazonaws.com', 'x.cloudflarestorage.com',
    'a.b.oss-cn-beijing.aliyuncs.com', 'oss-cn-beijing.aliyuncs.com', 'x.aliyuncs.com', 'a.b.dkr.ecr.us-east-1.amazonaws.com', 'storage.test', 'localhost',
  ]) {
    t.equal(familyWildcard(host), undefined, `${host}: exact name only`);
  }
  t.end();
});
