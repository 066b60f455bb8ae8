// The systemd units (SPEC §6): `systemd-analyze verify` accepts both, the service's offline
// security exposure stays at or below 2.0 ("OK"), the socket-activation drop-in the README
// documents lowers it, and the unit's limits fit the config defaults. Needs systemd-analyze
// (Debian package `systemd`); skips without it. Nothing here starts a unit.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { parseDuration } from '../../src/config/duration.js';
import { DEFAULTS } from '../../src/config/schema.js';

const UNITS = resolve(import.meta.dirname, '../../../systemd');
const SERVICE = 'sni-forwarder.service';
const SOCKET = 'sni-forwarder.socket';
/** The drop-in README "Operating" gives for socket activation. */
const SOCKET_ONLY_DROP_IN = '[Service]\nCapabilityBoundingSet=\nAmbientCapabilities=\nPrivateUsers=yes\n';
const MAX_EXPOSURE = 2.0;

interface Run { code: number | null; stdout: string; stderr: string }
function run(cmd: string, args: readonly string[], cwd?: string): Promise<Run> {
  // No colours, pager or locale surprises in the output that is parsed below.
  const env = { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', LC_ALL: 'C.UTF-8' };
  return new Promise((res) => {
    execFile(cmd, args, { timeout: 60_000, env, cwd }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      res({ code, stdout, stderr });
    });
  });
}

const analyze = await run('systemd-analyze', ['--version']);
const skip = analyze.code === 0 ? false : 'systemd-analyze not found (Debian package: systemd)';

/**
 * Copies both units into a fresh directory (so each finds the other by name) with ExecStart
 * pointing at a stub there: verify checks that the program exists, and the real one is only in
 * place after `make install`. Returns the directory.
 */
function stageUnits(edit: (unit: string, text: string) => string = (_u, text) => text): string {
  const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stub = join(dir, 'sni-forwarder');
  writeFileSync(stub, '#!/bin/sh\nexit 0\n');
  chmodSync(stub, 0o755);
  for (const unit of [SERVICE, SOCKET]) {
    const text = readFileSync(join(UNITS, unit), 'utf8').replaceAll('/usr/local/bin/sni-forwarder', stub);
    writeFileSync(join(dir, unit), edit(unit, text));
  }
  return dir;
}

/** systemd-analyze verify on both units in `dir`; the lines it printed about them. */
async function verify(dir: string): Promise<{ code: number | null; complaints: string[] }> {
  const r = await run('systemd-analyze', ['verify', join(dir, SERVICE), join(dir, SOCKET)], dir);
  // verify may also talk about unrelated units of the host; only ours count.
  const complaints = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('sni-forwarder'));
  return { code: r.code, complaints };
}

interface Security { exposure: number; verdict: string; exposed: { name: string; exposure: number }[] }

/** systemd-analyze security --offline=true on `dir`/sni-forwarder.service (drop-ins in `dir` apply). */
async function security(dir: string): Promise<Security> {
  const r = await run('systemd-analyze', ['security', '--offline=true', join(dir, SERVICE)], dir);
  const overall = /Overall exposure level for \S+: (\d+(?:\.\d+)?) (\w+)/.exec(r.stdout);
  if (r.code !== 0 || overall === null) throw new Error(`systemd-analyze security exited ${r.code}:\n${r.stdout}${r.stderr}`);
  const exposed: Security['exposed'] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^✗ (\S+)\s.*\s(\d+\.\d+)\s*$/.exec(line);
    if (m !== null) exposed.push({ name: m[1]!, exposure: Number(m[2]) });
  }
  exposed.sort((a, b) => b.exposure - a.exposure);
  return { exposure: Number(overall[1]), verdict: overall[2]!, exposed };
}

/** `Key=value` settings of a unit file (last one wins), comments skipped. */
function settings(unit: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(join(UNITS, unit), 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m !== null) out.set(m[1]!, m[2]!);
  }
  return out;
}

await t.test('systemd-analyze verify accepts both units', { skip }, async (t) => {
  const r = await verify(stageUnits());
  t.equal(r.code, 0, r.complaints.join('\n'));
  t.same(r.complaints, [], 'no warning about either unit');
});

