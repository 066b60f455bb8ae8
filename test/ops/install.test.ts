// `make install` (SPEC §6): the program with only its production dependencies, a launcher that
// works from a DESTDIR staging tree, the units (rewritten for another PREFIX) and a config that
// a later install never overwrites. Uses the dist/ that `make test` built: `-o build` keeps make
// from recompiling it under the feet of tests running in parallel. npm ci --omit=dev takes the
// four dependencies from the npm cache that the repository's own `npm ci` filled.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';

const ROOT = resolve(import.meta.dirname, '../../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };

interface Run { code: number | null; stdout: string; stderr: string }
function run(cmd: string, args: readonly string[], cwd = ROOT): Promise<Run> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
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
const units = join(dest, 'lib/systemd/system');
const first = await makeInstall(`DESTDIR=${dest}`);

await t.test('make install DESTDIR= lays out program, dependencies, launcher, config and units', (t) => {
  t.equal(first.code, 0, first.stderr);
  for (const f of ['dist/cli.js', 'dist/commands/run.js', 'package.json', 'package-lock.json']) t.ok(existsSync(join(lib, f)), f);
  for (const dep of Object.keys(PKG.dependencies)) t.ok(existsSync(join(lib, 'node_modules', dep, 'package.json')), `dependency ${dep}`);
  for (const dev of Object.keys(PKG.devDependencies)) t.notOk(existsSync(join(lib, 'node_modules', dev)), `no devDependency ${dev}`);
  t.ok(isExecutable(bin), 'bin/sni-forwarder is executable');
  t.equal(readFileSync(conf, 'utf8'), readFileSync(join(ROOT, 'config.example.yaml'), 'utf8'), 'config.yaml is the example');
  t.equal(statSync(conf).mode & 0o777, 0o644, 'config.yaml is readable by the DynamicUser');
  t.equal(statSync(join(lib, 'dist/cli.js')).mode & 0o004, 0o004, 'the program is world-readable');
  for (const unit of ['sni-forwarder.service', 'sni-forwarder.socket']) {
    t.equal(readFileSync(join(units, unit), 'utf8'), readFileSync(join(ROOT, 'systemd', unit), 'utf8'), `${unit}, unchanged for the default PREFIX`);
  }
  t.end();
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

await t.test('make uninstall removes the program and units and keeps the config', async (t) => {
  const r = await run('make', ['-s', 'uninstall', `DESTDIR=${dest}`]);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(lib));
  t.notOk(existsSync(bin));
  t.notOk(existsSync(join(units, 'sni-forwarder.service')));
  t.notOk(existsSync(join(units, 'sni-forwarder.socket')));
  t.ok(existsSync(conf), 'config.yaml kept');
});
