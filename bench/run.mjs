#!/usr/bin/env node
// `make bench` (issue #10): sni-forwarder against direct, HAProxy, nginx stream and a plain Node
// pipe, on loopback only, in one run. Prints one markdown table and writes bench/results.md.
//
// Environment knobs (for quick, focused runs while optimising):
//   FORWARDER_DIST   dist/ directory of the forwarder to bench (default: ../dist of this repo);
//                    runs `node $FORWARDER_DIST/cli.js run -c <yaml>`
//   BENCH_REPS       repetitions, interleaved across columns; the table shows medians (default 3)
//   BENCH_BLOB_MIB   size of the random blob for bulk download/upload, MiB (default 256)
//   BENCH_SECONDS    duration of each wrk run, seconds (default 5)
//   BENCH_CONNS      wrk connections for the new-connection and keep-alive runs (default 10)
//   BENCH_IDLE       idle TLS connections held for the RSS measurement (default 2000)
//   BENCH_COLUMNS    comma-separated subset of: direct,sni1,sniauto,haproxy,nginx,nodepipe,snibase
//                    (default: all but snibase; HAProxy and nginx stream are apt-installed when missing)
//   BENCH_BASELINE_DIST  another build's dist/ for the column snibase (workers: 1), to measure a
//                    change against the build before it in the same run (default: column off)
//   BENCH_PHASES     comma-separated subset of: idle,newconn,keepalive,bulk (default: all)
//   BENCH_WARMUP     seconds of Connection: close load on every column before the first
//                    repetition, so that no column is measured with a cold JIT (default 0: none)
//   BENCH_OUT        where to write the report (default bench/results.md; "-" = stdout only)
// Progress goes to stderr, the report to stdout.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocated, killAll, run, treeStats, until } from './lib/procs.mjs';
import * as setup from './lib/setup.mjs';
import { wrk, download, upload, holdIdle, wrkVersion } from './lib/clients.mjs';
import { MIB, medians, table, targets, afterLoadLines, pairedLines } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const int = (name, dflt) => {
  const v = env[name] === undefined || env[name] === '' ? dflt : Number(env[name]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${env[name]}`);
  return v;
};
const settings = {
  dist: resolve(env.FORWARDER_DIST ?? join(HERE, '..', 'dist')),
  reps: int('BENCH_REPS', 3),
  blobMiB: int('BENCH_BLOB_MIB', 256),
  seconds: int('BENCH_SECONDS', 5),
  conns: int('BENCH_CONNS', 10),
  idle: int('BENCH_IDLE', 2000),
  out: env.BENCH_OUT ?? join(HERE, 'results.md'),
  baselineDist: env.BENCH_BASELINE_DIST ? resolve(env.BENCH_BASELINE_DIST) : null,
  warmup: env.BENCH_WARMUP ? int('BENCH_WARMUP', 0) : 0,
  phases: (env.BENCH_PHASES ?? 'idle,newconn,keepalive,bulk').split(',').map((s) => s.trim()),
};
for (const p of settings.phases) if (!['idle', 'newconn', 'keepalive', 'bulk'].includes(p)) throw new Error(`BENCH_PHASES: unknown phase ${p}`);
const phase = (p) => settings.phases.includes(p);
const ALL = [
  { id: 'direct', label: 'direct' },
  { id: 'sni1', label: 'sni-forwarder workers: 1' },
  { id: 'sniauto', label: 'sni-forwarder workers: auto' },
  { id: 'haproxy', label: 'HAProxy nbthread 1' },
  { id: 'nginx', label: 'nginx stream 1 worker' },
  { id: 'nodepipe', label: 'Node net pipe' },
  { id: 'snibase', label: 'sni-forwarder baseline build, workers: 1' },
];
const wanted = env.BENCH_COLUMNS ? env.BENCH_COLUMNS.split(',').map((s) => s.trim())
  : ALL.map((c) => c.id).filter((id) => id !== 'snibase' || settings.baselineDist !== null);
if (wanted.includes('snibase') && settings.baselineDist === null) throw new Error('BENCH_COLUMNS: snibase needs BENCH_BASELINE_DIST');
for (const id of wanted) if (!ALL.some((c) => c.id === id)) throw new Error(`BENCH_COLUMNS: unknown column ${id}`);

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const t0 = Date.now();
// tmpfs when there is one: the blob and the uploaded bodies then never touch a disk.
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sni-fwd-bench-'));
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await killAll();
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { log(`${sig}: stopping`); void cleanup().finally(() => process.exit(130)); });
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  showLogs();
  process.exitCode = 1;
} finally {
  await cleanup();
}

/** The end of every server log in the bench dir, for a failure's post-mortem. */
function showLogs() {
  for (const f of readdirSync(dir).filter((n) => /\.(log|out)$/.test(n))) {
    const text = readFileSync(join(dir, f), 'utf8').trim();
    if (text) log(`--- ${f} (last lines)\n${text.split('\n').slice(-8).join('\n')}`);
  }
}

async function main() {
  if (!existsSync(join(settings.dist, 'cli.js'))) throw new Error(`${settings.dist}/cli.js not found: run make build (or set FORWARDER_DIST)`);
  await setup.ensurePackages(log, wanted);
  const missing = setup.missingEssentials();
  if (missing.length > 0) throw new Error(`cannot bench without ${missing.join(', ')}`);
  const columns = ALL.filter((c) => wanted.includes(c.id)).filter((c) => {
    const ok = (c.id !== 'haproxy' || setup.haveHaproxy()) && (c.id !== 'nginx' || setup.haveNginxStream());
    if (!ok) log(`skipping ${c.label}: not installed`);
    return ok;
  });

  log(`setup in ${dir}: CA, ${settings.blobMiB} MiB random blob, origin`);
  const pki = setup.makePki(dir);
  const blobFile = join(dir, 'blob');
  const sha256 = setup.makeBlob(blobFile, settings.blobMiB);
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 localhost\n127.0.0.1 ${setup.NAME}\n`);
  const origin = await setup.startOrigin(dir, pki, blobFile);

  const targetsById = {};
  for (const c of columns) {
    if (c.id === 'direct') targetsById[c.id] = { port: origin.port };
    else if (c.id === 'sni1') targetsById[c.id] = await setup.startSniForwarder(dir, settings.dist, origin.port, 1);
    else if (c.id === 'snibase') targetsById[c.id] = await setup.startSniForwarder(dir, settings.baselineDist, origin.port, 1, 'sni-base');
    else if (c.id === 'sniauto') targetsById[c.id] = await setup.startSniForwarder(dir, settings.dist, origin.port, 'auto');
    else if (c.id === 'haproxy') targetsById[c.id] = await setup.startHaproxy(dir, origin.port);
    else if (c.id === 'nginx') targetsById[c.id] = await setup.startNginxStream(dir, origin.port);
    else if (c.id === 'nodepipe') targetsById[c.id] = await setup.startNodePipe(dir, origin.port, join(HERE, 'node-pipe.mjs'));
  }
  const rssIdle = {};
  for (const c of columns) {
    const t = targetsById[c.id];
    if (t.proc) rssIdle[c.id] = treeStats(t.proc.pid).rssBytes / MIB;
  }

  if (settings.warmup > 0) {
    for (const c of columns) {
      log(`warm-up ${c.label}: ${settings.warmup} s`);
      await wrk({ hostsFile, port: targetsById[c.id].port, seconds: settings.warmup, connections: settings.conns, close: true });
    }
  }
  const samples = Object.fromEntries(columns.map((c) => [c.id, []]));
  let checked = { down: 0, up: 0 };
  for (let rep = 1; rep <= settings.reps; rep++) {
    // Each repetition starts one column later, so no column always runs first or last.
    const shift = (rep - 1) % columns.length;
    for (const c of [...columns.slice(shift), ...columns.slice(0, shift)]) {
      log(`rep ${rep}/${settings.reps} ${c.label}`);
      const started = Date.now();
      const s = await measure(c, targetsById[c.id], { pki, hostsFile, blobFile, sha256, origin });
      s.rssIdle = rssIdle[c.id];
      samples[c.id].push(s);
      checked = { down: checked.down + (s.downloadsChecked ?? 0), up: checked.up + (s.uploadsChecked ?? 0) };
      log(`  ${summary(s)}  (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  }

  const med = medians(columns, samples);
  const report = await render(columns, med, samples, checked, (Date.now() - t0) / 1000);
  process.stdout.write(`${report}\n`);
  if (settings.out !== '-') {
    writeFileSync(settings.out, `${report}\n`);
    log(`wrote ${settings.out}`);
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

/** One repetition's figures for the progress log (only the phases that ran). */
function summary(s) {
  const parts = [];
  if (s.newConnRate !== undefined) {
    parts.push(`new ${s.newConnRate.toFixed(0)}/s cpu/10k ${s.cpuPer10k.toFixed(2)} (origin ${s.originCpuPer10k.toFixed(2)})`
      + ` alloc ${fmt1(s.allocKiBPerConn)} KiB/conn`);
  }
  if (s.kaRps !== undefined) parts.push(`ka ${s.kaRps.toFixed(0)}/s p50 ${s.kaP50}ms`);
  if (s.down1 !== undefined) {
    parts.push(`down ${s.down1.toFixed(0)}/${s.down4.toFixed(0)}  up ${s.up1.toFixed(0)}/${s.up4.toFixed(0)} MiB/s`);
  }
  parts.push(`rss/1000 ${fmt1(s.rssPer1000)}  after ${fmt1(s.rssAfterLoad)} MiB`);
  return parts.join('  ');
}

function fmt1(x) {
  return Number.isFinite(x) ? x.toFixed(1) : '—';
}

/**
 * One repetition of every phase (BENCH_PHASES) on one column; CPU and RSS from /proc of its
 * process tree, the origin's CPU over the same new-connection run, and the V8 heap bytes the
 * column allocated over it (from its allocation probe, where it has one).
 */
async function measure(column, target, { pki, hostsFile, blobFile, sha256, origin }) {
  const { port, proc, allocPort } = target;
  const stats = () => (proc ? treeStats(proc.pid) : { cpuSeconds: NaN, rssBytes: NaN, fds: NaN });
  const cpuOver = async (fn) => {
    const before = stats().cpuSeconds;
    const result = await fn();
    return { result, cpu: stats().cpuSeconds - before };
  };
  const s = {};
  const baselineFds = stats().fds;
  const closedDown = () => until(`${column.label} to close its connections`, () => stats().fds <= baselineFds + 2,
    { timeoutMs: 30_000 });

  // Idle connections first, while the process is as close to idle as it gets: after the load
  // phases, memory the runtime frees lazily would blur the growth.
  if (proc && phase('idle')) {
    const before = stats().rssBytes;
    const held = await holdIdle({ pki, port, count: settings.idle });
    s.rssHolding = stats().rssBytes / MIB;
    s.rssPer1000 = (s.rssHolding - before / MIB) * (1000 / settings.idle);
    await held.close();
    await closedDown();
  }

  if (phase('newconn')) {
    const originBefore = treeStats(origin.proc.pid).cpuSeconds;
    const allocBefore = allocPort ? await allocated(allocPort) : null;
    const nc = await cpuOver(() => wrk({ hostsFile, port, seconds: settings.seconds, connections: settings.conns, close: true }));
    const originCpu = treeStats(origin.proc.pid).cpuSeconds - originBefore;
    if (allocBefore !== null) {
      // Connections still closing are counted in the next phase's allocation, not lost: wait.
      if (proc) await closedDown();
      const after = await allocated(allocPort);
      s.allocKiBPerConn = (after.allocatedBytes - allocBefore.allocatedBytes) / nc.result.requests / 1024;
    }
    s.newConnRate = nc.result.rps;
    s.newConnErrors = nc.result.errors;
    s.cpuPer10k = (nc.cpu / nc.result.requests) * 10_000;
    s.originCpuPer10k = (originCpu / nc.result.requests) * 10_000;
    // The origin does the same TLS work per connection in every column: CPU in its units takes
    // out some of what a busy, shared machine adds to both.
    s.cpuPer10kPerOrigin = s.cpuPer10k / s.originCpuPer10k;
  }

  if (phase('keepalive')) {
    const ka = await wrk({ hostsFile, port, seconds: settings.seconds, connections: settings.conns, close: false });
    s.kaRps = ka.rps;
    s.kaP50 = ka.p50;
    s.kaP99 = ka.p99;
    s.kaErrors = ka.errors;
  }

  if (phase('bulk')) {
    const bulk = { blobMiB: settings.blobMiB, pki, port, sha256, blobFile };
    const d1 = await cpuOver(() => download({ ...bulk, parallel: 1 }));
    const d4 = await cpuOver(() => download({ ...bulk, parallel: 4 }));
    const u1 = await cpuOver(() => upload({ ...bulk, parallel: 1 }));
    const u4 = await cpuOver(() => upload({ ...bulk, parallel: 4 }));
    s.down1 = d1.result.mibps;
    s.down4 = d4.result.mibps;
    s.up1 = u1.result.mibps;
    s.up4 = u4.result.mibps;
    s.cpuPerGiBDown = (d1.cpu + d4.cpu) / ((d1.result.bytes + d4.result.bytes) / 2 ** 30);
    s.cpuPerGiBUp = (u1.cpu + u4.cpu) / ((u1.result.bytes + u4.result.bytes) / 2 ** 30);
    s.downloadsChecked = d1.result.checked + d4.result.checked;
    s.uploadsChecked = u1.result.checked + u4.result.checked;
  }

  if (proc) {
    // Everything this repetition's load opened is closed when the fd count is back at the start.
    await closedDown();
    s.rssAfterLoad = stats().rssBytes / MIB;
  }
  if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited during the run`);
  return s;
}

async function render(columns, med, samples, checked, elapsedSeconds) {
  const version = async (cmd, args, re = /^(.*)$/m) => {
    const r = await run(cmd, args);
    const m = re.exec(r.stdout + r.stderr);
    return r.code === 127 ? 'not installed' : (m?.[1] ?? '?').trim();
  };
  const repoDir = resolve(settings.dist, '..');
  let forwarder = settings.dist;
  try {
    // The last commit that touched src/ is the code measured; HEAD may be a later bench change.
    forwarder = execFileSync('git', ['-C', repoDir, 'log', '-1', '--format=src/ at %h %s', '--', 'src'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', repoDir, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    if (dirty) forwarder += ' (+ uncommitted changes in src/)';
  } catch { /* not a git checkout: the path will do */ }
  const uname = (await run('uname', ['-r'])).stdout.trim();
  const lines = [
    '# sni-forwarder benchmark results',
    '',
    `${new Date().toISOString()} — \`make bench\` (bench/run.mjs), loopback only, ${settings.reps} repetition(s) interleaved`
      + ` across columns (the run took ${Math.round(elapsedSeconds)} s); every cell is the median; (N×) is the ratio to direct.`,
    '',
    table(columns, med),
    '',
    '## Targets (sni-forwarder workers: 1; issue #10)',
    '',
    ...targets(med, samples, settings.idle),
    '',
    '## Per connection, against the Node pipe (paired within each repetition)',
    '',
    ...pairedLines(columns, samples),
    '',
    '## RSS after the load tests, per repetition',
    '',
    ...afterLoadLines(columns, samples),
    '',
    '## Machine and versions',
    '',
    `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), kernel ${uname}, ${Math.round(Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1024)} MiB RAM`,
    `- forwarder: ${forwarder} (${settings.dist}), node ${process.version}`,
    `- ${await version('haproxy', ['-v'])}`,
    `- ${await version('nginx', ['-v'], /nginx version: (.*)/)} (origin and stream)`,
    `- ${await wrkVersion()}`,
    `- ${await version('curl', ['-V'])}`,
    `- ${await version('openssl', ['version'])}`,
    '',
    '## Method',
    '',
    `- Origin: Debian's nginx (run as root so it can read the bench's files), 1 worker, TLS 1.3 only, certificate from a test CA made by openssl, access_log off;`
      + ` /small is 100 bytes, /blob ${settings.blobMiB} MiB of random data; /upload stores the body in a tmpfs file`
      + ' that the bench hashes after the clock stops.',
    `- New connections: wrk -t1 -c${settings.conns} -d${settings.seconds}s -H 'Connection: close' /small (a full TCP + TLS 1.3`
      + ` handshake per request); keep-alive: the same without the header, --latency for p50/p99.`
      + ' wrk resolves bench.test through a private /etc/hosts (unshare --mount).',
    `- Bulk: curl --http1.1 --resolve, ${settings.blobMiB} MiB per transfer, 1 and 4 at once; MiB/s = all bytes / wall time.`
      + ` Every download is piped through sha256sum and every uploaded body hashed: ${checked.down} downloads and`
      + ` ${checked.up} uploads checked, all matched.`,
    '- CPU: utime + stime of the forwarder\'s whole process tree from /proc/PID/stat, before and after the phase'
      + ' (new connections for per-10,000; the 1- and 4-connection transfers of one direction for per-GiB).'
      + ' The origin\'s CPU over the same new-connection run is taken too: the forwarder\'s CPU per connection divided by'
      + ' the origin\'s (same TLS work in every column) takes out some of what a busy machine adds to both.',
    '- Heap allocated per new connection: bench/lib/alloc-probe.mjs is preloaded (node --import) into the forwarder and'
      + ' the Node pipe; from v8.GCProfiler\'s used heap size before and after every GC it counts the V8 heap bytes'
      + ' allocated, and the bench reads the count before the new-connection run and after the last of its connections'
      + ' is closed, divided by wrk\'s requests. Off-heap memory (Buffer backing stores, handles) is not counted.',
    `- RSS: sum of VmRSS over the process tree: right after start; while holding ${settings.idle} idle TLS connections`
      + ' (handshakes completed through the forwarder; the first phase of each repetition; per 1,000 = growth × 1000'
      + ' / count); and at the end of each repetition, once the forwarder has closed every connection.',
    '- sni-forwarder logs as in production: level info, one access line per connection, stdout to a file.'
      + ' HAProxy (mode tcp, req.ssl_sni, nbthread 1) and nginx stream (ssl_preread, 1 worker) run without access logs.',
    '- Clients, origin and forwarders share the machine\'s cores; the Node pipe is bench/node-pipe.mjs.',
  ];
  return lines.join('\n');
}
