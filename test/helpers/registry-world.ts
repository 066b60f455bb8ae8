// A real registry world on loopback for end-to-end tests: Debian's docker-registry (distribution
// 2.8) with TLS, token authentication and the `redirect` storage middleware; a token server in
// the test process that signs RS256 JWTs; nginx serving the registry's storage directory as the
// storage host. Every URL a client is given names the forwarder's port, so every connection goes
// through the forwarder. Clients run in a private mount namespace with their own /etc/hosts.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createSign, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Child } from './child.js';
import { TestCa } from './pki.js';
import { freePort, run, type RunResult } from './proc.js';

export const USER = 'alice';
export const PASSWORD = 'secret';
const SERVICE = 'registry.test';
const ISSUER = 'test-issuer';

/** Why the world cannot run here (for t.skip), or null when it can. */
export async function registryWorldUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'clients need a private /etc/hosts: unshare --mount and mount --bind need root';
  for (const [cmd, args] of [['docker-registry', ['--version']], ['skopeo', ['--version']], ['nginx', ['-v']]] as const) {
    const r = await run(cmd, args);
    if (r.code !== 0) return `${cmd} is needed (Debian packages docker-registry, skopeo, nginx-light): ${r.stderr.trim() || 'not found'}`;
  }
  const r = await run('unshare', ['--mount', 'sh', '-c', 'mount --bind /dev/null /etc/hostname']);
  if (r.code !== 0) return `unshare --mount / mount --bind failed: ${r.stderr.trim()}`;
  return null;
}

