// The CLI as an operator meets it (SPEC §2): `check` and `run` on good and broken configs,
// exit codes, and one-line errors without stack traces.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { DaemonProcess, runCli, writeConfig, type LogLine } from '../helpers/daemon.js';
import { run } from '../helpers/proc.js';

const EXAMPLE = resolve(import.meta.dirname, '../../../config.example.yaml');

await t.test('check accepts config.example.yaml and prints the route table', async (t) => {
  const r = await runCli(['check', '-c', EXAMPLE]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /: ok\n/);
  t.match(r.stdout, /listen +127\.0\.0\.1:8443 tls/);
  t.match(r.stdout, /routes \(\d+\):/);
  t.equal(r.stderr, '');
});

// One broken file per error class; each must be reported at its exact position.
const cases: { name: string; yaml: string; want: RegExp }[] = [
  { name: 'unknown key', yaml: 'listen:\n  - address: "127.0.0.1:8443"\n    protcol: tls\nroutes:\n  - hosts: ["a.example"]\n', want: /:3:5: listen\[0\]\.protcol: / },
  { name: 'bad duration', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nlimits:\n  idle_timeout: 10 minutes\nroutes:\n  - hosts: ["a.example"]\n', want: /:4:17: limits\.idle_timeout: / },
  { name: 'bad address', yaml: 'listen:\n  - address: "127.0.0.1"\nroutes:\n  - hosts: ["a.example"]\n', want: /:2:14: listen\[0\]\.address: / },
  { name: 'bad CIDR', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nupstream_networks: ["10.0.0.0/33"]\nroutes:\n  - hosts: ["a.example"]\n', want: /:3:21: upstream_networks\[0\]: / },
  { name: 'duplicate host', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.example"]\n  - hosts: ["A.example."]\n', want: /:5:13: routes\[1\]\.hosts\[0\]: .*duplicate/i },
  { name: 'bad pattern', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.*.example"]\n', want: /:4:13: routes\[0\]\.hosts\[0\]: / },
  { name: 'wrong type', yaml: 'listen:\n  - address: "127.0.0.1:8443"\nlimits:\n  max_connections: lots\nroutes:\n  - hosts: ["a.example"]\n', want: /:4:20: limits\.max_connections: / },
  { name: 'YAML syntax', yaml: 'listen:\n  - address: "127.0.0.1:8443\nroutes: []\n', want: /:\d+:\d+: / },
];
for (const c of cases) {
  await t.test(`check reports ${c.name} with file:line:col and exits 1`, async (t) => {
    const file = writeConfig(c.yaml);
    const r = await runCli(['check', '-c', file]);
    t.equal(r.code, 1);
    t.match(r.stderr, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + c.want.source, c.want.flags));
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.equal(r.stdout, '');
  });
}

await t.test('check on a missing file: what is wrong, without a made-up position', async (t) => {
  const r = await runCli(['check', '-c', '/nonexistent/sni-forwarder.yaml']);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'sni-forwarder: /nonexistent/sni-forwarder.yaml: cannot read config: no such file\n');
  t.equal(r.stdout, '');
});

await t.test('check on a directory says so', async (t) => {
  const dir = dirname(writeConfig(''));
  const r = await runCli(['check', '-c', dir]);
  t.equal(r.code, 1);
  t.equal(r.stderr, `sni-forwarder: ${dir}: cannot read config: is a directory; name the YAML file in it\n`);
});

/**
 * Runs the CLI as nobody. tap's process-info hook adds itself to every child's NODE_OPTIONS and
 * then cannot write its record as nobody, so `env -u` drops it after the hook has run.
 */
const AS_NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', '-u', 'NODE_OPTIONS'];

await t.test('a config the user cannot read names the user and the fix', async (t) => {
  const file = writeConfig('listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.example"]\n');
  chmodSync(dirname(file), 0o755);
  chmodSync(file, 0o600);
  // nobody can reach the file (its directory is 0755) but not read it: the DynamicUser's case.
  const r = await runCli(['check', '-c', file], 20_000, AS_NOBODY);
  t.equal(r.code, 1);
  t.equal(r.stderr, `sni-forwarder: ${file}: cannot read config: not readable by user nobody (uid 65534); ` +
    'the service\'s DynamicUser needs it world-readable (chmod 0644, and its directories searchable)\n');
  chmodSync(file, 0o644);
  const ok = await runCli(['check', '-c', file], 20_000, AS_NOBODY);
  t.equal(ok.code, 0, `after chmod 0644 it is read: ${ok.stderr}`);
});

await t.test('a binary file is "not a YAML text file", and its bytes are not printed', async (t) => {
  const elf = writeConfig('');
  writeFileSync(elf, readFileSync(process.execPath).subarray(0, 4096));
  const r = await runCli(['check', '-c', elf]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^sni-forwarder: ${elf}: not a YAML text file \\(.*\\): is it the right file\\?\n$`));
  t.ok(r.stderr.length < 200, `one short line (${r.stderr.length} characters)`);
  // Valid UTF-8 with control bytes (a UTF-16 file read as UTF-8 looks like this).
  const nul = writeConfig('');
  writeFileSync(nul, Buffer.from('listen:\n  - address: "127.0.0.1:8443"\n', 'utf16le'));
  const r2 = await runCli(['check', '-c', nul]);
  t.equal(r2.stderr, `sni-forwarder: ${nul}: not a YAML text file (control byte 0x00 at offset 1): is it the right file?\n`);
});

await t.test('bad option values and unknown options: one line on stderr, no help text', async (t) => {
  const file = writeConfig('listen:\n  - address: "127.0.0.1:8443"\nroutes:\n  - hosts: ["a.example"]\n');
  const cases: [string[], string][] = [
    [['hosts', '--address', '10.0.0.1', '--format', 'yaml', '-c', file], 'sni-forwarder: --format "yaml": expected one of hosts, dnsmasq\n'],
    [['route', 'a.example', '--jsn', '-c', file], "sni-forwarder: unknown option '--jsn' (did you mean --json?); see sni-forwarder route --help\n"],
    [['status', '--timeout', 'soon', '-c', file], 'sni-forwarder: --timeout: expected seconds above 0, got "soon"\n'],
    [['probe', 'registry.example', '--timeout', '-1', '-c', file], 'sni-forwarder: --timeout: expected seconds above 0, got "-1"\n'],
    [['hosts', '-c', file], "sni-forwarder: required option '--address <ip>' not specified; see sni-forwarder hosts --help\n"],
    [['chek'], "sni-forwarder: unknown command 'chek' (did you mean check?); see sni-forwarder --help\n"],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(args);
    t.equal(r.code, 1, args.join(' '));
    t.equal(r.stderr, want, args.join(' '));
    t.equal(r.stdout, '');
  }
});

/** The daemon's stdout as JSON lines; fails the test on a line that is not JSON. */
function jsonLines(t: Test, stdout: string): LogLine[] {
  return stdout.split('\n').filter((l) => l !== '').map((l) => {
    try {
      return JSON.parse(l) as LogLine;
    } catch {
      t.fail(`not a JSON line: ${l}`);
      return {};
    }
  });
}

await t.test('run refuses an invalid config before binding anything, as one JSON fatal line', async (t) => {
  const file = writeConfig('listen:\n  - address: "127.0.0.1:0"\nroutes:\n  - hosts: ["*."]\n');
  const r = await runCli(['run', '-c', file]);
  t.equal(r.code, 1);
  t.equal(r.stderr, '', 'nothing on stderr: the journal gets JSON only');
  const lines = jsonLines(t, r.stdout);
  t.equal(lines.length, 1);
  t.equal(lines[0]?.['level'], 60, 'fatal');
  t.equal(lines[0]?.msg, 'cannot start');
  t.match(lines[0]?.['problem'], /:4:13: routes\[0\]\.hosts\[0\]: /);
  t.equal(lines[0]?.['err'], undefined, 'no stack for a config mistake');
});

await t.test('run on a missing config: a JSON fatal line too', async (t) => {
  const r = await runCli(['run', '-c', '/nonexistent/sni-forwarder.yaml']);
  t.equal(r.code, 1);
  t.equal(r.stderr, '');
  t.same(jsonLines(t, r.stdout).map((l) => [l['level'], l.msg, l['problem']]),
    [[60, 'cannot start', '/nonexistent/sni-forwarder.yaml: cannot read config: no such file']]);
});

await t.test('ready counts routes as check does: host patterns', async (t) => {
  const d = await DaemonProcess.start('listen:\n  - address: "127.0.0.1:0"\nmetrics:\n  address: "127.0.0.1:0"\n' +
    'routes:\n  - hosts: ["a.example", "*.b.example"]\n    port: 443\n  - hosts: ["c.example"]\n    upstream: "127.0.0.1:1"\n');
  t.teardown(() => d.stop());
  const check = await runCli(['check', '-c', d.configFile]);
  t.match(check.stdout, /\nroutes \(3\):\n/);
  t.equal((await d.waitFor((l) => l.msg === 'ready'))['routes'], 3);
});

await t.test('run on a port in use: a clear error and exit 1', async (t) => {
  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  const { port } = blocker.address() as AddressInfo;
  const file = writeConfig(`listen:\n  - address: "127.0.0.1:${port}"\nmetrics:\n  address: "127.0.0.1:0"\nroutes:\n  - hosts: ["a.example"]\n`);
  const r = await runCli(['run', '-c', file]);
  t.equal(r.code, 1);
  t.equal(r.stderr, '');
  const fatal = jsonLines(t, r.stdout).find((l) => l['level'] === 60);
  t.equal(fatal?.['problem'], `cannot listen on 127.0.0.1:${port}: EADDRINUSE: another process listens there (ss -ltnp 'sport = :${port}' shows which)`);
  t.equal(fatal?.['err'], undefined, 'an operator\'s problem, not a bug: no stack trace');
});

const SOCKET_UNIT = resolve(import.meta.dirname, '../../../systemd/sni-forwarder.socket');

await t.test('check --unit: the installed example config against the installed socket unit is an error naming both', async (t) => {
  const r = await runCli(['check', '-c', EXAMPLE, '--unit', SOCKET_UNIT]);
  t.equal(r.code, 1);
  const line = readFileSync(SOCKET_UNIT, 'utf8').split('\n').findIndex((l) => l.startsWith('ListenStream=')) + 1;
  t.match(r.stderr, `sni-forwarder: ${SOCKET_UNIT}:${line}: ListenStream=0.0.0.0:443 matches no listen entry (127.0.0.1:8443): ` +
    'the daemon would refuse to start; add { address: "0.0.0.0:443" } to listen, or change ListenStream= to a listen address\n');
  t.match(r.stderr, /^sni-forwarder: warning: listen 127\.0\.0\.1:8443 has no ListenStream= in the unit/);
});

await t.test('check --unit: a config whose listen matches the unit passes and says which socket goes where', async (t) => {
  const file = writeConfig(readFileSync(EXAMPLE, 'utf8').replace('"127.0.0.1:8443"', '"0.0.0.0:443"'));
  const r = await runCli(['check', '-c', file, '--unit', SOCKET_UNIT]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  t.match(r.stdout, new RegExp(`\nunit +${SOCKET_UNIT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: ListenStream=0\\.0\\.0\\.0:443 -> listen 0\\.0\\.0\\.0:443\n`));
  const missing = await runCli(['check', '-c', file, '--unit', '/nonexistent.socket']);
  t.equal(missing.stderr, 'sni-forwarder: /nonexistent.socket: cannot read the unit: no such file\n');
  const service = await runCli(['check', '-c', file, '--unit', resolve(SOCKET_UNIT, '../sni-forwarder.service')]);
  t.equal(service.code, 1);
  t.match(service.stderr, /no ListenStream= in a \[Socket\] section: is it the \.socket unit\?/);
});

/** Linux lets every user bind ports from this one up (0 on some hosts: then there is no EACCES to see). */
const unprivilegedPortStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));

await t.test('run as an unprivileged user on port 443: EACCES says how to get the port', {
  skip: unprivilegedPortStart > 443 ? false : `net.ipv4.ip_unprivileged_port_start is ${unprivilegedPortStart}: anyone may bind 443 here`,
}, async (t) => {
  const file = writeConfig('listen:\n  - address: "127.0.0.1:443"\nmetrics:\n  address: "127.0.0.1:0"\nroutes:\n  - hosts: ["a.example"]\n');
  chmodSync(dirname(file), 0o755);
  chmodSync(file, 0o644);
  const r = await runCli(['run', '-c', file], 20_000, AS_NOBODY);
  t.equal(r.code, 1);
  t.equal(r.stderr, '');
  const fatal = jsonLines(t, r.stdout).find((l) => l['level'] === 60);
  t.equal(fatal?.msg, 'cannot start');
  t.equal(fatal?.['problem'], 'cannot listen on 127.0.0.1:443: EACCES: ports below 1024 need privilege; run it as the systemd unit ' +
    '(sni-forwarder.service grants CAP_NET_BIND_SERVICE), use socket activation (sni-forwarder.socket binds the port), or grant node ' +
    'CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")")');
});

await t.test('--version prints the package version', async (t) => {
  const r = await runCli(['--version']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});

await t.test('check --unit -: the unit and its drop-ins as `systemctl cat` prints them, from stdin', async (t) => {
  const file = writeConfig(readFileSync(EXAMPLE, 'utf8').replace('"127.0.0.1:8443"', '"127.0.0.1:8443"\n  - address: "0.0.0.0:443"'));
  // What `systemctl cat sni-forwarder.socket` prints with a drop-in that moves the socket to 8443.
  const dropIn = '\n# /etc/systemd/system/sni-forwarder.socket.d/override.conf\n[Socket]\nListenStream=\nListenStream=127.0.0.1:8443\n';
  const cat = `# ${SOCKET_UNIT}\n${readFileSync(SOCKET_UNIT, 'utf8')}${dropIn}`;
  const catFile = writeConfig(cat, 'systemctl-cat.txt');
  const cli = resolve(import.meta.dirname, '../../../dist/cli.js');
  const r = await run('bash', ['-c', 'exec "$0" "$1" check -c "$2" --unit - < "$3"', process.execPath, cli, file, catFile]);
  t.equal(r.code, 0, r.stderr);
  const line = cat.split('\n').indexOf('ListenStream=127.0.0.1:8443') + 1;
  t.match(r.stdout, `\nunit     stdin:${line}: ListenStream=127.0.0.1:8443 -> listen 127.0.0.1:8443\n`, 'the drop-in replaced the unit\'s ListenStream=');
  t.notMatch(r.stdout, 'ListenStream=0.0.0.0:443', 'the reset dropped the unit\'s own address');
  t.match(r.stderr, /^sni-forwarder: warning: listen 0\.0\.0\.0:443 has no ListenStream= in the unit/);
  const empty = await run('bash', ['-c', 'exec "$0" "$1" check -c "$2" --unit - < /dev/null', process.execPath, cli, file]);
  t.equal(empty.code, 1);
  t.match(empty.stderr, 'sni-forwarder: stdin: no ListenStream= in a [Socket] section: is it the .socket unit?');
});
