// Issue 4 end to end: stale DNS answers while the server is down, a dead address first,
// IPv6 through AAAA with `prefer`, and upstream_networks — through the built daemon, with a
// real dnsmasq and real TLS origins. Issue 14 items 5-6: special-purpose DNS answers (loopback,
// unspecified, link-local, cloud metadata) are refused unless upstream_networks opens them.
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric, parseMetrics } from '../helpers/daemon.js';
import { Dnsmasq } from '../helpers/dnsmasq.js';
import { createNetns } from '../helpers/netns.js';
import { Origin } from '../helpers/origin.js';
import { TestCa } from '../helpers/pki.js';
import { freePort, run, type RunResult } from '../helpers/proc.js';

const ca = new TestCa();
t.teardown(() => ca.cleanup());
const leaf = ca.issue(['stale.test', 'multi.test', 'v6.test', 'inside.test', 'outside.test', '*.special.test']);

// One origin port on several loopback addresses: 127.0.0.21 and ::1 listen, 127.0.0.20 and
// 127.0.0.22 do not (connections there are refused).
const origin4 = new Origin('v4', leaf);
const port = await origin4.listen('127.0.0.21');
const origin6 = new Origin('v6', leaf);
await new Promise<void>((resolve, reject) => {
  origin6.tcp.once('error', reject);
  origin6.tcp.listen(port, '::1', () => resolve());
});
t.teardown(async () => { await origin4.close(); await origin6.close(); });

// The daemon and curl run in a network namespace of the test's own, where 127.0.0.30 drops SYNs.
const ns = await createNetns('sfwd-up');
const nsSkip = 'unavailable' in ns ? `network namespaces unavailable: ${ns.unavailable}` : false;
if (!('unavailable' in ns)) t.teardown(() => ns.remove());
const dns = await Dnsmasq.start({
  domain: 'test',
  ttlSeconds: 60,
  address: '127.0.0.82',
  records: {
    'stale.test': ['127.0.0.21'],
    // dnsmasq answers several --address records in reverse order: 127.0.0.20 comes first.
    'multi.test': ['127.0.0.21', '127.0.0.20'],
    'v6.test': ['127.0.0.22', '::1'],
    'inside.test': ['127.0.0.21'],
    'outside.test': ['127.0.1.5'],
    'lo.special.test': ['127.0.0.21'],
    'lo6.special.test': ['::1'],
    'zero.special.test': ['0.0.0.0'],
    // 127.0.0.21 as a NAT64 gateway would translate it (RFC 6052's well-known prefix).
    'nat64.special.test': ['64:ff9b::7f00:15'],
    'zero.self.test': ['0.0.0.0'],
  },
});
t.teardown(() => dns.stop());

function config(prefer: 'ipv4' | 'ipv6'): string {
  return `
listen:
  - address: "127.0.0.1:0"
metrics:
  address: "127.0.0.1:0"
limits:
  connect_timeout: 2s
resolver:
  servers: ["${dns.server}"]
  prefer: ${prefer}
  min_ttl: 0s
  max_ttl: 1ms
  negative_ttl: 1ms
upstream_networks: ["127.0.0.0/24", "::1/128"]
routes:
  - hosts: ["stale.test", "multi.test", "v6.test", "inside.test", "outside.test"]
    port: ${port}
`;
}
const daemon = await DaemonProcess.start(config('ipv4'));
t.teardown(() => daemon.stop());

function curl(d: DaemonProcess, name: string): Promise<RunResult> {
  return run('curl', ['-sS', '--max-time', '15', '--cacert', ca.caFile, '--resolve', `${name}:${d.listenerPort()}:127.0.0.1`, `https://${name}:${d.listenerPort()}/hello`]);
}

await t.test('DNS down: connections go on with stale answers; fresh ones return with the server', async (t) => {
  t.equal((await curl(daemon, 'stale.test')).code, 0);
  await dns.stop();
  // max_ttl is 1 ms: the answer has expired by now; the dead server refuses (ICMP) at once.
  for (let i = 0; i < 3; i++) {
    const r = await curl(daemon, 'stale.test');
    t.equal(r.code, 0, `connection ${i + 1} with the DNS server down: ${r.stderr}`);
  }
  const m = await daemon.metrics();
  t.ok((m.get(metric('sni_forwarder_dns_lookups_total', { resolver: 'default', result: 'stale' })) ?? 0) >= 3, 'stale answers counted');
  await dns.restart();
  const before = dns.queries('stale.test');
  t.equal((await curl(daemon, 'stale.test')).code, 0);
  await dns.waitForQueries('stale.test', before + 1);
  t.pass('the restarted server is asked again');
});

