// The edge controls (issue 7): source ACL, per-client limits, and a flood of idle connections,
// through the built daemon with real TLS clients.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric } from '../helpers/daemon.js';
import { fetchHello, startTlsOrigin } from '../helpers/origin.js';
import { freePort } from '../helpers/proc.js';

const { ca, origin } = await startTlsOrigin('edge', ['edge.test'], (fn) => t.teardown(fn));

const d = await DaemonProcess.start(loopbackConfig(`
clients:
  allow: ["127.0.0.1/32", "127.0.0.3/32"]
limits:
  client_hello_timeout: 2s
  max_connections_per_client: 5
routes:
  - hosts: ["edge.test"]
    upstream: "127.0.0.1:${origin.port}"
`));
t.teardown(() => d.stop());
const port = d.listenerPort();

function hello(from = '127.0.0.1', to = port): Promise<string> {
  return fetchHello({ port: to, servername: 'edge.test', caPem: ca.caPem, localAddress: from });
}

async function idle(from: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress: from });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

await t.test('clients.allow: an allowed source works, another is refused before any route', async (t) => {
  t.equal(await hello('127.0.0.1'), 'hello from edge\n');
  const before = origin.accepted;
  await t.rejects(hello('127.0.0.2'), 'a source outside clients.allow is refused');
  const line = await d.accessLine((l) => l['outcome'] === 'client_denied');
  t.match(String(line['client']), /^127\.0\.0\.2:/);
  t.equal(line['sni'], null, 'refused before reading the hello');
  t.equal(origin.accepted, before, 'the origin never saw it');
  const m = await d.metrics();
  t.equal(m.get(metric('sni_forwarder_connections_total', { host: '', outcome: 'client_denied' })), 1);
});

await t.test('max_connections_per_client: the 6th from one source is refused, others get through', async (t) => {
  const held = await Promise.all(Array.from({ length: 5 }, () => idle('127.0.0.1')));
  let m = await d.metrics();
  while (m.get(metric('sni_forwarder_active_connections', { host: '' })) !== 5) m = await d.metrics();
  await t.rejects(hello('127.0.0.1'), 'the 6th connection from 127.0.0.1 is refused');
  const line = await d.accessLine((l) => l['outcome'] === 'limit');
  t.match(String(line['reason']), /max_connections_per_client 5/);
  t.equal(await hello('127.0.0.3'), 'hello from edge\n', 'another source still gets through');
  for (const s of held) s.destroy();
  await d.waitForCount((l) => l.msg === 'connection' && l['reason'] === 'client closed before a complete ClientHello', 5);
  // Counts are back to 0: five more from the same source are admitted.
  const again = await Promise.all(Array.from({ length: 5 }, () => idle('127.0.0.1')));
  t.equal(await hello('127.0.0.3'), 'hello from edge\n');
  for (const s of again) s.destroy();
  await d.waitForCount((l) => l.msg === 'connection' && l['reason'] === 'client closed before a complete ClientHello', 10);
  m = await d.metrics();
  t.equal(m.get(metric('sni_forwarder_active_connections', { host: '' })), 0);
  t.equal(m.get(metric('sni_forwarder_connections_total', { host: '', outcome: 'limit' })), 1, 'only the 6th was refused');
});

