// The PROXY protocol header a load balancer puts in front of a connection (SPEC §3
// `proxy_protocol`), versions 1 and 2, as specified in HAProxy's doc/proxy-protocol.txt ("the
// spec" below). Pure: no I/O, no timers, no logger, and it never throws on any input.
//
// Decided after as few bytes as possible, as the spec asks (§2.1: "abort the connection as soon
// as possible"): the first byte picks the version, every signature byte is checked as it
// arrives, and a v1 line is checked field by field while it is still incomplete. need-more is
// only answered while the header can still end within its bound: 107 bytes for v1, 16 + the
// declared length for v2.

import { latin1 } from './host-name.js';
import { Reader, type ParseResult } from './reader.js';

/** Spec §2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN", two full IPv6, two ports). */
export const PROXY_V1_MAX_BYTES = 107;
/** Spec §2.2: the longest v2 header, its 16 fixed bytes plus the largest uint16 length. */
export const PROXY_V2_MAX_BYTES = 16 + 0xffff;

/** The original connection a PROXY header reports: the client and the address it connected to. */
export interface ProxyAddresses {
  readonly family: 'ipv4' | 'ipv6';
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (IPv4-mapped as `::ffff:a.b.c.d`). */
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destAddress: string;
  readonly destPort: number;
}

/**
 * A parsed header. `proxy`: `addresses` replace the socket's endpoints. `local` (v2 LOCAL: the
 * proxy's own connection, e.g. a health check) and `unknown` (v1 "PROXY UNKNOWN", or v2 PROXY
 * with an AF_UNSPEC, AF_UNIX or UDP block): no usable address, so keep the socket's endpoints.
 */
export type ProxyHeader =
  | { readonly version: 1 | 2; readonly command: 'proxy'; readonly addresses: ProxyAddresses }
  | { readonly version: 1 | 2; readonly command: 'local' | 'unknown' };

/**
 * `ok`: `consumed` is the header's length; bytes after it (the ClientHello) belong to the caller.
 * `need-more`: the header is incomplete and can still end within its bound.
 * `invalid`: never a valid PROXY header; drop the connection (outcome `bad_proxy_header`).
 */
export type ProxyResult = ParseResult<ProxyHeader>;

type Invalid = Extract<ProxyResult, { kind: 'invalid' }>;

const NEED_MORE: { kind: 'need-more' } = Object.freeze({ kind: 'need-more' });
const CR = 0x0d;
const LF = 0x0a;

// Spec §2.1: "PROXY" then exactly one space.
const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20);
const V1_PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'] as const;
const V1_FIELDS = ['source address', 'destination address', 'source port', 'destination port'] as const;
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255": the longest IPv6 text inet_pton accepts.
const MAX_IPV6_TEXT = 45;

// Spec §2.2: the 12-byte signature, then ver_cmd(1) fam(1) len(2).
const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V2_HEADER_BYTES = 16;
const V2_VERSION = 0x2;
const V2_CMD_LOCAL = 0x0;
const V2_CMD_PROXY = 0x1;
const V2_MAX_FAMILY = 0x3; // AF_UNIX; higher values "must be rejected as invalid by receivers"
const V2_MAX_TRANSPORT = 0x2; // DGRAM; likewise
const V2_TCP_IPV4 = 0x11;
const V2_TCP_IPV6 = 0x21;
// Spec §2.2: the address block length of each defined family/transport byte. Other bytes with
// valid nibbles (AF_UNSPEC or an UNSPEC transport) carry no defined block.
const V2_ADDRESS_BYTES: ReadonlyMap<number, number> = new Map([
  [0x11, 12], [0x12, 12], // TCP/UDP over IPv4: 2 * 4 + 2 * 2
  [0x21, 36], [0x22, 36], // TCP/UDP over IPv6: 2 * 16 + 2 * 2
  [0x31, 216], [0x32, 216], // UNIX stream/datagram: 2 * 108
]);
const PP2_TYPE_CRC32C = 0x03; // spec §2.2.3

const UNKNOWN_V1: ProxyHeader = Object.freeze({ version: 1, command: 'unknown' });
const UNKNOWN_V2: ProxyHeader = Object.freeze({ version: 2, command: 'unknown' });
const LOCAL_V2: ProxyHeader = Object.freeze({ version: 2, command: 'local' });

function invalid(reason: string): Invalid {
  return { kind: 'invalid', reason };
}

function ok(value: ProxyHeader, consumed: number): ProxyResult {
  return { kind: 'ok', value, consumed };
}

