// Region tokens in host names, and "differs only by region" for `route`.
import t from 'tap';
import { regionDifference, regionsIn } from '../../src/registry/regions.js';

await t.test('regionsIn finds the region tokens of registry and storage names', (t) => {
  const cases: [string, string[]][] = [
    ['registry-vpc.cn-beijing.aliyuncs.com', ['cn-beijing']],
    ['x.oss-cn-beijing-internal.aliyuncs.com', ['cn-beijing']],
    ['prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com', ['us-east-1', 'us-east-1']],
    ['api.ecr.cn-north-1.amazonaws.com.cn', ['cn-north-1']],
    ['registry.cn-shanghai-finance-1.aliyuncs.com', ['cn-shanghai-finance-1']],
    ['europe-west1-docker.pkg.dev', ['europe-west1']],
    ['ghcr.io', []],
    ['registry.example.com', []],
    ['us-docker.pkg.dev', []],
  ];
  for (const [name, want] of cases) t.same(regionsIn(name), want, name);
  t.end();
});

await t.test('regionDifference: the same name in another region, and nothing else', (t) => {
  const cases: [string, string, { wanted: string; allowed: string } | undefined][] = [
    ['registry-vpc.cn-shanghai.aliyuncs.com', 'registry-vpc.cn-beijing.aliyuncs.com', { wanted: 'cn-shanghai', allowed: 'cn-beijing' }],
    ['b.oss-cn-shanghai-internal.aliyuncs.com', '*.oss-cn-beijing-internal.aliyuncs.com', { wanted: 'cn-shanghai', allowed: 'cn-beijing' }],
    ['1.dkr.ecr.eu-west-1.amazonaws.com', '*.dkr.ecr.us-east-1.amazonaws.com', { wanted: 'eu-west-1', allowed: 'us-east-1' }],
    ['us-central1-docker.pkg.dev', 'europe-west1-docker.pkg.dev', { wanted: 'us-central1', allowed: 'europe-west1' }],
    ['prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com', 'prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com', { wanted: 'eu-west-1', allowed: 'us-east-1' }],
    ['registry-vpc.cn-beijing.aliyuncs.com', 'registry-vpc.cn-beijing.aliyuncs.com', undefined],
    ['registry.cn-shanghai.aliyuncs.com', 'registry-vpc.cn-beijing.aliyuncs.com', undefined],
    ['a.b.oss-cn-shanghai-internal.aliyuncs.com', '*.oss-cn-beijing-internal.aliyuncs.com', undefined],
    ['x.s3.us-east-1.amazonaws.com', 'prod-eu-west-1-starport-layer-bucket.s3.us-east-1.amazonaws.com', undefined],
    ['registry.example.com', 'registry.example.org', undefined],
    ['prod-us-east-1-x.s3.eu-west-1.amazonaws.com', 'prod-us-east-1-x.s3.us-east-1.amazonaws.com', undefined],
  ];
  for (const [name, pattern, want] of cases) t.same(regionDifference(name, pattern), want, `${name} vs ${pattern}`);
  t.end();
});
