// `hosts --address IP` end to end (SPEC §2, §7): the built CLI on temp configs; exact stdout,
// warnings on stderr, exit codes, and output that parses as a hosts file.
import { isIP } from 'node:net';
import t from 'tap';
import { warningLines } from '../../src/commands/output.js';
import { runCli, writeConfig } from '../helpers/daemon.js';

const YAML = [
  'listen:',
  '  - address: "0.0.0.0:443"',
  'routes:',
  '  - hosts: ["registry.example.com", "*.s3.example.com", "Auth.Example.com."]',
  '  - hosts: ["harbor.internal.example"]',
  '    upstream: "10.1.2.3:443"',
  '',
].join('\n');
const file = writeConfig(YAML);
const lines = (ls: string[]): string => ls.map((l) => `${l}\n`).join('');

const S3_NOTE = 'also sends s3.example.com itself (refused by the forwarder) and names at any depth below it, such as ' +
  'a.b.s3.example.com (refused unless another route allows them), to the forwarder; the route allows exactly one label, such as x.s3.example.com.';

await t.test('hosts: exact names sorted, the wildcard as a warning with its dnsmasq line', async (t) => {
  const r = await runCli(['hosts', '--address', '203.0.113.10', '-c', file]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, lines([
    `# sni-forwarder: names allowed by ${file}, pointed at the forwarder 203.0.113.10.`,
    '# Append to the client\'s hosts file (/etc/hosts; on Windows C:\\Windows\\System32\\drivers\\etc\\hosts).',
    '# Not listed: 1 wildcard pattern(s) (*.s3.example.com); a hosts file cannot hold them, see `sni-forwarder hosts --format dnsmasq`.',
    '203.0.113.10 auth.example.com',
    '203.0.113.10 harbor.internal.example',
    '203.0.113.10 registry.example.com',
  ]));
  t.equal(r.stderr, lines(warningLines('*.s3.example.com is a wildcard and cannot be written in a hosts file; add each name you use ' +
      '("203.0.113.10 NAME.s3.example.com"), or let dnsmasq cover it with "address=/s3.example.com/203.0.113.10", which ' + S3_NOTE)));
  t.ok(r.stderr.split('\n').every((l) => l.length <= 100), 'wrapped at 100 columns');
  t.match(r.stderr, /^sni-forwarder: warning: \*\.s3\.example\.com is a wildcard/);
});

await t.test('hosts --format dnsmasq: host-record for exact names, address= for the wildcard, no warnings', async (t) => {
  const r = await runCli(['hosts', '--address', '2001:DB8::10', '--format', 'dnsmasq', '-c', file]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, lines([
    `# sni-forwarder: names allowed by ${file}, pointed at the forwarder 2001:db8::10.`,
    '# dnsmasq configuration, e.g. /etc/dnsmasq.d/sni-forwarder.conf.',
    '# Exact names: host-record answers for the name alone; address=/name/ would also catch every name below it.',
    'host-record=auth.example.com,2001:db8::10',
    'host-record=harbor.internal.example,2001:db8::10',
    'host-record=registry.example.com,2001:db8::10',
    `# *.s3.example.com: the next line ${S3_NOTE}`,
    'address=/s3.example.com/2001:db8::10',
  ]));
  t.equal(r.stderr, '');
});

await t.test('hosts output is a parseable hosts file: every non-comment line is "IP name"', async (t) => {
  for (const ip of ['203.0.113.10', '2001:db8::10']) {
    const r = await runCli(['hosts', '--address', ip, '-c', file]);
    t.equal(r.code, 0, r.stderr);
    t.ok(r.stdout.endsWith('\n'), 'ends with a newline');
    const entries = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    t.equal(entries.length, 3, ip);
    for (const entry of entries) {
      // hosts(5): an IP address, white space, a canonical host name; no comment or tab tricks.
      const m = /^(\S+) ([a-z0-9.-]+)$/.exec(entry);
      t.ok(m, entry);
      t.equal(isIP(m?.[1] ?? ''), ip.includes(':') ? 6 : 4, entry);
      t.equal(m?.[1], ip);
      t.notOk(m?.[2]?.includes('*'), 'no wildcard');
    }
  }
});

await t.test('hosts is deterministic: the same config in another order gives the same lines', async (t) => {
  const reordered = writeConfig([
    'listen:',
    '  - address: "0.0.0.0:443"',
    'routes:',
    '  - hosts: ["harbor.internal.example"]',
    '    upstream: "10.1.2.3:443"',
    '  - hosts: ["auth.example.com", "*.s3.example.com", "registry.example.com"]',
    '',
  ].join('\n'));
  const a = await runCli(['hosts', '--address', '10.0.0.5', '-c', file]);
  const b = await runCli(['hosts', '--address', '10.0.0.5', '-c', reordered]);
  t.equal(b.stdout.replace(reordered, 'FILE'), a.stdout.replace(file, 'FILE'));
  t.equal(b.stderr, a.stderr);
});

