// The release artifacts as an operator uses them (issue #15): `scripts/release.sh` (make release)
// builds the tarball and the .deb twice and the bytes must match; lintian finds nothing beyond
// the overrides. Then, in a network namespace whose only interface is loopback (so nothing can
// be fetched) and with every other node hidden from the file system, the .deb is installed with
// dpkg and the tarball with its install.sh, and each installed program answers --version and
// check, passes systemd-analyze verify and security, and is started exactly as its unit's
// ExecStart says (as an unprivileged user holding only CAP_NET_BIND_SERVICE, as the unit's
// DynamicUser would be) to forward a real TLS connection from curl to an openssl s_server.
// dpkg --purge must leave nothing behind.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { createNetns, type Netns } from '../helpers/netns.js';
import { TestCa } from '../helpers/pki.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PINNED = /^NODE_26_VERSION := (\S+)$/m.exec(readFileSync(join(ROOT, 'runtime/versions.mk'), 'utf8'))?.[1] ?? '?';
const TARBALL = `sni-forwarder-${VERSION}-linux-x64.tar.gz`;
const DEB = `sni-forwarder_${VERSION}_amd64.deb`;
const MAX_EXPOSURE = 2.0;

interface Run { code: number | null; stdout: string; stderr: string }
function run(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd: ROOT, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      res({ code, stdout, stderr });
    });
  });
}

