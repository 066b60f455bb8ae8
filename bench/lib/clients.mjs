// The load generators: wrk (new connections, keep-alive), curl (bulk down and up, every byte
// hashed), and a Node client that holds many idle TLS connections.
import { once } from 'node:events';
import { readFileSync, unlinkSync } from 'node:fs';
import { connect } from 'node:tls';
import { run } from './procs.mjs';
import { NAME } from './setup.mjs';

/**
 * wrk against https://bench.test:PORT/small, run in a private mount namespace whose /etc/hosts
 * maps bench.test to 127.0.0.1 (wrk takes the SNI from the URL's host). `close` sends
 * `Connection: close`, so every request is a new TCP + TLS connection.
 */
export async function wrk({ hostsFile, port, seconds, connections, close }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  if (close) args.push('-H', 'Connection: close');
  args.push(`https://${NAME}:${port}/small`);
  const r = await run('unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec wrk "$@"', hostsFile, ...args]);
  if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr}${r.stdout}`);
  return parseWrk(r.stdout);
}

/** Requests/sec, total requests, p50/p99 latency in ms, and errors from wrk's report. */
export function parseWrk(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
  const ms = (pct) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) return NaN;
    return Math.round(Number(m[1]) * { us: 1, ms: 1000, s: 1e6 }[m[2]]) / 1000; // whole µs, in ms
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (num(/Non-2xx or 3xx responses: (\d+)/) || 0);
  const result = { rps: num(/Requests\/sec:\s+([\d.]+)/), requests: num(/(\d+) requests in/), p50: ms(50), p99: ms(99), errors };
  if (!(result.requests > 0)) throw new Error(`wrk made no requests:\n${out}`);
  return result;
}

function curlArgs(pki, port) {
  return ['-sS', '--fail', '--http1.1', '--resolve', `${NAME}:${port}:127.0.0.1`, '--cacert', pki.ca];
}

/**
 * `parallel` concurrent downloads of /blob, each piped through sha256sum and checked against
 * `sha256`. Resolves MiB/s = all bytes / wall time.
 */
export async function download({ pki, port, parallel, blobMiB, sha256 }) {
  const url = `https://${NAME}:${port}/blob`;
  const one = async () => {
    const r = await run('bash', ['-c', 'set -o pipefail; curl "$@" | sha256sum', 'bench-download', ...curlArgs(pki, port), url]);
    if (r.code !== 0) throw new Error(`download failed (${r.code}): ${r.stderr}`);
    const got = r.stdout.split(' ')[0];
    if (got !== sha256) throw new Error(`download through port ${port}: SHA-256 ${got}, want ${sha256}`);
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: parallel }, one));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { mibps: (parallel * blobMiB) / seconds, bytes: parallel * blobMiB * 2 ** 20, checked: parallel };
}

/**
 * `parallel` concurrent uploads of the blob file to /upload. The origin stores each body in a
 * file and answers with its path; once the clock has stopped, each file is hashed, compared
 * with `sha256` and deleted.
 */
export async function upload({ pki, port, parallel, blobMiB, blobFile, sha256 }) {
  const url = `https://${NAME}:${port}/upload`;
  const one = async () => {
    const r = await run('curl', [...curlArgs(pki, port), '-H', 'Expect:', '-T', blobFile,
      '-w', '\n%{http_code} %{size_upload}', url]);
    const [file, status] = r.stdout.split('\n');
    if (r.code !== 0 || !file) {
      throw new Error(`upload through port ${port} failed: curl exit ${r.code}, status and bytes sent ${status}, `
        + `stored as "${file}": ${r.stderr}`);
    }
    return file;
  };
  const t0 = process.hrtime.bigint();
  const files = await Promise.all(Array.from({ length: parallel }, one));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const got = [];
  for (const f of files) {
    got.push((await run('sha256sum', [f])).stdout.split(' ')[0]);
    unlinkSync(f);
  }
  const bad = got.find((h) => h !== sha256);
  if (bad !== undefined) throw new Error(`upload through port ${port}: stored body SHA-256 ${bad}, want ${sha256}`);
  const checked = got.length;
  return { mibps: (parallel * blobMiB) / seconds, bytes: parallel * blobMiB * 2 ** 20, checked };
}

/**
 * Opens `count` TLS connections to bench.test via `port` (at most 100 handshakes in flight),
 * verifying the origin's certificate, and resolves a handle whose close() ends them all.
 */
export async function holdIdle({ pki, port, count }) {
  const ca = readFileSync(pki.ca);
  const sockets = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const s = connect({ host: '127.0.0.1', port, servername: NAME, ca });
      sockets.push(s);
      // Errors after the handshake (a reset while held) are the forwarder's to report, not ours.
      let failed;
      s.on('error', (err) => failed?.(err));
      await new Promise((resolve, reject) => { failed = reject; s.once('secureConnect', resolve); });
      failed = undefined;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(100, count) }, worker));
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return {
    close: async () => {
      await Promise.all(sockets.map((s) => { s.destroy(); return s.closed ? undefined : once(s, 'close'); }));
    },
  };
}

/** `wrk -v`'s first line (wrk prints it and exits 1). */
export async function wrkVersion() {
  const r = await run('wrk', ['-v']);
  return (r.stdout + r.stderr).split('\n')[0].trim();
}