/**
 * Parses a PROXY v1 or v2 header from the start of `bytes` (the first bytes a peer sent,
 * possibly followed by more). Never throws; see ProxyResult for the meaning of each answer.
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyResult {
  const first = bytes[0];
  if (first === undefined) return NEED_MORE;
  if (first === V1_PREFIX[0]) return parseV1(bytes);
  if (first === V2_SIGNATURE[0]) return parseV2(bytes);
  return invalid('not a PROXY protocol header');
}

// Spec §2.1. The line is checked as far as it has arrived, so a bad field is refused at once.
function parseV1(b: Uint8Array): ProxyResult {
  const end = Math.min(b.length, PROXY_V1_MAX_BYTES);
  let scanned = 0; // bytes before the CR (or bare LF), or all of them while none has come
  let complete = false;
  let badEnd: string | undefined;
  for (; scanned < end; scanned++) {
    const c = b[scanned] ?? 0;
    if (scanned < V1_PREFIX.length) {
      if (c !== V1_PREFIX[scanned]) return invalid('not a PROXY v1 "PROXY " prefix');
    } else if (c === LF) {
      // §2.1: "must not tolerate a single CR or LF character to end the line".
      badEnd = 'PROXY v1 line has a LF without a CR';
      break;
    } else if (c === CR) {
      // The LF must still fit in the 107 bytes; past them it is not looked at.
      const next = scanned + 1 < PROXY_V1_MAX_BYTES ? b[scanned + 1] : undefined;
      if (next !== undefined && next !== LF) badEnd = 'PROXY v1 line has a CR without a LF';
      complete = next === LF;
      break;
    }
  }
  // The fields come first in the stream, so a bad field is the reason even if a bad line end
  // follows: the answer must not change with how many bytes have arrived.
  const fields = v1Fields(latin1(b.subarray(V1_PREFIX.length, scanned)), complete);
  if (typeof fields === 'string') return invalid(fields);
  if (badEnd !== undefined) return invalid(badEnd);
  if (fields !== undefined) return ok(fields, scanned + 2);
  // §2.1: "If the CRLF sequence is not found in the first 107 characters ... invalid".
  return b.length >= PROXY_V1_MAX_BYTES ? invalid('no CRLF in the first 107 bytes of a PROXY v1 line') : NEED_MORE;
}

// The fields after "PROXY " and before the CRLF. While the line is incomplete its last field
// is still arriving and only has to be a prefix of a valid one. Fields are checked in order and
// each has one reason, so a prefix refused early gets the reason the whole line would.
// Returns the header, the reason it is invalid, or undefined (fine so far, incomplete).
function v1Fields(text: string, complete: boolean): ProxyHeader | string | undefined {
  const fields = text.split(' '); // §2.1: "exactly one space" between fields, so no empty field
  const open = (i: number): boolean => !complete && i === fields.length - 1;
  const protocol = fields[0] ?? '';
  if (open(0)) {
    return V1_PROTOCOLS.some((p) => p.startsWith(protocol)) ? undefined : 'PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN';
  }
  // §2.1: for UNKNOWN "the receiver must ignore anything presented before the CRLF".
  if (protocol === 'UNKNOWN') return complete ? UNKNOWN_V1 : undefined;
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return 'PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN';
  const family = protocol === 'TCP4' ? 'ipv4' : 'ipv6';
  const values: (string | number)[] = [];
  for (let i = 1; i < fields.length && i <= V1_FIELDS.length; i++) {
    const f = fields[i] ?? '';
    const isPort = i > 2;
    const reason = `PROXY v1 ${V1_FIELDS[i - 1] ?? ''} is not ${isPort ? 'a port' : `an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`}`;
    if (open(i)) {
      const viable = isPort ? f === '' || parsePort(f) !== undefined : family === 'ipv4' ? ipv4Prefix(f) : ipv6Prefix(f);
      if (!viable) return reason;
      continue;
    }
    const value = isPort ? parsePort(f) : family === 'ipv4' ? formatIpv4(parseIpv4(f)) : formatIpv6(parseIpv6(f));
    if (value === undefined) return reason;
    values.push(value);
  }
  if (fields.length > V1_FIELDS.length + 1) return 'PROXY v1 line has more than 4 fields after the protocol';
  if (!complete) return undefined;
  const [sourceAddress, destAddress, sourcePort, destPort] = values;
  if (
    typeof sourceAddress !== 'string' || typeof destAddress !== 'string'
    || typeof sourcePort !== 'number' || typeof destPort !== 'number'
  ) {
    return 'PROXY v1 line has fewer than 4 fields after the protocol';
  }
  const addresses = Object.freeze({ family, sourceAddress, sourcePort, destAddress, destPort });
  return Object.freeze({ version: 1, command: 'proxy', addresses });
}

// §2.1: ports are decimal 0..65535 without heading zeroes (or a sign).
function parsePort(s: string): number | undefined {
  return /^(?:0|[1-9]\d{0,4})$/.test(s) && Number(s) <= 0xffff ? Number(s) : undefined;
}

// §2.1: "exactly 4 integers in the range [0..255] ... Heading zeroes are not permitted".
function isOctet(s: string): boolean {
  return /^(?:0|[1-9]\d{0,2})$/.test(s) && Number(s) <= 255;
}

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  return parts.length === 4 && parts.every(isOctet) ? Uint8Array.from(parts, Number) : undefined;
}

// Every prefix of a valid octet is empty or a valid octet, so this is exact.
function ipv4Prefix(s: string): boolean {
  const parts = s.split('.');
  return parts.length <= 4 && parts.every((p, i) => isOctet(p) || (p === '' && i === parts.length - 1));
}

// §2.1: hex groups of up to 4 digits, one "::" at most, 128 bits exactly. Like inet_pton (which
// HAProxy uses), the last 32 bits may be a dotted quad. No zone index.
function parseIpv6(s: string): Uint8Array | undefined {
  if (s.length > MAX_IPV6_TEXT) return undefined;
  const gap = s.indexOf('::');
  if (gap !== -1 && s.includes('::', gap + 1)) return undefined; // also rejects ":::"
  const head = ipv6Words(gap === -1 ? s : s.slice(0, gap), gap === -1);
  const tail = ipv6Words(gap === -1 ? '' : s.slice(gap + 2), true);
  if (head === undefined || tail === undefined) return undefined;
  const zeros = 8 - head.length - tail.length;
  // "::" stands for at least one zero group (RFC 4291 §2.2).
  if (gap === -1 ? zeros !== 0 : zeros < 1) return undefined;
  const words = [...head, ...new Array<number>(gap === -1 ? 0 : zeros).fill(0), ...tail];
  return Uint8Array.from(words.flatMap((w) => [w >> 8, w & 0xff]));
}

// Colon-separated groups as 16-bit words; a dotted quad is allowed as the address's last group.
function ipv6Words(s: string, quadLast: boolean): number[] | undefined {
  if (s === '') return [];
  const words: number[] = [];
  const groups = s.split(':');
  for (const [i, g] of groups.entries()) {
    const quad = quadLast && i === groups.length - 1 ? parseIpv4(g) : undefined;
    if (/^[0-9a-fA-F]{1,4}$/.test(g)) words.push(parseInt(g, 16));
    else if (quad !== undefined) words.push(((quad[0] ?? 0) << 8) | (quad[1] ?? 0), ((quad[2] ?? 0) << 8) | (quad[3] ?? 0));
    else return undefined;
  }
  return words;
}

// Could `s` still grow into valid IPv6 text? Never refuses a prefix of a valid address; may let
// a hopeless one through, which the CRLF or the 107-byte bound then refuses.
function ipv6Prefix(s: string): boolean {
  if (s.length > MAX_IPV6_TEXT || !/^[0-9a-fA-F:.]*$/.test(s)) return false;
  const gap = s.indexOf('::');
  if (gap !== -1 && s.includes('::', gap + 1)) return false;
  const groups = s.split(':');
  return groups.every((g, i) => (g.includes('.') ? i === groups.length - 1 && ipv4Prefix(g) : g.length <= 4));
}

function formatIpv4(b: Uint8Array | undefined): string | undefined {
  return b && b.join('.');
}

// RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more zero groups (the
// first of equals) as "::". IPv4-mapped addresses (RFC 4291 §2.5.5.2) keep the dotted quad
// (RFC 5952 §5), which is also how node:net reports a mapped peer, so both compare equal.
function formatIpv6(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined;
  const words = Array.from({ length: 8 }, (_, i) => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${b.subarray(12, 16).join('.')}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = Math.max(j, i + 1);
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

// Spec §2.2.
function parseV2(b: Uint8Array): ProxyResult {
  const signature = Math.min(b.length, V2_SIGNATURE.length);
  for (let i = 0; i < signature; i++) if (b[i] !== V2_SIGNATURE[i]) return invalid('not a PROXY v2 signature');
  const verCmd = b[12];
  if (verCmd === undefined) return NEED_MORE;
  // "the receiver must only accept" version 2; other commands: "Receivers must drop connections".
  if (verCmd >> 4 !== V2_VERSION) return invalid('PROXY v2 version is not 2');
  const command = verCmd & 0x0f;
  if (command !== V2_CMD_LOCAL && command !== V2_CMD_PROXY) return invalid('PROXY v2 command is neither LOCAL nor PROXY');
  const fam = b[13];
  if (fam === undefined) return NEED_MORE;
  // LOCAL: "discard the protocol block including the family which is ignored".
  if (command === V2_CMD_PROXY && (fam >> 4 > V2_MAX_FAMILY || (fam & 0x0f) > V2_MAX_TRANSPORT)) {
    return invalid('PROXY v2 address family or transport is undefined');
  }
  const lenHi = b[14];
  const lenLo = b[15];
  if (lenHi === undefined || lenLo === undefined) return NEED_MORE;
  const length = lenHi * 256 + lenLo;
  const addressBytes = command === V2_CMD_PROXY ? V2_ADDRESS_BYTES.get(fam) ?? 0 : 0;
  if (length < addressBytes) return invalid('PROXY v2 length is shorter than the address block of its family');
  const total = V2_HEADER_BYTES + length;
  if (b.length < total) return NEED_MORE;
  // "Receivers MUST always consider this field to skip the appropriate number of bytes".
  if (command === V2_CMD_LOCAL) return ok(LOCAL_V2, total);
  // AF_UNSPEC or an UNSPEC transport: "The receiver should ignore address information"; what
  // follows has no defined layout, so not even TLVs are looked for.
  if (addressBytes === 0) return ok(UNKNOWN_V2, total);
  const header = b.subarray(0, total);
  const block = new Reader(header.subarray(V2_HEADER_BYTES));
  const addresses = readAddresses(block, fam, addressBytes);
  const tlvError = checkTlvs(header, block);
  if (tlvError !== undefined) return invalid(tlvError);
  if (addresses === undefined) return ok(UNKNOWN_V2, total); // UDP or AF_UNIX: nothing to route by
  return ok(Object.freeze({ version: 2, command: 'proxy', addresses }), total);
}

// src_addr, dst_addr, src_port, dst_port in network byte order (spec §2.2, union proxy_addr).
// Reads the whole block; returns the addresses of TCP over IPv4 or IPv6 only.
function readAddresses(r: Reader, fam: number, addressBytes: number): ProxyAddresses | undefined {
  if (fam !== V2_TCP_IPV4 && fam !== V2_TCP_IPV6) {
    r.bytes(addressBytes);
    return undefined;
  }
  const ipBytes = fam === V2_TCP_IPV4 ? 4 : 16;
  const format = fam === V2_TCP_IPV4 ? formatIpv4 : formatIpv6;
  // The length check made the block whole, so these reads succeed.
  const sourceAddress = format(r.bytes(ipBytes)) ?? '';
  const destAddress = format(r.bytes(ipBytes)) ?? '';
  const sourcePort = r.u16() ?? 0;
  const destPort = r.u16() ?? 0;
  const family = fam === V2_TCP_IPV4 ? 'ipv4' : 'ipv6';
  return Object.freeze({ family, sourceAddress, sourcePort, destAddress, destPort });
}

// §2.2: the rest of the header is TLVs, type(1) length(2) value. They are skipped, but must
// tile the rest exactly (HAProxy drops a header whose TLV overruns it). §2.2.3: a CRC32c TLV is
// checked, since this receiver supports it and then "MUST treat ... as invalid" on a mismatch.
function checkTlvs(header: Uint8Array, r: Reader): string | undefined {
  while (!r.empty) {
    const type = r.u8();
    const value = r.prefixed(2);
    if (type === undefined || value === undefined) return 'PROXY v2 TLV runs past the end of the header';
    if (type !== PP2_TYPE_CRC32C) continue;
    if (value.remaining !== 4) return 'PROXY v2 CRC32c TLV is not 4 bytes';
    const at = header.length - r.remaining - 4; // offset of the checksum field
    const sent = (value.u16() ?? 0) * 0x10000 + (value.u16() ?? 0);
    const computed = crc32c([header.subarray(0, at), new Uint8Array(4), header.subarray(at + 4)]);
    if (computed !== sent) return 'PROXY v2 CRC32c checksum does not match';
  }
  return undefined;
}

// CRC32c (Castagnoli, reflected polynomial 0x82F63B78) as in RFC 4960 Appendix B.
const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c;
});

function crc32c(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (const x of p) c = (CRC32C_TABLE[(c ^ x) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
