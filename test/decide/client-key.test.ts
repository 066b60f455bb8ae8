import t from 'tap';
import { clientKey } from '../../src/decide/client-key.js';

await t.test('clientKey: IPv4 per address, IPv6 per network of the prefix', (t) => {
  const cases: { name: string; address: string; prefix: number; want: string }[] = [
    { name: 'IPv4 is its own key', address: '192.0.2.7', prefix: 64, want: '192.0.2.7' },
    { name: 'IPv4-mapped counts as the IPv4 address', address: '::ffff:192.0.2.7', prefix: 64, want: '192.0.2.7' },
    { name: 'IPv4-mapped in hex groups too', address: '::FFFF:c000:0207', prefix: 48, want: '192.0.2.7' },
    { name: 'loopback in its /64', address: '::1', prefix: 64, want: '::/64' },
    { name: 'host bits dropped', address: '2001:db8:0:7:1234:5678:9abc:def0', prefix: 64, want: '2001:db8:0:7::/64' },
    { name: 'another address of the same /64 has the same key', address: '2001:db8:0:7::1', prefix: 64, want: '2001:db8:0:7::/64' },
    { name: 'the next /64 differs', address: '2001:db8:0:8::1', prefix: 64, want: '2001:db8:0:8::/64' },
    { name: 'upper case and zeros normalised', address: '2001:0DB8:0000:0007::1', prefix: 64, want: '2001:db8:0:7::/64' },
    { name: 'a prefix inside a group', address: '2001:db8:abcd:ffff::1', prefix: 52, want: '2001:db8:abcd:f000::/52' },
    { name: 'a prefix inside a byte', address: '2001:db8:abcd:ffff::1', prefix: 49, want: '2001:db8:abcd:8000::/49' },
    { name: '/128 is the full address', address: '2001:db8::a:0:0:1', prefix: 128, want: '2001:db8::a:0:0:1/128' },
    { name: '/1', address: 'fe80::1', prefix: 1, want: '8000::/1' },
    { name: 'the longest zero run is compressed', address: '2001:0:0:1:0:0:0:1', prefix: 128, want: '2001:0:0:1::1/128' },
    { name: 'a zone identifier is ignored', address: 'fe80::1:2:3:4%eth0', prefix: 64, want: 'fe80::/64' },
    { name: 'not an IP literal: unchanged', address: 'nonsense:x', prefix: 64, want: 'nonsense:x' },
  ];
  for (const c of cases) t.equal(clientKey(c.address, c.prefix), c.want, c.name);
  t.end();
});
