// The TLS ClientHello parser (SPEC §4.2): finds the server name a client asks for without
// terminating TLS. Pure: no I/O, no timers, no logger, and it never throws on any input.
//
// Two layers. HelloFraming walks the record layer incrementally (RFC 8446 §5.1), one chunk at a
// time, keeping its place between chunks, and is the only part that can answer need-more. Once
// every record carrying the handshake message is here, the message is put back together and
// parsed with the bounds-checked Reader, as strictly as Go's crypto/tls clientHelloMsg.unmarshal
// where the result decides routing.

import { Reader, type ParseResult } from './reader.js';
import { latin1, normaliseHostName } from './host-name.js';

/** The cap on all record bytes of the hello (record headers included), SPEC §4.2. */
export const MAX_HELLO_BYTES = 64 * 1024;

/** What the forwarder needs from a ClientHello. */
export interface ClientHello {
  /** Normalised SNI: lowercased, one trailing dot removed; null if absent or unusable. */
  readonly serverName: string | null;
  /** Why a present server_name was unusable (IP literal, bad characters, too long...), else null. */
  readonly sniError: string | null;
  /** ALPN protocol names in the client's order; [] if the extension is absent. */
  readonly alpn: readonly string[];
  /** The supported_versions list as sent (GREASE included) if present, else [legacyVersion]. */
  readonly versions: readonly number[];
  readonly legacyVersion: number;
  /**
   * The encrypted_client_hello extension is present. serverName is then the outer SNI: for a
   * client really using ECH, the provider's ECH public name (the real name is encrypted); for a
   * GREASE placeholder (sent by browsers when the server offers no ECH config), the real name.
   * The two cannot be told apart from the bytes, by design (draft-ietf-tls-esni §6.2).
   */
  readonly ech: boolean;
  /** How many TLS records the hello spanned. */
  readonly recordCount: number;
}

/**
 * The parse result. `ok`: `consumed` is the wire size of the records carrying the hello; bytes
 * after them (pipelined by the client) are not part of it. `need-more`: the record or handshake
 * framing is incomplete. `invalid`: never a usable hello; `notTls` is true when the very first
 * bytes are not a TLS handshake record carrying a client_hello (answer without a TLS alert),
 * false when the framing was TLS but the hello is malformed.
 */
export type HelloResult =
  | Exclude<ParseResult<ClientHello>, { kind: 'invalid' }>
  | (Extract<ParseResult<ClientHello>, { kind: 'invalid' }> & { notTls: boolean });

type Invalid = Extract<HelloResult, { kind: 'invalid' }>;

// RFC 8446 §5.1 / §4 / §4.2 code points.
const CONTENT_TYPE_HANDSHAKE = 22;
const RECORD_VERSION_MAJOR = 3;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
const MAX_FRAGMENT_BYTES = 2 ** 14; // RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14
// RFC 8446 §4.1.2: legacy_version(2) random(32) session_id<0..32>(1+) cipher_suites<2..>(2+2)
// legacy_compression_methods<1..>(1+1); extensions are optional in TLS 1.2 (RFC 5246 §7.4.1.2).
const MIN_CLIENT_HELLO_BODY = 2 + 32 + 1 + 2 + 2 + 1 + 1;
const MAX_SESSION_ID_BYTES = 32;
const EXT_SERVER_NAME = 0; // RFC 6066 §3
const EXT_ALPN = 16; // RFC 7301 §3.1
const EXT_SUPPORTED_VERSIONS = 43; // RFC 8446 §4.2.1
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d; // draft-ietf-tls-esni §5
const NAME_TYPE_HOST_NAME = 0; // RFC 6066 §3

const NEED_MORE: { kind: 'need-more' } = Object.freeze({ kind: 'need-more' });

/** Record payload bytes [start, end) as offsets from the first byte of the stream. */
interface Fragment {
  readonly start: number;
  readonly end: number;
}

type Framing =
  | Exclude<HelloResult, { kind: 'ok' }>
  | { kind: 'complete'; consumed: number; recordCount: number; fragments: readonly Fragment[] };

function invalid(reason: string, notTls = false): Invalid {
  return { kind: 'invalid', reason, notTls };
}

