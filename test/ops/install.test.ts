// `make install` (SPEC §6): the program with only its production dependencies and the pinned
// Node.js runtime, a launcher that works from a DESTDIR staging tree and ignores any node on
// PATH, the units (rewritten for another PREFIX, in systemd's directory for that PREFIX), a
// bastion config that a later install never overwrites, and an uninstall that stops the units. Uses the dist/ that `make test` built: `-o build` keeps make
// from recompiling it under the feet of tests running in parallel. npm ci --omit=dev takes the
// four dependencies from the npm cache that the repository's own `npm ci` filled.
import { execFile } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const PINNED_NODE = /^NODE_26_VERSION := (\S+)$/m.exec(readFileSync(join(ROOT, 'runtime/versions.mk'), 'utf8'))?.[1];
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };

interface Run { code: number | null; stdout: string; stderr: string }
function run(cmd: string, args: readonly string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      res({ code, stdout, stderr });
    });
  });
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const makeInstall = (...vars: string[]): Promise<Run> => run('make', ['-s', '-o', 'build', 'install', ...vars]);

const dest = tempDir('sni-fwd-destdir-');
const lib = join(dest, 'usr/local/lib/sni-forwarder');
const bin = join(dest, 'usr/local/bin/sni-forwarder');
const conf = join(dest, 'etc/sni-forwarder/config.yaml');
const units = join(dest, 'usr/local/lib/systemd/system');
const first = await makeInstall(`DESTDIR=${dest}`);

await t.test('make install DESTDIR= lays out program, dependencies, launcher, config and units', (t) => {
  t.equal(first.code, 0, first.stderr);
  for (const f of ['dist/cli.js', 'dist/commands/run.js', 'package.json', 'package-lock.json']) t.ok(existsSync(join(lib, f)), f);
  for (const dep of Object.keys(PKG.dependencies)) t.ok(existsSync(join(lib, 'node_modules', dep, 'package.json')), `dependency ${dep}`);
  for (const dev of Object.keys(PKG.devDependencies)) t.notOk(existsSync(join(lib, 'node_modules', dev)), `no devDependency ${dev}`);
  t.ok(isExecutable(bin), 'bin/sni-forwarder is executable');
  t.ok(isExecutable(join(lib, 'node/bin/node')), 'the pinned runtime is installed beside the program');
  t.equal(readFileSync(conf, 'utf8'), readFileSync(join(ROOT, 'packaging/config.yaml'), 'utf8'), 'config.yaml is the bastion config');
  t.equal(statSync(conf).mode & 0o777, 0o644, 'config.yaml is readable by the DynamicUser');
  t.equal(statSync(join(lib, 'dist/cli.js')).mode & 0o004, 0o004, 'the program is world-readable');
  for (const unit of ['sni-forwarder.service', 'sni-forwarder.socket']) {
    t.equal(readFileSync(join(units, unit), 'utf8'), readFileSync(join(ROOT, 'systemd', unit), 'utf8'), `${unit}, unchanged for the default PREFIX`);
  }
  t.match(first.stdout, /nothing was enabled or started[^]*systemctl daemon-reload[^]*sni-forwarder check -c \/etc\/sni-forwarder\/config.yaml[^]*systemctl enable --now sni-forwarder.socket/,
    'prints the next steps');
  t.end();
});

await t.test('the installed config is a bastion config that agrees with the socket unit', async (t) => {
  const config = await loadConfig(conf);
  const socket = readFileSync(join(ROOT, 'systemd/sni-forwarder.socket'), 'utf8');
  const streams = [...socket.matchAll(/^ListenStream=(\S+)$/gm)].map((m) => m[1]);
  t.same(config.listen.map((l) => `${l.address.host}:${l.address.port}`), streams, 'listen = ListenStream= (0.0.0.0:443)');
  t.same(streams, ['0.0.0.0:443']);
  t.equal(config.metrics.address.host, '127.0.0.1', 'metrics stay on loopback');
  t.ok(config.routes.length > 0, 'valid as installed: it has routes');
  t.same(config.routes.filter((r) => r.upstream !== null), [], 'no route to a fixed address (the operator adds their own)');
  t.ok(config.routes.every((r) => r.origin.startsWith('preset ')), 'every route comes from a preset');
});

await t.test('the launcher runs the bundled runtime with the Makefile\'s NODE_FLAGS, never a node on PATH', async (t) => {
  const flags = /^NODE_FLAGS := (.+)$/m.exec(readFileSync(join(ROOT, 'Makefile'), 'utf8'))?.[1];
  t.ok(flags, 'Makefile NODE_FLAGS');
  t.match(readFileSync(bin, 'utf8'), `"$lib/node/bin/node" ${flags ?? '?'} "$lib/dist/cli.js"`);
  const fake = tempDir('sni-fwd-fake-node-');
  writeFileSync(join(fake, 'node'), '#!/bin/sh\necho fake node >&2\nexit 99\n');
  chmodSync(join(fake, 'node'), 0o755);
  const r = await run(bin, ['-e', ''], dest, { PATH: `${fake}:/usr/bin:/bin` });
  t.not(r.code, 99, 'the node on PATH is not used');
  const v = await run(join(lib, 'node/bin/node'), ['--version']);
  t.equal(v.stdout.trim(), `v${PINNED_NODE ?? '?'}`, 'runtime/versions.mk\'s Node 26');
});

