import t from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, isIPv4, isIPv6, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  PROXY_V1_MAX_BYTES,
  PROXY_V2_MAX_BYTES,
  parseProxyHeader,
  type ProxyAddresses,
  type ProxyHeader,
  type ProxyResult,
} from '../../src/sniff/proxy-header.js';
import { freePort, run } from '../helpers/proc.js';
import { casesComment, decidedIsFinal as checkFinal, runs, seedComment } from '../helpers/parser-properties.js';

// ---------------------------------------------------------------------------------------------
// Byte builders, following HAProxy doc/proxy-protocol.txt ("the spec").
type Bytes = number[];
const ascii = (s: string): Bytes => [...Buffer.from(s, 'latin1')];
const u16 = (n: number): Bytes => [(n >> 8) & 0xff, n & 0xff];
/** §2.2: the 12-byte v2 signature, \r\n\r\n\0\r\nQUIT\n. */
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
/** §2.2 proxy_hdr_v2: sig(12) ver_cmd(1) fam(1) len(2), then `rest` (address block and TLVs). */
const v2 = (verCmd: number, fam: number, rest: Bytes, len = rest.length): Buffer =>
  Buffer.from([...SIG, verCmd, fam, ...u16(len), ...rest]);
/** §2.2 pp2_tlv: type(1) length_hi(1) length_lo(1) value. */
const tlv = (type: number, value: Bytes): Bytes => [type, ...u16(value.length), ...value];
/** §2.2 ipv4_addr / ipv6_addr: src_addr, dst_addr, src_port, dst_port, network byte order. */
const ipBlock = (src: Bytes, dst: Bytes, sp: number, dp: number): Bytes => [...src, ...dst, ...u16(sp), ...u16(dp)];
const PROXY_TCP4 = 0x21; // ver_cmd: version 2, command PROXY
const LOCAL = 0x20; // ver_cmd: version 2, command LOCAL

/** CRC32c (RFC 4960 Appendix B), bit by bit: written apart from the parser's table. */
function crc32cRef(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}
/** §2.2.3: fills the value of the CRC32c TLV found at `tlvAt` (its type byte) with the checksum. */
function sealCrc(header: Buffer, tlvAt: number, delta = 0): Buffer {
  header.writeUInt32BE(0, tlvAt + 3);
  header.writeUInt32BE((crc32cRef(header) + delta) >>> 0, tlvAt + 3);
  return header;
}

const addrs = (family: 'ipv4' | 'ipv6', s: string, sp: number, d: string, dp: number): ProxyAddresses =>
  ({ family, sourceAddress: s, sourcePort: sp, destAddress: d, destPort: dp });
const proxied = (version: 1 | 2, a: ProxyAddresses): ProxyHeader => ({ version, command: 'proxy', addresses: a });
const ok = (value: ProxyHeader, consumed: number): ProxyResult => ({ kind: 'ok', value, consumed });

