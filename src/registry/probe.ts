// `probe`: walk a registry's real pull flow and list every hostname it touches (SPEC §7), so an
// operator learns which names the allowlist and the clients' hosts files need. Real HTTPS with
// real certificate checks (node:https); no option turns them off.
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { rootCertificates } from 'node:tls';

/** What a hostname is used for in the pull flow. */
export type HostRole = 'registry' | 'auth' | 'storage';

export interface ProbeOptions {
  readonly registry: string;
  /** Send every connection to this address instead (SNI and certificate stay the real name's). */
  readonly via: { readonly host: string; readonly port: number | null } | null;
  /** "repo[:tag]" to pull a manifest and a blob of. */
  readonly image: string | null;
  readonly user: string | null;
  readonly password: string | null;
  /** Extra trusted CA (PEM text). */
  readonly ca: string | null;
  readonly timeoutMs: number;
  /** Called for each step, for the human-readable trace. */
  readonly trace: (line: string) => void;
}

export interface TouchedHost {
  readonly host: string;
  readonly role: HostRole;
}

interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A probe step that failed, with the step named. */
export class ProbeError extends Error {
  override name = 'ProbeError';
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Reads at most this much of a response body (a manifest or a token; blobs are cut off). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Bytes of a blob fetched from storage: enough to prove the host serves it. */
const BLOB_RANGE = 'bytes=0-4095';

/** The hosts touched, in order, and the step that failed (the walk stops there), if any. */
export interface ProbeResult {
  readonly touched: readonly TouchedHost[];
  readonly error: Error | null;
}

/**
 * Walks GET /v2/ → WWW-Authenticate realm → (with an image) token → manifest (index → one
 * platform) → one blob and its redirect. Never rejects: a failed step ends the walk and is
 * returned with the hosts touched so far (a forwarder refusing a host is such a failure).
 */
export async function probeRegistry(opts: ProbeOptions): Promise<ProbeResult> {
  const touched: TouchedHost[] = [];
  try {
    await walk(opts, touched);
    return { touched, error: null };
  } catch (err) {
    return { touched, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

async function walk(opts: ProbeOptions, touched: TouchedHost[]): Promise<void> {
  const touch = (host: string, role: HostRole): void => {
    if (!touched.some((t) => t.host === host)) touched.push({ host, role });
  };
  const base = new URL(`https://${opts.registry}/`);
  touch(base.hostname, 'registry');
  const ping = await get(opts, new URL('/v2/', base), {});
  opts.trace(`GET ${base.host}/v2/ → ${ping.status}`);
  let authorization: string | null = null;
  const challenge = parseChallenge(String(ping.headers['www-authenticate'] ?? ''));
  if (ping.status === 401 && challenge !== null) {
    if (challenge.scheme === 'basic') {
      authorization = basic(opts);
    } else {
      const realm = new URL(challenge.params['realm'] ?? '');
      touch(realm.hostname, 'auth');
      const repo = opts.image === null ? null : splitImage(opts.image).repo;
      if (challenge.params['service'] !== undefined) realm.searchParams.set('service', challenge.params['service']);
      if (repo !== null) realm.searchParams.set('scope', `repository:${repo}:pull`);
      const headers: Record<string, string> = {};
      const b = basic(opts);
      if (b !== null) headers['authorization'] = b;
      const tok = await get(opts, realm, headers);
      opts.trace(`GET ${realm.host}${realm.pathname} (token) → ${tok.status}`);
      if (tok.status === 200) {
        const parsed = JSON.parse(tok.body) as { token?: string; access_token?: string };
        const token = parsed.token ?? parsed.access_token;
        if (token !== undefined) authorization = `Bearer ${token}`;
      } else if (repo !== null) {
        throw new ProbeError(`token request to ${realm.host} failed with HTTP ${tok.status}`);
      }
    }
  } else if (ping.status !== 200) {
    throw new ProbeError(`GET ${base.host}/v2/ answered HTTP ${ping.status}: not a registry API`);
  }
  if (opts.image === null) return;

  const { repo, ref } = splitImage(opts.image);
  const auth: Record<string, string> = authorization === null ? {} : { authorization };
  let manifest = await get(opts, new URL(`/v2/${repo}/manifests/${ref}`, base), { ...auth, accept: MANIFEST_TYPES });
  opts.trace(`GET ${base.host}/v2/${repo}/manifests/${ref} → ${manifest.status}`);
  if (manifest.status !== 200) throw new ProbeError(`manifest ${repo}:${ref} answered HTTP ${manifest.status}`);
  let doc = JSON.parse(manifest.body) as { manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[]; layers?: { digest: string }[]; config?: { digest: string } };
  if (doc.manifests !== undefined) {
    const pick = doc.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? doc.manifests[0];
    if (pick === undefined) throw new ProbeError('the image index lists no manifests');
    manifest = await get(opts, new URL(`/v2/${repo}/manifests/${pick.digest}`, base), { ...auth, accept: MANIFEST_TYPES });
    opts.trace(`GET ${base.host}/v2/${repo}/manifests/${pick.digest} → ${manifest.status}`);
    if (manifest.status !== 200) throw new ProbeError(`platform manifest answered HTTP ${manifest.status}`);
    doc = JSON.parse(manifest.body) as typeof doc;
  }
  const digest = doc.layers?.[0]?.digest ?? doc.config?.digest;
  if (digest === undefined) throw new ProbeError('the manifest lists no blob');
  const blob = await get(opts, new URL(`/v2/${repo}/blobs/${digest}`, base), { ...auth, range: BLOB_RANGE }, true);
  opts.trace(`GET ${base.host}/v2/${repo}/blobs/${digest} → ${blob.status}`);
  const location = blob.headers.location;
  if (blob.status >= 300 && blob.status < 400 && typeof location === 'string') {
    const storage = new URL(location, base);
    touch(storage.hostname, 'storage');
    // The signed URL carries its own authorization; the registry's token must not follow it.
    const got = await get(opts, storage, { range: BLOB_RANGE }, true);
    opts.trace(`GET ${storage.host}${storage.pathname} (blob, first 4 KiB) → ${got.status}`);
    if (got.status !== 200 && got.status !== 206) throw new ProbeError(`storage host ${storage.host} answered HTTP ${got.status}`);
  } else if (blob.status !== 200 && blob.status !== 206) {
    throw new ProbeError(`blob ${digest} answered HTTP ${blob.status}`);
  }
}

/** The CA list for requests: the system roots plus --ca. */
export function readCa(file: string): string {
  return readFileSync(file, 'utf8');
}

function basic(opts: ProbeOptions): string | null {
  if (opts.user === null) return null;
  return `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}`;
}

/** "repo[:tag]" or "repo@sha256:..." → repo and reference (tag "latest" by default). */
export function splitImage(image: string): { repo: string; ref: string } {
  const at = image.indexOf('@');
  if (at !== -1) return { repo: image.slice(0, at), ref: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? { repo: image.slice(0, colon), ref: image.slice(colon + 1) } : { repo: image, ref: 'latest' };
}

/** RFC 7235 challenge: `Bearer realm="...",service="..."` or `Basic realm="..."`. */
export function parseChallenge(header: string): { scheme: 'bearer' | 'basic'; params: Record<string, string> } | null {
  const m = /^\s*(bearer|basic)\s*(.*)$/i.exec(header);
  if (m === null) return null;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[(p[1] ?? '').toLowerCase()] = p[2] ?? '';
  return { scheme: (m[1] ?? '').toLowerCase() === 'basic' ? 'basic' : 'bearer', params };
}

function get(opts: ProbeOptions, url: URL, headers: Record<string, string>, headersOnly = false): Promise<Response> {
  const port = url.port === '' ? 443 : Number(url.port);
  const options: RequestOptions = {
    method: 'GET',
    host: opts.via?.host ?? url.hostname,
    port: opts.via?.port ?? port,
    path: `${url.pathname}${url.search}`,
    servername: url.hostname,
    headers: { host: url.host, 'user-agent': 'sni-forwarder-probe', ...headers },
    ca: opts.ca === null ? undefined : [...rootCertificates, opts.ca],
    agent: false,
    timeout: opts.timeoutMs,
  };
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (headersOnly) return;
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy(new ProbeError(`GET ${url.host}${url.pathname}: response larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (headersOnly) {
        // A blob: the status and headers say enough; do not download it.
        done();
        res.destroy();
        return;
      }
      res.on('end', done);
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new ProbeError(`GET ${url.host}${url.pathname}: no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(err instanceof ProbeError ? err : new ProbeError(`GET ${url.host}${url.pathname}${opts.via === null ? '' : ` via ${opts.via.host}`}: ${err.code ?? err.message}`, { cause: err }));
    });
    req.end();
  });
}