await t.test('hosts warns when no tls listener is on port 443', async (t) => {
  const alt = writeConfig('listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.example.com"]\n');
  const r = await runCli(['hosts', '--address', '10.0.0.5', '-c', alt]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, lines([
    `# sni-forwarder: names allowed by ${alt}, pointed at the forwarder 10.0.0.5.`,
    '# Append to the client\'s hosts file (/etc/hosts; on Windows C:\\Windows\\System32\\drivers\\etc\\hosts).',
    '10.0.0.5 a.example.com',
  ]));
  t.equal(r.stderr, [
    'sni-forwarder: warning: no tls listener on port 443 (127.0.0.1:8443 tls); clients redirected by name',
    '  connect to port 443, so forward that port to the listener',
    '',
  ].join('\n'));
});

await t.test('hosts warns about names shared by other traffic, such as S3\'s regional endpoint', async (t) => {
  const ecr = writeConfig('listen:\n  - address: "0.0.0.0:443"\npresets:\n  - provider: aws-ecr\n    region: eu-west-1\n    account: "123456789012"\n' +
    'routes:\n  - hosts: ["storage.googleapis.com", "registry.example.com"]\n');
  const r = await runCli(['hosts', '--address', '10.0.0.5', '-c', ecr]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, '\n10.0.0.5 s3.eu-west-1.amazonaws.com\n', 'the name is still written');
  const tail = 'leave it out unless the registry needs it (sni-forwarder probe REGISTRY shows which names a pull uses)';
  t.equal(r.stderr, lines([
    ...warningLines('s3.eu-west-1.amazonaws.com is shared by other traffic: redirecting it sends every path-style S3 request ' +
      `in eu-west-1 (any bucket, any account) from the client through the forwarder, not only the registry's; ${tail}`),
    ...warningLines('storage.googleapis.com is shared by other traffic: redirecting it sends every Cloud Storage request ' +
      `(any bucket, any project) from the client through the forwarder, not only the registry's; ${tail}`),
  ]), 'one warning per shared name, none for the registry\'s own names');
  t.ok(r.stderr.split('\n').every((l) => l.length <= 100), 'every line fits 100 columns');
  t.equal(r.stderr.split('\n').filter((l) => l.startsWith('sni-forwarder: warning: ')).length, 2);
  const dnsmasq = await runCli(['hosts', '--address', '10.0.0.5', '--format', 'dnsmasq', '-c', writeConfig(
    'listen:\n  - address: "0.0.0.0:443"\nroutes:\n  - hosts: ["*.s3.us-east-1.amazonaws.com"]\n')]);
  t.match(dnsmasq.stderr, /^sni-forwarder: warning: \*\.s3\.us-east-1\.amazonaws\.com is shared by other traffic: redirecting it\n {2}sends every virtual-hosted S3 request in us-east-1/,
    'dnsmasq writes wildcards, so they are checked too');
});

const badAddresses: [string, RegExp][] = [
  ['bastion.example.com', /^sni-forwarder: --address "bastion\.example\.com" is not an IP address; /],
  ['10.0.0.1:443', /is not an IP address/],
  ['[2001:db8::10]', /without brackets/],
  ['0.0.0.0', /unspecified address/],
];
for (const [address, want] of badAddresses) {
  await t.test(`hosts --address ${address}: one sentence, exit 1, nothing on stdout`, async (t) => {
    const r = await runCli(['hosts', '--address', address, '-c', file]);
    t.equal(r.code, 1);
    t.match(r.stderr, want);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
    t.equal(r.stdout, '');
  });
}

await t.test('hosts without --address or with an unknown --format is a usage error, exit 1', async (t) => {
  const missing = await runCli(['hosts', '-c', file]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /required option '--address <ip>' not specified/);
  const format = await runCli(['hosts', '--address', '10.0.0.5', '--format', 'unbound', '-c', file]);
  t.equal(format.code, 1);
  t.equal(format.stderr, 'sni-forwarder: --format "unbound": expected one of hosts, dnsmasq\n');
  t.equal(format.stdout, '');
});

await t.test('hosts on an invalid config: the ConfigError, exit 1', async (t) => {
  const bad = writeConfig('listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["*.com"]\n');
  const r = await runCli(['hosts', '--address', '10.0.0.5', '-c', bad]);
  t.equal(r.code, 1);
  t.match(r.stderr, /:4:13: routes\[0\]\.hosts\[0\]: /);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.equal(r.stdout, '');
});
