import t from 'tap';
import { parseCidr } from '../../src/config/address.js';
import { CidrSet } from '../../src/decide/cidr-set.js';
import { SPECIAL_BLOCKS, SPECIAL_RULE, entryOpens, screenAnswers, specialBlockOf } from '../../src/decide/special-addresses.js';

function nets(...s: string[]): CidrSet {
  return new CidrSet(s.map((c) => {
    const p = parseCidr(c);
    if (!p.ok) throw new Error(p.reason);
    return p.value;
  }));
}

await t.test('every block is a valid CIDR with its host bits clear', (t) => {
  for (const b of SPECIAL_BLOCKS) {
    const p = parseCidr(b.text);
    t.ok(p.ok, b.text);
    if (p.ok) t.same(p.value, b.cidr, b.text);
  }
  t.end();
});

await t.test('specialBlockOf: the narrowest special block, or none', (t) => {
  const cases: [string, string | undefined][] = [
    ['0.0.0.0', 'unspecified 0.0.0.0/8'],
    ['0.1.2.3', 'unspecified 0.0.0.0/8'],
    ['::', 'unspecified ::/128'],
    ['0::0', 'unspecified ::/128'],
    ['::ffff:0.0.0.0', 'unspecified 0.0.0.0/8'],
    ['127.0.0.1', 'loopback 127.0.0.0/8'],
    ['127.255.255.254', 'loopback 127.0.0.0/8'],
    ['::1', 'loopback ::1/128'],
    ['::ffff:127.0.0.1', 'loopback 127.0.0.0/8'],
    ['::FFFF:7f00:1', 'loopback 127.0.0.0/8'],
    ['169.254.1.1', 'link-local 169.254.0.0/16'],
    ['169.254.169.254', 'cloud metadata 169.254.169.254/32'],
    ['::ffff:169.254.169.254', 'cloud metadata 169.254.169.254/32'],
    ['fe80::1', 'link-local fe80::/10'],
    ['fe80::1%eth0', 'link-local fe80::/10'],
    ['febf::1', 'link-local fe80::/10'],
    ['fd00:ec2::254', 'cloud metadata fd00:ec2::254/128'],
    ['fd00:ec2:0:0:0:0:0:254', 'cloud metadata fd00:ec2::254/128'],
    ['100.100.100.200', 'cloud metadata 100.100.100.200/32'],
    ['224.0.0.1', 'multicast 224.0.0.0/4'],
    ['239.255.255.250', 'multicast 224.0.0.0/4'],
    ['ff02::1', 'multicast ff00::/8'],
    ['255.255.255.255', 'broadcast 255.255.255.255/32'],
    ['::ffff:255.255.255.255', 'broadcast 255.255.255.255/32'],
    // The IPv4 blocks inside NAT64 (RFC 6052, RFC 8215) and 6to4 (RFC 3056) addresses.
    ['64:ff9b::a9fe:a9fe', 'cloud metadata 169.254.169.254/32 inside NAT64 64:ff9b::/96'],
    ['64:ff9b::169.254.169.254', 'cloud metadata 169.254.169.254/32 inside NAT64 64:ff9b::/96'],
    ['64:ff9b::7f00:1', 'loopback 127.0.0.0/8 inside NAT64 64:ff9b::/96'],
    ['64:FF9B::0.0.0.0', 'unspecified 0.0.0.0/8 inside NAT64 64:ff9b::/96'],
    ['2002:a9fe:a9fe::1', 'cloud metadata 169.254.169.254/32 inside 6to4 2002::/16'],
    ['2002:7f00:1::', 'loopback 127.0.0.0/8 inside 6to4 2002::/16'],
    ['2002:e000:1:5::9', 'multicast 224.0.0.0/4 inside 6to4 2002::/16'],
    // Ordinary addresses.
    ['64:ff9b::a00:1', undefined],
    ['64:ff9b::101:101', undefined],
    ['64:ff9c::7f00:1', undefined],
    // RFC 8215's local-use prefix: where the IPv4 address sits depends on the operator's prefix
    // length (here 10.0.0.1 under a /48: the last 32 bits are zero), so it is not read at all.
    ['64:ff9b:1:a00:1::', undefined],
    ['64:ff9b:1::7f00:1', undefined],
    ['2002:a00:1::1', undefined],
    ['2003:7f00:1::', undefined],
    ['1.1.1.1', undefined],
    ['10.0.0.1', undefined],
    ['100.100.100.201', undefined],
    ['100.100.2.136', undefined],
    ['128.0.0.1', undefined],
    ['169.255.0.1', undefined],
    ['fec0::1', undefined],
    ['fd00:ec2::253', undefined],
    ['fd00::1', undefined],
    ['::2', undefined],
    ['2001:db8::1', undefined],
    ['255.255.255.254', undefined],
  ];
  for (const [address, want] of cases) {
    const b = specialBlockOf(address);
    t.equal(b === undefined ? undefined : `${b.kind} ${b.text}`, want, address);
  }
  t.end();
});