// Walks records and the handshake header byte by byte, and skips record bodies in bulk, so each
// byte of the stream is looked at once however the stream is chunked.
class HelloFraming {
  #pos = 0; // stream offset of the next byte to scan
  #headerLen = 0;
  #lengthHigh = 0; // the record header's length byte 3 (its high byte), once seen
  #recordLeft = 0; // payload bytes of the current record still to come (0: a header is next)
  #hsHeaderLen = 0; // handshake header bytes seen
  #hsLength = 0; // the handshake header's uint24 length, once hsHeaderLen is 4
  #hsLeft = 0; // handshake body bytes still to come, once hsHeaderLen is 4
  readonly #fragments: Fragment[] = [];
  #result: Framing = NEED_MORE;

  scan(chunk: Uint8Array): Framing {
    if (this.#result.kind !== 'need-more') return this.#result;
    let i = 0;
    while (i < chunk.length) {
      if (this.#recordLeft === 0) {
        const bad = this.#headerByte(chunk[i] ?? 0);
        i++;
        if (bad) return (this.#result = bad);
      } else if (this.#hsHeaderLen < HANDSHAKE_HEADER_BYTES) {
        const bad = this.#hsHeaderByte(chunk[i] ?? 0);
        i++;
        if (bad) return (this.#result = bad);
      } else {
        const n = Math.min(chunk.length - i, this.#recordLeft, this.#hsLeft);
        i += n;
        this.#pos += n;
        this.#recordLeft -= n;
        this.#hsLeft -= n;
        if (this.#hsLeft === 0) {
          // The checks in #fits guarantee the record ends exactly here.
          const fragments = this.#fragments;
          const recordCount = fragments.length;
          return (this.#result = { kind: 'complete', consumed: this.#pos, recordCount, fragments });
        }
      }
    }
    return this.#result;
  }

  // RFC 8446 §5.1 TLSPlaintext: type(1) legacy_record_version(2) length(2).
  #headerByte(b: number): Invalid | undefined {
    const first = this.#fragments.length === 0; // only the first record can say "not TLS"
    this.#headerLen++;
    this.#pos++;
    if (this.#headerLen === 1 && b !== CONTENT_TYPE_HANDSHAKE) {
      // RFC 8446 §5.1: handshake messages MUST NOT be interleaved with other record types.
      if (first) return invalid('not a TLS handshake record', true);
      return invalid('non-handshake record inside the ClientHello');
    }
    if (this.#headerLen === 2 && b !== RECORD_VERSION_MAJOR) {
      return invalid('record version major is not 3', first);
    }
    if (this.#headerLen === RECORD_HEADER_BYTES - 1) this.#lengthHigh = b;
    if (this.#headerLen < RECORD_HEADER_BYTES) return undefined;
    this.#headerLen = 0;
    const length = this.#lengthHigh * 256 + b;
    // RFC 8446 §5.1: zero-length handshake fragments MUST NOT be sent; length <= 2^14.
    if (length === 0) return invalid('zero-length handshake record', first);
    if (length > MAX_FRAGMENT_BYTES) return invalid('record longer than 2^14 bytes', first);
    // No separate cap check needed here: until the handshake length is known (at most 3 records
    // of 1 byte in), no record can reach the cap, and after that #fits checks a tighter bound.
    this.#fragments.push({ start: this.#pos, end: this.#pos + length });
    this.#recordLeft = length;
    return this.#hsHeaderLen === HANDSHAKE_HEADER_BYTES ? this.#fits() : undefined;
  }

  // RFC 8446 §4 Handshake: msg_type(1) length(3), possibly split over records.
  #hsHeaderByte(b: number): Invalid | undefined {
    this.#hsHeaderLen++;
    this.#pos++;
    this.#recordLeft--;
    if (this.#hsHeaderLen === 1) {
      return b === HANDSHAKE_CLIENT_HELLO ? undefined : invalid('first handshake message is not a ClientHello', true);
    }
    this.#hsLength = this.#hsLength * 256 + b;
    if (this.#hsHeaderLen < HANDSHAKE_HEADER_BYTES) return undefined;
    if (this.#hsLength < MIN_CLIENT_HELLO_BODY) return invalid('handshake length too small for a ClientHello');
    this.#hsLeft = this.#hsLength;
    return this.#fits();
  }

  // Called whenever both the handshake length and the current record are known.
  #fits(): Invalid | undefined {
    // RFC 8446 §5.1: a message preceding a key change (the ClientHello does) must end on a record
    // boundary, and a client sends nothing else before the server answers in TLS 1.2.
    if (this.#recordLeft > this.#hsLeft) return invalid('record continues past the ClientHello');
    // The fewest bytes the rest could take: full-size records after the current one.
    const later = this.#hsLeft - this.#recordLeft;
    const minEnd = this.#pos + this.#hsLeft + RECORD_HEADER_BYTES * Math.ceil(later / MAX_FRAGMENT_BYTES);
    return minEnd > MAX_HELLO_BYTES ? invalid('ClientHello larger than 64 KiB') : undefined;
  }
}

/**
 * Parses a ClientHello from the start of `bytes` (the first bytes a client sent, possibly followed
 * by more). Never throws; see HelloResult for the meaning of each answer.
 */
export function parseClientHello(bytes: Uint8Array): HelloResult {
  const framing = new HelloFraming().scan(bytes);
  return framing.kind === 'complete' ? helloFrom(bytes, framing) : framing;
}

/**
 * Collects a client's first bytes chunk by chunk until the ClientHello is decided. Each push does
 * work proportional to its chunk only; chunks are kept, not copied, until `buffered` is read.
 * Once the answer is ok or invalid it is final, and later chunks are only buffered.
 */
export class ClientHelloAccumulator {
  readonly #chunks: Uint8Array[] = [];
  #bytes = 0;
  readonly #framing = new HelloFraming();
  #result: HelloResult = NEED_MORE;

  /**
   * Adds the next chunk (kept by reference: do not modify it afterwards) and answers as
   * parseClientHello would on everything pushed so far.
   */
  push(chunk: Uint8Array): HelloResult {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#result.kind !== 'need-more') return this.#result;
    const framing = this.#framing.scan(chunk);
    this.#result = framing.kind === 'complete' ? helloFrom(this.buffered, framing) : framing;
    return this.#result;
  }

  /** Bytes pushed so far. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Every byte pushed so far, in order, for replay to the upstream (concatenated once, lazily). */
  get buffered(): Buffer {
    if (this.#chunks.length !== 1) {
      this.#chunks.splice(0, this.#chunks.length, Buffer.concat(this.#chunks, this.#bytes));
    }
    const only = this.#chunks[0] ?? new Uint8Array(0);
    return Buffer.isBuffer(only) ? only : Buffer.from(only.buffer, only.byteOffset, only.byteLength);
  }
}

// Puts the handshake message back together from its record fragments (caddy-l4 does the same
// in modules/l4tls/matcher.go) and parses it.
function helloFrom(stream: Uint8Array, f: Extract<Framing, { kind: 'complete' }>): HelloResult {
  let body: Reader;
  const [single] = f.fragments;
  if (single !== undefined && f.fragments.length === 1) {
    body = new Reader(stream, single.start + HANDSHAKE_HEADER_BYTES, single.end);
  } else {
    const message = new Uint8Array(f.fragments.reduce((n, g) => n + g.end - g.start, 0));
    let at = 0;
    for (const g of f.fragments) {
      message.set(stream.subarray(g.start, g.end), at);
      at += g.end - g.start;
    }
    body = new Reader(message, HANDSHAKE_HEADER_BYTES);
  }
  const hello = parseBody(body, f.recordCount);
  return typeof hello === 'string' ? invalid(hello) : { kind: 'ok', value: hello, consumed: f.consumed };
}

// RFC 8446 §4.1.2 ClientHello body; returns the reason when malformed. Mirrors Go's
// clientHelloMsg.unmarshal for the fields that decide routing.
function parseBody(r: Reader, recordCount: number): ClientHello | string {
  const legacyVersion = r.u16();
  const random = r.skip(32);
  const sessionId = r.prefixed(1);
  if (legacyVersion === undefined || !random || sessionId === undefined) return 'truncated ClientHello';
  if (sessionId.remaining > MAX_SESSION_ID_BYTES) return 'legacy_session_id longer than 32 bytes';
  const suites = r.prefixed(2); // cipher_suites<2..2^16-2>: whole uint16 values, at least one
  if (suites === undefined) return 'truncated cipher_suites';
  if (suites.empty || suites.remaining % 2 !== 0) return 'cipher_suites length is zero or odd';
  const compression = r.prefixed(1); // legacy_compression_methods<1..2^8-1>
  if (compression === undefined || compression.empty) return 'missing compression methods';

  let serverName: string | null = null;
  let sniError: string | null = null;
  let alpn: readonly string[] = [];
  let versions: readonly number[] = [legacyVersion];
  let ech = false;
  // RFC 5246 §7.4.1.2: a ClientHello may end here, without an extensions block.
  if (!r.empty) {
    const exts = r.prefixed(2);
    if (exts === undefined || !r.empty) return 'extensions block length does not match the message';
    const seen = new Set<number>();
    while (!exts.empty) {
      const type = exts.u16();
      const data = exts.prefixed(2);
      if (type === undefined || data === undefined) return 'truncated extension';
      // RFC 8446 §4.2: there MUST NOT be more than one extension of the same type.
      if (seen.has(type)) return 'duplicate extension';
      seen.add(type);
      if (type === EXT_SERVER_NAME) {
        const host = readHostName(data);
        if (typeof host === 'string') return host;
        if (host.name === null) {
          sniError = 'server_name has no host_name entry';
        } else {
          const checked = normaliseHostName(host.name);
          if (checked.ok) serverName = checked.name;
          else sniError = checked.error;
        }
      } else if (type === EXT_ALPN) {
        const list = readAlpn(data);
        if (typeof list === 'string') return list;
        alpn = list;
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        const list = readVersions(data);
        if (typeof list === 'string') return list;
        versions = list;
      } else {
        // Unknown extensions are skipped whole (RFC 8446 §4.2). ECH is only noted: its payload is
        // encrypted to the ECH provider, so routing stays on the outer server_name.
        if (type === EXT_ENCRYPTED_CLIENT_HELLO) ech = true;
        continue;
      }
      if (!data.empty) return 'trailing bytes in an extension';
    }
  }
  return Object.freeze({ serverName, sniError, alpn, versions, legacyVersion, ech, recordCount });
}

// RFC 6066 §3: ServerNameList server_name_list<1..2^16-1>; each ServerName is name_type(1)
// then, for host_name, HostName<1..2^16-1>. Unknown name types are skipped (as Go does).
function readHostName(data: Reader): { name: Uint8Array | null } | string {
  const list = data.prefixed(2);
  if (list === undefined || list.empty) return 'empty server_name list';
  let name: Uint8Array | null = null;
  while (!list.empty) {
    const nameType = list.u8();
    const entry = list.prefixed(2);
    const bytes = entry?.bytes(entry.remaining);
    if (nameType === undefined || bytes === undefined || bytes.length === 0) return 'malformed server_name entry';
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    // RFC 6066 §3: the list MUST NOT contain more than one name of the same name_type.
    if (name !== null) return 'more than one host_name in server_name';
    name = bytes;
  }
  return { name };
}

// RFC 7301 §3.1: ProtocolName protocol_name_list<2..2^16-1>, ProtocolName<1..2^8-1>.
function readAlpn(data: Reader): readonly string[] | string {
  const list = data.prefixed(2);
  if (list === undefined || list.empty) return 'empty ALPN protocol list';
  const names: string[] = [];
  while (!list.empty) {
    const name = list.prefixed(1);
    const bytes = name?.bytes(name.remaining);
    if (bytes === undefined || bytes.length === 0) return 'empty or truncated ALPN protocol name';
    names.push(latin1(bytes));
  }
  return Object.freeze(names);
}

// RFC 8446 §4.2.1, ClientHello form: ProtocolVersion versions<2..254>.
function readVersions(data: Reader): readonly number[] | string {
  const list = data.prefixed(1);
  if (list === undefined || list.empty || list.remaining % 2 !== 0) return 'malformed supported_versions';
  const versions: number[] = [];
  for (let v = list.u16(); v !== undefined; v = list.u16()) versions.push(v);
  return Object.freeze(versions);
}