await t.test('a dead first address: the next one is tried at once', async (t) => {
  const direct = new Resolver();
  direct.setServers([dns.server]);
  t.same(await direct.resolve4('multi.test'), ['127.0.0.20', '127.0.0.21'], 'precondition: the closed address comes first');
  const r = await curl(daemon, 'multi.test');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hello from v4\n');
  const line = await daemon.accessLine((l) => l['sni'] === 'multi.test');
  t.same(line['attempts'], [{ address: `127.0.0.20:${port}`, code: 'ECONNREFUSED' }]);
  t.equal(line['upstream'], `127.0.0.21:${port}`);
  t.ok(Number(line['connectMs']) < 250, `connected in ${String(line['connectMs'])} ms, before the 250 ms attempt delay`);
  t.comment(`connect time with a refused address first: ${String(line['connectMs'])} ms`);
});

await t.test('IPv6 through AAAA; prefer decides which family goes first', async (t) => {
  const r4 = await curl(daemon, 'v6.test');
  t.equal(r4.stdout, 'hello from v6\n', r4.stderr);
  const line4 = await daemon.accessLine((l) => l['sni'] === 'v6.test');
  t.same(line4['attempts'], [{ address: `127.0.0.22:${port}`, code: 'ECONNREFUSED' }], 'prefer ipv4: the A record first');
  t.equal(line4['upstream'], `[::1]:${port}`);
  const d6 = await DaemonProcess.start(config('ipv6'));
  t.teardown(() => d6.stop());
  const r6 = await curl(d6, 'v6.test');
  t.equal(r6.stdout, 'hello from v6\n', r6.stderr);
  const line6 = await d6.accessLine((l) => l['sni'] === 'v6.test');
  t.equal(line6['upstream'], `[::1]:${port}`);
  t.notOk(line6['attempts'], 'prefer ipv6: the AAAA record first, nothing failed');
});

await t.test('upstream_networks refuses an answer outside it', async (t) => {
  t.equal((await curl(daemon, 'inside.test')).code, 0, 'inside works');
  const r = await curl(daemon, 'outside.test');
  t.not(r.code, 0);
  t.match(r.stderr, /unrecognized name/i);
  const line = await daemon.accessLine((l) => l['sni'] === 'outside.test');
  t.equal(line['outcome'], 'not_allowed');
  t.match(String(line['reason']), /127\.0\.1\.5.*outside upstream_networks/);
  t.equal(line['host'], 'outside.test');
});

await t.test('cached lookups cost less than misses (figures, not assertions)', async (t) => {
  const cached = await DaemonProcess.start(config('ipv4').replace('max_ttl: 1ms', 'max_ttl: 5m'));
  t.teardown(() => cached.stop());
  for (let i = 0; i < 6; i++) t.equal((await curl(cached, 'inside.test')).code, 0);
  const lines = await cached.waitForCount((l) => l.msg === 'connection', 6);
  const times = lines.map((l) => Number(l['connectMs']));
  const [miss, ...hits] = times;
  hits.sort((a, b) => a - b);
  const median = hits[Math.floor(hits.length / 2)] ?? NaN;
  t.comment(`connect incl. DNS: miss ${String(miss)} ms, cached median ${median} ms over ${hits.length}`);
  t.equal(dns.queries('inside.test'), 1 + 1, 'one query for six connections (plus the one from the first daemon)');
});

