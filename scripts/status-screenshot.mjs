#!/usr/bin/env node
// Makes docs/status.png, docs/status.md's picture of the status page: the built daemon (dist/)
// with a few routes on loopback, traffic of six outcomes from a test TLS origin
// (build/test/helpers), then headless Chromium at 1280x800 and `sni-forwarder status` for
// docs/status.md's text.
// Needs `make build build-test`, openssl and /usr/bin/chromium. Everything stays on 127.0.0.1.
// Usage: node scripts/status-screenshot.mjs [out.png]
import { execFileSync, spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';

const root = resolve(import.meta.dirname, '..');
const out = resolve(process.argv[2] ?? join(root, 'docs/status.png'));
const { startTlsOrigin, fetchHello } = await import(join(root, 'build/test/helpers/origin.js'));
const { freePort } = await import(join(root, 'build/test/helpers/proc.js'));

const cleanup = [];
const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-shot-'));
cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
const names = ['registry-vpc.cn-beijing.aliyuncs.com', 'dockerauth-vpc.cn-beijing.aliyuncs.com', '*.oss-cn-beijing-internal.aliyuncs.com'];
const { ca, origin } = await startTlsOrigin('o', names, (fn) => cleanup.push(fn));
const closed = await freePort();
const port = await freePort();
const metricsPort = await freePort();
writeFileSync(join(dir, 'config.yaml'), `listen:
  - address: "127.0.0.1:${port}"
metrics:
  address: "127.0.0.1:${metricsPort}"
limits:
  client_hello_timeout: 1s
routes:
  - hosts: ["registry-vpc.cn-beijing.aliyuncs.com", "dockerauth-vpc.cn-beijing.aliyuncs.com"]
    upstream: "127.0.0.1:${origin.port}"
  - hosts: ["*.oss-cn-beijing-internal.aliyuncs.com"]
    upstream: "127.0.0.1:${origin.port}"
  - hosts: ["harbor.corp.example"]
    upstream: "127.0.0.1:${closed}"
  - hosts: ["quay.io", "cdn.quay.io"]
    port: 443
`);
const daemon = spawn(process.execPath, [join(root, 'dist/cli.js'), 'run', '-c', 'config.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
let log = '';
await new Promise((ready) => daemon.stdout.on('data', (c) => { log += String(c); if (log.includes('"msg":"ready"')) ready(); }));

const tls = { host: '127.0.0.1', port, ca: ca.caPem, agent: false };
const closedSocket = (s) => new Promise((r) => s.on('error', () => {}).on('close', r));
const get = (servername, path) => new Promise((res, rej) =>
  request({ ...tls, servername, path }, (r) => r.resume().on('end', res)).on('error', rej).end());
const post = (servername, size) => new Promise((res, rej) =>
  request({ ...tls, servername, path: '/upload', method: 'POST' }, (r) => r.resume().on('end', res)).on('error', rej).end(Buffer.alloc(size, 7)));
const refused = (servername) => closedSocket(tlsConnect({ ...tls, ...(servername === undefined ? {} : { servername }) }));

for (let i = 0; i < 12; i++) await fetchHello({ port, servername: 'dockerauth-vpc.cn-beijing.aliyuncs.com', caPem: ca.caPem });
for (let i = 0; i < 9; i++) await get('registry-vpc.cn-beijing.aliyuncs.com', '/blob?size=40000');
for (let i = 0; i < 6; i++) await get(`docker-registry-cn-beijing-${i}.oss-cn-beijing-internal.aliyuncs.com`, `/blob?size=${(i + 1) * 23_000_000}`);
await post('registry-vpc.cn-beijing.aliyuncs.com', 3_400_000);
for (const name of ['registry-1.docker.io', 'auth.docker.io', 'production.cloudflare.docker.com']) await refused(name); // not_allowed
for (let i = 0; i < 3; i++) await refused('harbor.corp.example'); // upstream_unreachable
await refused(undefined); // no_sni
const plain = connect(port, '127.0.0.1');
plain.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // not_tls
await closedSocket(plain);
await closedSocket(connect(port, '127.0.0.1')); // says nothing: hello_timeout after 1 s
// One connection still open when the picture is taken.
const open = tlsConnect({ ...tls, servername: 'registry-vpc.cn-beijing.aliyuncs.com' });
open.on('error', () => {});
await new Promise((r) => open.on('secureConnect', r));

const url = `http://127.0.0.1:${metricsPort}/`;
execFileSync('/usr/bin/chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'chromium')}`,
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1', '--window-size=1280,800', `--screenshot=${out}`, url,
], { stdio: 'ignore', timeout: 60_000 });
process.stdout.write(`${out}\n\n$ sni-forwarder status\n`);
process.stdout.write(execFileSync(process.execPath, [join(root, 'dist/cli.js'), 'status', '--metrics', url]));
open.destroy();
daemon.kill('SIGTERM');
await new Promise((r) => daemon.on('exit', r));
for (const fn of cleanup.reverse()) await fn();
