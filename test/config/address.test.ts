import t from 'tap';
import {
  addressesOverlap, formatHostPort, ipBytes, normalizeHostname, normalizeHostPattern, parseCidr, parseHostPort,
  parsePort, validateHostname, type HostPortOptions,
} from '../../src/config/address.js';

await t.test('parseHostPort', (t) => {
  const cases: { s: string; opts?: HostPortOptions; want: { host: string; port: number } | RegExp }[] = [
    { s: '0.0.0.0:443', want: { host: '0.0.0.0', port: 443 } },
    { s: '127.0.0.1:8443', want: { host: '127.0.0.1', port: 8443 } },
    { s: '[::]:443', want: { host: '::', port: 443 } },
    { s: '[::1]:443', want: { host: '::1', port: 443 } },
    { s: '[FD00::1]:443', want: { host: 'fd00::1', port: 443 } },
    { s: 'Registry.Example.COM:443', want: { host: 'registry.example.com', port: 443 } },
    { s: 'harbor.:443', want: { host: 'harbor', port: 443 } },
    { s: '127.0.0.1:0', opts: { allowPortZero: true }, want: { host: '127.0.0.1', port: 0 } },
    { s: '127.0.0.1:0', want: /port must be an integer 1\.\.65535/ },
    { s: '127.0.0.1:65536', want: /port must be/ },
    { s: '127.0.0.1:0443', want: /port must be/ },
    { s: '127.0.0.1:+443', want: /port must be/ },
    { s: '127.0.0.1:', want: /port must be/ },
    { s: '127.0.0.1', want: /expected host:port/ },
    { s: ':443', want: /missing host/ },
    { s: '::1:443', want: /put IPv6 addresses in brackets/ },
    { s: '[::1]', want: /expected host:port/ },
    { s: '[::1', want: /missing "\]"/ },
    { s: '[::1]443', want: /expected ":port" after "\]"/ },
    { s: '[1.2.3.4]:443', want: /brackets are only for IPv6/ },
    { s: '[fe80::1%eth0]:443', want: /zone identifiers/ },
    { s: 'example.com:443', opts: { requireIp: true }, want: /expected an IP address/ },
    { s: '1.2.3:443', want: /last label is all digits/ },
    { s: 'a..b:443', want: /empty label/ },
    { s: 'a_b.com:443', want: /invalid character "_"/ },
    // DNS servers: "ip" or "ip:port", default port 53.
    { s: '100.100.2.136', opts: { requireIp: true, defaultPort: 53 }, want: { host: '100.100.2.136', port: 53 } },
    { s: '10.0.0.2:5353', opts: { requireIp: true, defaultPort: 53 }, want: { host: '10.0.0.2', port: 5353 } },
    { s: '2001:db8::53', opts: { requireIp: true, defaultPort: 53 }, want: { host: '2001:db8::53', port: 53 } },
    { s: '[2001:db8::53]', opts: { requireIp: true, defaultPort: 53 }, want: { host: '2001:db8::53', port: 53 } },
    { s: '[2001:db8::53]:54', opts: { requireIp: true, defaultPort: 53 }, want: { host: '2001:db8::53', port: 54 } },
    { s: 'dns.google', opts: { requireIp: true, defaultPort: 53 }, want: /expected an IP address/ },
  ];
  for (const { s, opts, want } of cases) {
    const got = parseHostPort(s, opts);
    if (want instanceof RegExp) {
      t.equal(got.ok, false, `${s} refused`);
      if (!got.ok) t.match(got.reason, want, s);
    } else {
      t.same(got, { ok: true, value: want }, s);
    }
  }
  t.end();
});

await t.test('formatHostPort brackets IPv6 only', (t) => {
  t.equal(formatHostPort({ host: '::1', port: 443 }), '[::1]:443');
  t.equal(formatHostPort({ host: '10.0.0.1', port: 443 }), '10.0.0.1:443');
  t.equal(formatHostPort({ host: 'example.com', port: 443 }), 'example.com:443');
  t.end();
});

await t.test('parsePort', (t) => {
  t.equal(parsePort('1'), 1);
  t.equal(parsePort('65535'), 65535);
  t.equal(parsePort('0'), undefined);
  t.equal(parsePort('0', true), 0);
  t.equal(parsePort('65536'), undefined);
  t.equal(parsePort('00'), undefined);
  t.equal(parsePort('4 43'), undefined);
  t.end();
});