await t.test('PREFIX=/usr puts the units in /usr/lib/systemd/system', async (t) => {
  const r = await run('make', ['-s', '-n', '-o', 'build', 'install', 'PREFIX=/usr', 'DESTDIR=/stage']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, '> /stage/usr/lib/systemd/system/sni-forwarder.service');
  t.match(r.stdout, '/stage/usr/bin/sni-forwarder');
});

await t.test('the installed program runs check from the staging tree', async (t) => {
  const r = await run(bin, ['check', '-c', conf], dest);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `${conf}: ok`);
  const v = await run(bin, ['--version'], dest);
  t.equal(v.stdout.trim(), PKG.version, 'reads its own package.json');
  // An operator may link the launcher elsewhere; it resolves its real location.
  const link = join(dest, 'sni-forwarder-link');
  symlinkSync(bin, link);
  const viaLink = await run(link, ['check', '-c', conf], tmpdir());
  t.equal(viaLink.code, 0, viaLink.stderr);
});

await t.test('a second install keeps an edited config.yaml and replaces the program', async (t) => {
  const edited = `${readFileSync(conf, 'utf8')}# edited by the operator\n`;
  writeFileSync(conf, edited);
  writeFileSync(join(lib, 'dist/stale.js'), '// left from an older version\n');
  const r = await makeInstall(`DESTDIR=${dest}`);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(conf, 'utf8'), edited, 'config.yaml untouched');
  t.notOk(existsSync(join(lib, 'dist/stale.js')), 'dist/ replaced as a whole');
  t.equal((await run(bin, ['check', '-c', conf], dest)).code, 0);
});

await t.test('another PREFIX, SYSCONFDIR and UNITDIR: the units point at the installed program', async (t) => {
  // No DESTDIR: the paths are real, so systemd-analyze verify can check ExecStart's program.
  const root = tempDir('sni-fwd-prefix-');
  const prefix = join(root, 'opt/sni');
  const r = await makeInstall(`PREFIX=${prefix}`, `SYSCONFDIR=${join(root, 'etc')}`, `UNITDIR=${join(root, 'units')}`);
  t.equal(r.code, 0, r.stderr);
  const service = readFileSync(join(root, 'units/sni-forwarder.service'), 'utf8');
  t.match(service, `\nExecStart=${prefix}/bin/sni-forwarder run -c ${root}/etc/sni-forwarder/config.yaml\n`);
  t.notMatch(service, '/usr/local/', 'no default path left');
  t.equal((await run(join(prefix, 'bin/sni-forwarder'), ['check', '-c', join(root, 'etc/sni-forwarder/config.yaml')])).code, 0);
  const analyze = await run('systemd-analyze', ['--version']);
  if (analyze.code !== 0) {
    t.comment('systemd-analyze not found (Debian package: systemd): verify skipped');
    return;
  }
  const v = await run('systemd-analyze', ['verify', join(root, 'units/sni-forwarder.service'), join(root, 'units/sni-forwarder.socket')]);
  t.equal(v.code, 0, v.stderr);
  t.notMatch(v.stderr, 'sni-forwarder', 'no warning about the installed units');
});

await t.test('make uninstall disables and stops the units, then removes the program and units, keeping the config', async (t) => {
  // A stand-in for systemctl that records each call and whether the unit file was still there.
  const fake = tempDir('sni-fwd-systemctl-');
  const calls = join(fake, 'calls');
  writeFileSync(join(fake, 'systemctl'), `#!/bin/sh\necho "$* unit-present=$(test -e '${units}/sni-forwarder.service' && echo yes || echo no)" >> '${calls}'\n`);
  chmodSync(join(fake, 'systemctl'), 0o755);
  const r = await run('make', ['-s', 'uninstall', `DESTDIR=${dest}`, 'SYSTEMD_RUNNING=yes', `SYSTEMCTL=${join(fake, 'systemctl')}`]);
  t.equal(r.code, 0, r.stderr);
  t.same(readFileSync(calls, 'utf8').trim().split('\n'), [
    'disable --now sni-forwarder.socket sni-forwarder.service unit-present=yes',
    'daemon-reload unit-present=no',
  ], 'disable --now before the files go, daemon-reload after');
  t.notOk(existsSync(lib));
  t.notOk(existsSync(bin));
  t.notOk(existsSync(join(units, 'sni-forwarder.service')));
  t.notOk(existsSync(join(units, 'sni-forwarder.socket')));
  t.ok(existsSync(conf), 'config.yaml kept');
});
