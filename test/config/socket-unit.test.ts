// ListenStream= as systemd reads it, and the comparison `check --unit` makes with `listen`.
import t from 'tap';
import { compareUnit, readListenStreams, sameSocketAddress } from '../../src/config/socket-unit.js';
import type { ListenerConfig } from '../../src/config/types.js';

const listener = (host: string, port: number): ListenerConfig => ({ address: { host, port }, protocol: 'tls', proxyProtocol: false, proxyProtocolFrom: [] });

await t.test('readListenStreams: the [Socket] section, comments, continuations and resets', (t) => {
  const unit = [
    '[Unit]',
    'ListenStream=1.1.1.1:1          # not in [Socket]: ignored',
    '[Socket]',
    '# ListenStream=10.0.0.1:443',
    '; ListenStream=10.0.0.2:443',
    'ListenStream=9.9.9.9:9',
    'ListenStream=',
    'ListenStream = 0.0.0.0:443',
    'ListenStream=[::]:443',
    'ListenStream=[fe80::1%eth0]:8443',
    'ListenStream=8443',
    'ListenStream=/run/sni.sock',
    'ListenStream=\\',
    '  127.0.0.1:9000',
    'BindIPv6Only=ipv6-only',
    '[Install]',
    'ListenStream=2.2.2.2:2',
  ].join('\n');
  t.same(readListenStreams(unit), [
    { line: 8, value: '0.0.0.0:443', address: { host: '0.0.0.0', port: 443 } },
    { line: 9, value: '[::]:443', address: { host: '::', port: 443 } },
    { line: 10, value: '[fe80::1%eth0]:8443', address: { host: 'fe80::1', port: 8443 } },
    { line: 11, value: '8443', address: { host: '::', port: 8443 } },
    { line: 12, value: '/run/sni.sock', address: null },
    { line: 13, value: '127.0.0.1:9000', address: { host: '127.0.0.1', port: 9000 } },
  ], 'the empty assignment dropped 9.9.9.9:9; other sections are ignored');
  t.same(readListenStreams(''), []);
  t.end();
});

await t.test('sameSocketAddress compares IPv6 spellings as addresses', (t) => {
  t.ok(sameSocketAddress({ host: '::', port: 443 }, { host: '0:0::0', port: 443 }));
  t.ok(sameSocketAddress({ host: '2001:DB8::1', port: 1 }, { host: '2001:db8:0::1', port: 1 }));
  t.notOk(sameSocketAddress({ host: '0.0.0.0', port: 443 }, { host: '::', port: 443 }), 'the IPv4 and IPv6 wildcards differ');
  t.notOk(sameSocketAddress({ host: '127.0.0.1', port: 443 }, { host: '127.0.0.1', port: 8443 }));
  t.end();
});

await t.test('compareUnit: a socket without a listener is an error naming both; a listener without a socket a warning', (t) => {
  const streams = readListenStreams('[Socket]\nListenStream=0.0.0.0:443\nListenStream=443\nListenStream=/run/x.sock\nListenStream=127.0.0.1:8443\n');
  const r = compareUnit(streams, [listener('127.0.0.1', 8443), listener('10.0.0.1', 443)]);
  t.same(r.matched.map((m) => [m.stream.line, m.listener]), [[5, '127.0.0.1:8443']]);
  t.same(r.errors.map((e) => [e.stream.line, e.message]), [
    [2, 'ListenStream=0.0.0.0:443 matches no listen entry (127.0.0.1:8443, 10.0.0.1:443): the daemon would refuse to start; add { address: "0.0.0.0:443" } to listen, or change ListenStream= to a listen address'],
    [3, 'ListenStream=443 (a bare port is bound as [::]:443) matches no listen entry (127.0.0.1:8443, 10.0.0.1:443): the daemon would refuse to start; add { address: "[::]:443" } to listen, or change ListenStream= to a listen address'],
    [4, 'ListenStream=/run/x.sock is not a TCP address; the forwarder takes TCP sockets only'],
  ]);
  t.same(r.warnings, ['listen 10.0.0.1:443 has no ListenStream= in the unit: the daemon binds it itself, which needs CAP_NET_BIND_SERVICE for a port below 1024']);
  const ok = compareUnit(readListenStreams('[Socket]\nListenStream=[::]:443\n'), [listener('::', 443)]);
  t.same([ok.errors, ok.warnings, ok.matched.length], [[], [], 1]);
  t.end();
});
