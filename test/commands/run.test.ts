// `run`'s debugging aid for `make soak`: under node --expose-gc, SIGUSR2 collects garbage and
// logs the memory left, and the daemon keeps serving.
import t from 'tap';
import { DaemonProcess, loopbackConfig } from '../helpers/daemon.js';

await t.test('with --expose-gc, SIGUSR2 logs "gc done" with the memory and the daemon keeps running', async (t) => {
  // `env` execs node, so the daemon keeps the child's pid and gets the signal itself.
  const d = await DaemonProcess.start(loopbackConfig(`
routes:
  - hosts: ["x.test"]
    upstream: "127.0.0.1:9"
`), ['env', 'NODE_OPTIONS=--expose-gc']);
  t.teardown(() => d.stop());
  for (let i = 1; i <= 2; i++) {
    d.child.kill('SIGUSR2');
    const lines = await d.waitForCount((l) => l.msg === 'gc done', i);
    const line = lines[i - 1] ?? {};
    t.ok(Number(line['heapUsedBytes']) > 0 && Number(line['rssBytes']) > Number(line['heapUsedBytes']), `gc ${i}: ${JSON.stringify(line)}`);
  }
  const health = await fetch(`${d.metricsUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  t.equal(health.status, 200, 'still serving');
  t.equal(await d.stop(), 0, 'stops cleanly');
});
