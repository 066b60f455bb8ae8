// probe --suggest (src/registry/suggest.ts): the YAML for refused hosts, pasted under `routes`,
// is a config `check` accepts and allows exactly those hosts (a family wildcard, one label deep).
import t from 'tap';
import { loadConfigText } from '../../src/config/load.js';
import { Router } from '../../src/decide/router.js';
import { suggestRoutes } from '../../src/registry/suggest.js';

const BASE = 'listen:\n  - address: "127.0.0.1:8443"\nresolvers:\n  aliyun:\n    servers: ["100.100.2.136"]\nroutes:\n  - hosts: ["registry-vpc.cn-beijing.aliyuncs.com"]\n    resolver: aliyun\n';

await t.test('exact names, a family wildcard, the registry route\'s resolver', (t) => {
  const lines = suggestRoutes(['my-bucket.oss-cn-beijing-internal.aliyuncs.com', 'other.oss-cn-beijing-internal.aliyuncs.com', 'dockerauth-vpc.cn-beijing.aliyuncs.com'], 'aliyun');
  t.strictSame(lines, [
    '  - hosts: ["*.oss-cn-beijing-internal.aliyuncs.com", "dockerauth-vpc.cn-beijing.aliyuncs.com"]',
    '    resolver: aliyun',
  ]);
  const config = loadConfigText(BASE + lines.join('\n') + '\n', 'c.yaml');
  const router = Router.compile(config.routes);
  for (const host of ['my-bucket.oss-cn-beijing-internal.aliyuncs.com', 'dockerauth-vpc.cn-beijing.aliyuncs.com']) {
    t.equal(router.match(host)?.resolver, 'aliyun', `${host} allowed, through the registry's resolver`);
  }
  t.equal(router.match('a.b.oss-cn-beijing-internal.aliyuncs.com'), undefined, 'the wildcard is one label deep');
  t.end();
});

await t.test('no family: the exact name, never a wider pattern; the default resolver is left implicit', (t) => {
  const lines = suggestRoutes(['weuprodreg01.blob.core.windows.net', 'docker-images-prod.s3.us-east-1.amazonaws.com', 'storage.test'], 'default');
  t.strictSame(lines, ['  - hosts: ["weuprodreg01.blob.core.windows.net", "docker-images-prod.s3.us-east-1.amazonaws.com", "storage.test"]']);
  t.strictSame(suggestRoutes(['storage.test'], null), ['  - hosts: ["storage.test"]'], 'no resolver line when the registry route has none');
  const config = loadConfigText(BASE + lines.join('\n') + '\n', 'c.yaml');
  t.equal(Router.compile(config.routes).match('other.blob.core.windows.net'), undefined, 'no other storage account');
  t.end();
});

await t.test('an IP address cannot be routed: a comment, still valid YAML', (t) => {
  const lines = suggestRoutes(['10.0.0.5', 'Storage.Test.'], 'default');
  t.strictSame(lines, ['  # "10.0.0.5" cannot be routed: "10.0.0.5" is an IP address, not a host name', '  - hosts: ["storage.test"]']);
  t.doesNotThrow(() => loadConfigText(BASE + lines.join('\n') + '\n', 'c.yaml'));
  t.strictSame(suggestRoutes(['10.0.0.5'], 'aliyun'), ['  # "10.0.0.5" cannot be routed: "10.0.0.5" is an IP address, not a host name']);
  t.strictSame(suggestRoutes([], 'aliyun'), []);
  t.end();
});
