// Which names `hosts` warns about as shared by other traffic.
import t from 'tap';
import { sharedNameWarnings } from '../../src/registry/shared-names.js';

await t.test('shared names are recognised; a registry\'s own names are not', (t) => {
  const shared: [string, string][] = [
    ['s3.us-east-1.amazonaws.com', 'every path-style S3 request in us-east-1 (any bucket, any account)'],
    ['s3.dualstack.eu-west-1.amazonaws.com', 'every path-style S3 request in eu-west-1 (any bucket, any account)'],
    ['s3.cn-north-1.amazonaws.com.cn', 'every path-style S3 request in cn-north-1 (any bucket, any account)'],
    ['s3.amazonaws.com', 'every path-style S3 request to the global endpoint (any bucket, any account)'],
    ['*.s3.us-east-1.amazonaws.com', 'every virtual-hosted S3 request in us-east-1 (any bucket, any account)'],
    ['oss-cn-beijing.aliyuncs.com', 'every OSS request in cn-beijing (any bucket, any account)'],
    ['*.oss-cn-beijing-internal.aliyuncs.com', 'every OSS request in cn-beijing over the VPC endpoint (any bucket, any account)'],
    ['storage.googleapis.com', 'every Cloud Storage request (any bucket, any project)'],
    ['*.blob.core.windows.net', 'every Azure Blob Storage account'],
    ['*.amazonaws.com', 'every service under amazonaws.com one label deep'],
  ];
  for (const [name, carries] of shared) {
    t.same(sharedNameWarnings([name]), [`${name} is shared by other traffic: redirecting it sends ${carries} from the client through the ` +
      'forwarder, not only the registry\'s; leave it out unless the registry needs it (sni-forwarder probe REGISTRY shows which names a pull uses)'], name);
  }
  for (const name of ['prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com', 'api.ecr.us-east-1.amazonaws.com',
    '*.dkr.ecr.us-east-1.amazonaws.com', 'registry-vpc.cn-beijing.aliyuncs.com', 'ghcr.io', 'contoso.azurecr.io', 'oss.example.com']) {
    t.same(sharedNameWarnings([name]), [], `${name}: not shared`);
  }
  t.end();
});
