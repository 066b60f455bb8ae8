// Processes the benchmark starts, and what /proc says about them. Every child is recorded here
// and killed by its PID at the end (also on failure or SIGINT); nothing is killed by name.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, readFileSync, readdirSync, closeSync } from 'node:fs';
import { connect } from 'node:net';

const CLK_TCK = 100; // USER_HZ: the unit of utime/stime in /proc/PID/stat on every Linux port we run on

/** Children started by the bench, newest last. */
const children = [];

/**
 * Spawns `cmd args` with stdout and stderr appended to `logFile` (or ignored when absent) and
 * records it for killAll(). Rejects the returned `exited` promise's consumers nothing: callers
 * race it against their readiness wait.
 */
export function start(name, cmd, args, { logFile, env } = {}) {
  const fd = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
  if (typeof fd === 'number') closeSync(fd);
  const proc = { name, child, pid: child.pid, logFile };
  proc.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  children.push(proc);
  return proc;
}

/** Short-lived clients started by run() (wrk, curl) while they run. */
const clients = new Set();

/**
 * SIGTERM every child still running (by PID), clients first, then SIGKILL what is left after
 * `graceMs`.
 */
export async function killAll(graceMs = 3000) {
  // Each client leads its own process group, so a pipeline (curl | sha256sum) goes with it.
  for (const c of clients) {
    try { process.kill(-c.pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
  }
  const alive = children.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  for (const p of alive) p.child.kill('SIGTERM');
  const timer = new Promise((r) => setTimeout(r, graceMs).unref());
  await Promise.race([Promise.all(alive.map((p) => p.exited)), timer]);
  for (const p of alive) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}

/** Runs a command to completion; resolves { code, stdout, stderr } (never rejects on exit code). */
export async function run(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  clients.add(child);
  child.once('exit', () => clients.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const [code] = await Promise.race([
    once(child, 'exit'),
    once(child, 'error').then(([err]) => [err.code === 'ENOENT' ? 127 : 1]),
  ]);
  return { code, stdout, stderr };
}

/** `pid` and all its descendants, from the ppid field of /proc/N/stat. */
export function processTree(pid) {
  const parentOf = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProc(`/proc/${entry}/stat`);
    if (stat) parentOf.set(Number(entry), Number(statFields(stat)[1]));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/**
 * CPU seconds (utime + stime of every live process in the tree; the forwarders' workers are
 * long-lived, so no exited child's time is lost), RSS bytes (sum of VmRSS) and open fds.
 */
export function treeStats(pid) {
  let cpuSeconds = 0;
  let rssBytes = 0;
  let fds = 0;
  for (const p of processTree(pid)) {
    const stat = readProc(`/proc/${p}/stat`);
    const status = readProc(`/proc/${p}/status`);
    if (!stat || !status) continue;
    const f = statFields(stat);
    cpuSeconds += (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15: utime, stime
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    rssBytes += rss ? Number(rss[1]) * 1024 : 0;
    try { fds += readdirSync(`/proc/${p}/fd`).length; } catch { /* exited meanwhile */ }
  }
  return { cpuSeconds, rssBytes, fds };
}

/** Fields of /proc/N/stat after the comm field "(...)", so index 0 is field 3 (state). */
function statFields(stat) {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function readProc(path) {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/** Resolves once `check()` returns a truthy value; polls every `everyMs`, fails after `timeoutMs`. */
export async function until(what, check, { timeoutMs = 15_000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** True when something accepts TCP on 127.0.0.1:port. */
export function accepts(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Waits for `proc` to accept on `port`, failing early with its log if it exits. */
export async function waitListening(proc, port) {
  const died = proc.exited.then(({ code, signal }) => {
    const log = proc.logFile ? readProc(proc.logFile) ?? '' : '';
    throw new Error(`${proc.name} exited (${code ?? signal}) before listening on ${port}:\n${log.slice(-2000)}`);
  });
  died.catch(() => {}); // only raced below; an exit after readiness is reported by the phases
  await Promise.race([until(`${proc.name} on port ${port}`, () => accepts(port)), died]);
}

/** A free loopback TCP port (bound and released; the bench binds it again right after). */
export async function freePort() {
  const { createServer } = await import('node:net');
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** The allocation probe's count (lib/alloc-probe.mjs) of a process: { allocatedBytes, gcs }. */
export function allocated(port) {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connect(port, '127.0.0.1');
    s.setEncoding('utf8');
    s.on('data', (c) => { text += c; });
    s.once('end', () => { try { resolve(JSON.parse(text)); } catch (err) { reject(err); } });
    s.once('error', reject);
  });
}