/** One scope parameter, "repository:NAME:ACTION,ACTION" → a JWT access entry. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first === -1 || last === first) return null;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter((a) => a !== '') };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export class RegistryWorld {
  readonly dir: string;
  readonly ca: TestCa;
  /** containers-certs.d layout for skopeo --src-cert-dir / --dest-cert-dir: DIR/ca.crt. */
  readonly certDir: string;
  readonly storageRoot: string;
  readonly accessLog: string;
  readonly registryPort: number;
  readonly storagePort: number;
  readonly authPort: number;
  /** Token requests the auth host answered: "user scope..." → status. */
  readonly tokenLog: string[] = [];
  #auth: Server;
  #signKey: string;
  #signCertDer: string;
  #children: Child[] = [];

  private constructor(dir: string, ca: TestCa, auth: Server, registryPort: number, storagePort: number) {
    this.dir = dir;
    this.ca = ca;
    this.#auth = auth;
    this.registryPort = registryPort;
    this.storagePort = storagePort;
    this.authPort = (auth.address() as AddressInfo).port;
    this.certDir = join(dir, 'certs.d');
    mkdirSync(this.certDir);
    writeFileSync(join(this.certDir, 'ca.crt'), ca.caPem);
    this.storageRoot = join(dir, 'storage');
    mkdirSync(this.storageRoot);
    this.accessLog = join(dir, 'nginx-access.log');
    // The token signing key: RSA, in a self-signed certificate that is the registry's rootcertbundle.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'sign.key'),
      '-out', join(dir, 'sign.crt'), '-days', '2', '-subj', '/CN=test token signer'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#signKey = readFileSync(join(dir, 'sign.key'), 'utf8');
    this.#signCertDer = new X509Certificate(readFileSync(join(dir, 'sign.crt'))).raw.toString('base64');
  }

  /** Makes the CA, certificates and signing key, and starts the token server (auth.test). */
  static async create(): Promise<RegistryWorld> {
    const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-registry-'));
    // nginx's workers read what the registry wrote below here.
    chmodSync(dir, 0o755);
    const ca = new TestCa();
    const leaf = ca.issue(['registry.test', 'auth.test', 'storage.test']);
    writeFileSync(join(dir, 'tls.crt'), leaf.cert);
    writeFileSync(join(dir, 'tls.key'), leaf.key);
    let world: RegistryWorld | null = null;
    const auth = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      if (world === null) return res.writeHead(503).end();
      world.#token(req.url ?? '/', req.headers.authorization, res);
    });
    auth.listen(0, '127.0.0.1');
    await once(auth, 'listening');
    world = new RegistryWorld(dir, ca, auth, await freePort(), await freePort());
    return world;
  }

  #token(url: string, authorization: string | undefined, res: import('node:http').ServerResponse): void {
    const u = new URL(url, 'https://auth.test/');
    const scopes = u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const ok = u.pathname === '/token' && authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    this.tokenLog.push(`${ok ? 200 : 401} ${scopes.join(' ')}`);
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="auth.test"' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [this.#signCertDer] };
    const claims = {
      iss: ISSUER, sub: USER, aud: u.searchParams.get('service') ?? SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(),
      access: scopes.map(parseScope).filter((s) => s !== null),
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(this.#signKey);
    const token = `${input}.${b64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  }

  /** The daemon's routes: each name to its server's real port (storage.test optional). */
  routes(withStorage = true): string {
    const r = [
      `  - hosts: ["registry.test"]\n    upstream: "127.0.0.1:${this.registryPort}"`,
      `  - hosts: ["auth.test"]\n    upstream: "127.0.0.1:${this.authPort}"`,
    ];
    if (withStorage) r.push(`  - hosts: ["storage.test"]\n    upstream: "127.0.0.1:${this.storagePort}"`);
    return `routes:\n${r.join('\n')}\n`;
  }

  /**
   * Starts the registry and nginx, their client-facing URLs naming `forwarderPort`, and waits
   * until both say they listen.
   */
  async startServers(forwarderPort: number): Promise<void> {
    const registryConfig = join(this.dir, 'registry.yml');
    writeFileSync(registryConfig, `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${this.storageRoot}
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${this.registryPort}
  secret: test-http-secret
  tls:
    certificate: ${join(this.dir, 'tls.crt')}
    key: ${join(this.dir, 'tls.key')}
auth:
  token:
    realm: https://auth.test:${forwarderPort}/token
    service: ${SERVICE}
    issuer: ${ISSUER}
    rootcertbundle: ${join(this.dir, 'sign.crt')}
middleware:
  storage:
    - name: redirect
      options:
        baseurl: https://storage.test:${forwarderPort}/
`);
    const registry = new Child('docker-registry', 'docker-registry', ['serve', registryConfig]);
    this.#children.push(registry);

    const nginxDir = join(this.dir, 'nginx');
    mkdirSync(join(nginxDir, 'tmp'), { recursive: true });
    const nginxConfig = join(nginxDir, 'nginx.conf');
    const tmp = join(nginxDir, 'tmp');
    writeFileSync(nginxConfig, `daemon off;
master_process on;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${join(nginxDir, 'nginx.pid')};
error_log stderr notice;
events { worker_connections 64; }
http {
  log_format blobs '$request_method $uri $status $body_bytes_sent $ssl_server_name';
  access_log ${this.accessLog} blobs;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${this.storagePort} ssl;
    server_name storage.test;
    ssl_certificate ${join(this.dir, 'tls.crt')};
    ssl_certificate_key ${join(this.dir, 'tls.key')};
    root ${this.storageRoot};
    location /docker/registry/v2/blobs/ { }
    location / { return 404; }
  }
}
`);
    const nginx = new Child('nginx', 'nginx', ['-p', nginxDir, '-e', 'stderr', '-c', nginxConfig]);
    this.#children.push(nginx);
    await Promise.all([registry.waitForLine('listening on'), nginx.waitForLine('start worker process')]);
  }

  /** nginx's access lines: "METHOD URI STATUS BYTES SNI". */
  accessLines(): string[] {
    try {
      return readFileSync(this.accessLog, 'utf8').split('\n').filter((l) => l !== '');
    } catch {
      return [];
    }
  }

  /**
   * Runs a registry client (`cmd` with `args`) in a private mount namespace whose /etc/hosts is
   * `hostsFile`, so the three names resolve as the file says and nowhere else.
   */
  client(hostsFile: string, cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    return run('unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, cmd, ...args], { timeoutMs });
  }

  /** skopeo as a client (see `client`), without a signature policy file. */
  skopeo(hostsFile: string, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    return this.client(hostsFile, 'skopeo', ['--insecure-policy', ...args], timeoutMs);
  }

  /** Stops the servers started here and removes every file. */
  async cleanup(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.stop()));
    await new Promise<void>((res) => this.#auth.close(() => res()));
    this.ca.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What buildOciImage made: the layer and config digests and the bytes pushed. */
export interface OciImage {
  readonly layerDigest: string;
  readonly configDigest: string;
  readonly manifestDigest: string;
  readonly size: number;
}

/**
 * Writes an OCI image layout at `dir` (tag "latest") with one gzip layer: a tar of one file of
 * `bytes` random bytes (random data does not compress, so the layer is about that size).
 */
export function buildOciImage(dir: string, bytes: number): OciImage {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'random.bin'), randomBytes(bytes));
  const tar = execFileSync('tar', ['-C', rootfs, '-cf', '-', 'random.bin'], { maxBuffer: bytes * 2 });
  rmSync(rootfs, { recursive: true });
  const layer = gzipSync(tar, { level: 1 });
  const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
  const put = (b: Buffer | string): string => {
    const hex = sha(b);
    writeFileSync(join(blobs, hex), b);
    return `sha256:${hex}`;
  };
  const layerDigest = put(layer);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] } });
  const configDigest = put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: Buffer.byteLength(config) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
  });
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: Buffer.byteLength(manifest),
      annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  }));
  return { layerDigest, configDigest, manifestDigest, size: layer.length + Buffer.byteLength(config) + Buffer.byteLength(manifest) };
}

/** The layer digests of the image tagged `tag` in the OCI layout at `dir`. */
export function ociLayers(dir: string, tag = 'latest'): { manifestDigest: string; layers: string[]; config: string } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag) ?? index.manifests[0];
  if (entry === undefined) throw new Error(`${dir}: index.json lists no manifest`);
  const blob = (digest: string): string => join(dir, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(entry.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  return { manifestDigest: entry.digest, layers: manifest.layers.map((l) => l.digest), config: manifest.config.digest };
}

/** sha256 of a blob file in an OCI layout, as "sha256:HEX". */
export function blobDigest(dir: string, digest: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(join(dir, 'blobs', ...digest.split(':')))).digest('hex')}`;
}