await t.test('parseCidr', (t) => {
  const cases: [string, { address: string; prefix: number; family: string } | RegExp][] = [
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.168.0.0/16', { address: '192.168.0.0', prefix: 16, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    ['10.1.2.3', { address: '10.1.2.3', prefix: 32, family: 'ipv4' }],
    ['10.1.2.3/32', { address: '10.1.2.3', prefix: 32, family: 'ipv4' }],
    ['::1/128', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['FD00::/8', { address: 'fd00::', prefix: 8, family: 'ipv6' }],
    ['::/0', { address: '::', prefix: 0, family: 'ipv6' }],
    ['::ffff:10.0.0.0/104', { address: '::ffff:10.0.0.0', prefix: 104, family: 'ipv6' }],
    ['10.0.0.1/8', /host bits are set; did you mean "10\.0\.0\.0\/8"/],
    ['fd00::1/64', /did you mean "fd00::\/64"/],
    ['2001:db8:1:2::/32', /did you mean "2001:db8::\/32"/],
    ['10.0.0.0/33', /prefix length must be an integer 0\.\.32/],
    ['::/129', /0\.\.128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['10.0.0/8', /expected a CIDR/],
    ['example.com/8', /expected a CIDR/],
    ['fe80::%eth0/64', /expected a CIDR/],
    ['', /expected a CIDR/],
  ];
  for (const [s, want] of cases) {
    const got = parseCidr(s);
    if (want instanceof RegExp) {
      t.equal(got.ok, false, `${s} refused`);
      if (!got.ok) t.match(got.reason, want, s);
    } else {
      t.same(got, { ok: true, value: want }, s);
    }
  }
  t.end();
});

await t.test('ipBytes', (t) => {
  t.same(ipBytes('10.1.2.3'), Uint8Array.from([10, 1, 2, 3]));
  t.same(ipBytes('::1'), Uint8Array.from([...new Array<number>(15).fill(0), 1]));
  t.same(ipBytes('::'), new Uint8Array(16));
  t.same(ipBytes('2001:db8::a:b'), Uint8Array.from([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x0b]));
  t.same(ipBytes('1:2:3:4:5:6:7:8'), Uint8Array.from([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]));
  t.same(ipBytes('::ffff:1.2.3.4'), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]));
  t.same(ipBytes('::1.2.3.4'), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
  t.same(ipBytes('1:2:3:4:5:6:1.2.3.4'), Uint8Array.from([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]));
  t.same(ipBytes('1::'), Uint8Array.from([0, 1, ...new Array<number>(14).fill(0)]));
  t.equal(ipBytes('example.com'), undefined);
  t.equal(ipBytes('fe80::1%eth0'), undefined);
  t.end();
});

await t.test('addressesOverlap', (t) => {
  const hp = (host: string, port: number) => ({ host, port });
  t.ok(addressesOverlap(hp('127.0.0.1', 443), hp('127.0.0.1', 443)), 'same address');
  t.ok(addressesOverlap(hp('0.0.0.0', 443), hp('127.0.0.1', 443)), 'unspecified IPv4 covers IPv4');
  t.ok(addressesOverlap(hp('::1', 443), hp('::', 443)), 'unspecified IPv6 covers IPv6');
  t.ok(addressesOverlap(hp('::', 443), hp('0::0', 443)), 'same IPv6 spelled twice');
  t.notOk(addressesOverlap(hp('0.0.0.0', 443), hp('::', 443)), ':: vs 0.0.0.0 depends on ipv6Only');
  t.notOk(addressesOverlap(hp('127.0.0.1', 443), hp('127.0.0.2', 443)), 'different addresses');
  t.notOk(addressesOverlap(hp('127.0.0.1', 443), hp('127.0.0.1', 444)), 'different ports');
  t.notOk(addressesOverlap(hp('127.0.0.1', 0), hp('127.0.0.1', 0)), 'port 0 never collides');
  t.end();
});

await t.test('validateHostname', (t) => {
  const cases: [string, string | RegExp][] = [
    ['registry.example.com', 'registry.example.com'],
    ['Registry.Example.COM.', 'registry.example.com'],
    ['harbor', 'harbor'],
    ['a-b.c0.example', 'a-b.c0.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['1password.com', '1password.com'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
    [`${'a'.repeat(64)}.com`, /label longer than 63/],
    [`${'a.'.repeat(125)}abc`, `${'a.'.repeat(125)}abc`], // 253 characters
    [`${'a.'.repeat(125)}abc.`, `${'a.'.repeat(125)}abc`], // the root dot does not count
    [`${'a.'.repeat(125)}abcd`, /longer than 253/],
    ['', /empty host name/],
    ['.', /not a host name/],
    ['a..b', /empty label/],
    ['.a.b', /empty label/],
    ['a.b..', /empty label/],
    ['-a.com', /starts or ends with "-"/],
    ['a-.com', /starts or ends with "-"/],
    ['a_b.com', /invalid character "_"/],
    ['a b.com', /invalid character " "/],
    ['a*.com', /invalid character "\*"/],
    ['10.0.0.1', /is an IP address/],
    ['::1', /is an IP address/],
    ['10.0.0.300', /last label is all digits/],
    ['123', /last label is all digits/],
  ];
  for (const [s, want] of cases) {
    const got = validateHostname(s);
    if (want instanceof RegExp) {
      t.equal(got.ok, false, `${s} refused`);
      if (!got.ok) t.match(got.reason, want, s);
    } else {
      t.same(got, { ok: true, value: want }, s);
    }
  }
  t.equal(normalizeHostname('A.Example.COM.'), 'a.example.com');
  t.equal(normalizeHostname('a.example.com'), 'a.example.com');
  t.end();
});

await t.test('normalizeHostPattern', (t) => {
  const cases: [string, string | RegExp][] = [
    ['registry.example.com', 'registry.example.com'],
    ['*.example.com', '*.example.com'],
    ['*.S3.Example.COM.', '*.s3.example.com'],
    ['*.com', /whole top-level domain/],
    ['*.', /nothing after "\*\."/],
    ['*', /must be the whole first label/],
    ['*.*.example.com', /must be the whole first label and appear once/],
    ['a.*.com', /must be the whole first label/],
    ['**.x', /must be the whole first label/],
    ['*foo.example.com', /must be the whole first label/],
    ['foo*.example.com', /must be the whole first label/],
    ['*.a..com', /empty label/],
    ['*.10.0.0.1', /is an IP address/],
    ['*.0.1', /last label is all digits/],
    ['1.2.3.4', /is an IP address/],
    ['a..com', /empty label/],
  ];
  for (const [s, want] of cases) {
    const got = normalizeHostPattern(s);
    if (want instanceof RegExp) {
      t.equal(got.ok, false, `${s} refused`);
      if (!got.ok) t.match(got.reason, want, s);
    } else {
      t.same(got, { ok: true, value: want }, s);
    }
  }
  t.end();
});
