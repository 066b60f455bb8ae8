// workers: 2 through the built CLI: connections spread over both processes, /metrics is their
// sum, a killed worker comes back while the other keeps serving, SIGTERM stops them all.
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric } from '../helpers/daemon.js';
import { fetchHello, startTlsOrigin } from '../helpers/origin.js';

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

await t.test('SIGTERM stops every worker and the primary with exit 0', async (t) => {
  t.equal(await d.stop('SIGTERM'), 0);
  t.equal(d.lines.filter((l) => l.msg === 'stopped').length, 3, 'two workers and the primary stopped');
});
