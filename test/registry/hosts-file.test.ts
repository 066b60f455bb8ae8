// The pure `hosts` formatter (SPEC §7): exact names as hosts/dnsmasq lines, wildcards as
// warnings or address= lines, and the --address check. Table-driven.
import t from 'tap';
import { formatHostsFile, parseHostsAddress, type HostsFileInput } from '../../src/registry/hosts-file.js';

const HOSTS_HEADER = (file: string, ip: string): string[] => [
  `# sni-forwarder: names allowed by ${file}, pointed at the forwarder ${ip}.`,
  '# Append to the client\'s hosts file (/etc/hosts; on Windows C:\\Windows\\System32\\drivers\\etc\\hosts).',
];
const DNSMASQ_HEADER = (file: string, ip: string): string[] => [
  `# sni-forwarder: names allowed by ${file}, pointed at the forwarder ${ip}.`,
  '# dnsmasq configuration, e.g. /etc/dnsmasq.d/sni-forwarder.conf.',
];
/** The hosts-format warning for `*.suffix` whose suffix no route allows (wording pinned in full below). */
const wildcardWarning = (suffix: string, ip: string): string =>
  `*.${suffix} is a wildcard and cannot be written in a hosts file; add each name you use ("${ip} NAME.${suffix}"), ` +
  `or let dnsmasq cover it with "address=/${suffix}/${ip}", which also sends ${suffix} itself (refused by the forwarder) ` +
  `and names at any depth below it, such as a.b.${suffix} (refused unless another route allows them), to the forwarder; ` +
  `the route allows exactly one label, such as x.${suffix}.`;
const EXACT_NOTE = '# Exact names: host-record answers for the name alone; address=/name/ would also catch every name below it.';

const cases: { name: string; input: HostsFileInput; lines: string[]; warnings: string[] }[] = [
  {
    name: 'hosts: exact names sorted, one line each',
    input: { patterns: ['registry.example.com', 'auth.example.com', 'harbor'], address: '203.0.113.10', configFile: 'c.yaml', format: 'hosts' },
    lines: [...HOSTS_HEADER('c.yaml', '203.0.113.10'), '203.0.113.10 auth.example.com', '203.0.113.10 harbor', '203.0.113.10 registry.example.com'],
    warnings: [],
  },
  {
    name: 'hosts: IPv6 address',
    input: { patterns: ['a.example'], address: '2001:db8::10', configFile: '/etc/x.yaml', format: 'hosts' },
    lines: [...HOSTS_HEADER('/etc/x.yaml', '2001:db8::10'), '2001:db8::10 a.example'],
    warnings: [],
  },
  {
    name: 'hosts: a wildcard is left out, noted in a comment and warned with its dnsmasq line',
    input: { patterns: ['*.s3.example.com', 'registry.example.com'], address: '10.0.0.5', configFile: 'c.yaml', format: 'hosts' },
    lines: [
      ...HOSTS_HEADER('c.yaml', '10.0.0.5'),
      '# Not listed: 1 wildcard pattern(s) (*.s3.example.com); a hosts file cannot hold them, see `sni-forwarder hosts --format dnsmasq`.',
      '10.0.0.5 registry.example.com',
    ],
    warnings: [
      '*.s3.example.com is a wildcard and cannot be written in a hosts file; add each name you use ("10.0.0.5 NAME.s3.example.com"), ' +
        'or let dnsmasq cover it with "address=/s3.example.com/10.0.0.5", which also sends s3.example.com itself (refused by the forwarder) ' +
        'and names at any depth below it, such as a.b.s3.example.com (refused unless another route allows them), to the forwarder; ' +
        'the route allows exactly one label, such as x.s3.example.com.',
    ],
  },
  {
    name: 'hosts: only wildcards gives a header and warnings (sorted by suffix)',
    input: { patterns: ['*.z.example', '*.a.example'], address: '10.0.0.5', configFile: 'c.yaml', format: 'hosts' },
    lines: [...HOSTS_HEADER('c.yaml', '10.0.0.5'), '# Not listed: 2 wildcard pattern(s) (*.a.example, *.z.example); a hosts file cannot hold them, see `sni-forwarder hosts --format dnsmasq`.'],
    warnings: [wildcardWarning('a.example', '10.0.0.5'), wildcardWarning('z.example', '10.0.0.5')],
  },
  {
    name: 'dnsmasq: host-record for exact names, address= for wildcards with their reach',
    input: { patterns: ['registry.example.com', '*.s3.example.com', 'auth.example.com'], address: '10.0.0.5', configFile: 'c.yaml', format: 'dnsmasq' },
    lines: [
      ...DNSMASQ_HEADER('c.yaml', '10.0.0.5'),
      EXACT_NOTE,
      'host-record=auth.example.com,10.0.0.5',
      'host-record=registry.example.com,10.0.0.5',
      '# *.s3.example.com: the next line also sends s3.example.com itself (refused by the forwarder) and names at any depth below it, ' +
        'such as a.b.s3.example.com (refused unless another route allows them), to the forwarder; the route allows exactly one label, such as x.s3.example.com.',
      'address=/s3.example.com/10.0.0.5',
    ],
    warnings: [],
  },
  {
    name: 'dnsmasq: a suffix allowed by another route is said to be allowed',
    input: { patterns: ['*.example.com', '*.s3.example.com'], address: '2001:db8::1', configFile: 'c.yaml', format: 'dnsmasq' },
    lines: [
      ...DNSMASQ_HEADER('c.yaml', '2001:db8::1'),
      '# *.example.com: the next line also sends example.com itself (refused by the forwarder) and names at any depth below it, ' +
        'such as a.b.example.com (refused unless another route allows them), to the forwarder; the route allows exactly one label, such as x.example.com.',
      'address=/example.com/2001:db8::1',
      '# *.s3.example.com: the next line also sends s3.example.com itself (allowed by another route) and names at any depth below it, ' +
        'such as a.b.s3.example.com (refused unless another route allows them), to the forwarder; the route allows exactly one label, such as x.s3.example.com.',
      'address=/s3.example.com/2001:db8::1',
    ],
    warnings: [],
  },
];

