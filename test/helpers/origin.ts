// A real TLS origin for integration tests: node:https behind a raw TCP listener so that the
// test knows the exact bytes that crossed each TCP connection (what the forwarder must count).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TestCa, type Leaf } from './pki.js';

/** Bytes of one finished TCP connection as the origin saw them. */
export interface OriginConnection {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** Deterministic pseudo-random content, so both ends can hash what they sent and received. */
export function patternChunk(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const CHUNK = patternChunk(64 * 1024);

/**
 * HTTPS origin. GET /hello → "hello from NAME"; GET /blob?size=N → N bytes (x-sha256 trailer
 * is not needed: the test hashes the same pattern); POST /upload → JSON {bytes, sha256}.
 */
export class Origin {
  readonly name: string;
  readonly tcp: Server;
  readonly https: HttpsServer;
  readonly closed: OriginConnection[] = [];
  accepted = 0;
  #open = new Set<Socket>();

  constructor(name: string, leaf: Leaf) {
    this.name = name;
    this.https = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://origin');
      if (req.method === 'GET' && url.pathname === '/hello') {
        res.end(`hello from ${name}\n`);
      } else if (req.method === 'GET' && url.pathname === '/blob') {
        const size = Number(url.searchParams.get('size') ?? '0');
        res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
        writeBlob(res, size);
      } else if (req.method === 'POST' && url.pathname === '/upload') {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => { hash.update(c); bytes += c.length; });
        req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
      } else {
        res.writeHead(404).end('not found\n');
      }
    });
    this.tcp = createServer((socket) => {
      this.accepted++;
      this.#open.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.#open.delete(socket);
        this.closed.push({ bytesRead: socket.bytesRead, bytesWritten: socket.bytesWritten });
      });
      this.https.emit('connection', socket);
    });
  }

  async listen(host = '127.0.0.1'): Promise<number> {
    this.tcp.listen(0, host);
    await once(this.tcp, 'listening');
    return (this.tcp.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.tcp.address() as AddressInfo).port;
  }

  /** Sum of bytes over finished connections: upload = what the origin read. */
  totals(): { upload: number; download: number } {
    return this.closed.reduce((t, c) => ({ upload: t.upload + c.bytesRead, download: t.download + c.bytesWritten }), { upload: 0, download: 0 });
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    this.https.close();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

/** Writes `size` bytes of the pattern with backpressure. */
function writeBlob(res: NodeJS.WritableStream, size: number): void {
  let left = size;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** SHA-256 of `size` bytes of the pattern, as writeBlob sends them. */
export function blobSha256(size: number): string {
  const hash = createHash('sha256');
  let left = size;
  while (left > 0) {
    const n = Math.min(left, CHUNK.length);
    hash.update(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    left -= n;
  }
  return hash.digest('hex');
}

/** The repeating chunk, for uploads. */
export { CHUNK as PATTERN_CHUNK };

/** A test CA, one certificate for `names`, and an Origin serving it; all cleaned up through `teardown`. */
export async function startTlsOrigin(
  name: string,
  names: readonly string[],
  teardown: (fn: () => unknown) => void,
): Promise<{ ca: TestCa; leaf: Leaf; origin: Origin }> {
  const ca = new TestCa();
  teardown(() => ca.cleanup());
  const leaf = ca.issue(names);
  const origin = new Origin(name, leaf);
  await origin.listen();
  teardown(() => origin.close());
  return { ca, leaf, origin };
}

/** GET /hello over HTTPS to 127.0.0.1:port with SNI `servername`, trusting `caPem`; the body. */
export function fetchHello(opts: { port: number; servername: string; caPem: string; localAddress?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({
      host: '127.0.0.1', port: opts.port, servername: opts.servername, ca: opts.caPem, path: '/hello', agent: false,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}
