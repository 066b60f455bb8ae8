import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config/types.js';

/** Where /metrics comes from: a prom-client Registry, or the cluster aggregate. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Serves GET /metrics, /healthz (200 while the process runs) and /readyz (200 once `ready()`). */
export class MetricsServer {
  readonly #server: Server;
  readonly #metrics: MetricsSource;
  readonly #ready: () => boolean;

  constructor(metrics: MetricsSource, ready: () => boolean) {
    this.#metrics = metrics;
    this.#ready = ready;
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        this.#metrics.metrics().then(
          (body) => res.writeHead(200, { 'content-type': this.#metrics.contentType }).end(body),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ok = this.#ready();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n');
      }
    });
    // Scrapers keep connections alive; do not let them hold shutdown.
    this.#server.keepAliveTimeout = 5000;
  }

  /** Binds the address; resolves with the bound address, rejects on EADDRINUSE and friends. */
  listen(address: HostPort): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(address.port, address.host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and closes idle keep-alive connections. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }
}
