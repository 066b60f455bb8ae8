// workers: 2 through the built CLI: connections spread over both processes, /metrics is their
// sum, a killed worker comes back while the other keeps serving, max_connections_per_client
// holds over both, SIGTERM stops them all.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric, type LogLine } from '../helpers/daemon.js';
import { fetchHello, startTlsOrigin } from '../helpers/origin.js';
import { freePort } from '../helpers/proc.js';

const { ca, origin } = await startTlsOrigin('w', ['w.test'], (fn) => t.teardown(fn));

const d = await DaemonProcess.start(loopbackConfig(`
workers: 2
routes:
  - hosts: ["w.test"]
    upstream: "127.0.0.1:${origin.port}"
`));
t.teardown(() => d.stop());
await d.waitFor((l) => l.msg === 'ready' && l['workers'] === 2);
const port = d.listenerPort();

function hello(): Promise<string> {
  return fetchHello({ port, servername: 'w.test', caPem: ca.caPem });
}

const workerPids = (): number[] => d.lines.filter((l) => l.msg === 'worker started').map((l) => Number(l['workerPid']));

await t.test('connections are spread over both workers and /metrics sums them', async (t) => {
  for (let i = 0; i < 20; i++) t.equal(await hello(), 'hello from w\n');
  const lines = await d.waitForCount((l) => l.msg === 'connection', 20);
  const pids = new Set(lines.map((l) => l['pid']));
  t.equal(pids.size, 2, `access lines from two processes: ${[...pids].join(', ')}`);
  t.same([...pids].sort(), workerPids().sort(), 'the workers the primary started');
  const m = await d.metrics();
  t.equal(m.get(metric('sni_forwarder_connections_total', { host: 'w.test', outcome: 'forwarded' })), 20, 'the sum over workers');
  t.equal((await fetch(`${d.metricsUrl}/readyz`)).status, 200);
});

await t.test('a killed worker is restarted; the other serves meanwhile', async (t) => {
  const [victim] = workerPids();
  t.ok(victim, 'a worker pid');
  process.kill(victim!, 'SIGKILL');
  const died = await d.waitFor((l) => l.msg === 'worker died' && l['workerPid'] === victim);
  t.equal(died['signal'], 'SIGKILL');
  t.equal(await hello(), 'hello from w\n', 'served while the worker is down');
  const restarted = await d.waitFor((l) => l.msg === 'worker started' && !workerPids().slice(0, 2).includes(Number(l['workerPid'])));
  const newPid = restarted['workerPid'];
  await d.waitFor((l) => l.msg === 'ready' && l['pid'] === newPid);
  for (let i = 0; i < 6; i++) t.equal(await hello(), 'hello from w\n');
  const after = await d.waitForCount((l) => l.msg === 'connection', 27);
  t.ok(after.slice(21).some((l) => l['pid'] === newPid), 'the new worker takes connections');
});

await t.test('SIGHUP: every worker applies a kept listener\'s changed protocol', async (t) => {
  writeFileSync(d.configFile, `listen:
  - address: "127.0.0.1:0"
    protocol: http
metrics:
  address: "127.0.0.1:0"
workers: 2
routes:
  - hosts: ["w.test"]
    upstream: "127.0.0.1:${origin.port}"
`);
  const seen = d.lines.length;
  d.child.kill('SIGHUP');
  const reloaded = await d.waitForCount((l) => d.lines.indexOf(l) >= seen && l.msg === 'reloaded', 2);
  for (const l of reloaded.slice(-2)) t.same(l['changed'], ['127.0.0.1:0'], `worker ${String(l['pid'])} names the changed listener`);
  // A TLS hello on what is now a plain-HTTP listener is refused, by whichever worker takes it.
  const before = d.lines.length;
  for (let i = 0; i < 6; i++) await t.rejects(hello(), `TLS connection ${i + 1} refused after the switch`);
  const refused = (await d.waitForCount((l) => d.lines.indexOf(l) >= before && l.msg === 'connection', 6)).slice(-6);
  t.ok(refused.every((l) => l['outcome'] !== 'forwarded'), `outcomes: ${[...new Set(refused.map((l) => String(l['outcome'])))].join(', ')}`);
  t.equal(new Set(refused.map((l) => l['pid'])).size, 2, 'both workers refused: both applied the new settings');
});

