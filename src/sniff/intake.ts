// What a client sends before the forwarder can route: an optional PROXY header (from a load
// balancer), then a TLS ClientHello or a plain HTTP request head. Pure: chunks in, one decision
// out; the bytes after the PROXY header are kept to be replayed to the upstream unchanged.
import { ClientHelloAccumulator } from './client-hello.js';
import { MAX_HTTP_HEAD_BYTES, parseHttpHead } from './http-host.js';
import { PROXY_V1_MAX_BYTES, parseProxyHeader, type ProxyHeader } from './proxy-header.js';

/** How a listener's connections start. */
export interface IntakeOptions {
  readonly protocol: 'tls' | 'http';
  /** A PROXY v1/v2 header comes first (from a trusted load balancer). */
  readonly expectProxy: boolean;
}

/** The routing name and everything needed to forward. */
export interface Intake {
  readonly proxy: ProxyHeader | null;
  /** SNI or Host, normalised; null when absent or unusable (see nameError). */
  readonly name: string | null;
  readonly nameError: string | null;
  /** Wire size of the ClientHello or request head. */
  readonly helloBytes: number;
  /** Every byte after the PROXY header, to replay to the upstream. */
  readonly replay: Buffer;
}

/** How a refused intake should be answered, if at all (TLS alert or HTTP status). */
export type IntakeReply = 'decode_error' | null;

export type IntakeResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'invalid'; readonly outcome: 'bad_proxy_header' | 'not_tls'; readonly reason: string; readonly reply: IntakeReply }
  | { readonly kind: 'ok'; readonly value: Intake };

const PROXY_V2_FIRST_BYTE = 0x0d;
const PROXY_V2_HEADER_LENGTH = 16;

/**
 * Accumulates the first bytes of a connection until a routing decision can be made. Work is
 * bounded by the parsers' caps (PROXY header, 64 KiB hello, 16 KiB HTTP head), and a parser is
 * only re-run when the new bytes can complete its input, so a client sending one byte at a time
 * cannot make it quadratic.
 */
export class IntakeReader {
  readonly #opts: IntakeOptions;
  #proxy: ProxyHeader | null = null;
  #proxyDone: boolean;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  readonly #hello = new ClientHelloAccumulator();
  #decided: IntakeResult | null = null;

  constructor(opts: IntakeOptions) {
    this.#opts = opts;
    this.#proxyDone = !opts.expectProxy;
  }

  /** Bytes received and kept so far. */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#hello.bufferedBytes;
  }

  /** True while the PROXY header is still being read (its timeout/limit reasons differ). */
  get readingProxyHeader(): boolean {
    return !this.#proxyDone;
  }

  /** Adds bytes; answers need-more, invalid, or the intake. Once decided, the answer is final. */
  push(chunk: Buffer): IntakeResult {
    if (this.#decided !== null) return this.#decided;
    const r = this.#push(chunk);
    if (r.kind !== 'need-more') this.#decided = r;
    return r;
  }

  #push(chunk: Buffer): IntakeResult {
    if (!this.#proxyDone) {
      this.#keep(chunk);
      const buf = this.#joined();
      if (!this.#proxyComplete(buf)) {
        // Still let the parser reject a wrong signature at the first wrong byte.
        const early = parseProxyHeader(buf);
        return early.kind === 'invalid' ? { kind: 'invalid', outcome: 'bad_proxy_header', reason: early.reason, reply: null } : { kind: 'need-more' };
      }
      const r = parseProxyHeader(buf);
      if (r.kind === 'need-more') return r;
      if (r.kind === 'invalid') return { kind: 'invalid', outcome: 'bad_proxy_header', reason: r.reason, reply: null };
      this.#proxy = r.value;
      this.#proxyDone = true;
      this.#pending = [];
      this.#pendingBytes = 0;
      chunk = buf.subarray(r.consumed);
      if (chunk.length === 0) return { kind: 'need-more' };
    }
    return this.#opts.protocol === 'tls' ? this.#pushTls(chunk) : this.#pushHttp(chunk);
  }

  #pushTls(chunk: Buffer): IntakeResult {
    const r = this.#hello.push(chunk);
    if (r.kind === 'need-more') return r;
    if (r.kind === 'invalid') return { kind: 'invalid', outcome: 'not_tls', reason: r.reason, reply: r.notTls ? null : 'decode_error' };
    return {
      kind: 'ok',
      value: { proxy: this.#proxy, name: r.value.serverName, nameError: r.value.sniError ?? (r.value.serverName === null ? 'no server_name in ClientHello' : null), helloBytes: r.consumed, replay: this.#hello.buffered },
    };
  }

  #pushHttp(chunk: Buffer): IntakeResult {
    const first = this.#pendingBytes === 0;
    this.#keep(chunk);
    // A head ends with CRLF CRLF: nothing new can complete it unless the chunk has a LF, except
    // that the first chunk (whatever its size) may already show it is not HTTP, and the cap
    // must be enforced.
    if (!first && !chunk.includes(0x0a) && this.#pendingBytes < MAX_HTTP_HEAD_BYTES) return { kind: 'need-more' };
    const buf = this.#joined();
    const r = parseHttpHead(buf);
    if (r.kind === 'need-more') return r;
    if (r.kind === 'invalid') return { kind: 'invalid', outcome: 'not_tls', reason: r.reason, reply: r.notHttp ? null : 'decode_error' };
    return {
      kind: 'ok',
      value: { proxy: this.#proxy, name: r.value.host, nameError: r.value.hostError ?? (r.value.host === null ? 'no Host header' : null), helloBytes: r.consumed, replay: buf },
    };
  }

  /** Whether a v2 header's declared length (or a v1 header's CRLF) may be complete in `buf`. */
  #proxyComplete(buf: Buffer): boolean {
    if (buf[0] === PROXY_V2_FIRST_BYTE) {
      // v2: a 16-byte header whose last two bytes give the length of what follows (spec §2.2).
      return buf.length >= PROXY_V2_HEADER_LENGTH && buf.length >= PROXY_V2_HEADER_LENGTH + buf.readUInt16BE(14);
    }
    // v1: one line ending in CRLF, at most 107 bytes (spec §2.1).
    return buf.includes(0x0a) || buf.length > PROXY_V1_MAX_BYTES;
  }

  #keep(chunk: Buffer): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  #joined(): Buffer {
    if (this.#pending.length > 1) this.#pending = [Buffer.concat(this.#pending, this.#pendingBytes)];
    return this.#pending[0] ?? Buffer.alloc(0);
  }
}
