// `make soak`: SOAK_CONNECTIONS (default 100,000) mixed connections through one daemon, then
// checks that nothing leaked (issue 8, "Soak"). The mix: forwarded (TLS handshake + GET through
// to a real TLS origin), not_allowed names, garbage bytes, resets mid-hello and mid-transfer.
// The daemon runs with --expose-gc; SIGUSR2 makes it collect and log its memory ("gc done"), so
// the before/after figures are live memory, not garbage. Prints a table; exits 1 if a check
// fails. Uses the built daemon (dist/) and the compiled test helpers (build/test/helpers/).
/* global AbortSignal */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { clearTimeout, setTimeout } from 'node:timers';
import { connect as tlsConnect } from 'node:tls';
import { CLI, cliEnv, parseMetrics } from '../build/test/helpers/daemon.js';
import { captureNodeTls } from '../build/test/helpers/hello-capture.js';
import { startTlsOrigin } from '../build/test/helpers/origin.js';

const TOTAL = Number(process.env.SOAK_CONNECTIONS ?? 100_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 64);
const WARMUP = Math.min(2_000, Math.ceil(TOTAL / 10));
/** Stated tolerances, after a full GC in the daemon. */
const HEAP_TOLERANCE_BYTES = 4 * 1024 * 1024;
const RSS_TOLERANCE_BYTES = 32 * 1024 * 1024;
const OP_LIMIT_MS = 15_000;

const cleanups = [];
const { ca, origin } = await startTlsOrigin('soak', ['soak.test'], (fn) => cleanups.push(fn));
const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-soak-'));
const configFile = join(dir, 'config.yaml');
writeFileSync(configFile, `
listen:
  - address: "127.0.0.1:0"
metrics:
  address: "127.0.0.1:0"
log:
  level: info
limits:
  client_hello_timeout: 5s
  idle_timeout: 10s
routes:
  - hosts: ["soak.test"]
    upstream: "127.0.0.1:${origin.port}"
`);

// ---- the daemon, with its log read for the few lines needed ------------------------------
const child = spawn(process.execPath, ['--expose-gc', CLI, 'run', '-c', configFile], { stdio: ['ignore', 'pipe', 'inherit'], env: cliEnv() });
const waiters = [];
const seen = [];
createInterface({ input: child.stdout }).on('line', (text) => {
  if (text.includes('"msg":"connection"')) return; // 100,000 access lines: not kept
  let line;
  try { line = JSON.parse(text); } catch { return; }
  seen.push(line);
  for (const w of waiters.splice(0)) if (!w.match(line)) waiters.push(w); else w.resolve(line);
});
const waitFor = (match) => {
  const old = seen.find(match);
  return old ? Promise.resolve(old) : new Promise((resolve) => waiters.push({ match, resolve }));
};
await waitFor((l) => l.msg === 'ready');
const addressOf = (msg) => { const a = seen.find((l) => l.msg === msg).address; return Number(a.slice(a.lastIndexOf(':') + 1)); };
const port = addressOf('listening');
const metricsUrl = `http://127.0.0.1:${addressOf('metrics listening')}/metrics`;

// ---- the traffic ---------------------------------------------------------------------------
const HELLO_ALLOWED = await captureNodeTls({ servername: 'soak.test' });
const HELLO_DENIED = await captureNodeTls({ servername: 'not-allowed.test' });
const GARBAGE = Buffer.from('GET / HTTP/1.1\r\nHost: soak.test\r\n\r\n\x00\xff garbage');

/** Resolves when `s` closes, or after OP_LIMIT_MS (counted as stuck). */
function closed(s) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { stuck++; s.destroy(); }, OP_LIMIT_MS);
    s.once('close', () => { clearTimeout(timer); resolve(); });
  });
}
let stuck = 0;
let failed = 0;

function raw(payload, then) {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.resume(); // read (and drop) the refusal, so that the close is seen
  s.once('connect', () => then(s, payload));
  return closed(s);
}

/** TLS through the daemon, GET `path`; `onData` sees the raw socket at the first response bytes. */
function viaTls(path, onData) {
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => {});
  const tls = tlsConnect({ socket: sock, servername: 'soak.test', ca: ca.caPem });
  tls.on('error', () => {});
  let body = '';
  tls.once('secureConnect', () => tls.write(`GET ${path} HTTP/1.1\r\nHost: soak.test\r\nConnection: close\r\n\r\n`));
  tls.on('data', (c) => {
    body += c.length < 256 ? c.toString() : '';
    if (onData !== undefined) onData(sock);
  });
  tls.on('end', () => { if (onData === undefined && !body.includes('hello from soak')) failed++; tls.end(); });
  return closed(sock);
}

const KINDS = [
  // [name, share, outcome it must be counted as, run]
  ['forwarded', 40, 'forwarded', () => viaTls('/hello')],
  ['reset mid-transfer', 10, 'forwarded', () => viaTls('/blob?size=1048576', (sock) => sock.resetAndDestroy())],
  ['not allowed', 20, 'not_allowed', () => raw(HELLO_DENIED, (s, p) => s.end(p))],
  ['garbage', 20, 'not_tls', () => raw(GARBAGE, (s, p) => s.end(p))],
  ['reset mid-hello', 10, 'not_tls', () => raw(HELLO_ALLOWED, (s, p) => s.write(p.subarray(0, 40), () => s.resetAndDestroy()))],
];
const SHARES = KINDS.reduce((n, k) => n + k[1], 0);
const sent = new Map(KINDS.map((k) => [k[0], 0]));