await t.test('screenAnswers: addresses × upstream_networks', (t) => {
  const open = ['1.1.1.1', '10.0.0.1', '2001:db8::1', '100.100.2.136'];
  const special = ['0.0.0.0', '::', '127.0.0.1', '::1', '::ffff:127.0.0.1', '169.254.1.1', '169.254.169.254',
    'fe80::1', 'fe80::1%eth0', 'fd00:ec2::254', '100.100.100.200', '224.0.0.1', 'ff02::1', '255.255.255.255',
    '64:ff9b::a9fe:a9fe', '64:ff9b::7f00:1', '2002:7f00:1::'];
  // [upstream_networks (null = not set), addresses that pass]
  const cases: [string[] | null, string[]][] = [
    [null, open],
    [['0.0.0.0/0', '::/0'], open],
    [['0.0.0.0/0', '::/0', '::ffff:0.0.0.0/96'], open],
    [['10.0.0.0/8'], ['10.0.0.1']],
    [['127.0.0.0/8'], ['127.0.0.1', '::ffff:127.0.0.1']],
    [['127.0.0.1/32'], ['127.0.0.1', '::ffff:127.0.0.1']],
    [['::ffff:127.0.0.0/104'], ['127.0.0.1', '::ffff:127.0.0.1']],
    [['::1/128'], ['::1']],
    [['0.0.0.0/0', '::/0', '127.0.0.0/8'], [...open, '127.0.0.1', '::ffff:127.0.0.1']],
    // Link-local opens the link, not the metadata service inside it.
    [['169.254.0.0/16'], ['169.254.1.1']],
    [['169.254.169.254/32'], ['169.254.169.254']],
    [['fe80::/10'], ['fe80::1']],
    // fd00:ec2::254 is a ULA: fc00::/7 is no special block, and does not open it.
    [['fc00::/7'], []],
    [['fd00:ec2::254/128'], ['fd00:ec2::254']],
    // The shared address space holds Alibaba's metadata service; only the /32 opens it.
    [['100.64.0.0/10'], ['100.100.2.136']],
    [['100.64.0.0/10', '100.100.100.200/32'], ['100.100.2.136', '100.100.100.200']],
    [['0.0.0.0/8'], ['0.0.0.0']],
    [['::/128'], ['::']],
    [['224.0.0.0/4', 'ff00::/8'], ['224.0.0.1', 'ff02::1']],
    [['255.255.255.255/32'], ['255.255.255.255']],
    // Inside NAT64 and 6to4 only an IPv6 entry within the embedded block opens it: neither the
    // IPv4 block nor the whole translation prefix does.
    [['169.254.169.254/32', '64:ff9b::/96', '2002::/16'], ['169.254.169.254']],
    [['64:ff9b::a9fe:a9fe/128'], ['64:ff9b::a9fe:a9fe']],
    [['64:ff9b::7f00:0/104'], ['64:ff9b::7f00:1']],
    [['2002:7f00::/24'], ['2002:7f00:1::']],
  ];
  for (const [entries, want] of cases) {
    const set = entries === null ? null : nets(...entries);
    const got = [...open, ...special].filter((a) => {
      const r = screenAnswers('x.example.test', [a], set);
      return r.ok && r.addresses.length === 1;
    });
    t.same(got, want, `upstream_networks: ${entries === null ? 'not set' : entries.join(', ')}`);
  }
  t.end();
});

await t.test('screenAnswers keeps the fine answers in order and names the refused ones', (t) => {
  t.same(screenAnswers('a.example.test', ['127.0.0.1', '192.0.2.7', '169.254.169.254', '192.0.2.8'], null),
    { ok: true, addresses: ['192.0.2.7', '192.0.2.8'] });
  t.same(screenAnswers('api.example.test', ['169.254.169.254'], null), {
    ok: false,
    reason: `api.example.test resolves to 169.254.169.254 (cloud metadata 169.254.169.254/32): ${SPECIAL_RULE}`,
  });
  t.same(screenAnswers('a.example.test', ['10.9.9.9', '127.0.0.1'], nets('192.168.0.0/16', '126.0.0.0/7')), {
    ok: false,
    reason: `a.example.test resolves to 10.9.9.9 (outside upstream_networks), 127.0.0.1 (loopback 127.0.0.0/8): ${SPECIAL_RULE}`,
  });
  t.same(screenAnswers('a.example.test', ['10.9.9.9'], nets('192.168.0.0/16')),
    { ok: false, reason: 'a.example.test resolves to 10.9.9.9 (outside upstream_networks)' }, 'no rule text when nothing special');
  t.same(screenAnswers('nat64.example.test', ['64:ff9b::a9fe:a9fe'], null), {
    ok: false,
    reason: `nat64.example.test resolves to 64:ff9b::a9fe:a9fe (cloud metadata 169.254.169.254/32 inside NAT64 64:ff9b::/96): ${SPECIAL_RULE}`,
  });
  const many = screenAnswers('a.example.test', ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'], null);
  t.match(many, { ok: false, reason: /127\.0\.0\.4 \(loopback 127\.0\.0\.0\/8\), 2 more: / }, 'a long answer is cut short');
  t.end();
});

await t.test('entryOpens: an entry opens a block only when it lies inside it', (t) => {
  const loopback = SPECIAL_BLOCKS.find((b) => b.text === '127.0.0.0/8');
  const aliyun = SPECIAL_BLOCKS.find((b) => b.text === '100.100.100.200/32');
  if (loopback === undefined || aliyun === undefined) throw new Error('blocks missing');
  const c = (s: string): ReturnType<typeof parseCidr> => parseCidr(s);
  const opens = (s: string, b: typeof loopback): boolean => {
    const p = c(s);
    return p.ok && entryOpens(p.value, b);
  };
  t.ok(opens('127.0.0.0/8', loopback));
  t.ok(opens('127.0.0.1/32', loopback));
  t.ok(opens('::ffff:127.0.0.0/104', loopback));
  t.notOk(opens('0.0.0.0/0', loopback));
  t.notOk(opens('126.0.0.0/7', loopback));
  t.notOk(opens('100.64.0.0/10', aliyun));
  t.ok(opens('100.100.100.200/32', aliyun));
  t.end();
});