// Clean-ups run when main() ends. Not t.teardown: a root-level teardown registered before the
// subtests lets tap end the root test while main() awaits between two subtests.
const cleanups: (() => unknown)[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const missing = [];
if (process.getuid?.() !== 0) missing.push('root (dpkg -i, network namespaces)');
for (const cmd of ['dpkg-deb', 'lintian', 'unshare', 'setpriv', 'ip', 'curl', 'openssl', 'systemd-analyze']) {
  if ((await run('sh', ['-c', `command -v ${cmd}`])).code !== 0) missing.push(cmd);
}
if (missing.length > 0) t.plan(0, `needs ${missing.join(', ')} (bash .ci/run installs the peers)`);
else {
  try {
    await main();
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function main(): Promise<void> {
  // ---- build twice -----------------------------------------------------------------------
  // Each build compiles src/ into its own staging tree, so the dist/ other tests use is untouched.
  const buildEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` };
  const outA = tempDir('sni-fwd-release-a-');
  const outB = tempDir('sni-fwd-release-b-');
  const started = Date.now();
  const buildA = await run(join(ROOT, 'scripts/release.sh'), [outA], { env: buildEnv, timeoutMs: 240_000 });
  t.comment(`release.sh: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // lintian takes a while: it runs beside the second build.
  const lintian = run('lintian', ['--no-cfg', '--display-info', join(outA, DEB)], { timeoutMs: 240_000 });
  const buildB = await run(join(ROOT, 'scripts/release.sh'), [outB], { env: buildEnv, timeoutMs: 240_000 });

  await t.test('make release builds the tarball, the .deb and SHA256SUMS', (t) => {
    t.equal(buildA.code, 0, buildA.stderr);
    t.equal(buildB.code, 0, buildB.stderr);
    for (const f of [TARBALL, DEB]) {
      const size = existsSync(join(outA, f)) ? statSync(join(outA, f)).size : 0;
      t.ok(size > 1_000_000, `${f}: ${size} bytes`);
    }
    const sums = readFileSync(join(outA, 'SHA256SUMS'), 'utf8');
    t.equal(sums, `${sha256(join(outA, TARBALL))}  ${TARBALL}\n${sha256(join(outA, DEB))}  ${DEB}\n`);
    t.end();
  });

  await t.test('two builds from the same commit are byte-identical', (t) => {
    for (const f of [TARBALL, DEB, 'SHA256SUMS']) t.equal(sha256(join(outB, f)), sha256(join(outA, f)), f);
    t.end();
  });

  await t.test('tar members are sorted, owned by 0:0 and dated at the commit', async (t) => {
    const epoch = Number((await run('git', ['log', '-1', '--format=%ct'])).stdout.trim());
    const r = await run('tar', ['--numeric-owner', '--full-time', '-tvzf', join(outA, TARBALL)], { env: { ...process.env, TZ: 'UTC' } });
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const names = lines.map((l) => l.split(/\s+/)[5] ?? '');
    // --sort=name: each directory's entries in byte order, each directory followed by its contents.
    const byComponents = (a: string, b: string): number => {
      const x = a.replace(/\/$/, '').split('/');
      const y = b.replace(/\/$/, '').split('/');
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = Buffer.compare(Buffer.from(x[i] ?? ''), Buffer.from(y[i] ?? ''));
        if (c !== 0) return c;
      }
      return x.length - y.length;
    };
    t.same(names, [...names].sort(byComponents), 'sorted by name, directory by directory');
    t.same(new Set(lines.map((l) => l.split(/\s+/)[1])), new Set(['0/0']), 'owner 0/0');
    const when = new Date(epoch * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
    t.same(new Set(lines.map((l) => l.split(/\s+/).slice(3, 5).join(' '))), new Set([when]), `every mtime is ${when}`);
    const top = `sni-forwarder-${VERSION}-linux-x64/`;
    for (const f of ['bin/sni-forwarder', 'lib/sni-forwarder/dist/cli.js', 'lib/sni-forwarder/node/bin/node', 'lib/sni-forwarder/node_modules/pino/package.json',
      'systemd/sni-forwarder.service', 'systemd/sni-forwarder.socket', 'config.yaml', 'config.example.yaml', 'install.sh', 'LICENSE', 'README.md',
      'CHANGELOG.md', 'SHA256SUMS', 'docs/install.md']) {
      t.ok(names.includes(top + f), f);
    }
    t.notOk(names.some((n) => n.includes('/node_modules/typescript/') || n.includes('/node_modules/tap/')), 'no devDependencies');
    t.notOk(names.some((n) => n.endsWith('.map') || n.endsWith('.ts')), 'no source maps or TypeScript');
  });

  await t.test('lintian: no error or warning beyond the documented overrides', async (t) => {
    const r = await lintian;
    const tags = r.stdout.split('\n').filter((l) => /^[EWI]: /.test(l));
    const bad = tags.filter((l) => /^[EW]: /.test(l));
    t.same(bad, [], 'no E: or W: tags');
    const info = [...new Set(tags.filter((l) => l.startsWith('I: ')).map((l) => l.split(' ')[2]))];
    t.comment(`lintian info tags left: ${info.join(', ')}`);
    t.ok(tags.length > 0 || r.code === 0, `lintian ran (exit ${r.code}): ${r.stderr.trim()}`);
  });

  // ---- install offline ---------------------------------------------------------------------
  const netns = await createNetns('sni-rel');
  if (!('name' in netns)) throw new Error(`network namespace: ${netns.unavailable}`);
  const ns: Netns = netns;
  cleanups.push(() => ns.remove());

  const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
  // Inside: a private mount namespace in which every node binary the machine has is /dev/null.
  const HIDE_NODE = 'for n in /usr/bin/node /usr/local/bin/node /bin/node; do if [ -f "$n" ]; then mount --bind /dev/null "$n" || exit 97; fi; done; exec "$@"';
  function inNs(cmd: string, args: readonly string[], env: Record<string, string> = {}): string[] {
    return ['netns', 'exec', ns.name, 'env', '-i', `PATH=${PATH}`, 'HOME=/root', 'LC_ALL=C',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      'unshare', '--mount', '--propagation', 'private', 'sh', '-c', HIDE_NODE, 'sh', cmd, ...args];
  }
  const nsRun = (cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> =>
    run('ip', inNs(cmd, args, env), { timeoutMs: 180_000 });

  await t.test('the namespace has loopback only, and no node on PATH', async (t) => {
    const links = await nsRun('ip', ['-o', 'link', 'show']);
    t.equal(links.code, 0, links.stderr);
    t.same(links.stdout.trim().split('\n').map((l) => l.split(':')[1]?.trim()), ['lo'], 'only lo');
    const node = await nsRun('sh', ['-c', 'command -v node || echo none']);
    t.equal(node.stdout.trim(), 'none');
  });

  // A TLS origin inside the namespace, with a certificate from a test CA.
  const ca = new TestCa();
  cleanups.push(() => ca.cleanup());
  const leaf = ca.issue(['origin.test']);
  writeFileSync(join(ca.dir, 'leaf.key'), leaf.key);
  const ORIGIN_PORT = 9443;
  const origin = ns.exec('openssl', ['s_server', '-accept', `127.0.0.1:${ORIGIN_PORT}`, '-cert', leaf.certFile, '-key', join(ca.dir, 'leaf.key'), '-www']);
  await new Promise<void>((res, rej) => {
    let out = '';
    origin.stdout?.on('data', (c: Buffer) => { out += c.toString(); if (out.includes('ACCEPT')) res(); });
    origin.once('exit', (code) => rej(new Error(`openssl s_server exited ${code}`)));
    setTimeout(() => rej(new Error(`openssl s_server: no ACCEPT within 20 s: ${out}`)), 20_000).unref();
  });

  const TEST_CONFIG = `# written by test/ops/release.test.ts
  listen:
    - address: "0.0.0.0:443"
  metrics:
    address: "127.0.0.1:9464"
  routes:
    - hosts: ["origin.test"]
      upstream: "127.0.0.1:${ORIGIN_PORT}"
  `;

  type Line = Record<string, unknown>;
  /** Runs ExecStart of `unitFile` in the namespace as the unit would; resolves once it logs 'ready'. */
  async function startAsUnit(unitFile: string): Promise<{ child: ChildProcess; lines: Line[]; waitFor: (m: (l: Line) => boolean) => Promise<Line> }> {
    const execStart = /^ExecStart=(.+)$/m.exec(readFileSync(unitFile, 'utf8'))?.[1];
    if (execStart === undefined) throw new Error(`${unitFile}: no ExecStart`);
    // DynamicUser=yes and AmbientCapabilities=CAP_NET_BIND_SERVICE, approximately: nobody with that one capability.
    const priv = ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs',
      '--inh-caps=-all,+net_bind_service', '--ambient-caps=-all,+net_bind_service', '--bounding-set=-all,+net_bind_service'];
    const argv = execStart.split(' ');
    const child = spawn('ip', inNs('setpriv', [...priv, ...argv]), { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Line[] = [];
    const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        line = { msg: `(not json) ${text}` };
      }
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    });
    const waitFor = (match: (l: Line) => boolean): Promise<Line> => {
      const seen = lines.find(match);
      return seen !== undefined ? Promise.resolve(seen) : new Promise((res) => waiters.push({ match, resolve: res }));
    };
    const exited = new Promise<never>((_, rej) => child.once('exit', (code) => rej(new Error(`daemon exited ${code}: ${stderr}`))));
    exited.catch(() => {});
    await Promise.race([waitFor((l) => l.msg === 'ready'), exited]);
    return { child, lines, waitFor };
  }

  /** Forwards curl → installed daemon on :443 → s_server; checks the page, the access line, build_info and a clean stop. */
  async function forwardThroughInstalled(t: Test, unitFile: string): Promise<void> {
    const d = await startAsUnit(unitFile);
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((res) => d.child.once('exit', (code) => { exitCode = code; res(code); }));
    t.teardown(() => { if (exitCode === undefined) d.child.kill('SIGKILL'); });
    const starting = await d.waitFor((l) => l.msg === 'starting');
    t.equal(starting['node'], `v${PINNED}`, 'runs on the bundled runtime');
    t.equal(starting['data_path'], 'user-buffers', 'data_path logged at start');
    const curl = await nsRun('curl', ['--silent', '--show-error', '--max-time', '20', '--cacert', ca.caFile,
      '--resolve', 'origin.test:443:127.0.0.1', 'https://origin.test/']);
    t.equal(curl.code, 0, curl.stderr);
    t.match(curl.stdout, 'Ciphers supported in s_server binary', 'the origin\'s page arrived through the forwarder');
    const access = await d.waitFor((l) => l.msg === 'connection');
    t.match(access, { sni: 'origin.test', host: 'origin.test', outcome: 'forwarded', upstream: `127.0.0.1:${ORIGIN_PORT}` }, 'access line');
    const metrics = await nsRun('curl', ['--silent', '--show-error', '--max-time', '10', 'http://127.0.0.1:9464/metrics']);
    t.match(metrics.stdout, `sni_forwarder_build_info{version="${VERSION}",node_version="v${PINNED}",data_path="user-buffers"} 1`);
    d.child.kill('SIGTERM');
    t.equal(await exited, 0, 'SIGTERM: exit 0');
  }

  /** systemd-analyze verify and security --offline on installed units. */
  async function analyze(t: Test, service: string, socket: string): Promise<void> {
    const v = await run('systemd-analyze', ['verify', service, socket]);
    t.equal(v.code, 0, v.stderr);
    t.same(`${v.stdout}\n${v.stderr}`.split('\n').filter((l) => l.includes('sni-forwarder')), [], 'verify: no complaint about our units');
    const s = await run('systemd-analyze', ['security', '--offline=true', service]);
    const overall = /Overall exposure level for \S+: (\d+(?:\.\d+)?) (\w+)/.exec(s.stdout);
    t.ok(overall !== null && Number(overall[1]) <= MAX_EXPOSURE, `security: ${overall?.[1] ?? s.stderr} ${overall?.[2] ?? ''} (at most ${MAX_EXPOSURE})`);
  }

  // The .deb. A package left by an interrupted run is purged first.
  const isInstalled = async (): Promise<boolean> => /^install ok installed/.test((await run('dpkg-query', ['-W', '-f=${Status}', 'sni-forwarder'])).stdout);
  if (await isInstalled()) await run('dpkg', ['--purge', 'sni-forwarder']);
  cleanups.push(async () => { if (await isInstalled()) await run('dpkg', ['--purge', 'sni-forwarder']); });
  const debCopy = join(tempDir('sni-fwd-deb-'), DEB);
  writeFileSync(debCopy, readFileSync(join(outA, DEB)));

  await t.test('the .deb installs offline and forwards a TLS connection', async (t) => {
    const inst = await nsRun('dpkg', ['-i', debCopy]);
    t.equal(inst.code, 0, `dpkg -i: ${inst.stdout}${inst.stderr}`);
    t.ok(await isInstalled(), 'dpkg: install ok installed');
    const version = await nsRun('sni-forwarder', ['--version']);
    t.equal(version.stdout.trim(), VERSION, `sni-forwarder --version: ${version.stderr}`);
    const check = await nsRun('sni-forwarder', ['check']);
    t.equal(check.code, 0, check.stderr);
    t.match(check.stdout, '/etc/sni-forwarder/config.yaml: ok');
    t.equal(readFileSync('/etc/sni-forwarder/config.yaml', 'utf8'), readFileSync(join(ROOT, 'packaging/config.yaml'), 'utf8'), 'the bastion config');
    t.match((await run('dpkg-query', ['-W', '-f=${Conffiles}', 'sni-forwarder'])).stdout, '/etc/sni-forwarder/config.yaml', 'a conffile');
    const service = '/usr/lib/systemd/system/sni-forwarder.service';
    t.match(readFileSync(service, 'utf8'), '\nExecStart=/usr/bin/sni-forwarder run -c /etc/sni-forwarder/config.yaml\n');
    t.notOk(existsSync('/etc/systemd/system/multi-user.target.wants/sni-forwarder.service'), 'not enabled');
    await analyze(t, service, '/usr/lib/systemd/system/sni-forwarder.socket');
    // The operator's edit of the conffile, then the service as systemd would run it.
    writeFileSync('/etc/sni-forwarder/config.yaml', TEST_CONFIG);
    await forwardThroughInstalled(t, service);
  });

  await t.test('dpkg --purge leaves nothing behind', async (t) => {
    const listed = (await run('dpkg', ['-L', 'sni-forwarder'])).stdout.trim().split('\n');
    t.ok(listed.length > 100, `${listed.length} paths installed`);
    const files = listed.filter((p) => existsSync(p) && !statSync(p).isDirectory());
    const purge = await nsRun('dpkg', ['--purge', 'sni-forwarder']);
    t.equal(purge.code, 0, purge.stderr);
    t.same(files.filter((p) => existsSync(p)), [], 'every installed file is gone');
    for (const p of ['/usr/lib/sni-forwarder', '/etc/sni-forwarder', '/usr/bin/sni-forwarder', '/usr/share/doc/sni-forwarder']) t.notOk(existsSync(p), `${p} is gone`);
    t.notOk(await isInstalled(), 'not installed');
    const query = await run('dpkg-query', ['-W', 'sni-forwarder']);
    t.match(`${query.code ?? 'killed'} ${query.stderr}`, /^1 .*no packages found matching sni-forwarder/, 'no trace in dpkg\'s database');
  });

  await t.test('the tarball installs offline with install.sh and forwards a TLS connection', async (t) => {
    const prefix = tempDir('sni-fwd-tarball-');
    chmodSync(prefix, 0o755); // the unprivileged daemon must reach the program
    const opt = join(prefix, 'opt');
    const env = { UNITDIR: join(prefix, 'units'), SYSCONFDIR: join(prefix, 'etc'), BINDIR: join(prefix, 'bin') };
    const untar = await nsRun('sh', ['-c', `mkdir -p '${opt}' && tar -xzf '${join(outA, TARBALL)}' -C '${opt}'`]);
    t.equal(untar.code, 0, untar.stderr);
    const home = join(opt, `sni-forwarder-${VERSION}-linux-x64`);
    const sums = await nsRun('sh', ['-c', `cd '${home}' && sha256sum --check --quiet SHA256SUMS`]);
    t.equal(sums.code, 0, `SHA256SUMS: ${sums.stdout}${sums.stderr}`);
    const inst = await nsRun(join(home, 'install.sh'), [], env);
    t.equal(inst.code, 0, inst.stderr);
    t.match(inst.stdout, /nothing was enabled or started[^]*systemctl enable --now sni-forwarder.socket/, 'prints the next steps');
    const bin = join(env.BINDIR, 'sni-forwarder');
    t.equal((await nsRun(bin, ['--version'])).stdout.trim(), VERSION, '--version through the symlink');
    const conf = join(env.SYSCONFDIR, 'sni-forwarder/config.yaml');
    const check = await nsRun(bin, ['check', '-c', conf]);
    t.equal(check.code, 0, check.stderr);
    t.equal(readFileSync(conf, 'utf8'), readFileSync(join(ROOT, 'packaging/config.yaml'), 'utf8'), 'the bastion config');
    const service = join(env.UNITDIR, 'sni-forwarder.service');
    t.match(readFileSync(service, 'utf8'), `\nExecStart=${home}/bin/sni-forwarder run -c ${conf}\n`);
    await analyze(t, service, join(env.UNITDIR, 'sni-forwarder.socket'));
    writeFileSync(conf, TEST_CONFIG);
    await forwardThroughInstalled(t, service);

    // install.sh --uninstall, with a systemctl that records its calls.
    const calls = join(prefix, 'systemctl-calls');
    const fake = join(prefix, 'systemctl');
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> '${calls}'\n`);
    chmodSync(fake, 0o755);
    const un = await nsRun(join(home, 'install.sh'), ['--uninstall'], { ...env, SYSTEMD_RUNNING: '1', SYSTEMCTL: fake });
    t.equal(un.code, 0, un.stderr);
    t.same(readFileSync(calls, 'utf8').trim().split('\n'), ['disable --now sni-forwarder.socket sni-forwarder.service', 'daemon-reload']);
    t.same(readdirSync(env.UNITDIR), [], 'units removed');
    t.notOk(existsSync(bin), 'symlink removed');
    t.ok(existsSync(conf), 'config kept');
  });
}