/** Runs `n` connections, CONCURRENCY at a time, the kinds interleaved by share. */
async function traffic(n, onProgress) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      let slot = i % SHARES;
      const kind = KINDS.find((k) => (slot -= k[1]) < 0);
      sent.set(kind[0], sent.get(kind[0]) + 1);
      await kind[3]();
      if (onProgress !== undefined && (i + 1) % Math.ceil(n / 10) === 0) await onProgress(i + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

// ---- sampling -----------------------------------------------------------------------------
async function scrape() {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  return parseMetrics(await res.text());
}
const sum = (m, name, pred = () => true) => [...m].filter(([k]) => (k === name || k.startsWith(`${name}{`)) && pred(k)).reduce((n, [, v]) => n + v, 0);

/** Resource figures of the daemon; `gc` first makes it collect and uses what it logs. */
async function sample(label, gc) {
  let heap;
  if (gc) {
    const n = seen.filter((l) => l.msg === 'gc done').length;
    const done = waitFor((l) => l.msg === 'gc done' && seen.filter((x) => x.msg === 'gc done').indexOf(l) >= n);
    child.kill('SIGUSR2');
    heap = (await done).heapUsedBytes;
  }
  const m = await scrape();
  heap ??= sum(m, 'nodejs_heap_size_used_bytes');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024;
  const fds = readdirSync(`/proc/${child.pid}/fd`).length;
  return { label, rss, heap, fds, active: sum(m, 'sni_forwarder_active_connections'), metrics: m };
}

/** Polls /metrics until no connection is open (the daemon has finished every one). */
async function quiet() {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (sum(await scrape(), 'sni_forwarder_active_connections') === 0) return true;
  }
  return false;
}

const mib = (b) => (b / 1024 / 1024).toFixed(1);
const rows = [];
const row = (s) => {
  rows.push(s);
  process.stderr.write(`soak: ${s.label}: rss ${mib(s.rss)} MiB, heap ${mib(s.heap)} MiB, fds ${s.fds}, active ${s.active}\n`);
};
const started = Date.now();

await traffic(WARMUP);
await quiet();
const before = await sample('before (after warm-up, GC)', true);
row(before);
const runStarted = Date.now();
await traffic(TOTAL, async (done) => row(await sample(`${done} connections`, false)));
const runSeconds = (Date.now() - runStarted) / 1000;
const settled = await quiet();
const after = await sample('after (quiet, GC)', true);
row(after);

// ---- report --------------------------------------------------------------------------------
console.log(`soak: ${TOTAL} connections (+${WARMUP} warm-up), concurrency ${CONCURRENCY}, ${runSeconds.toFixed(1)} s (${(TOTAL / runSeconds).toFixed(0)}/s), node ${process.version}`);
console.log('sample                          rss MiB  heap MiB   fds  active');
for (const r of rows) console.log(`${r.label.padEnd(30)} ${mib(r.rss).padStart(8)} ${mib(r.heap).padStart(9)} ${String(r.fds).padStart(5)} ${String(r.active).padStart(7)}`);

const outcomeCount = (m, outcome) => sum(m, 'sni_forwarder_connections_total', (k) => k.includes(`outcome="${outcome}"`));
const want = new Map();
for (const [name, , outcome] of KINDS) want.set(outcome, (want.get(outcome) ?? 0) + sent.get(name));
console.log('outcome            sent  counted');
const checks = [];
for (const [outcome, n] of want) {
  const counted = outcomeCount(after.metrics, outcome);
  console.log(`${outcome.padEnd(16)} ${String(n).padStart(7)} ${String(counted).padStart(8)}`);
  checks.push([`${outcome}: counted ${counted} = sent ${n}`, counted === n]);
}
const otherOutcomes = sum(after.metrics, 'sni_forwarder_connections_total') - [...want.keys()].reduce((n, o) => n + outcomeCount(after.metrics, o), 0);
checks.push([`no other outcome (${otherOutcomes})`, otherOutcomes === 0]);
checks.push([`every connection closed (${settled ? 'quiet' : 'still active after 30 s'})`, settled]);
checks.push([`fds back to start (${before.fds} -> ${after.fds})`, after.fds === before.fds]);
checks.push([`active_connections back to start (${before.active} -> ${after.active})`, after.active === before.active]);
checks.push([`heap after GC within ${mib(HEAP_TOLERANCE_BYTES)} MiB (${mib(after.heap - before.heap)} MiB)`, after.heap - before.heap <= HEAP_TOLERANCE_BYTES]);
checks.push([`RSS within ${mib(RSS_TOLERANCE_BYTES)} MiB (${mib(after.rss - before.rss)} MiB)`, after.rss - before.rss <= RSS_TOLERANCE_BYTES]);
checks.push([`no client failed or stuck (${failed} bad answers, ${stuck} stuck)`, failed === 0 && stuck === 0]);
checks.push(['daemon still running', child.exitCode === null]);
for (const [what, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
console.log(`soak: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);

child.kill('SIGTERM');
await once(child, 'exit');
for (const fn of cleanups.reverse()) await fn();
rmSync(dir, { recursive: true, force: true });
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
