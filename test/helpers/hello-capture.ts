// Captures real ClientHellos at test time: a loopback TCP listener records what a real client
// sends until a whole hello is there (found by a record-length walk written independently of
// the parser under test), then destroys the connection. Every capture has a safety limit so a
// client that fails cannot hang the suite; it is a bound, not synchronisation.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

const CAPTURE_LIMIT_MS = 10_000;

/** Options for a node:tls client; `servername: ''` makes node send no server_name. */
export interface NodeTlsCaptureOptions {
  servername?: string;
  alpn?: string[];
}

/** The ClientHello node:tls sends with these options, exactly as it went on the wire. */
export async function captureNodeTls(opts: NodeTlsCaptureOptions): Promise<Buffer> {
  return capture((port) => {
    const options: ConnectionOptions = { host: '127.0.0.1', port, rejectUnauthorized: false };
    if (opts.servername !== undefined) options.servername = opts.servername;
    if (opts.alpn !== undefined) options.ALPNProtocols = opts.alpn;
    const socket = tlsConnect(options);
    socket.on('error', () => {}); // the capture server resets the connection on purpose
    const closed = once(socket, 'close').then(() => undefined);
    return {
      failed: closed.then(() => { throw new Error('node:tls client closed before sending a hello'); }),
      stop: async () => { socket.destroy(); await closed; },
    };
  });
}

/** The ClientHello `openssl s_client -connect 127.0.0.1:PORT ...args` sends. */
export async function captureOpenssl(args: string[]): Promise<Buffer> {
  return capture((port) => child(spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })));
}

/** The ClientHello curl sends for https://HOST:PORT/ with HOST resolved to the capture server. */
export async function captureCurl(host: string): Promise<Buffer> {
  return capture((port) => child(spawn('curl', [
    '-q', // ignore ~/.curlrc
    '--silent', '--show-error', '--insecure', '--noproxy', '*', '--max-time', '10',
    '--resolve', `${host}:${port}:127.0.0.1`, `https://${host}:${port}/`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] })));
}

interface Client {
  /** Rejects when the client is gone before the hello was captured. */
  failed: Promise<never>;
  /** Stops the client and resolves once it is gone. */
  stop(): Promise<void>;
}

function child(proc: ChildProcess): Client {
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000); });
  const exited = new Promise<void>((resolve) => {
    proc.on('error', () => resolve()); // e.g. ENOENT; reported through `failed`
    proc.on('exit', () => resolve());
  });
  return {
    failed: exited.then(() => {
      throw new Error(`${proc.spawnfile} exited before sending a hello (code ${proc.exitCode}): ${stderr}`);
    }),
    stop: async () => {
      if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGKILL');
      await exited;
    },
  };
}

async function capture(start: (port: number) => Client): Promise<Buffer> {
  const sockets = new Set<Socket>();
  let onHello: (b: Buffer) => void = () => {};
  let onBad: (e: Error) => void = () => {};
  const hello = new Promise<Buffer>((resolve, reject) => { onHello = resolve; onBad = reject; });
  const server = createServer((socket) => {
    socket.on('error', () => {}); // we destroy it ourselves; a reset from the client is fine
    sockets.add(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      const end = helloEnd(all);
      if (end === undefined) return;
      socket.destroy();
      if (end < 0) onBad(new Error(`captured bytes are not a TLS hello: ${all.subarray(0, 16).toString('hex')}`));
      else onHello(all.subarray(0, end));
    });
    socket.on('end', () => onBad(new Error('client closed before a whole hello arrived')));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ClientHello within ${CAPTURE_LIMIT_MS} ms`)), CAPTURE_LIMIT_MS);
  });
  const client = start(port);
  try {
    return await Promise.race([hello, client.failed, limit]);
  } finally {
    clearTimeout(timer);
    await client.stop();
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  }
}

// Record-length walk: the offset just past the records carrying the first handshake message,
// undefined while incomplete, -1 if the bytes are not TLS handshake records.
function helloEnd(b: Buffer): number | undefined {
  let at = 0;
  let payload = 0;
  let need: number | undefined;
  const body: number[] = [];
  while (need === undefined || payload < need) {
    if (b.length < at + 5) return undefined;
    if (b[at] !== 22) return -1;
    const len = b.readUInt16BE(at + 3);
    if (b.length < at + 5 + len) return undefined;
    for (let i = 0; i < len && body.length < 4; i++) body.push(b[at + 5 + i] ?? 0);
    payload += len;
    at += 5 + len;
    if (need === undefined && body.length === 4) need = 4 + (((body[1] ?? 0) << 16) | ((body[2] ?? 0) << 8) | (body[3] ?? 0));
  }
  return at;
}
