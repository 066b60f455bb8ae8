// What a client sends before the forwarder can route: an optional PROXY header (from a load
// balancer), then a TLS ClientHello or a plain HTTP request head. Pure: chunks in, one decision
// out; the bytes after the PROXY header are kept to be replayed to the upstream unchanged.
import { ClientHelloAccumulator } from './client-hello.js';
import { GrowableBuffer } from './growable-buffer.js';
import { HttpHeadParser, MAX_HTTP_HEAD_BYTES } from './http-host.js';
import { PROXY_V1_MAX_BYTES, PROXY_V2_MAX_BYTES, parseProxyHeader, type ProxyHeader } from './proxy-header.js';

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
  /**
   * The ClientHello carried encrypted_client_hello (false for HTTP): `name` is then the outer
   * SNI, which for a client really using ECH is the provider's public name, not the site.
   */
  readonly ech: boolean;
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
 * linear in the bytes received, however they are cut into chunks: bytes are appended to a
 * buffer that grows by doubling, a PROXY v2 header is parsed once its declared length is here
 * (v1: its at most 107 bytes are checked as they come), the ClientHello is framed byte by byte,
 * and the HTTP head parser resumes at the first line it has not seen complete.
 */
export class IntakeReader {
  readonly #opts: IntakeOptions;
  #proxy: ProxyHeader | null = null;
  #proxyDone: boolean;
  /**
   * The PROXY header while it is read, then the HTTP head (TLS goes to #hello); made when first
   * needed, as is #httpParser: a TLS connection without a PROXY header needs neither.
   */
  #pendingBuffer: GrowableBuffer | null = null;
  readonly #hello = new ClientHelloAccumulator();
  #httpParser: HttpHeadParser | null = null;
  #proxyParsedBytes = 0;
  /** Bytes copied by the PROXY header's buffer, once it is replaced by the HTTP head's. */
  #proxyCopiedBytes = 0;
  #decided: IntakeResult | null = null;

  constructor(opts: IntakeOptions) {
    this.#opts = opts;
    this.#proxyDone = !opts.expectProxy;
  }

  get #pending(): GrowableBuffer {
    this.#pendingBuffer ??= new GrowableBuffer(PROXY_V2_MAX_BYTES);
    return this.#pendingBuffer;
  }

  /** Bytes received and kept so far. */
  get bufferedBytes(): number {
    return (this.#pendingBuffer?.length ?? 0) + this.#hello.bufferedBytes;
  }

  /**
   * Bytes copied and bytes handed to the PROXY and HTTP parsers so far: a measure of the work
   * done, which tests check stays linear in the bytes received.
   */
  get workBytes(): number {
    return this.#proxyCopiedBytes + (this.#pendingBuffer?.copiedBytes ?? 0) + this.#proxyParsedBytes + (this.#httpParser?.scannedBytes ?? 0);
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
      const before = this.#pending.length;
      this.#pending.append(chunk);
      let buf = this.#pending.bytes;
      if (buf[0] === PROXY_V2_FIRST_BYTE && before < PROXY_V2_HEADER_LENGTH && buf.length >= PROXY_V2_HEADER_LENGTH) {
        // The v2 header's size is known now: make room for all of it at once if it is not here.
        const total = PROXY_V2_HEADER_LENGTH + buf.readUInt16BE(14);
        if (buf.length < total) this.#pending.reserve(total);
        buf = this.#pending.bytes;
      }
      if (!this.#proxyComplete(buf)) {
        // Still let the parser reject a wrong signature or v1 field at the first wrong byte. Its
        // answer can only change while the v2 fixed header or the v1 line is arriving.
        if (buf[0] === PROXY_V2_FIRST_BYTE && before >= PROXY_V2_HEADER_LENGTH) return { kind: 'need-more' };
        const early = this.#parseProxy(buf.subarray(0, buf[0] === PROXY_V2_FIRST_BYTE ? PROXY_V2_HEADER_LENGTH : PROXY_V1_MAX_BYTES));
        return early.kind === 'invalid' ? { kind: 'invalid', outcome: 'bad_proxy_header', reason: early.reason, reply: null } : { kind: 'need-more' };
      }
      const r = this.#parseProxy(buf);
      if (r.kind === 'need-more') return r;
      if (r.kind === 'invalid') return { kind: 'invalid', outcome: 'bad_proxy_header', reason: r.reason, reply: null };
      this.#proxy = r.value;
      this.#proxyDone = true;
      this.#proxyCopiedBytes = this.#pending.copiedBytes;
      this.#pendingBuffer = new GrowableBuffer(MAX_HTTP_HEAD_BYTES);
      chunk = buf.subarray(r.consumed);
      if (chunk.length === 0) return { kind: 'need-more' };
    }
    return this.#opts.protocol === 'tls' ? this.#pushTls(chunk) : this.#pushHttp(chunk);
  }

  #parseProxy(buf: Buffer): ReturnType<typeof parseProxyHeader> {
    this.#proxyParsedBytes += buf.length;
    return parseProxyHeader(buf);
  }

  #pushTls(chunk: Buffer): IntakeResult {
    const r = this.#hello.push(chunk);
    if (r.kind === 'need-more') return r;
    if (r.kind === 'invalid') return { kind: 'invalid', outcome: 'not_tls', reason: r.reason, reply: r.notTls ? null : 'decode_error' };
    return {
      kind: 'ok',
      value: { proxy: this.#proxy, name: r.value.serverName, nameError: r.value.sniError ?? (r.value.serverName === null ? 'no server_name in ClientHello' : null), ech: r.value.ech, helloBytes: r.consumed, replay: this.#hello.buffered },
    };
  }

  #pushHttp(chunk: Buffer): IntakeResult {
    const first = this.#pending.length === 0;
    this.#pending.append(chunk);
    // A line ends with a LF: nothing new can complete one (or the head) unless the chunk has a
    // LF, except that the first chunk (whatever its size) may already show it is not HTTP, and
    // the cap must be enforced.
    if (!first && !chunk.includes(0x0a) && this.#pending.length < MAX_HTTP_HEAD_BYTES) return { kind: 'need-more' };
    const buf = this.#pending.bytes;
    this.#httpParser ??= new HttpHeadParser();
    const r = this.#httpParser.parse(buf);
    if (r.kind === 'need-more') return r;
    if (r.kind === 'invalid') return { kind: 'invalid', outcome: 'not_tls', reason: r.reason, reply: r.notHttp ? null : 'decode_error' };
    return {
      kind: 'ok',
      value: { proxy: this.#proxy, name: r.value.host, nameError: r.value.hostError ?? (r.value.host === null ? 'no Host header' : null), ech: false, helloBytes: r.consumed, replay: buf },
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
}
