import t from 'tap';
import { parseCidr } from '../../src/config/address.js';
import type { Cidr } from '../../src/config/types.js';
import { CidrSet } from '../../src/decide/cidr-set.js';

function cidr(s: string): Cidr {
  const p = parseCidr(s);
  if (!p.ok) throw new Error(p.reason);
  return p.value;
}

function set(...s: string[]): CidrSet {
  return new CidrSet(s.map(cidr));
}

await t.test('has: IPv4, IPv6, mapped forms both ways', (t) => {
  const s = set('10.0.0.0/8', 'fd00::/8', '::ffff:192.168.0.0/112');
  t.ok(s.has('10.1.2.3'));
  t.ok(s.has('::ffff:10.1.2.3'), 'mapped address in an IPv4 block');
  t.ok(s.has('192.168.7.7'), 'IPv4 address in a mapped block');
  t.ok(s.has('fd12::1'));
  t.notOk(s.has('11.0.0.1'));
  t.notOk(s.has('fe80::1'));
  t.notOk(s.has('fd12::1%eth0'), 'a zone id is not an address');
  t.notOk(s.has('example.com'));
  t.end();
});

await t.test('hasInside: the address is in an entry that lies inside the outer block', (t) => {
  const cases: { entries: string[]; address: string; outer: string; want: boolean }[] = [
    { entries: ['127.0.0.0/8'], address: '127.0.0.1', outer: '127.0.0.0/8', want: true },
    { entries: ['127.0.0.1/32'], address: '127.0.0.1', outer: '127.0.0.0/8', want: true },
    { entries: ['127.0.0.1/32'], address: '127.0.0.2', outer: '127.0.0.0/8', want: false },
    { entries: ['0.0.0.0/0'], address: '127.0.0.1', outer: '127.0.0.0/8', want: false },
    { entries: ['100.64.0.0/10'], address: '100.100.100.200', outer: '100.100.100.200/32', want: false },
    { entries: ['100.100.100.200/32'], address: '100.100.100.200', outer: '100.100.100.200/32', want: true },
    { entries: ['0.0.0.0/0', '127.0.0.0/8'], address: '127.0.0.1', outer: '127.0.0.0/8', want: true },
    { entries: ['::ffff:127.0.0.0/104'], address: '127.0.0.9', outer: '127.0.0.0/8', want: true },
    { entries: ['127.0.0.0/8'], address: '::ffff:127.0.0.9', outer: '127.0.0.0/8', want: true },
    { entries: ['::/0'], address: '::1', outer: '::1/128', want: false },
    { entries: ['::1/128'], address: '::1', outer: '::1/128', want: true },
    { entries: ['127.0.0.0/8'], address: '::1', outer: '::1/128', want: false },
  ];
  for (const c of cases) {
    t.equal(set(...c.entries).hasInside(c.address, cidr(c.outer)), c.want, `${c.entries.join(',')} ${c.address} in ${c.outer}`);
  }
  t.end();
});

await t.test('narrowest: the position of the longest prefix holding the address', (t) => {
  const s = set('10.0.0.0/8', '10.1.0.0/16', '::/0', '10.1.2.0/24', '::ffff:10.1.2.3/128');
  t.equal(s.narrowest('10.9.9.9'), 0);
  t.equal(s.narrowest('10.1.9.9'), 1);
  t.equal(s.narrowest('10.1.2.9'), 3);
  t.equal(s.narrowest('10.1.2.3'), 4, 'a mapped /128 is the IPv4 /32');
  t.equal(s.narrowest('2001:db8::1'), 2);
  t.equal(s.narrowest('11.0.0.1'), -1);
  t.equal(s.narrowest('not an address'), -1);
  t.end();
});
