// The head of a plain HTTP/1.x request (RFC 9112), for `protocol: http` listeners that route by
// Host. Pure: no I/O, no timers, no logger, and it never throws on any input.
//
// As strict as llhttp (Node's parser) in its default, non-lenient mode where framing is
// concerned: lines end in CRLF only (a bare LF or CR is invalid, RFC 9112 §2.2 allows that),
// obs-fold is refused (§5.2), no whitespace before a field's colon (§5.1). Every byte is checked
// as it arrives, so a bad one is refused at once; need-more is only answered until the blank
// line that ends the head, within MAX_HTTP_HEAD_BYTES.

import { normaliseHostName } from './host-name.js';
import type { ParseResult } from './reader.js';

/** The cap on the request line plus header fields, the final CRLF CRLF included. */
export const MAX_HTTP_HEAD_BYTES = 16 * 1024;

/** What the forwarder needs from a request head. */
export interface HttpRequestHead {
  readonly method: string;
  /** The request-target as sent (latin1). */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /**
   * The host to route by, from an absolute-form target or else the Host header: lowercased, port
   * stripped, one trailing dot dropped; null if there is none or it is unusable.
   */
  readonly host: string | null;
  /** Why a host that is present is unusable (IP literal, bad characters, two Host headers...), else null. */
  readonly hostError: string | null;
  /** Bytes of the head, through the blank line; the body or the next request follows. */
  readonly headBytes: number;
}

/**
 * The parse result. `ok`: `consumed` equals `headBytes`. `need-more`: the head is incomplete and
 * below the cap. `invalid`: never a usable request head; `notHttp` is true when the first bytes
 * cannot start an HTTP request line at all (a TLS record, binary; close without an answer),
 * false when it looked like HTTP but is malformed, too large or HTTP/2 (answer 400).
 */
export type HttpHeadResult =
  | Exclude<ParseResult<HttpRequestHead>, { kind: 'invalid' }>
  | (Extract<ParseResult<HttpRequestHead>, { kind: 'invalid' }> & { notHttp: boolean });

type Invalid = Extract<HttpHeadResult, { kind: 'invalid' }>;

const NEED_MORE: { kind: 'need-more' } = Object.freeze({ kind: 'need-more' });
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DEL = 0x7f;
// RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
const VERSION_PREFIX = [...'HTTP/1.'].map((c) => c.charCodeAt(0));
const VERSION_PREFIX_MAJOR = 5; // offset of the major digit
const HOST = [...'host'].map((c) => c.charCodeAt(0));

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
// "_" / "`" / "|" / "~" / DIGIT / ALPHA.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
const isTchar = (c: number): boolean => TCHAR[c] === 1;

function invalid(reason: string, notHttp = false): Invalid {
  return { kind: 'invalid', reason, notHttp };
}

/**
 * Parses the request head at the start of `bytes` (the first bytes a client sent, possibly
 * followed by a body or more requests). Never throws; see HttpHeadResult for each answer.
 */
export function parseHttpHead(bytes: Uint8Array): HttpHeadResult {
  return new HttpHeadParser().parse(bytes);
}

/** The request line, once it is complete. */
interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly version: '1.0' | '1.1';
}

/**
 * Parses a request head that arrives in pieces: each call is given everything received so far
 * (the bytes of the previous call, then more) and answers as parseHttpHead would on them. Lines
 * already seen complete are not looked at again, so the calls together scan each byte at most
 * about twice, however the head is cut. Once the answer is ok or invalid it is final.
 */
export class HttpHeadParser {
  #line: RequestLine | null = null;
  /** Offset of the first line not yet seen complete (after the request line, once #line is set). */
  #at = 0;
  /** [start, end) of each Host value on the complete lines. */
  readonly #hosts: (readonly [number, number])[] = [];
  #result: HttpHeadResult = NEED_MORE;
  #scannedBytes = 0;

  /** Bytes the calls so far had to look at (a measure of the work done, for tests). */
  get scannedBytes(): number {
    return this.#scannedBytes;
  }