for (const c of cases) {
  await t.test(c.name, (t) => {
    const got = formatHostsFile(c.input);
    t.strictSame(got.lines, c.lines);
    t.strictSame(got.warnings, c.warnings);
    t.end();
  });
}

await t.test('output does not depend on pattern order', (t) => {
  const patterns = ['b.example', '*.w.example', 'a.example', 'c.example', '*.v.example'];
  for (const format of ['hosts', 'dnsmasq'] as const) {
    const base = formatHostsFile({ patterns, address: '10.0.0.1', configFile: 'c', format });
    const rev = formatHostsFile({ patterns: [...patterns].reverse(), address: '10.0.0.1', configFile: 'c', format });
    t.strictSame(rev, base, format);
  }
  t.end();
});

await t.test('parseHostsAddress accepts IP literals and refuses the rest with a reason', (t) => {
  const good: [string, string][] = [
    ['203.0.113.10', '203.0.113.10'],
    ['2001:DB8::10', '2001:db8::10'],
    ['::1', '::1'],
    ['127.0.0.1', '127.0.0.1'],
  ];
  for (const [input, want] of good) t.strictSame(parseHostsAddress(input), { ok: true, value: want }, input);
  const bad: [string, RegExp][] = [
    ['', /is not an IP address/],
    ['1.2.3', /is not an IP address/],
    ['256.1.1.1', /is not an IP address/],
    ['bastion.example.com', /is not an IP address/],
    ['10.0.0.1:443', /is not an IP address/],
    ['[2001:db8::10]', /without brackets/],
    ['fe80::1%eth0', /zone identifiers/],
    ['0.0.0.0', /unspecified address/],
    ['::', /unspecified address/],
  ];
  for (const [input, want] of bad) {
    const r = parseHostsAddress(input);
    t.equal(r.ok, false, input);
    if (!r.ok) t.match(r.reason, want, input);
  }
  t.end();
});
