// Slowloris: 1,000 clients dribbling a real ClientHello one byte at a time are all closed at
// client_hello_timeout, while a normal client keeps being served (issue 8, "Faults").
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric } from '../helpers/daemon.js';
import { captureNodeTls } from '../helpers/hello-capture.js';
import { fetchHello, startTlsOrigin } from '../helpers/origin.js';

const { ca, origin } = await startTlsOrigin('slow', ['slow.test'], (fn) => t.teardown(fn));

const d = await DaemonProcess.start(loopbackConfig(`
limits:
  client_hello_timeout: 2s
routes:
  - hosts: ["slow.test"]
    upstream: "127.0.0.1:${origin.port}"
`));
t.teardown(() => d.stop());
const port = d.listenerPort();

function hello(): Promise<string> {
  return fetchHello({ port, servername: 'slow.test', caPem: ca.caPem });
}

await t.test('1,000 one-byte-at-a-time hellos are closed at the timeout; others are served', async (t) => {
  const bytes = await captureNodeTls({ servername: 'slow.test' });
  const CLIENTS = 1000;
  const sockets: Socket[] = [];
  const closed: Promise<void>[] = [];
  const sent = new Map<Socket, number>();
  for (let i = 0; i < CLIENTS; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    sockets.push(s);
    sent.set(s, 0);
    closed.push(new Promise((resolve) => s.once('close', () => resolve())));
  }
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  // The load: one more byte of the hello from every client every 250 ms.
  const drip = setInterval(() => {
    for (const s of sockets) {
      const n = sent.get(s) ?? 0;
      if (s.destroyed || !s.writable || n >= bytes.length) continue;
      s.write(bytes.subarray(n, n + 1));
      sent.set(s, n + 1);
    }
  }, 250);
  t.teardown(() => clearInterval(drip));
  let fetched = 0;
  let failed = 0;
  let allClosed = false;
  const done = Promise.all(closed).then(() => { allClosed = true; });
  while (!allClosed) {
    try {
      if ((await hello()) === 'hello from slow\n') fetched++;
      else failed++;
    } catch {
      failed++;
    }
  }
  await done;
  clearInterval(drip);
  t.equal(failed, 0, `${fetched} normal fetches while the slow clients dripped, none failed`);
  t.ok(fetched > 0);
  const lines = await d.waitForCount((l) => l.msg === 'connection' && l['outcome'] === 'hello_timeout', CLIENTS);
  t.equal(lines.length, CLIENTS, 'every slow client ended as hello_timeout');
  // Node arms timers against the event loop's cached clock, which lags the real clock by up to
  // the length of the loop turn that accepted the burst; allow 100 ms for that.
  const shortest = Math.min(...lines.map((l) => Number(l['durationMs'])));
  t.ok(shortest >= 1900, `none closed before client_hello_timeout (shortest ${shortest} ms)`);
  const maxSent = Math.max(...sent.values());
  t.ok(maxSent < bytes.length, `no hello completed (at most ${maxSent} of ${bytes.length} bytes sent)`);
  const m = await d.metrics();
  t.equal(m.get(metric('sni_forwarder_active_connections', { host: '' })), 0, 'nothing left open');
  t.comment(`slowloris: ${CLIENTS} clients closed at the hello timeout; ${fetched} normal fetches succeeded meanwhile`);
});