await t.test('an address that silently drops SYNs: upstream_unreachable after connect_timeout', { skip: nsSkip }, async (t) => {
  if ('unavailable' in ns) return;
  await ns.dropSyn('127.0.0.30');
  const d = await DaemonProcess.start(loopbackConfig(`
limits:
  connect_timeout: 400ms
routes:
  - hosts: ["blackhole.test"]
    upstream: "127.0.0.30:443"
`), ['ip', 'netns', 'exec', ns.name]);
  t.teardown(() => d.stop());
  const r = await ns.run('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `blackhole.test:${d.listenerPort()}:127.0.0.1`, `https://blackhole.test:${d.listenerPort()}/`]);
  t.not(r.code, 0);
  t.match(r.stderr, /internal error/i);
  const line = await d.accessLine((l) => l['sni'] === 'blackhole.test');
  t.equal(line['outcome'], 'upstream_unreachable');
  t.same(line['attempts'], [{ address: '127.0.0.30:443', code: 'ETIMEDOUT' }]);
  t.ok(Number(line['durationMs']) >= 395, `refused after ${String(line['durationMs'])} ms (connect_timeout 400 ms)`);
});

/** curl through daemon `d` to `name` on the host; resolves with curl's result. */
function curlVia(d: DaemonProcess, name: string, via: (cmd: string, args: string[]) => Promise<RunResult> = run): Promise<RunResult> {
  return via('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `${name}:${d.listenerPort()}:127.0.0.1`, `https://${name}:${d.listenerPort()}/hello`]);
}

const SPECIAL_RULE = /refused unless an upstream_networks entry within their block lists them/;

await t.test('loopback and unspecified DNS answers are refused by default; 0.0.0.0 no longer loops', async (t) => {
  const listen = await freePort();
  const d = await DaemonProcess.start(`
listen:
  - address: "127.0.0.1:${listen}"
metrics:
  address: "127.0.0.1:0"
limits:
  # Without the fix 0.0.0.0:<listener port> connects back to the listener until this fills.
  max_connections: 16
resolver:
  servers: ["${dns.server}"]
routes:
  - hosts: ["*.special.test"]
    port: ${port}
  - hosts: ["*.self.test"]
  - hosts: ["static-zero.test"]
    upstream: "0.0.0.0:${listen}"
`);
  t.teardown(() => d.stop());
  for (const [name, address, block] of [
    ['lo.special.test', '127.0.0.21', 'loopback 127.0.0.0/8'],
    ['lo6.special.test', '::1', 'loopback ::1/128'],
    ['zero.special.test', '0.0.0.0', 'unspecified 0.0.0.0/8'],
    ['nat64.special.test', '64:ff9b::7f00:15', 'loopback 127.0.0.0/8 inside NAT64 64:ff9b::/96'],
    ['zero.self.test', '0.0.0.0', 'unspecified 0.0.0.0/8'],
  ] as const) {
    const r = await curlVia(d, name);
    t.not(r.code, 0, `${name} refused`);
    t.match(r.stderr, /unrecognized name/i, `${name}: the client is told the name is not allowed`);
    const line = await d.accessLine((l) => l['sni'] === name);
    t.equal(line['outcome'], 'not_allowed', name);
    t.match(String(line['reason']), `${name} resolves to ${address} (${block}): `, name);
    t.match(String(line['reason']), SPECIAL_RULE, name);
  }
  // A static upstream is the operator's own and not screened, but 0.0.0.0 on the listener's
  // port is the forwarder itself: the loop guard refuses it.
  t.not((await curlVia(d, 'static-zero.test')).code, 0);
  const loop = await d.accessLine((l) => l['sni'] === 'static-zero.test');
  t.equal(loop['outcome'], 'loop');
  // Every connection above was one client connection: none came back through the forwarder.
  const lines = d.lines.filter((l) => l.msg === 'connection');
  t.equal(lines.length, 6, 'one access line per curl, no looped connections');
});

await t.test('upstream_networks 127.0.0.0/8 opens loopback; 0.0.0.0/0 opens no special block', async (t) => {
  const d = await DaemonProcess.start(loopbackConfig(`
resolver:
  servers: ["${dns.server}"]
upstream_networks: ["127.0.0.0/8", "0.0.0.0/0"]
routes:
  - hosts: ["*.special.test"]
    port: ${port}
`));
  t.teardown(() => d.stop());
  const r = await curlVia(d, 'lo.special.test');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hello from v4\n');
  const ok = await d.accessLine((l) => l['sni'] === 'lo.special.test');
  t.equal(ok['outcome'], 'forwarded');
  t.equal(ok['upstream'], `127.0.0.21:${port}`);
  t.not((await curlVia(d, 'lo6.special.test')).code, 0, '::1 is not in 127.0.0.0/8');
  t.not((await curlVia(d, 'zero.special.test')).code, 0);
  const zero = await d.accessLine((l) => l['sni'] === 'zero.special.test');
  t.equal(zero['outcome'], 'not_allowed');
  t.match(String(zero['reason']), /0\.0\.0\.0 \(unspecified 0\.0\.0\.0\/8\)/);
});

// Link-local and metadata answers are tried in a network namespace of the test's own, with its own
// dnsmasq: there, even a forwarder without the rule can only fail to reach them (ENETUNREACH), so
// no packet leaves for a real metadata service.
await t.test('cloud metadata and link-local answers are refused; an entry must lie within the block', { skip: nsSkip }, async (t) => {
  if ('unavailable' in ns) return;
  const nsDns = await Dnsmasq.start({
    domain: 'test',
    ttlSeconds: 60,
    address: '127.0.0.83',
    netns: ns.name,
    records: {
      'aws.special.test': ['169.254.169.254'],
      'aws6.special.test': ['fd00:ec2::254'],
      'ali.special.test': ['100.100.100.200'],
      'll6.special.test': ['fe80::1'],
      'mcast.special.test': ['224.0.0.251'],
      // dnsmasq answers in reverse order: the metadata address comes first.
      'mixed.special.test': ['169.254.7.7', '169.254.169.254'],
    },
  });
  t.teardown(() => nsDns.stop());
  // Every address is inside upstream_networks, and each metadata address lies in a wider entry
  // (the link-local, shared and ULA blocks): none of them opens it.
  const d = await DaemonProcess.start(loopbackConfig(`
limits:
  connect_timeout: 2s
resolver:
  servers: ["${nsDns.server}"]
upstream_networks: ["0.0.0.0/0", "::/0", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7"]
routes:
  - hosts: ["*.special.test"]
    port: 443
`), ['ip', 'netns', 'exec', ns.name]);
  t.teardown(() => d.stop());
  const inNs = (cmd: string, args: string[]): Promise<RunResult> => ns.run(cmd, args);
  for (const [name, want] of [
    ['aws.special.test', '169.254.169.254 (cloud metadata 169.254.169.254/32)'],
    ['aws6.special.test', 'fd00:ec2::254 (cloud metadata fd00:ec2::254/128)'],
    ['ali.special.test', '100.100.100.200 (cloud metadata 100.100.100.200/32)'],
    ['ll6.special.test', 'fe80::1 (link-local fe80::/10)'],
    ['mcast.special.test', '224.0.0.251 (multicast 224.0.0.0/4)'],
  ] as const) {
    const r = await curlVia(d, name, inNs);
    t.match(r.stderr, /unrecognized name/i, `${name}: ${r.stderr}`);
    const line = await d.accessLine((l) => l['sni'] === name);
    t.equal(line['outcome'], 'not_allowed', name);
    t.match(String(line['reason']), `${name} resolves to ${want}: `, name);
    t.match(String(line['reason']), SPECIAL_RULE, name);
  }
  // Some answers special, some fine: the fine one is used (here it cannot be reached either).
  await curlVia(d, 'mixed.special.test', inNs);
  const mixed = await d.accessLine((l) => l['sni'] === 'mixed.special.test');
  t.equal(mixed['outcome'], 'upstream_unreachable');
  t.same(mixed['attempts'], [{ address: '169.254.7.7:443', code: 'ENETUNREACH' }], 'the metadata address is never dialled');
});

await t.test('SIGTERM while a connection is still dialling: the drain deadline ends it, not as forwarded', async (t) => {
  // A namespace of its own: the test lifts its SYN-dropping rule halfway through.
  const ns = await createNetns('sfwd-drain');
  if ('unavailable' in ns) {
    t.comment(`skipped: network namespaces unavailable: ${ns.unavailable}`);
    return;
  }
  t.teardown(() => ns.remove());
  await ns.dropSyn('127.0.0.31');
  // An origin behind the dropped SYNs: once they pass, a dial still running would connect.
  const origin = ns.exec(process.execPath, ['-e', "require('node:net').createServer((s) => s.resume()).listen(443, '127.0.0.31', () => console.log('listening'))"]);
  await once(origin.stdout!, 'data');
  const d = await DaemonProcess.start(loopbackConfig(`
limits:
  connect_timeout: 20s
  drain_timeout: 300ms
routes:
  - hosts: ["drain.test"]
    upstream: "127.0.0.31:443"
`), ['ip', 'netns', 'exec', ns.name]);
  t.teardown(() => d.stop());
  const curl = ns.run('curl', ['-sS', '--max-time', '30', '--cacert', ca.caFile, '--resolve', `drain.test:${d.listenerPort()}:127.0.0.1`, `https://drain.test:${d.listenerPort()}/`]);
  // The connection is dialling once its route matched (the gauge moves to its host). The
  // metrics server is inside the namespace too: curl it from there.
  const active = metric('sni_forwarder_active_connections', { host: 'drain.test' });
  for (;;) {
    const r = await ns.run('curl', ['-sS', '--max-time', '5', `${d.metricsUrl}/metrics`]);
    if (parseMetrics(r.stdout).get(active) === 1) break;
  }
  const t0 = performance.now();
  const exited = d.stop();
  await d.waitFor((l) => l.msg === 'drain_timeout reached: closing open connections');
  // Let the SYNs through: a dial that outlived the deadline now connects (at its next SYN
  // retransmission, about 1 s after the first).
  const lifted = await ns.run('nft', ['flush', 'chain', 'inet', 'sni_forwarder_test', 'output']);
  t.equal(lifted.code, 0, `SYNs let through ${lifted.stderr}`);
  const line = await d.accessLine((l) => l['sni'] === 'drain.test');
  t.equal(line['outcome'], 'upstream_unreachable', 'not forwarded: no upstream was reached');
  t.equal(line['reason'], 'shutting down before the upstream was connected');
  t.equal(await exited, 0, 'the daemon exited normally');
  const stopMs = performance.now() - t0;
  t.ok(stopMs < 5_000, `stopped ${stopMs.toFixed(0)} ms after SIGTERM (drain_timeout 300 ms, connect_timeout 20 s)`);
  const r = await curl;
  t.not(r.code, 0);
  t.match(r.stderr, /internal error/i, 'the client was told (TLS alert internal_error)');
});