  /** `bytes` must start with the bytes of the previous call. */
  parse(bytes: Uint8Array): HttpHeadResult {
    if (this.#result.kind === 'need-more') this.#result = this.#parse(bytes);
    return this.#result;
  }

  #parse(bytes: Uint8Array): HttpHeadResult {
    const b = bytes.subarray(0, MAX_HTTP_HEAD_BYTES);
    this.#scannedBytes += Math.max(0, b.length - this.#at);
    // Out of bytes before the head ended: wait, unless the cap is reached.
    const short = (notHttp = false): HttpHeadResult =>
      bytes.length >= MAX_HTTP_HEAD_BYTES ? invalid('request head larger than 16 KiB', notHttp) : NEED_MORE;

    if (this.#line === null) {
      const line = requestLine(b, short);
      if (!('end' in line)) return line;
      this.#line = line.value;
      this.#at = line.end;
    }
    const { method, target, version } = this.#line;

    // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, then CRLF; a CRLF alone ends the head.
    let i = this.#at;
    for (;;) {
      const c = b[i];
      if (c === undefined) return short();
      if (c === CR || c === LF) {
        const end = lineEnd(b, i);
        if (end === undefined) return short();
        if (typeof end === 'string') return invalid(end);
        i = end;
        break;
      }
      // §5.2 obs-fold, and §2.2 whitespace between the start-line and the first field: reject.
      if (c === SP || c === HTAB) return invalid('header line starts with whitespace (obs-fold)');
      const nameStart = i;
      for (; b[i] !== COLON; i++) {
        const n = b[i];
        if (n === undefined) return short();
        // §5.1: no whitespace between the field name and the colon; a server MUST reject it.
        if (!isTchar(n)) return invalid('header name has a character other than a token character');
      }
      if (i === nameStart) return invalid('header name is empty');
      const isHost = i - nameStart === HOST.length && HOST.every((h, k) => ((b[nameStart + k] ?? 0) | 0x20) === h);
      const valueStart = ++i;
      for (; b[i] !== CR; i++) {
        const v = b[i];
        if (v === undefined) return short();
        // RFC 9110 §5.5: field-value is VCHAR, obs-text, SP and HTAB; CR, LF and NUL are invalid.
        if (v === LF) return invalid('header line ends in a LF without a CR');
        if ((v < SP && v !== HTAB) || v === DEL) return invalid('header value has a control character');
      }
      const value = trimOws(b, valueStart, i);
      const end = lineEnd(b, i);
      if (end === undefined) return short();
      if (typeof end === 'string') return invalid(end);
      i = end;
      // The line is complete: it is never looked at again.
      if (isHost) this.#hosts.push(value);
      this.#at = i;
    }
    const hosts = this.#hosts.map(([s, e]) => b.subarray(s, e));
    return {
      kind: 'ok',
      value: Object.freeze({ method, target, version, ...requestHost(target, hosts), headBytes: i }),
      consumed: i,
    };
  }
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF. Methods are
// case-sensitive tokens (RFC 9110 §9.1); requiring an uppercase first letter, as every method
// in use has, lets a TLS record (0x16) or other binary be told apart after one byte. A leading
// empty line (§2.2 robustness) is refused too: a new connection has no previous message.
// Returns the line and the offset after its CRLF, or the answer while it is incomplete or bad.
function requestLine(
  b: Uint8Array,
  short: (notHttp?: boolean) => HttpHeadResult,
): { readonly value: RequestLine; readonly end: number } | HttpHeadResult {
  const first = b[0];
  if (first === undefined) return NEED_MORE;
  if (first < 0x41 || first > 0x5a) return invalid('request does not start with an uppercase letter', true);
  let i = 1;
  for (; b[i] !== SP; i++) {
    const c = b[i];
    if (c === undefined) return short(true);
    if (!isTchar(c)) return invalid('method has a character other than a token character', true);
  }
  const method = text(b.subarray(0, i));
  const targetStart = ++i;
  for (; b[i] !== SP; i++) {
    const c = b[i];
    if (c === undefined) return short();
    if (c === CR || c === LF) return invalid('request line has no HTTP version');
    if (c < SP || c === DEL) return invalid('request-target has a control character');
  }
  if (i === targetStart) return invalid('request-target is empty');
  const target = text(b.subarray(targetStart, i));
  const versionStart = ++i;
  for (; i - versionStart < VERSION_PREFIX.length; i++) {
    const c = b[i];
    if (c === undefined) return short();
    if (c === VERSION_PREFIX[i - versionStart]) continue;
    // The prior-knowledge h2c preface, "PRI * HTTP/2.0" (RFC 9113 §3.3), or any HTTP/2.
    if (i - versionStart === VERSION_PREFIX_MAJOR && c === 0x32) return invalid('HTTP/2 is not supported on an http listener');
    return invalid('HTTP version is not HTTP/1.0 or HTTP/1.1');
  }
  const minor = b[i++];
  if (minor === undefined) return short();
  if (minor !== 0x30 && minor !== 0x31) return invalid('HTTP version is not HTTP/1.0 or HTTP/1.1');
  const version = minor === 0x30 ? '1.0' : '1.1';
  if (b[i] !== undefined && b[i] !== CR && b[i] !== LF) return invalid('request line does not end after the HTTP version');
  const eol = lineEnd(b, i);
  if (eol === undefined) return short();
  if (typeof eol === 'string') return invalid(eol);
  return { value: { method, target, version }, end: eol };
}

// At `at` (a CR, a LF or the end) a CRLF must begin: the offset after it, undefined while
// incomplete, or why it is invalid (RFC 9112 §2.2: no bare CR, and here no bare LF either).
function lineEnd(b: Uint8Array, at: number): number | string | undefined {
  const c = b[at];
  if (c === undefined) return undefined;
  if (c !== CR) return 'line ends in a LF without a CR';
  const n = b[at + 1];
  if (n === undefined) return undefined;
  return n === LF ? at + 2 : 'line has a CR without a LF';
}

// [start, end) of b[s, e) without the OWS around it.
function trimOws(b: Uint8Array, s: number, e: number): readonly [number, number] {
  while (s < e && (b[s] === SP || b[s] === HTAB)) s++;
  while (e > s && (b[e - 1] === SP || b[e - 1] === HTAB)) e--;
  return [s, e];
}

function text(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

type Host = Pick<HttpRequestHead, 'host' | 'hostError'>;

const hostError = (error: string): Host => ({ host: null, hostError: error });

/**
 * The host a request is for, from its request-target and its Host header values (RFC 9112
 * §3.2): exactly one Host header, more than one is an error, none leaves host null. With an
 * absolute-form target (§3.2.2) the host comes from the target; a Host header that names another
 * host is an error, because the upstream may pick either and only one of them was checked
 * against the allowlist. Used for the first request (parseHttpHead) and every later one
 * (http-requests.ts).
 */
export function requestHost(target: string, hosts: readonly Uint8Array[]): Host {
  const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(target);
  const [only, ...more] = hosts;
  if (more.length > 0) return hostError('more than one Host header');
  if (absolute === null) return only === undefined ? { host: null, hostError: null } : hostPort(only);
  const scheme = (absolute[1] ?? '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return hostError('absolute-form target is not an http or https URI');
  const authority = absolute[2] ?? '';
  // RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s) URI as an error.
  if (authority.includes('@')) return hostError('absolute-form target has userinfo');
  const fromTarget = hostPort(Uint8Array.from(authority, (c) => c.charCodeAt(0)));
  if (only === undefined || fromTarget.host === null) return fromTarget;
  const fromHeader = hostPort(only);
  if (fromHeader.host !== fromTarget.host) return hostError('absolute-form target and Host header name different hosts');
  return fromTarget;
}

// RFC 9110 §7.2: Host = uri-host [ ":" port ]. Only a registered name can be routed, so an
// IP-literal ("[...]") or IPv4 address is an error, as in SNI (RFC 6066 §3).
function hostPort(v: Uint8Array): Host {
  if (v.length === 0) return hostError('host is empty');
  if (v[0] === 0x5b) return hostError('host is an IPv6 address literal');
  const colon = v.indexOf(COLON);
  if (colon !== -1) {
    // A stricter port than RFC 3986's *DIGIT: 1 to 5 digits, at most 65535.
    const port = text(v.subarray(colon + 1));
    if (!/^\d{1,5}$/.test(port) || Number(port) > 0xffff) return hostError('host has a port that is not a number up to 65535');
  }
  const checked = normaliseHostName(colon === -1 ? v : v.subarray(0, colon));
  if (checked.ok) return { host: checked.name, hostError: null };
  // normaliseHostName words its errors for SNI; the rules are the same, the field is not.
  return hostError(checked.error.replace(/^server_name\b/, 'host'));
}
