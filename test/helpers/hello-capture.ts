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

/**
 * A copy of a one-record ClientHello with one more extension at the end of its list, the
 * record, handshake and extensions lengths fixed up (RFC 8446 §4.1.2 layout, walked here
 * independently of the parser). For extensions no client installed here sends, such as
 * encrypted_client_hello.
 */
export function withExtension(hello: Buffer, type: number, data: Uint8Array): Buffer {
  const ext = Buffer.alloc(4 + data.length);
  ext.writeUInt16BE(type, 0);
  ext.writeUInt16BE(data.length, 2);
  ext.set(data, 4);
  let at = 5 + 4 + 2 + 32; // record header, handshake header, legacy_version, random
  at += 1 + (hello[at] ?? 0); // legacy_session_id<0..32>
  at += 2 + hello.readUInt16BE(at); // cipher_suites<2..2^16-2>
  at += 1 + (hello[at] ?? 0); // legacy_compression_methods<1..2^8-1>
  const extensionsLength = hello.readUInt16BE(at);
  const end = at + 2 + extensionsLength;
  if (hello.readUInt16BE(3) !== end - 5) throw new Error('withExtension: not a one-record hello that ends with its extensions');
  const out = Buffer.concat([hello.subarray(0, end), ext, hello.subarray(end)]);
  out.writeUInt16BE(hello.readUInt16BE(3) + ext.length, 3);
  out.writeUIntBE(hello.readUIntBE(6, 3) + ext.length, 6, 3);
  out.writeUInt16BE(extensionsLength + ext.length, at);
  return out;
}

/**
 * An encrypted_client_hello extension body (draft-ietf-tls-esni §5) of type outer(0): HPKE
 * cipher suite (kdf_id 1 HKDF-SHA256, aead_id 1 AES-128-GCM), config_id, a 32-byte enc and a
 * payload of random bytes. A GREASE placeholder looks just like this (§6.2).
 */
export function echOuterExtension(configId = 0x2a, payloadBytes = 144): Buffer {
  const enc = Buffer.alloc(32, 0x11);
  const payload = Buffer.alloc(payloadBytes, 0x22);
  const b = Buffer.alloc(1 + 4 + 1 + 2 + enc.length + 2 + payload.length);
  let at = b.writeUInt8(0, 0); // ECHClientHelloType outer
  at = b.writeUInt16BE(1, at); // kdf_id
  at = b.writeUInt16BE(1, at); // aead_id
  at = b.writeUInt8(configId, at);
  at = b.writeUInt16BE(enc.length, at);
  at += enc.copy(b, at);
  at = b.writeUInt16BE(payload.length, at);
  payload.copy(b, at);
  return b;
}

/** The encrypted_client_hello extension type (draft-ietf-tls-esni §11.1). */
export const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
