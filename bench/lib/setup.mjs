// What the benchmark runs against: a test CA, the nginx TLS origin (with its upload sink), and
// the forwarders under test, each on its own loopback port routing bench.test to the origin.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, run, waitListening, until, freePort } from './procs.mjs';

export const NAME = 'bench.test';
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** A program the bench runs, and the Debian package that has it. */
const PROGRAMS = [['/usr/bin/wrk', 'wrk'], ['/usr/bin/curl', 'curl'], ['/usr/bin/openssl', 'openssl'],
  ['/usr/sbin/nginx', 'nginx-light'], ['/usr/sbin/haproxy', 'haproxy'], [STREAM_MODULE, 'libnginx-mod-stream']];

/**
 * Installs with apt-get whatever of PROGRAMS is missing (after any apt run logged in
 * /tmp/apt.log has finished), leaving out HAProxy and nginx's stream module when the columns
 * `columns` (ids) do not need them. A failure is logged; the columns that need it are then skipped.
 */
export async function ensurePackages(log, columns) {
  const unused = new Set([...(columns.includes('haproxy') ? [] : ['haproxy']), ...(columns.includes('nginx') ? [] : ['libnginx-mod-stream'])]);
  const need = PROGRAMS.filter(([path, pkg]) => !existsSync(path) && !unused.has(pkg)).map(([, pkg]) => pkg);
  if (need.length === 0) return;
  if (existsSync('/tmp/apt.log') && !/done\s*\d*\s*$/.test(readFileSync('/tmp/apt.log', 'utf8'))) {
    log('another apt-get run is still going (/tmp/apt.log): waiting for it');
    await until('/tmp/apt.log to end with "done"', () => /done\s*\d*\s*$/.test(readFileSync('/tmp/apt.log', 'utf8')),
      { timeoutMs: 600_000, everyMs: 2000 });
  }
  log(`apt-get install ${need.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...need], { env });
  if (r.code !== 0) {
    await run('apt-get', ['update'], { env });
    r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...need], { env });
  }
  if (r.code !== 0) log(`apt-get failed (${r.code}); columns needing ${need.join(', ')} are skipped:\n${r.stderr.slice(-500)}`);
}

export function haveHaproxy() {
  return existsSync('/usr/sbin/haproxy');
}

/** The programs without which no column can be measured (wrk, curl, openssl, nginx). */
export function missingEssentials() {
  return PROGRAMS.slice(0, 4).filter(([path]) => !existsSync(path)).map(([path]) => path);
}

export function haveNginxStream() {
  return existsSync(STREAM_MODULE);
}

/** A CA and a server certificate for bench.test (P-256, like the test suite's TestCa). */
export function makePki(dir) {
  const ssl = (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const p = (f) => join(dir, f);
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'),
    '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=sni-forwarder bench CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(p('leaf.ext'), `subjectAltName=DNS:${NAME}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('leaf.key'),
    '-out', p('leaf.csr'), '-subj', `/CN=${NAME}`]);
  ssl(['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-set_serial', '1001',
    '-out', p('leaf.pem'), '-days', '2', '-extfile', p('leaf.ext')]);
  return { ca: p('ca.pem'), cert: p('leaf.pem'), key: p('leaf.key') };
}

/** Writes `mib` MiB of random data to `file` in 1 MiB chunks; returns its SHA-256 (hex). */
export function makeBlob(file, mib) {
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  for (let i = 0; i < mib; i++) {
    const chunk = randomBytes(1 << 20);
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  return hash.digest('hex');
}

/**
 * Debian's nginx as the TLS 1.3 origin, one worker: /small (100 B), /blob (the random file),
 * and /upload, which reads the whole request body into a file under `dir`/body (tmpfs when the
 * bench dir is on /dev/shm) and answers with that file's path, so the bench can hash it after
 * the clock stopped. nginx reads the body in C and the file write is a memcpy into tmpfs:
 * cheaper per byte than hashing inline in a Node sink, and it costs no forwarder CPU either way.
 */
export async function startOrigin(dir, pki, blobFile) {
  const port = await freePort();
  const sinkPort = await freePort();
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  mkdirSync(join(dir, 'body'), { recursive: true });
  writeFileSync(join(www, 'small'), 'x'.repeat(99) + '\n');
  execFileSync('ln', ['-sf', blobFile, join(www, 'blob')]);
  const conf = join(dir, 'origin.conf');
  writeFileSync(conf, `# bench origin (generated)
user root;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/origin.pid;
error_log ${dir}/origin-error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  default_type application/octet-stream;
  keepalive_requests 10000000;
  keepalive_timeout 600s;
  client_header_timeout 600s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  server {
    listen 127.0.0.1:${port} ssl;
    server_name ${NAME};
    ssl_certificate ${pki.cert};
    ssl_certificate_key ${pki.key};
    ssl_protocols TLSv1.3;
    root ${www};
    location = /small { }
    location = /blob { }
    location = /upload {
      client_max_body_size 0;
      client_body_buffer_size 1m;
      client_body_in_file_only on;
      proxy_pass http://127.0.0.1:${sinkPort}/done;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Body-File $request_body_file;
    }
  }
  server {
    listen 127.0.0.1:${sinkPort};
    location = /done { return 200 "$http_x_body_file"; }
  }
}
`);
  const proc = start('origin nginx', 'nginx', ['-e', join(dir, 'origin-error.log'), '-p', dir, '-c', conf, '-g', 'daemon off;'],
    { logFile: join(dir, 'origin.out') });
  await waitListening(proc, port);
  return { proc, port };
}

/** sni-forwarder itself (`workers` 1 or "auto"), logging as production would, to a file. */
const NODE_FLAGS = (() => {
  const m = /^NODE_FLAGS := (.*)$/m.exec(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'Makefile'), 'utf8'));
  return m ? m[1].trim().split(/\s+/) : [];
})();