await t.test('systemd refuses a FileDescriptorName with ":", so the daemon matches by address', { skip }, async (t) => {
  // LISTEN_FDNAMES separates names with ':' (sd_listen_fds(3)), so a "host:port" label can
  // never arrive as a name: the units must not rely on it.
  const dir = stageUnits((unit, text) => unit === SOCKET ? text.replace(/^FileDescriptorName=.*$/m, 'FileDescriptorName=0.0.0.0:443') : text);
  const r = await verify(dir);
  t.match(r.complaints.join('\n'), /Invalid file descriptor name/, 'systemd ignores the name with a warning');
  const name = settings(SOCKET).get('FileDescriptorName') ?? '';
  t.notMatch(name, /:/, 'the shipped socket unit uses a name systemd accepts');
});

await t.test('the socket unit triggers the service, and the service can also bind by itself', { skip }, (t) => {
  const socket = settings(SOCKET);
  t.equal(socket.get('Service'), SERVICE);
  t.equal(socket.get('ListenStream'), '0.0.0.0:443');
  const service = settings(SERVICE);
  t.equal(service.get('ExecStart'), '/usr/local/bin/sni-forwarder run -c /etc/sni-forwarder/config.yaml');
  t.equal(service.get('ExecReload'), '/bin/kill -HUP $MAINPID', 'reload is SIGHUP (SPEC §6)');
  t.equal(service.get('Restart'), 'on-failure');
  t.notOk(service.has('Requires'), 'the service does not require the socket: it can bind by itself');
  t.end();
});

await t.test('stop outlasts the default drain and LimitNOFILE covers max_connections', (t) => {
  const service = settings(SERVICE);
  const stopMs = parseDuration(service.get('TimeoutStopSec') ?? '');
  t.ok(stopMs !== undefined && stopMs > DEFAULTS.limits.drainTimeoutMs,
    `TimeoutStopSec ${service.get('TimeoutStopSec')} > drain_timeout ${DEFAULTS.limits.drainTimeoutMs} ms`);
  t.equal(service.get('KillSignal'), 'SIGTERM');
  // One descriptor for the client and one for the upstream of each connection.
  t.ok(Number(service.get('LimitNOFILE')) >= 2 * DEFAULTS.limits.maxConnections + 1024, `LimitNOFILE=${service.get('LimitNOFILE')}`);
  t.end();
});

await t.test(`offline security exposure of the service is ${MAX_EXPOSURE.toFixed(1)} or lower`, { skip }, async (t) => {
  const s = await security(stageUnits());
  t.comment(`systemd-analyze security --offline=true ${SERVICE}: ${s.exposure} ${s.verdict}`);
  t.comment(`remaining: ${s.exposed.map((e) => `${e.name} ${e.exposure}`).join(', ')}`);
  t.ok(s.exposure <= MAX_EXPOSURE, `exposure ${s.exposure} <= ${MAX_EXPOSURE}`);
  t.equal(s.verdict, 'OK');
});

await t.test('the socket-activation drop-in drops every capability and lowers the exposure', { skip }, async (t) => {
  const dir = stageUnits();
  mkdirSync(join(dir, `${SERVICE}.d`));
  writeFileSync(join(dir, `${SERVICE}.d`, 'socket-only.conf'), SOCKET_ONLY_DROP_IN);
  const v = await verify(dir);
  t.equal(v.code, 0, v.complaints.join('\n'));
  const s = await security(dir);
  const base = await security(stageUnits());
  t.comment(`with ${SERVICE}.d/socket-only.conf: ${s.exposure} ${s.verdict}`);
  const names = s.exposed.map((e) => e.name);
  t.notOk(names.some((n) => n.startsWith('AmbientCapabilities') || n.startsWith('CapabilityBoundingSet')), 'no capability left');
  t.notOk(names.includes('PrivateUsers='), 'PrivateUsers is on');
  t.ok(s.exposure < base.exposure, `${s.exposure} < ${base.exposure}`);
});