await t.test('max_connections_per_client holds across workers; a dead worker\'s slots are dropped', async (t) => {
  // A fixed port: once both workers are dead the shared socket is closed, and their successors
  // bind the configured address again.
  const lport = await freePort();
  const ld = await DaemonProcess.start(`
listen:
  - address: "127.0.0.1:${lport}"
metrics:
  address: "127.0.0.1:0"
workers: 2
limits:
  client_hello_timeout: 60s
  max_connections_per_client: 2
routes:
  - hosts: ["w.test"]
    upstream: "127.0.0.1:${origin.port}"
`);
  t.teardown(() => ld.stop());
  await ld.waitFor((l) => l.msg === 'ready' && l['workers'] === 2);
  const pids = ld.lines.filter((l) => l.msg === 'worker started').map((l) => Number(l['workerPid']));
  const active = async (): Promise<number | undefined> => (await ld.metrics()).get(metric('sni_forwarder_active_connections', { host: '' }));
  /** A connection that sends nothing: it holds its slot until closed (client_hello_timeout is 60 s). */
  const hold = async (): Promise<Socket> => {
    const s = connect({ port: lport, host: '127.0.0.1' });
    s.on('error', () => {});
    await once(s, 'connect');
    return s;
  };
  const limitLines = (): LogLine[] => ld.lines.filter((l) => l.msg === 'connection' && l['outcome'] === 'limit');
  /** Polls /metrics until `n` connections are open; fails at once if a connection is refused meanwhile. */
  const activeIs = async (n: number): Promise<void> => {
    const refusals = limitLines().length;
    while ((await active()) !== n) {
      if (limitLines().length > refusals) throw new Error(`a connection was refused while waiting for ${n} open`);
    }
  };

  // Two held connections: round-robin gives one to each worker.
  let held = [await hold(), await hold()];
  await activeIs(2);
  // Each further connection is refused, whichever worker takes it.
  for (let i = 0; i < 8; i++) {
    await t.rejects(fetchHello({ port: lport, servername: 'w.test', caPem: ca.caPem }), `connection ${i + 3} is refused`);
  }
  const refused = await ld.waitForCount((l) => l.msg === 'connection' && l['outcome'] === 'limit', 8);
  t.same(new Set(refused.map((l) => l['pid'])), new Set(pids), 'both workers refused connections');
  t.ok(refused.every((l) => /max_connections_per_client 2/.test(String(l['reason']))), 'the reason names the limit');

  // Closing one held connection frees its slot for a connection on either worker.
  const closedOne = ld.waitForCount((l) => l.msg === 'connection' && l['outcome'] === 'not_tls', 1);
  held[0]!.destroy();
  await closedOne;
  t.equal(await fetchHello({ port: lport, servername: 'w.test', caPem: ca.caPem }), 'hello from w\n', 'a freed slot is taken');
  await ld.accessLine((l) => l['outcome'] === 'forwarded'); // its slot is given back at close
  const third = await hold();
  await activeIs(2);
  held = [held[1]!, third];

  // A killed worker cannot release its slots: the primary drops them. Kill both, so that every
  // held slot belongs to a dead worker, and wait for both to come back.
  for (const pid of pids) {
    process.kill(pid, 'SIGKILL');
    await ld.waitFor((l) => l.msg === 'worker died' && l['workerPid'] === pid);
  }
  const restarted = await ld.waitForCount((l) => l.msg === 'worker started', 4);
  for (const l of restarted.slice(2)) await ld.waitFor((r) => r.msg === 'ready' && r['pid'] === l['workerPid']);
  for (const s of held) s.destroy();
  const again = [await hold(), await hold()];
  t.teardown(() => { for (const s of again) s.destroy(); });
  await t.resolves(activeIs(2), 'two new connections are admitted: nothing of the dead worker is counted');
  await t.rejects(fetchHello({ port: lport, servername: 'w.test', caPem: ca.caPem }), 'and a third is refused');
});

await t.test('SIGTERM stops every worker and the primary with exit 0', async (t) => {
  t.equal(await d.stop('SIGTERM'), 0);
  t.equal(d.lines.filter((l) => l.msg === 'stopped').length, 3, 'two workers and the primary stopped');
});