// ---------------------------------------------------------------------------------------------
// Valid headers, each followed in the stream by the first byte of a ClientHello (0x16), which
// must be left to the caller.
interface Valid {
  readonly name: string;
  readonly bytes: Buffer; // the header only
  readonly want: ProxyHeader;
}
const V1_WORST = 'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
const IPV4_TLVS = [
  ...ipBlock([192, 0, 2, 1], [198, 51, 100, 7], 51514, 443),
  ...tlv(0x01, ascii('h2')), //                    PP2_TYPE_ALPN "h2"
  ...tlv(0x02, ascii('registry.example.com')), //  PP2_TYPE_AUTHORITY
  ...tlv(0x04, []), //                             PP2_TYPE_NOOP, empty value
  ...tlv(0x05, new Array<number>(128).fill(0xab)), // PP2_TYPE_UNIQUE_ID, the 128-byte maximum
  ...tlv(0x20, [0x01, 0, 0, 0, 0, ...tlv(0x21, ascii('TLSv1.3'))]), // PP2_TYPE_SSL with a sub-TLV
];
const WITH_CRC_REST = [...ipBlock([10, 0, 0, 1], [10, 0, 0, 2], 40000, 8443), ...tlv(0x03, [0, 0, 0, 0])];
const WITH_CRC = sealCrc(v2(PROXY_TCP4, 0x11, WITH_CRC_REST), 16 + 12);
const V6_SRC = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]; // 2001:db8::1
const V6_DST = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]; // fe80::211:22ff:fe33:4455
const MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 33]; // ::ffff:192.0.2.33
const BIG = v2(PROXY_TCP4, 0x11, [...ipBlock([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), ...tlv(0x04, new Array<number>(0xffff - 12 - 3).fill(0))]);

const VALID: readonly Valid[] = [
  // §2.1 version 1.
  {
    name: 'v1 TCP4, the spec example',
    bytes: Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
    want: proxied(1, addrs('ipv4', '192.168.0.1', 56324, '192.168.0.11', 443)),
  },
  {
    name: 'v1 TCP4, the longest line (56 bytes), ports 0 and 65535',
    bytes: Buffer.from('PROXY TCP4 255.255.255.255 255.255.255.255 65535 0\r\n'),
    want: proxied(1, addrs('ipv4', '255.255.255.255', 65535, '255.255.255.255', 0)),
  },
  {
    name: 'v1 TCP6, compressed',
    bytes: Buffer.from('PROXY TCP6 2001:db8::1 fe80::211:22ff:fe33:4455 443 65535\r\n'),
    want: proxied(1, addrs('ipv6', '2001:db8::1', 443, 'fe80::211:22ff:fe33:4455', 65535)),
  },
  {
    name: 'v1 TCP6, full upper-case groups are canonicalised (RFC 5952)',
    bytes: Buffer.from('PROXY TCP6 2001:0DB8:0000:0000:0001:0000:0000:0001 0000:0000:0000:0000:0000:0000:0000:0000 1 2\r\n'),
    want: proxied(1, addrs('ipv6', '2001:db8::1:0:0:1', 1, '::', 2)),
  },
  {
    name: 'v1 TCP6, IPv4-mapped and dotted forms',
    bytes: Buffer.from('PROXY TCP6 ::FFFF:192.0.2.33 1:2:3:4:5:6:7.8.9.10 1 2\r\n'),
    want: proxied(1, addrs('ipv6', '::ffff:192.0.2.33', 1, '1:2:3:4:5:6:708:90a', 2)),
  },
  { name: 'v1 UNKNOWN, short form', bytes: Buffer.from('PROXY UNKNOWN\r\n'), want: { version: 1, command: 'unknown' } },
  { name: 'v1 UNKNOWN, the 107-byte worst case', bytes: Buffer.from(V1_WORST), want: { version: 1, command: 'unknown' } },
  {
    name: 'v1 UNKNOWN, anything before the CRLF is ignored',
    bytes: Buffer.from('PROXY UNKNOWN \x00\xff  not even addresses\r\n', 'latin1'),
    want: { version: 1, command: 'unknown' },
  },
  // §2.2 version 2.
  {
    name: 'v2 PROXY TCP over IPv4',
    bytes: Buffer.from([
      ...SIG, //                signature
      0x21, //                  version 2, command PROXY
      0x11, //                  AF_INET, STREAM
      0x00, 0x0c, //            len: 12
      192, 0, 2, 1, //          src_addr 192.0.2.1
      198, 51, 100, 7, //       dst_addr 198.51.100.7
      0xc9, 0x3a, //            src_port 51514
      0x01, 0xbb, //            dst_port 443
    ]),
    want: proxied(2, addrs('ipv4', '192.0.2.1', 51514, '198.51.100.7', 443)),
  },
  {
    name: 'v2 PROXY TCP over IPv6',
    bytes: Buffer.from([
      ...SIG,
      0x21, //                  version 2, command PROXY
      0x21, //                  AF_INET6, STREAM
      0x00, 0x24, //            len: 36
      ...V6_SRC, //             src_addr 2001:db8::1
      ...V6_DST, //             dst_addr fe80::211:22ff:fe33:4455
      0x00, 0x00, //            src_port 0
      0xff, 0xff, //            dst_port 65535
    ]),
    want: proxied(2, addrs('ipv6', '2001:db8::1', 0, 'fe80::211:22ff:fe33:4455', 65535)),
  },
  {
    name: 'v2 PROXY TCP over IPv6 with IPv4-mapped addresses',
    bytes: v2(PROXY_TCP4, 0x21, ipBlock(MAPPED, new Array<number>(16).fill(0), 1, 2)),
    want: proxied(2, addrs('ipv6', '::ffff:192.0.2.33', 1, '::', 2)),
  },
  {
    name: 'v2 PROXY IPv4 with ALPN, AUTHORITY, NOOP, UNIQUE_ID and SSL TLVs (skipped)',
    bytes: v2(PROXY_TCP4, 0x11, IPV4_TLVS),
    want: proxied(2, addrs('ipv4', '192.0.2.1', 51514, '198.51.100.7', 443)),
  },
  {
    name: 'v2 PROXY IPv4 with a correct CRC32c TLV',
    bytes: WITH_CRC,
    want: proxied(2, addrs('ipv4', '10.0.0.1', 40000, '10.0.0.2', 8443)),
  },
  { name: 'v2 LOCAL, no address (a health check)', bytes: v2(LOCAL, 0x00, []), want: { version: 2, command: 'local' } },
  {
    name: 'v2 LOCAL with an IPv4 block: ignored',
    bytes: v2(LOCAL, 0x11, ipBlock([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)),
    want: { version: 2, command: 'local' },
  },
  {
    name: 'v2 LOCAL with an undefined family byte and a short block: the family is ignored',
    bytes: v2(LOCAL, 0xff, [1, 2, 3]),
    want: { version: 2, command: 'local' },
  },
  { name: 'v2 PROXY AF_UNSPEC, empty', bytes: v2(PROXY_TCP4, 0x00, []), want: { version: 2, command: 'unknown' } },
  {
    name: 'v2 PROXY AF_UNSPEC with bytes: skipped unread',
    bytes: v2(PROXY_TCP4, 0x00, [0xff, 0xff, 0xff]),
    want: { version: 2, command: 'unknown' },
  },
  {
    name: 'v2 PROXY INET with an UNSPEC transport (0x10): no defined block',
    bytes: v2(PROXY_TCP4, 0x10, []),
    want: { version: 2, command: 'unknown' },
  },
  {
    name: 'v2 PROXY UDP over IPv4: nothing to route by',
    bytes: v2(PROXY_TCP4, 0x12, ipBlock([1, 2, 3, 4], [5, 6, 7, 8], 53, 53)),
    want: { version: 2, command: 'unknown' },
  },
  {
    name: 'v2 PROXY UNIX stream with a TLV',
    bytes: v2(PROXY_TCP4, 0x31, [...new Array<number>(216).fill(0x2f), ...tlv(0x30, ascii('netns'))]),
    want: { version: 2, command: 'unknown' },
  },
  {
    name: 'v2 at the 16 + 65535 byte bound',
    bytes: BIG,
    want: proxied(2, addrs('ipv4', '1.2.3.4', 1, '5.6.7.8', 2)),
  },
];

const HELLO_START = Buffer.from([0x16, 0x03, 0x01]);

// ---------------------------------------------------------------------------------------------
// Properties used by several tests.

/** The bound past which a header starting with `first` can never be need-more. */
const boundFor = (first: number | undefined): number => (first === 0x50 ? PROXY_V1_MAX_BYTES : PROXY_V2_MAX_BYTES);

/** One of the three variants, with sane fields; need-more only below the bound. */
function wellFormed(r: ProxyResult, input: Uint8Array): boolean {
  switch (r.kind) {
    case 'need-more': return input.length < boundFor(input[0]);
    case 'invalid': return typeof r.reason === 'string' && r.reason !== '';
    case 'ok': return r.consumed >= 15 && r.consumed <= input.length && r.consumed <= boundFor(input[0]);
    default: return false;
  }
}

/** parseProxyHeader must answer once and for all: see decidedIsFinal. */
function decidedIsFinal(x: Uint8Array): string | undefined {
  return checkFinal(parseProxyHeader, wellFormed, x);
}

t.comment(seedComment());

// ---------------------------------------------------------------------------------------------

await t.test('valid headers parse, and the bytes after them are left to the caller', (t) => {
  for (const v of VALID) {
    t.strictSame(parseProxyHeader(v.bytes), ok(v.want, v.bytes.length), v.name);
    t.strictSame(parseProxyHeader(Buffer.concat([v.bytes, HELLO_START])), ok(v.want, v.bytes.length), `${v.name}: + hello`);
  }
  t.equal(V1_WORST.length, PROXY_V1_MAX_BYTES);
  t.equal(BIG.length, PROXY_V2_MAX_BYTES);
  t.end();
});

await t.test('results are frozen', (t) => {
  const r = parseProxyHeader(VALID[0]?.bytes ?? Buffer.alloc(0));
  t.ok(r.kind === 'ok' && Object.isFrozen(r.value) && r.value.command === 'proxy' && Object.isFrozen(r.value.addresses));
  t.end();
});

await t.test('every strict prefix of a valid header is need-more; split anywhere, the result is the same', (t) => {
  for (const v of VALID) {
    const stream = Buffer.concat([v.bytes, HELLO_START]);
    const early: number[] = [];
    for (let n = 0; n < v.bytes.length; n++) if (parseProxyHeader(stream.subarray(0, n)).kind !== 'need-more') early.push(n);
    t.strictSame(early, [], `${v.name}: need-more before byte ${v.bytes.length}`);
    // The parser is handed everything received so far, so a split at any offset is a prefix
    // followed by the whole: the answer for the whole stream must not depend on where it was cut.
    t.equal(decidedIsFinal(stream), undefined, `${v.name}: decided once, then final`);
  }
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Invalid input: refused after the fewest bytes that decide it (the spec, §2.1: "abort the
// connection as soon as possible").
interface Bad {
  readonly name: string;
  readonly bytes: Buffer;
  readonly decidedAt: number; // the shortest prefix that is invalid
  readonly reason: RegExp;
}
const s = (text: string): Buffer => Buffer.from(text, 'latin1');
/** A bad case whose deciding byte is the last of `upTo`, a prefix of `text`. */
const bad1 = (name: string, upTo: string, rest: string, reason: RegExp): Bad =>
  ({ name, bytes: s(upTo + rest), decidedAt: upTo.length, reason });
const V4 = ipBlock([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
const badCrc = sealCrc(v2(PROXY_TCP4, 0x11, WITH_CRC_REST), 16 + 12, 1);

const BAD: readonly Bad[] = [
  bad1('a TLS record', '\x16', '\x03\x01\x02\x00', /not a PROXY protocol header/),
  bad1('HTTP', 'G', 'ET / HTTP/1.1\r\n\r\n', /not a PROXY protocol header/),
  bad1('lower-case proxy', 'p', 'roxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY protocol header/),
  bad1('PROXZ', 'PROXZ', ' TCP4', /"PROXY " prefix/),
  bad1('a tab after PROXY', 'PROXY\t', 'TCP4', /"PROXY " prefix/),
  bad1('TCP5', 'PROXY TCP5', ' 1.2.3.4', /protocol is not TCP4, TCP6 or UNKNOWN/),
  bad1('lower-case tcp4', 'PROXY t', 'cp4 1.2.3.4', /protocol/),
  bad1('UNKNOWNX', 'PROXY UNKNOWNX', '\r\n', /protocol/),
  bad1('two spaces before the protocol', 'PROXY  ', 'TCP4', /protocol/),
  bad1('two spaces between fields', 'PROXY TCP4  ', '1.2.3.4 5.6.7.8 1 2\r\n', /source address is not an IPv4/),
  bad1('IPv4 with a heading zero', 'PROXY TCP4 192.168.00', '1.1 5.6.7.8 1 2\r\n', /source address is not an IPv4/),
  bad1('IPv4 octet 256', 'PROXY TCP4 1.2.3.4 5.6.7.256', ' 1 2\r\n', /destination address is not an IPv4/),
  bad1('IPv4 with 5 octets', 'PROXY TCP4 1.2.3.4.', '5 5.6.7.8 1 2\r\n', /source address is not an IPv4/),
  bad1('IPv4 with 3 octets', 'PROXY TCP4 1.2.3 ', '5.6.7.8 1 2\r\n', /source address is not an IPv4/),
  bad1('IPv6 in a TCP4 line', 'PROXY TCP4 :', ':1 ::1 1 2\r\n', /source address is not an IPv4/),
  bad1('a dotted quad alone in a TCP6 line', 'PROXY TCP6 1.2.3.4 ', '::1 1 2\r\n', /source address is not an IPv6/),
  bad1('IPv6 with a zone index', 'PROXY TCP6 fe80::1%', 'eth0 ::1 1 2\r\n', /source address is not an IPv6/),
  bad1('IPv6 with :::', 'PROXY TCP6 1:::', '2 ::1 1 2\r\n', /source address is not an IPv6/),
  bad1('IPv6 with two ::', 'PROXY TCP6 ::1 1::2::', '3 1 2\r\n', /destination address is not an IPv6/),
  bad1('IPv6 group of 5 digits', 'PROXY TCP6 ::1 ::12345', ' 1 2\r\n', /destination address is not an IPv6/),
  bad1('IPv6 with 9 groups', 'PROXY TCP6 1:2:3:4:5:6:7:8:9 ', '::1 1 2\r\n', /source address is not an IPv6/),
  bad1('port with a heading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 04', '43 443\r\n', /source port is not a port/),
  bad1('port 65536', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536', '\r\n', /destination port is not a port/),
  bad1('port with a sign', 'PROXY TCP4 1.2.3.4 5.6.7.8 +', '1 2\r\n', /source port/),
  bad1('a fifth field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ', '3\r\n', /more than 4 fields/),
  bad1('a space before the CRLF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ', '\r\n', /more than 4 fields/),
  bad1('three fields', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', '', /fewer than 4 fields/),
  bad1('a bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', '', /LF without a CR/),
  bad1('a CR without LF', 'PROXY UNKNOWN\rX', '\n', /CR without a LF/),
  bad1('a LF in an UNKNOWN line', 'PROXY UNKNOWN \n', '\r\n', /LF without a CR/),
  {
    name: 'UNKNOWN with no CRLF in 107 bytes',
    bytes: s(`PROXY UNKNOWN ${' '.repeat(200)}\r\n`),
    decidedAt: PROXY_V1_MAX_BYTES,
    reason: /no CRLF in the first 107 bytes/,
  },
  {
    name: 'UNKNOWN with its CR as the 107th byte',
    bytes: s(`${V1_WORST.slice(0, 105)}x\r\n`),
    decidedAt: PROXY_V1_MAX_BYTES,
    reason: /no CRLF/,
  },
  // §2.2 version 2.
  { name: 'v2 signature: NUL replaced', bytes: v2(PROXY_TCP4, 0x11, V4).fill(0x01, 4, 5), decidedAt: 5, reason: /v2 signature/ },
  { name: 'v2 signature: last byte', bytes: v2(PROXY_TCP4, 0x11, V4).fill(0x0d, 11, 12), decidedAt: 12, reason: /v2 signature/ },
  { name: 'v2 then HTTP', bytes: Buffer.from('\r\nGET / HTTP/1.1\r\n'), decidedAt: 3, reason: /v2 signature/ },
  { name: 'version 1 in ver_cmd', bytes: v2(0x11, 0x11, V4), decidedAt: 13, reason: /version is not 2/ },
  { name: 'version 3 in ver_cmd', bytes: v2(0x31, 0x11, V4), decidedAt: 13, reason: /version is not 2/ },
  { name: 'command 2', bytes: v2(0x22, 0x11, V4), decidedAt: 13, reason: /neither LOCAL nor PROXY/ },
  { name: 'command 0xf', bytes: v2(0x2f, 0x11, V4), decidedAt: 13, reason: /neither LOCAL nor PROXY/ },
  { name: 'family 4', bytes: v2(PROXY_TCP4, 0x41, V4), decidedAt: 14, reason: /family or transport is undefined/ },
  { name: 'transport 3', bytes: v2(PROXY_TCP4, 0x13, V4), decidedAt: 14, reason: /family or transport is undefined/ },
  { name: 'IPv4 block, len 11', bytes: v2(PROXY_TCP4, 0x11, V4.slice(0, 11)), decidedAt: 16, reason: /shorter than the address block/ },
  { name: 'IPv6 block, len 35', bytes: v2(PROXY_TCP4, 0x21, new Array<number>(35).fill(0)), decidedAt: 16, reason: /shorter/ },
  { name: 'UDP/IPv6 block, len 12', bytes: v2(PROXY_TCP4, 0x22, V4), decidedAt: 16, reason: /shorter/ },
  { name: 'UNIX block, len 215', bytes: v2(PROXY_TCP4, 0x31, new Array<number>(215).fill(0)), decidedAt: 16, reason: /shorter/ },
  { name: 'a TLV cut after its type', bytes: v2(PROXY_TCP4, 0x11, [...V4, 0x04]), decidedAt: 29, reason: /TLV runs past/ },
  { name: 'a TLV cut in its length', bytes: v2(PROXY_TCP4, 0x11, [...V4, 0x04, 0x00]), decidedAt: 30, reason: /TLV runs past/ },
  {
    name: 'a TLV whose value overruns the header',
    bytes: v2(PROXY_TCP4, 0x11, [...V4, ...tlv(0x02, ascii('abc')).slice(0, 5)]),
    decidedAt: 16 + 12 + 5,
    reason: /TLV runs past/,
  },
  { name: 'a wrong CRC32c', bytes: badCrc, decidedAt: badCrc.length, reason: /CRC32c checksum does not match/ },
  {
    name: 'a 3-byte CRC32c TLV',
    bytes: v2(PROXY_TCP4, 0x11, [...V4, ...tlv(0x03, [0, 0, 0])]),
    decidedAt: 16 + 12 + 6,
    reason: /CRC32c TLV is not 4 bytes/,
  },
  {
    name: 'a bad TLV after a correct CRC32c still fails',
    bytes: v2(PROXY_TCP4, 0x11, [...V4, ...tlv(0x04, []), 0xee]),
    decidedAt: 16 + 12 + 4,
    reason: /TLV runs past/,
  },
];

await t.test('invalid headers are refused after the bytes that decide them, and stay refused', (t) => {
  for (const c of BAD) {
    t.ok(c.decidedAt <= c.bytes.length, `${c.name}: fixture`);
    for (let n = 0; n < c.decidedAt; n++) {
      const r = parseProxyHeader(c.bytes.subarray(0, n));
      if (r.kind !== 'need-more') t.fail(`${c.name}: ${n} bytes gave ${JSON.stringify(r)}`);
    }
    const at = parseProxyHeader(c.bytes.subarray(0, c.decidedAt));
    t.match(at, { kind: 'invalid', reason: c.reason }, `${c.name}: invalid at ${c.decidedAt} bytes`);
    t.strictSame(parseProxyHeader(Buffer.concat([c.bytes, HELLO_START])), at, `${c.name}: the same with everything`);
    t.equal(decidedIsFinal(c.bytes), undefined, `${c.name}: final once decided`);
  }
  t.end();
});

await t.test('need-more is bounded: a v2 length is waited for, never more', (t) => {
  t.equal(parseProxyHeader(BIG.subarray(0, PROXY_V2_MAX_BYTES - 1)).kind, 'need-more');
  t.equal(parseProxyHeader(Buffer.concat([BIG, Buffer.alloc(100)])).kind, 'ok');
  // A LOCAL header's length is honoured too (spec: "must not assume zero is presented").
  const local = v2(LOCAL, 0x00, new Array<number>(300).fill(0x55));
  t.equal(parseProxyHeader(local.subarray(0, 315)).kind, 'need-more');
  t.strictSame(parseProxyHeader(local), ok({ version: 2, command: 'local' }, 316));
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Round trips through a tiny encoder, with addresses compared to node's own formatting.

const ipv4Arb = fc.uint8Array({ minLength: 4, maxLength: 4 });
// Zero groups are frequent so that the "::" rules are exercised.
const ipv6Arb = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .chain((w) => fc.constantFrom(w, [0, 0, 0, 0, 0, 0xffff, ...w.slice(6)])) // sometimes IPv4-mapped
  .map((w) => Uint8Array.from(w.flatMap((x) => u16(x))));
const portArb = fc.integer({ min: 0, max: 0xffff });

const words = (b: Uint8Array): number[] => Array.from({ length: 8 }, (_, i) => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
/** Expected canonical text: WHATWG URL serialises IPv6 per RFC 5952, except the mapped form. */
function canonical(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  if (isMapped(b)) return `::ffff:${b.subarray(12).join('.')}`;
  return new URL(`http://[${words(b).map((w) => w.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}
/** Ways a sender may write an IPv6 address in a v1 line (§2.1). */
const ipv6Texts = (b: Uint8Array): string[] => {
  const w = words(b);
  const quad = b.subarray(12).join('.');
  return [
    w.map((x) => x.toString(16).padStart(4, '0').toUpperCase()).join(':'), // full, upper case
    new URL(`http://[${w.map((x) => x.toString(16)).join(':')}]/`).hostname.slice(1, -1), // compressed
    `${w.slice(0, 6).map((x) => x.toString(16)).join(':')}:${quad}`, // low 32 bits as a dotted quad
  ];
};

await t.test('round trip: random v1 TCP4/TCP6 lines', (t) => {
  fc.assert(
    fc.property(fc.boolean(), ipv4Arb, ipv4Arb, ipv6Arb, ipv6Arb, portArb, portArb, fc.nat(2), (six, a4, b4, a6, b6, sp, dp, form) => {
      const [src, dst] = six ? [a6, b6] : [a4, b4];
      const text = (x: Uint8Array): string => (six ? ipv6Texts(x)[form] ?? '' : x.join('.'));
      const line = Buffer.from(`PROXY TCP${six ? 6 : 4} ${text(src)} ${text(dst)} ${sp} ${dp}\r\n`);
      const want = proxied(1, addrs(six ? 'ipv6' : 'ipv4', canonical(src), sp, canonical(dst), dp));
      if (line.length > PROXY_V1_MAX_BYTES) return parseProxyHeader(line).kind === 'invalid';
      const r = parseProxyHeader(Buffer.concat([line, HELLO_START]));
      return isDeepStrictEqual(r, ok(want, line.length)) && decidedIsFinal(line) === undefined;
    }),
    runs(400),
  );
  t.pass('v1 round trips');
  t.end();
});

const tlvArb = fc
  .tuple(fc.integer({ min: 0, max: 0xff }).filter((x) => x !== 0x03), fc.uint8Array({ maxLength: 40 }))
  .map(([type, value]) => tlv(type, [...value]));

await t.test('round trip: random v2 TCP headers with random TLVs and a CRC32c', (t) => {
  fc.assert(
    fc.property(
      fc.boolean(), ipv4Arb, ipv4Arb, ipv6Arb, ipv6Arb, portArb, portArb, fc.array(tlvArb, { maxLength: 5 }), fc.boolean(),
      (six, a4, b4, a6, b6, sp, dp, tlvs, crc) => {
        const [src, dst] = six ? [a6, b6] : [a4, b4];
        const block = ipBlock([...src], [...dst], sp, dp);
        const rest = [...block, ...tlvs.flat(), ...(crc ? tlv(0x03, [0, 0, 0, 0]) : [])];
        const header = v2(PROXY_TCP4, six ? 0x21 : 0x11, rest);
        if (crc) sealCrc(header, header.length - 7);
        const want = proxied(2, addrs(six ? 'ipv6' : 'ipv4', canonical(src), sp, canonical(dst), dp));
        const r = parseProxyHeader(Buffer.concat([header, HELLO_START]));
        return isDeepStrictEqual(r, ok(want, header.length)) && decidedIsFinal(header) === undefined;
      },
    ),
    runs(300),
  );
  t.pass('v2 round trips');
  t.end();
});

await t.test('the CRC32c reference matches the RFC 3720 check value', (t) => {
  t.equal(crc32cRef(Buffer.from('123456789')), 0xe3069283);
  t.end();
});

// Address text acceptance agrees with node:net (inet_pton rules) on near-valid strings.
await t.test('v1 address text is accepted exactly when node:net accepts it', (t) => {
  const edit = fc.tuple(fc.nat(60), fc.constantFrom('', ':', '.', '0', 'f', 'F', 'g', '::', '00000', '1.2.3.4', '256', '01'));
  const nearIpv6 = fc
    .tuple(ipv6Arb, fc.nat(2), fc.array(edit, { maxLength: 2 }), fc.boolean())
    .map(([b, form, edits, replace]) =>
      edits.reduce((str, [at, ins]) => {
        const i = at % (str.length + 1);
        return str.slice(0, i) + ins + str.slice(replace ? i + 1 : i);
      }, ipv6Texts(b)[form] ?? ''));
  const nearIpv4 = fc
    .tuple(ipv4Arb, fc.array(edit, { maxLength: 2 }))
    .map(([b, edits]) => edits.reduce((str, [at, ins]) => str.slice(0, at % (str.length + 1)) + ins + str.slice(at % (str.length + 1)), b.join('.')));
  let accepted6 = 0;
  let accepted4 = 0;
  let tried = 0;
  fc.assert(
    fc.property(nearIpv6, nearIpv4, (a6, a4) => {
      tried++;
      const r6 = parseProxyHeader(Buffer.from(`PROXY TCP6 ${a6} ::1 1 2\r\n`));
      const r4 = parseProxyHeader(Buffer.from(`PROXY TCP4 ${a4} 1.2.3.4 1 2\r\n`));
      if (r6.kind === 'ok') accepted6++;
      if (r4.kind === 'ok') accepted4++;
      const same6 = (r6.kind === 'ok') === (isIPv6(a6) && !a6.includes('%'));
      const same4 = (r4.kind === 'ok') === isIPv4(a4);
      const canonical6 = (): boolean =>
        r6.kind !== 'ok' || r6.value.command !== 'proxy' || r6.value.addresses.sourceAddress === canonical(ipBytes6(a6));
      return same6 && same4 && canonical6();
    }),
    runs(1000),
  );
  t.comment(`accepted: ${accepted6} IPv6, ${accepted4} IPv4 of ${tried} each`);
  t.ok(accepted6 > tried / 20 && accepted4 > tried / 20 && accepted6 < tried && accepted4 < tried, 'both valid and invalid strings were tried');
  t.end();
});

/** IPv6 text to bytes on the oracle side: WHATWG URL parses it, then the "::" is expanded. */
function ipBytes6(text: string): Uint8Array {
  const full = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const [head = '', tail = ''] = full.split('::');
  const h = head === '' ? [] : head.split(':');
  const tl = tail === '' ? [] : tail.split(':');
  const w = full.includes('::') ? [...h, ...new Array<string>(8 - h.length - tl.length).fill('0'), ...tl] : h;
  return Uint8Array.from(w.flatMap((x) => u16(parseInt(x, 16))));
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

const printable = fc.uint8Array({ maxLength: 120 }).map((b) => b.map((x) => (x % 3 === 0 ? 0x20 : 0x21 + (x % 94))));
const anyInput = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  printable.map((b) => Buffer.concat([Buffer.from('PROXY '), b])),
  fc.tuple(fc.constantFrom('TCP4 ', 'TCP6 ', 'UNKNOWN'), fc.stringMatching(/^[0-9a-fA-F:. \r\n]{0,110}$/))
    .map(([p, rest]) => Buffer.from(`PROXY ${p}${rest}`, 'latin1')),
  fc.tuple(fc.integer({ min: 0x20, max: 0x21 }), fc.integer({ min: 0, max: 0x33 }), fc.uint8Array({ maxLength: 120 }))
    .map(([verCmd, fam, rest]) => Buffer.concat([Buffer.from(SIG), Buffer.from([verCmd, fam, 0, rest.length % 80]), rest])),
);

await t.test('random input never throws, and a decided answer is final', (t) => {
  fc.assert(
    fc.property(anyInput, (b) => decidedIsFinal(b) === undefined),
    runs(1500),
  );
  t.pass('no throw, well-formed, final');
  t.end();
});

await t.test('single-byte mutations of valid headers never throw, and a decided answer is final', (t) => {
  const small = VALID.filter((v) => v.bytes.length < 1000);
  fc.assert(
    fc.property(fc.nat(small.length - 1), fc.nat(), fc.integer({ min: 0, max: 0xff }), (which, at, value) => {
      const base = small[which]?.bytes ?? Buffer.alloc(0);
      const b = Buffer.from(base);
      b[at % b.length] = value;
      return decidedIsFinal(b) === undefined;
    }),
    runs(1500),
  );
  // The checksum covers every byte, so any single change is refused, except one to the CRC
  // TLV's own type byte: that makes it another TLV type, which is skipped.
  const crcType = 16 + 12;
  let accepted = 0;
  for (let at = 0; at < WITH_CRC.length; at++) {
    for (const delta of [1, 0x80]) {
      const b = Buffer.from(WITH_CRC);
      b[at] = ((b[at] ?? 0) + delta) & 0xff;
      const r = parseProxyHeader(b);
      if (r.kind === 'ok' && at !== crcType) t.fail(`byte ${at} + ${delta} accepted: ${JSON.stringify(r)}`);
      if (r.kind === 'ok') accepted++;
    }
  }
  t.equal(accepted, 2, 'only the changes to the CRC TLV type byte parse');
  t.end();
});

// ---------------------------------------------------------------------------------------------
// A real header from HAProxy (send-proxy / send-proxy-v2 with a CRC32c), when it is installed.

const CAPTURE_LIMIT_MS = 10_000;
const haproxy = await run('haproxy', ['-v'], { timeoutMs: 5_000 });
const noHaproxy = haproxy.code === 0 ? false : 'haproxy is not installed (the suite does not install packages)';

/** Runs HAProxy in front of a loopback listener and returns what the listener received first. */
async function captureHaproxy(serverOptions: string): Promise<{ bytes: Buffer; clientPort: number; frontendPort: number }> {
  const marker = Buffer.from('MARK');
  const received: Buffer[] = [];
  let onData: () => void = () => {};
  const got = new Promise<void>((resolve) => { onData = resolve; });
  const sockets = new Set<Socket>();
  const backend = createServer((sock) => {
    sock.on('error', () => {});
    sockets.add(sock);
    sock.on('data', (d: Buffer) => {
      received.push(d);
      if (Buffer.concat(received).includes(marker)) onData();
    });
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const backendPort = (backend.address() as AddressInfo).port;
  const frontendPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  const pidFile = join(dir, 'haproxy.pid');
  writeFileSync(cfg, [
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend fe',
    `  bind 127.0.0.1:${frontendPort}`,
    '  default_backend be',
    'backend be',
    `  server origin 127.0.0.1:${backendPort} ${serverOptions}`,
    '',
  ].join('\n'));
  // -D: the parent exits once the listeners are bound, so the exit is the readiness signal.
  const started = await run('haproxy', ['-D', '-p', pidFile, '-f', cfg], { timeoutMs: CAPTURE_LIMIT_MS });
  let client: Socket | undefined;
  try {
    if (started.code !== 0) throw new Error(`haproxy did not start: ${started.stderr}`);
    client = connect(frontendPort, '127.0.0.1');
    client.on('error', () => {});
    await once(client, 'connect');
    client.write(marker);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nothing from haproxy within ${CAPTURE_LIMIT_MS} ms`)), CAPTURE_LIMIT_MS);
    });
    await Promise.race([got, limit]).finally(() => clearTimeout(timer));
    const all = Buffer.concat(received);
    return { bytes: all.subarray(0, all.indexOf(marker)), clientPort: client.localPort ?? -1, frontendPort };
  } finally {
    client?.destroy();
    // Stop the HAProxy this test started, by the pid it wrote.
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGTERM');
    for (const sock of sockets) sock.destroy();
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const [name, options, version] of [
  ['HAProxy send-proxy (v1)', 'send-proxy', 1],
  ['HAProxy send-proxy-v2 with proxy-v2-options crc32c', 'send-proxy-v2 proxy-v2-options crc32c', 2],
] as const) {
  await t.test(`a real header from ${name}`, { skip: noHaproxy }, async (t) => {
    const { bytes, clientPort, frontendPort } = await captureHaproxy(options);
    t.comment(`${name}: ${bytes.toString('hex')}`);
    const want = proxied(version, addrs('ipv4', '127.0.0.1', clientPort, '127.0.0.1', frontendPort));
    t.strictSame(parseProxyHeader(Buffer.concat([bytes, Buffer.from('MARK')])), ok(want, bytes.length));
    t.equal(decidedIsFinal(bytes), undefined);
  });
}

t.comment(casesComment());