/**
 * The bench's allocation probe (lib/alloc-probe.mjs), preloaded with --import: its port and the
 * node arguments that load it.
 */
async function allocProbe() {
  const port = await freePort();
  return { port, args: ['--import', join(dirname(fileURLToPath(import.meta.url)), 'alloc-probe.mjs')] };
}

export async function startSniForwarder(dir, dist, originPort, workers, name = `sni-${workers}`) {
  const port = await freePort();
  const metricsPort = await freePort();
  const conf = join(dir, `${name}.yaml`);
  writeFileSync(conf, `listen:
  - address: "127.0.0.1:${port}"
metrics:
  address: "127.0.0.1:${metricsPort}"
log:
  level: info
workers: ${workers}
limits:
  client_hello_timeout: 10s
  idle_timeout: 10m
  max_connections: 10000
routes:
  - hosts: ["${NAME}"]
    upstream: "127.0.0.1:${originPort}"
`);
  // One process only: with workers the probe would count the primary, which serves nothing.
  const probe = workers === 1 ? await allocProbe() : { port: undefined, args: [] };
  const env = { ...process.env, ...(probe.port ? { BENCH_ALLOC_PORT: String(probe.port) } : {}) };
  delete env.NODE_OPTIONS;
  // The V8 flags of the Makefile's NODE_FLAGS, as `make run` and the installed launcher use them.
  const proc = start(`${name} workers=${workers}`, process.execPath, [...NODE_FLAGS, ...probe.args, join(dist, 'cli.js'), 'run', '-c', conf],
    { logFile: join(dir, `${name}.log`), env });
  const readyz = async () => {
    try { return (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200; } catch { return false; }
  };
  const died = proc.exited.then(({ code, signal }) => {
    throw new Error(`${proc.name} exited (${code ?? signal}):\n${readFileSync(proc.logFile, 'utf8').slice(-2000)}`);
  });
  died.catch(() => {});
  await Promise.race([until(`${proc.name} /readyz`, readyz), died]);
  return { proc, port, allocPort: probe.port };
}

/** HAProxy 2.6, one thread, mode tcp routing on req.ssl_sni; no access log. */
export async function startHaproxy(dir, originPort) {
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, `global
  nbthread 1
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 10m
  timeout server 10m
frontend bench
  bind 127.0.0.1:${port}
  tcp-request inspect-delay 5s
  tcp-request content accept if { req_ssl_hello_type 1 }
  use_backend origin if { req.ssl_sni -i ${NAME} }
backend origin
  server origin 127.0.0.1:${originPort}
`);
  const proc = start('haproxy', 'haproxy', ['-db', '-f', conf], { logFile: join(dir, 'haproxy.log') });
  await waitListening(proc, port);
  return { proc, port };
}

/** nginx stream with ssl_preread, one worker; no access log. */
export async function startNginxStream(dir, originPort) {
  const port = await freePort();
  const conf = join(dir, 'stream.conf');
  writeFileSync(conf, `load_module ${STREAM_MODULE};
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/stream.pid;
error_log ${dir}/stream-error.log warn;
events { worker_connections 20000; }
stream {
  map $ssl_preread_server_name $upstream {
    ${NAME} 127.0.0.1:${originPort};
    default 127.0.0.1:9;
  }
  server {
    listen 127.0.0.1:${port};
    ssl_preread on;
    proxy_pass $upstream;
    proxy_timeout 10m;
  }
}
`);
  const proc = start('nginx stream', 'nginx', ['-e', join(dir, 'stream-error.log'), '-p', dir, '-c', conf, '-g', 'daemon off;'],
    { logFile: join(dir, 'stream.out') });
  await waitListening(proc, port);
  return { proc, port };
}

/** bench/node-pipe.mjs: a Node `net` server piping to the origin, no parsing (Node's floor). */
export async function startNodePipe(dir, originPort, script) {
  const port = await freePort();
  const probe = await allocProbe();
  const env = { ...process.env, BENCH_ALLOC_PORT: String(probe.port) };
  delete env.NODE_OPTIONS;
  const proc = start('node pipe', process.execPath, [...probe.args, script, String(port), String(originPort)],
    { logFile: join(dir, 'node-pipe.log'), env });
  await waitListening(proc, port);
  return { proc, port, allocPort: probe.port };
}
