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
