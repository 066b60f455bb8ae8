import { networkInterfaces } from 'node:os';
import t from 'tap';
import { ownAddressChecker } from '../../src/connect/loop-guard.js';

await t.test('an exact listener owns only its own address and port', (t) => {
  const own = ownAddressChecker([{ address: '127.0.0.1', port: 8443 }]);
  t.ok(own('127.0.0.1', 8443));
  t.ok(own('::ffff:127.0.0.1', 8443), 'IPv4-mapped form');
  t.notOk(own('127.0.0.1', 443), 'other port');
  t.notOk(own('127.0.0.2', 8443), 'other address');
  t.end();
});

await t.test('a wildcard listener owns the port on every local address', (t) => {
  const own = ownAddressChecker([{ address: '0.0.0.0', port: 443 }]);
  t.ok(own('127.0.0.1', 443));
  t.ok(own('127.8.9.10', 443), 'all of 127.0.0.0/8');
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) t.ok(own(i.address, 443), `interface address ${i.address}`);
  }
  t.notOk(own('192.0.2.1', 443), 'a remote address (TEST-NET-1)');
  t.notOk(own('127.0.0.1', 8443), 'other port');
  t.end();
});

await t.test('[::] listener owns IPv6 loopback too', (t) => {
  const own = ownAddressChecker([{ address: '::', port: 443 }]);
  t.ok(own('::1', 443));
  t.notOk(own('2001:db8::1', 443));
  t.end();
});

await t.test('the unspecified address is this host: own on every listener port', (t) => {
  // Linux connects 0.0.0.0 to 127.0.0.1 and :: to ::1: a DNS answer or a static upstream of
  // 0.0.0.0:<listener port> would reach the forwarder itself (issue #14 item 5).
  const own = ownAddressChecker([{ address: '127.0.0.1', port: 8443 }, { address: '10.0.0.5', port: 443 }]);
  for (const a of ['0.0.0.0', '::', '0::0', '::ffff:0.0.0.0', '0:0:0:0:0:0:0:0']) {
    t.ok(own(a, 8443), `${a} on a 127.0.0.1 listener's port`);
    t.ok(own(a, 443), `${a} on an exact listener's port`);
    t.notOk(own(a, 9999), `${a} on another port`);
  }
  const wild = ownAddressChecker([{ address: '::', port: 443 }]);
  t.ok(wild('0.0.0.0', 443));
  t.ok(wild('::', 443));
  t.notOk(wild('0.0.0.1', 443), 'only the all-zero address, not the rest of 0.0.0.0/8');
  t.end();
});
