// The data path tells what it is (issue #15, item 4): the daemon logs `data_path` once at start
// and labels sni_forwarder_build_info with it; `data_path: streams` in the config or
// SNI_FORWARDER_DATA_PATH=streams in the environment forces the stream path. A real TLS
// download and upload are forwarded, byte-exact, on both paths.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { resolve } from 'node:path';
import t from 'tap';
import { DaemonProcess, loopbackConfig, metric, runCli, writeConfig, type LogLine } from '../helpers/daemon.js';
import { blobSha256, PATTERN_CHUNK, startTlsOrigin } from '../helpers/origin.js';
import { userBuffersAvailable } from '../../src/relay/user-buffer.js';

const SIZE = 8 * 1024 * 1024;
const { ca, origin } = await startTlsOrigin('origin', ['data.test'], (fn) => t.teardown(fn));
const VERSION = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

/** GET /blob?size=N through the forwarder; resolves with the SHA-256 of what arrived. */
function download(port: number, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'data.test', ca: ca.caPem, path: `/blob?size=${size}`, agent: false }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => resolve(hash.digest('hex')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** POST /upload of `chunks` pattern chunks through the forwarder; the origin's JSON answer. */
function upload(port: number, chunks: number): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'data.test', ca: ca.caPem, path: '/upload', method: 'POST', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(JSON.parse(body) as { bytes: number; sha256: string }));
    });
    req.on('error', reject);
    for (let i = 0; i < chunks; i++) req.write(PATTERN_CHUNK);
    req.end();
  });
}

const routes = (extra: string): string => loopbackConfig(`${extra}
routes:
  - hosts: ["data.test"]
    upstream: "127.0.0.1:${origin.port}"
`);

const CASES: { name: string; yaml: string; env: string[]; want: 'user-buffers' | 'streams'; source: string }[] = [
  { name: 'default (auto) relays on user buffers', yaml: routes(''), env: [], want: 'user-buffers', source: 'auto' },
  { name: 'data_path: streams in the config', yaml: routes('data_path: streams'), env: [], want: 'streams', source: 'config' },
  { name: 'SNI_FORWARDER_DATA_PATH=streams over data_path: auto', yaml: routes('data_path: auto'), env: ['env', 'SNI_FORWARDER_DATA_PATH=streams'], want: 'streams', source: 'env' },
];

t.ok(userBuffersAvailable, `Node ${process.version} offers user-buffer reads, so auto means user-buffers here`);

for (const c of CASES) {
  await t.test(c.name, async (t) => {
    const daemon = await DaemonProcess.start(c.yaml, c.env);
    t.teardown(() => daemon.stop());
    const starting = daemon.lines.filter((l: LogLine) => l.msg === 'starting');
    t.equal(starting.length, 1, 'one start line');
    t.equal(starting[0]?.['data_path'], c.want, `logged data_path: ${c.want}`);
    t.equal(starting[0]?.['data_path_source'], c.source);
    t.notOk(daemon.lines.some((l) => l.level === 40), 'no warning (no fallback)');
    const port = daemon.listenerPort();

    t.equal(await download(port, SIZE), blobSha256(SIZE), `${SIZE} bytes downloaded intact`);
    const down = await daemon.accessLine((l) => l.outcome === 'forwarded');
    t.ok(Number(down['bytesDown']) > SIZE, 'the access line counts the download');

    const up = await upload(port, 64);
    t.same(up, { bytes: 64 * PATTERN_CHUNK.length, sha256: createHash('sha256').update(Buffer.concat(Array<Buffer>(64).fill(PATTERN_CHUNK))).digest('hex') }, '4 MiB uploaded intact');
    await daemon.waitForCount((l) => l.msg === 'connection' && l.outcome === 'forwarded', 2);

    const m = await daemon.metrics();
    t.equal(m.get(metric('sni_forwarder_build_info', { version: VERSION, node_version: process.version, data_path: c.want })), 1,
      `build_info{data_path="${c.want}"} 1`);
    t.equal(await daemon.stop(), 0, 'clean exit');
  });
}

await t.test('a bad SNI_FORWARDER_DATA_PATH is a clear error, exit 1', async (t) => {
  const file = writeConfig(routes(''));
  const r = await runCli(['run', '-c', file], 20_000, [], { SNI_FORWARDER_DATA_PATH: 'fast' });
  t.equal(r.code, 1);
  // Like every startup failure, one JSON line on stdout (`cannot start`, the reason in `problem`).
  const line = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'cannot start');
  t.match(String(line?.['problem']), 'SNI_FORWARDER_DATA_PATH="fast": expected auto or streams');
  t.notMatch(r.stdout, '    at ', 'no stack trace');
  t.equal(r.stderr, '', 'nothing on stderr');
});
