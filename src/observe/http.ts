import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config/types.js';
import { parseExposition } from './exposition.js';
import { buildStatusReport } from './status.js';
import { renderStatusPage, STATUS_CSS, type RouteRow } from './status-page.js';

/**
 * The status page runs no script and loads nothing: its one inline stylesheet is allowed by hash,
 * everything else is refused, so even a label value that slipped past escaping could not act.
 */
const STATUS_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STATUS_CSS).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where /metrics comes from: a prom-client Registry, or the cluster aggregate. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * Serves GET /metrics, /healthz (200 while the process runs), /readyz (200 once `ready()`) and
 * the status page at / (built from the same metrics, plus `routes()`: the routes in force now).
 */
export class MetricsServer {
  readonly #server: Server;
  readonly #metrics: MetricsSource;
  readonly #ready: () => boolean;
  readonly #routes: (() => readonly RouteRow[]) | null;

  constructor(metrics: MetricsSource, ready: () => boolean, routes: (() => readonly RouteRow[]) | null = null) {
    this.#metrics = metrics;
    this.#ready = ready;
    this.#routes = routes;
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
      } else if (path === '/') {
        this.#statusPage(res);
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ok = this.#ready();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /metrics, /healthz, /readyz\n');
      }
    });
    // Scrapers keep connections alive; do not let them hold shutdown.
    this.#server.keepAliveTimeout = 5000;
  }

  /** GET /: the page, or a 500 naming the error (the page is a convenience; the daemon serves on). */
  #statusPage(res: ServerResponse): void {
    this.#metrics.metrics()
      .then((text) => renderStatusPage(buildStatusReport(parseExposition(text)), this.#routes?.() ?? null, Date.now() / 1000))
      .then(
        (page) => res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy': STATUS_CSP,
          'x-content-type-options': 'nosniff',
        }).end(page),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`status page failed: ${String(err)}\n`),
      );
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