await t.test('max_connections_per_client counts an IPv6 client per /64 (sources from PROXY headers)', async (t) => {
  // The PROXY header lets the test claim any IPv6 source without binding one.
  const ppPort = await freePort();
  const yaml = (prefix: string): string => `
listen:
  - address: "127.0.0.1:${ppPort}"
    proxy_protocol: true
    proxy_protocol_from: ["127.0.0.1/32"]
metrics:
  address: "127.0.0.1:0"
limits:
  max_connections_per_client: 1
${prefix}routes:
  - hosts: ["edge.test"]
    upstream: "127.0.0.1:${origin.port}"
`;
  const pd = await DaemonProcess.start(yaml(''));
  t.teardown(() => pd.stop());
  const open: TLSSocket[] = [];
  t.teardown(() => { for (const s of open) s.destroy(); });
  /** A TLS connection (kept open, so it holds its slot) from `source` as the PROXY header says; false if refused. */
  const claim = async (source: string, family: 'TCP4' | 'TCP6' = 'TCP6'): Promise<boolean> => {
    const tcp = connect({ port: ppPort, host: '127.0.0.1' });
    tcp.on('error', () => {});
    await once(tcp, 'connect');
    tcp.write(`PROXY ${family} ${source} ${family === 'TCP6' ? '::1' : '127.0.0.1'} 40000 443\r\n`);
    const s = tlsConnect({ socket: tcp, servername: 'edge.test', ca: ca.caPem });
    s.on('error', () => {}); // a refusal: seen as 'close' before 'secureConnect'
    open.push(s);
    return new Promise<boolean>((resolve) => {
      s.once('secureConnect', () => resolve(true));
      s.once('close', () => resolve(false));
    });
  };
  t.equal(await claim('2001:db8:0:7::1'), true, 'the first client of 2001:db8:0:7::/64 is admitted');
  t.equal(await claim('2001:db8:0:7:ffff::2'), false, 'another address of the same /64 is refused');
  const line = await pd.accessLine((l) => l['outcome'] === 'limit');
  t.equal(line['client'], '[2001:db8:0:7:ffff::2]:40000');
  t.match(String(line['reason']), /max_connections_per_client 1/);
  t.equal(await claim('2001:db8:0:8::1'), true, 'the next /64 is another client');
  t.equal(await claim('::ffff:10.9.9.9'), true, 'an IPv4-mapped source ...');
  t.equal(await claim('10.9.9.9', 'TCP4'), false, '... is counted as its IPv4 address');

  writeFileSync(pd.configFile, yaml('  client_ipv6_prefix: 128\n'));
  pd.child.kill('SIGHUP');
  await pd.waitFor((l) => l.msg === 'reloaded');
  t.equal(await claim('2001:db8:0:7::3'), true, 'with client_ipv6_prefix 128 each address counts alone');
  t.equal(await claim('2001:db8:0:7::3'), false, 'but still once');
});

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

await t.test('a flood of 5,000 silent connections: normal fetches succeed, all closed at the hello timeout', async (t) => {
  // A daemon without a per-client cap: the flood comes from one source address.
  const fd = await DaemonProcess.start(loopbackConfig(`
limits:
  client_hello_timeout: 2s
routes:
  - hosts: ["edge.test"]
    upstream: "127.0.0.1:${origin.port}"
`));
  t.teardown(() => fd.stop());
  const floodPort = fd.listenerPort();
  const pid = fd.child.pid!;
  const rssBefore = rssKiB(pid);
  const flood: Socket[] = [];
  const closed: Promise<unknown>[] = [];
  const opened = Date.now();
  for (let i = 0; i < 5000; i++) {
    const s = connect({ port: floodPort, host: '127.0.0.1' });
    s.on('error', () => {});
    flood.push(s);
    closed.push(new Promise((resolve) => s.once('close', resolve)));
  }
  t.teardown(() => { for (const s of flood) s.destroy(); });
  let fetched = 0;
  let failed = 0;
  let rssPeak = rssBefore;
  let allClosed = false;
  const done = Promise.all(closed).then(() => { allClosed = true; });
  while (!allClosed) {
    try {
      if ((await hello('127.0.0.1', floodPort)) === 'hello from edge\n') fetched++;
      else failed++;
    } catch {
      failed++;
    }
    rssPeak = Math.max(rssPeak, rssKiB(pid));
  }
  await done;
  const seconds = (Date.now() - opened) / 1000;
  t.equal(failed, 0, `${fetched} normal fetches during the flood, none failed`);
  t.ok(fetched > 0);
  t.ok(seconds >= 1.9, `flood closed after ${seconds.toFixed(1)} s (client_hello_timeout 2 s)`);
  t.ok(rssPeak - rssBefore < 200 * 1024, `RSS ${Math.round(rssBefore / 1024)} → peak ${Math.round(rssPeak / 1024)} MiB`);
  const m = await fd.metrics();
  t.equal(m.get(metric('sni_forwarder_connections_total', { host: '', outcome: 'hello_timeout' })), 5000, 'every flood connection ended by the hello timeout');
  t.equal(m.get(metric('sni_forwarder_active_connections', { host: '' })), 0);
  t.comment(`flood: 5000 idle connections closed after ${seconds.toFixed(1)} s; ${fetched} fetches succeeded meanwhile; daemon RSS ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(rssPeak / 1024)} MiB peak`);
});
