// The CLI as an operator meets it (SPEC §2): `check` and `run` on good and broken configs,
// exit codes, and one-line errors without stack traces.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import t from 'tap';
import { runCli, writeConfig } from '../helpers/daemon.js';

const EXAMPLE = resolve(import.meta.dirname, '../../../config.example.yaml');

await t.test('check accepts config.example.yaml and prints the route table', async (t) => {
  const r = await runCli(['check', '-c', EXAMPLE]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /: ok\n/);
  t.match(r.stdout, /listen +127\.0\.0\.1:8443 tls/);
  t.match(r.stdout, /routes \(\d+\):/);
  t.equal(r.stderr, '');
});

// One broken file per error class; each must be reported at its exact position.
const cases: { name: string; yaml: string; want: RegExp }[] = [
  { name: 'unknown key', yaml: 'listen:\n  - address: "127.0.0.1:8443"\n    protcol: tls\nroutes:\n  - hosts: ["a.example"]\n', want: /:3:5: listen\[0\]\.protcol: / },
  { name: 'bad duration', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nlimits:\n  idle_timeout: 10 minutes\nroutes:\n  - hosts: ["a.example"]\n', want: /:4:17: limits\.idle_timeout: / },
  { name: 'bad address', yaml: 'listen:\n  - address: "127.0.0.1"\nroutes:\n  - hosts: ["a.example"]\n', want: /:2:14: listen\[0\]\.address: / },
  { name: 'bad CIDR', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nupstream_networks: ["10.0.0.0/33"]\nroutes:\n  - hosts: ["a.example"]\n', want: /:3:21: upstream_networks\[0\]: / },
  { name: 'duplicate host', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.example"]\n  - hosts: ["A.example."]\n', want: /:5:13: routes\[1\]\.hosts\[0\]: .*duplicate/i },
  { name: 'bad pattern', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.*.example"]\n', want: /:4:13: routes\[0\]\.hosts\[0\]: / },
  { name: 'wrong type', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nlimits:\n  max_connections: lots\nroutes:\n  - hosts: ["a.example"]\n', want: /:4:20: limits\.max_connections: / },
  { name: 'YAML syntax', yaml: 'listen:\n  - address: "127.0.0.1:8443\nroutes: []\n', want: /:\d+:\d+: / },
];
for (const c of cases) {
  await t.test(`check reports ${c.name} with file:line:col and exits 1`, async (t) => {
    const file = writeConfig(c.yaml);
    const r = await runCli(['check', '-c', file]);
    t.equal(r.code, 1);
    t.match(r.stderr, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + c.want.source, c.want.flags));
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.equal(r.stdout, '');
  });
}

await t.test('check on a missing file: one line, exit 1', async (t) => {
  const r = await runCli(['check', '-c', '/nonexistent/sni-forwarder.yaml']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^\/nonexistent\/sni-forwarder\.yaml:1:1: .*ENOENT/);
});

await t.test('run refuses an invalid config before binding anything', async (t) => {
  const file = writeConfig('listen:\n  - address: "127.0.0.1:0"\nroutes:\n  - hosts: ["*."]\n');
  const r = await runCli(['run', '-c', file]);
  t.equal(r.code, 1);
  t.match(r.stderr, /:4:13: routes\[0\]\.hosts\[0\]: /);
});

await t.test('run on a port in use: a clear error and exit 1', async (t) => {
  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  const { port } = blocker.address() as AddressInfo;
  const file = writeConfig(`listen:\n  - address: "127.0.0.1:${port}"\nmetrics:\n  address: "127.0.0.1:0"\nroutes:\n  - hosts: ["a.example"]\n`);
  const r = await runCli(['run', '-c', file]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

await t.test('--version prints the package version', async (t) => {
  const r = await runCli(['--version']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});
