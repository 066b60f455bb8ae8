import t from 'tap';
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { getExtensionData, readTlsClientHello } from 'read-tls-client-hello';
import {
  ClientHelloAccumulator,
  MAX_HELLO_BYTES,
  parseClientHello,
  type ClientHello,
  type HelloResult,
} from '../../src/sniff/client-hello.js';
import {
  captureCurl, captureNodeTls, captureOpenssl, echOuterExtension, EXT_ENCRYPTED_CLIENT_HELLO, withExtension,
} from '../helpers/hello-capture.js';
import { casesComment, chunked, runs, seedComment } from '../helpers/parser-properties.js';

// ---------------------------------------------------------------------------------------------
// Byte builders. Each follows the TLS presentation language: vecN is a vector with an N-byte
// length prefix (RFC 8446 §3.4).
type Bytes = number[];
const u16 = (n: number): Bytes => [(n >> 8) & 0xff, n & 0xff];
const u24 = (n: number): Bytes => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const vec8 = (b: Bytes): Bytes => [b.length, ...b];
const vec16 = (b: Bytes): Bytes => [...u16(b.length), ...b];
const ascii = (s: string): Bytes => [...Buffer.from(s, 'latin1')];

/** Extension: extension_type(2) extension_data<0..2^16-1> (RFC 8446 §4.2). */
const extension = (type: number, data: Bytes): Bytes => [...u16(type), ...vec16(data)];
/** server_name (RFC 6066 §3): server_name_list<1..2^16-1> of name_type(1) HostName<1..2^16-1>. */
const sniEntries = (...entries: [number, Bytes][]): Bytes =>
  extension(0, vec16(entries.flatMap(([type, name]) => [type, ...vec16(name)])));
const sni = (name: string): Bytes => sniEntries([0, ascii(name)]);
/** ALPN (RFC 7301 §3.1): protocol_name_list<2..2^16-1> of ProtocolName<1..2^8-1>. */
const alpnExt = (...names: string[]): Bytes => extension(16, vec16(names.flatMap((n) => vec8(ascii(n)))));
/** supported_versions (RFC 8446 §4.2.1), ClientHello form: versions<2..254>. */
const versionsExt = (...v: number[]): Bytes => extension(43, vec8(v.flatMap(u16)));

interface Parts {
  legacyVersion?: number;
  sessionId?: Bytes;
  cipherSuites?: Bytes; // raw bytes, so that odd lengths can be built
  compression?: Bytes;
  extensions?: Bytes[] | null; // whole extensions; null: no extensions block at all
  afterExtensions?: Bytes; // bytes after the block, inside the message
}

/** ClientHello body (RFC 8446 §4.1.2), field by field. */
function clientHelloBody(p: Parts = {}): Bytes {
  return [
    ...u16(p.legacyVersion ?? 0x0303), // legacy_version: TLS 1.2
    ...new Array<number>(32).fill(0x11), // random
    ...vec8(p.sessionId ?? []), // legacy_session_id<0..32>
    ...vec16(p.cipherSuites ?? [0x13, 0x01]), // cipher_suites: TLS_AES_128_GCM_SHA256
    ...vec8(p.compression ?? [0x00]), // legacy_compression_methods: null(0)
    ...(p.extensions === null ? [] : vec16((p.extensions ?? []).flat())), // extensions
    ...(p.afterExtensions ?? []),
  ];
}
/** Handshake (RFC 8446 §4): msg_type(1) length(3) body. */
const handshake = (body: Bytes, type = 0x01): Bytes => [type, ...u24(body.length), ...body];
/** TLSPlaintext (RFC 8446 §5.1): type(1) legacy_record_version(2) length(2) fragment. */
const record = (fragment: Bytes | Uint8Array, type = 22, version = 0x0301, length = fragment.length): Buffer =>
  Buffer.concat([Buffer.from([type, ...u16(version), ...u16(length)]), Buffer.from(fragment)]);
/** A handshake message cut into handshake records at the given message offsets. */
function frame(message: Bytes | Uint8Array, cuts: readonly number[] = []): Buffer {
  const m = Buffer.from(message);
  const bounds = [0, ...cuts, m.length];
  const records: Buffer[] = [];
  for (let i = 1; i < bounds.length; i++) records.push(record(m.subarray(bounds[i - 1], bounds[i])));
  return Buffer.concat(records);
}
/** Records of at most `max` bytes each. */
function frameMax(message: Uint8Array, max = 2 ** 14): Buffer {
  const cuts: number[] = [];
  for (let at = max; at < message.length; at += max) cuts.push(at);
  return frame(message, cuts);
}
const hello = (p: Parts = {}): Buffer => frame(handshake(clientHelloBody(p)));

/** The handshake message carried by well-formed records (test-side walk, independent of the parser). */
function messageOf(records: Uint8Array): Buffer {
  const b = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  const parts: Buffer[] = [];
  for (let at = 0; at + 5 <= b.length; at += 5 + b.readUInt16BE(at + 3)) {
    parts.push(b.subarray(at + 5, at + 5 + b.readUInt16BE(at + 3)));
  }
  return Buffer.concat(parts);
}

// A minimal ClientHello asking for "example.com", annotated field by field.
const MINIMAL = Buffer.from([
  // TLSPlaintext (RFC 8446 §5.1)
  0x16, //              type: handshake(22)
  0x03, 0x01, //        legacy_record_version: 0x0301, as clients send in the first record
  0x00, 0x43, //        length: 67
  // Handshake (RFC 8446 §4)
  0x01, //              msg_type: client_hello(1)
  0x00, 0x00, 0x3f, //  length: 63
  // ClientHello (RFC 8446 §4.1.2)
  0x03, 0x03, //        legacy_version: TLS 1.2
  ...new Array<number>(32).fill(0x11), // random
  0x00, //              legacy_session_id: empty
  0x00, 0x02, //        cipher_suites length: 2
  0x13, 0x01, //          TLS_AES_128_GCM_SHA256
  0x01, //              legacy_compression_methods length: 1
  0x00, //                null
  0x00, 0x14, //        extensions length: 20
  0x00, 0x00, //          extension_type: server_name(0)
  0x00, 0x10, //          extension_data length: 16
  0x00, 0x0e, //            server_name_list length: 14 (RFC 6066 §3)
  0x00, //                    name_type: host_name(0)
  0x00, 0x0b, //              HostName length: 11
  ...ascii('example.com'),
]);

// ---------------------------------------------------------------------------------------------
// Driving the parser.
const feed = (chunks: readonly Uint8Array[]): HelloResult => {
  const acc = new ClientHelloAccumulator();
  let result: HelloResult = { kind: 'need-more' };
  for (const c of chunks) result = acc.push(c);
  return result;
};
const splitAt = (b: Uint8Array, cuts: readonly number[]): Uint8Array[] => {
  const bounds = [0, ...cuts, b.length];
  return bounds.slice(1).map((end, i) => b.subarray(bounds[i], end));
};
const byteByByte = (b: Uint8Array): Uint8Array[] => Array.from(b, (_, i) => b.subarray(i, i + 1));
/** The result is one of the three variants, with sane fields. */
function wellFormed(r: HelloResult, inputBytes: number): boolean {
  switch (r.kind) {
    case 'need-more': return true;
    case 'invalid': return typeof r.reason === 'string' && r.reason !== '' && typeof r.notTls === 'boolean';
    case 'ok': return r.consumed > 0 && r.consumed <= inputBytes && r.consumed <= MAX_HELLO_BYTES;
    default: return false;
  }
}
/** Once decided, a result does not depend on any byte after the ones that decided it. */
function prefixStable(b: Uint8Array, extra: Uint8Array): boolean {
  const r = parseClientHello(b);
  if (r.kind === 'need-more') return true;
  if (r.kind === 'ok' && !isDeepStrictEqual(parseClientHello(b.subarray(0, r.consumed)), r)) return false;
  return isDeepStrictEqual(parseClientHello(Buffer.concat([b, extra])), r);
}

async function viaLibrary(bytes: Buffer): Promise<{ serverName: string | null; alpn: string[] }> {
  const stream = new PassThrough();
  stream.end(bytes);
  const m = await readTlsClientHello(stream);
  return { serverName: getExtensionData(m, 0)?.serverName ?? null, alpn: getExtensionData(m, 16)?.protocols ?? [] };
}

t.comment(seedComment());

// ---------------------------------------------------------------------------------------------
// Real hellos, captured now from the clients installed here.
interface RealFixture {
  readonly name: string;
  readonly bytes: Buffer;
  readonly serverName: string | null;
  readonly alpn: readonly string[];
}
const REAL: readonly RealFixture[] = [
  {
    name: 'node:tls with SNI and ALPN',
    bytes: await captureNodeTls({ servername: 'registry.example.com', alpn: ['h2', 'http/1.1'] }),
    serverName: 'registry.example.com',
    alpn: ['h2', 'http/1.1'],
  },
  { name: 'node:tls without SNI', bytes: await captureNodeTls({ servername: '' }), serverName: null, alpn: [] },
  {
    name: 'openssl s_client -servername (mixed case) -alpn h2',
    bytes: await captureOpenssl(['-servername', 'Registry-VPC.CN-Beijing.aliyuncs.com', '-alpn', 'h2']),
    serverName: 'registry-vpc.cn-beijing.aliyuncs.com',
    alpn: ['h2'],
  },
  { name: 'openssl s_client -noservername', bytes: await captureOpenssl(['-noservername']), serverName: null, alpn: [] },
  {
    name: 'curl',
    bytes: await captureCurl('registry.example.com'),
    serverName: 'registry.example.com',
    alpn: ['h2', 'http/1.1'],
  },
];

function realFixture(i: number): RealFixture {
  const f = REAL[i];
  if (f === undefined) throw new Error(`no real fixture ${i}`);
  return f;
}

await t.test('real hellos parse whole, and agree with read-tls-client-hello', async (t) => {
  for (const f of REAL) {
    t.comment(`${f.name}: ${f.bytes.length} bytes`);
    const r = parseClientHello(f.bytes);
    if (r.kind !== 'ok') {
      t.fail(`${f.name}: ${JSON.stringify(r)}`);
      continue;
    }
    t.equal(r.consumed, f.bytes.length, `${f.name}: consumed`);
    t.strictSame(
      { serverName: r.value.serverName, sniError: r.value.sniError, alpn: r.value.alpn, recordCount: r.value.recordCount },
      { serverName: f.serverName, sniError: null, alpn: f.alpn, recordCount: 1 },
      f.name,
    );
    t.equal(r.value.legacyVersion, 0x0303, `${f.name}: legacy_version`);
    t.ok(r.value.versions.includes(0x0304), `${f.name}: offers TLS 1.3`);
    t.equal(r.value.ech, false, `${f.name}: no ECH`);
    const lib = await viaLibrary(f.bytes);
    t.equal(r.value.serverName, lib.serverName?.toLowerCase() ?? null, `${f.name}: SNI as the library reads it`);
    t.strictSame(r.value.alpn, lib.alpn, `${f.name}: ALPN as the library reads it`);
  }
  t.end();
});

await t.test('encrypted_client_hello on a real hello is reported; the name stays the outer SNI', async (t) => {
  // No client installed here sends ECH, so the extension is added to a node:tls hello. The
  // outer SNI is what a client really using ECH puts there: the provider's public name.
  const plain = await captureNodeTls({ servername: 'ech-public.example.net' });
  const b = withExtension(plain, EXT_ENCRYPTED_CLIENT_HELLO, echOuterExtension());
  const r = parseClientHello(b);
  t.match(r, { kind: 'ok', consumed: b.length, value: { serverName: 'ech-public.example.net', ech: true } });
  t.match(parseClientHello(plain), { kind: 'ok', value: { ech: false } }, 'the same hello without it');
  const lib = await viaLibrary(b);
  t.equal(lib.serverName, 'ech-public.example.net', 'the library reads the hello with the extension the same way');
  t.end();
});

await t.test('real hellos give the same result split at every offset and byte by byte', (t) => {
  for (const f of REAL) {
    const whole = parseClientHello(f.bytes);
    let mismatches = 0;
    for (let cut = 0; cut <= f.bytes.length; cut++) {
      if (!isDeepStrictEqual(feed(splitAt(f.bytes, [cut])), whole)) mismatches++;
    }
    t.equal(mismatches, 0, `${f.name}: every 2-chunk split`);
    const acc = new ClientHelloAccumulator();
    const answers = byteByByte(f.bytes).map((c) => acc.push(c).kind);
    t.strictSame(answers.slice(0, -1).filter((k) => k !== 'need-more'), [], `${f.name}: need-more until the last byte`);
    t.strictSame(acc.push(new Uint8Array(0)), whole, `${f.name}: byte by byte`);
    t.ok(acc.buffered.equals(f.bytes), `${f.name}: buffered keeps every byte`);
    t.equal(acc.bufferedBytes, f.bytes.length);
  }
  t.end();
});

await t.test('every strict prefix of a real hello is need-more', (t) => {
  for (const f of REAL) {
    const early: number[] = [];
    for (let n = 0; n < f.bytes.length; n++) if (parseClientHello(f.bytes.subarray(0, n)).kind !== 'need-more') early.push(n);
    t.strictSame(early, [], f.name);
  }
  t.end();
});

await t.test('real hellos re-framed into 2 and 3 records parse the same', (t) => {
  for (const f of REAL) {
    const whole = parseClientHello(f.bytes);
    if (whole.kind !== 'ok') continue;
    const m = messageOf(f.bytes);
    const third = Math.floor(m.length / 3);
    for (const cuts of [[1], [4], [5], [Math.floor(m.length / 2)], [m.length - 1], [third, 2 * third], [2, 3]]) {
      const b = frame(m, cuts);
      t.strictSame(
        parseClientHello(b),
        { kind: 'ok', value: { ...whole.value, recordCount: cuts.length + 1 }, consumed: f.bytes.length + 5 * cuts.length },
        `${f.name}: records cut at ${cuts.join(',')}`,
      );
      t.strictSame(feed(byteByByte(b)), parseClientHello(b), `${f.name}: cut at ${cuts.join(',')}, byte by byte`);
      let early = 0;
      for (let n = 0; n < b.length; n++) if (parseClientHello(b.subarray(0, n)).kind !== 'need-more') early++;
      t.equal(early, 0, `${f.name}: cut at ${cuts.join(',')}, every strict prefix is need-more`);
    }
  }
  t.end();
});

await t.test('pipelined bytes after the hello are left out of consumed and kept in buffered', (t) => {
  const ccs = record([0x01], 20, 0x0303); // change_cipher_spec(20), as TLS 1.3 middlebox compatibility sends
  for (const f of [...REAL.map((x) => x.bytes), MINIMAL]) {
    const b = Buffer.concat([f, ccs, Buffer.from('early data')]);
    const r = parseClientHello(b);
    t.equal(r.kind === 'ok' && r.consumed, f.length);
    const acc = new ClientHelloAccumulator();
    for (const c of splitAt(b, [f.length - 1, f.length + 3])) acc.push(c);
    t.ok(acc.buffered.equals(b));
    t.strictSame(acc.push(Buffer.from('more')), r, 'a decided result is final');
    t.equal(acc.bufferedBytes, b.length + 4, 'later chunks are still buffered');
  }
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Big hellos (post-quantum key shares make real ones pass 1 KiB; the cap is 64 KiB).

/** A real hello's handshake message with a padding extension (RFC 7685, type 21) put first. */
function padded(hello: Uint8Array, padBytes: number): Buffer {
  const m = messageOf(hello);
  let at = 4 + 2 + 32; // handshake header, legacy_version, random
  at += 1 + (m[at] ?? 0); // legacy_session_id
  at += 2 + m.readUInt16BE(at); // cipher_suites
  at += 1 + (m[at] ?? 0); // legacy_compression_methods
  const pad = Buffer.from(extension(21, new Array<number>(padBytes).fill(0)));
  const out = Buffer.concat([m.subarray(0, at), Buffer.from(u16(m.readUInt16BE(at) + pad.length)), pad, m.subarray(at + 2)]);
  out.writeUIntBE(out.length - 4, 1, 3); // handshake length
  return out;
}

await t.test('a hello past 16 KiB spans records and parses', (t) => {
  const base = realFixture(0); // node:tls sends no padding extension of its own
  const b = frameMax(padded(base.bytes, 20_000));
  t.ok(b.length > 2 ** 14 + 5);
  const r = parseClientHello(b);
  t.match(r, { kind: 'ok', consumed: b.length, value: { recordCount: 2, serverName: base.serverName } });
  t.strictSame(feed(splitAt(b, [3, 16389, 16391, 20000])), r, 'split inside the second record header');
  t.end();
});

await t.test('a hello of exactly 64 KiB of records parses; one byte more is invalid at once', (t) => {
  const base = realFixture(0);
  // 4 full-size records carry a 65516-byte message in 65516 + 4 * 5 = 65536 bytes.
  const msgBytes = MAX_HELLO_BYTES - 4 * 5;
  const padBytes = msgBytes - messageOf(base.bytes).length - 4;
  const atCap = frameMax(padded(base.bytes, padBytes));
  t.equal(atCap.length, MAX_HELLO_BYTES);
  const r = parseClientHello(atCap);
  t.match(r, { kind: 'ok', consumed: MAX_HELLO_BYTES, value: { recordCount: 4, serverName: base.serverName } });
  // One byte per push over the whole 64 KiB: the accumulator does O(total) work.
  t.strictSame(feed(byteByByte(atCap)), r, 'byte by byte');

  const over = frameMax(padded(base.bytes, padBytes + 1));
  t.equal(over.length, MAX_HELLO_BYTES + 1);
  t.match(parseClientHello(over), { kind: 'invalid', notTls: false, reason: /64 KiB/ });
  // Known from the handshake length alone: record header (5) + handshake header (4).
  t.equal(parseClientHello(over.subarray(0, 8)).kind, 'need-more');
  t.match(parseClientHello(over.subarray(0, 9)), { kind: 'invalid', reason: /64 KiB/ });
  // The 64 KiB message in smaller records needs more header bytes than the cap leaves.
  const smaller = frameMax(padded(base.bytes, padBytes), 13_104);
  t.match(parseClientHello(smaller), { kind: 'invalid', notTls: false, reason: /64 KiB/ });
  t.match(parseClientHello(smaller.subarray(0, 9)), { kind: 'invalid', reason: /64 KiB/ });
  t.end();
});

await t.test('a handshake length larger than the cap is invalid after 9 bytes', (t) => {
  // record header, then msg_type client_hello, length 0xffffff
  const b = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff]);
  t.match(parseClientHello(b), { kind: 'invalid', notTls: false, reason: /64 KiB/ });
  t.end();
});

await t.test('a record that wastes capacity is invalid at its header', (t) => {
  const base = realFixture(0);
  // The 65516-byte message fits in 4 full records (exactly 64 KiB); a short third record means a
  // fifth header, 5 bytes over the cap, which is known when the third header arrives.
  const m = padded(base.bytes, MAX_HELLO_BYTES - 20 - messageOf(base.bytes).length - 4);
  const b = frame(m, [2 ** 14, 2 ** 15, 2 ** 15 + 16_000]);
  const thirdHeaderEnd = 3 * 5 + 2 ** 15;
  t.equal(parseClientHello(b.subarray(0, thirdHeaderEnd - 1)).kind, 'need-more');
  t.match(parseClientHello(b.subarray(0, thirdHeaderEnd)), { kind: 'invalid', notTls: false, reason: /64 KiB/ });
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Not TLS: decided after the fewest bytes possible, with notTls set (no TLS alert then).

interface NotTlsCase {
  readonly name: string;
  readonly bytes: Bytes;
  readonly decidedAt: number; // the first prefix length that is invalid
}
const NOT_TLS: NotTlsCase[] = [
  { name: 'plain HTTP', bytes: ascii('GET / HTTP/1.1\r\nHost: registry.example.com\r\n\r\n'), decidedAt: 1 },
  {
    name: 'SSLv2-compatible hello',
    bytes: [
      0x80, 0x2e, //       2-byte header, high bit set: msg_length 46
      0x01, //             msg_type: client_hello
      0x03, 0x01, //       version: TLS 1.0
      0x00, 0x15, //       cipher_spec_length: 21
      0x00, 0x00, //       session_id_length: 0
      0x00, 0x10, //       challenge_length: 16
      ...new Array<number>(21 + 16).fill(0x22),
    ],
    decidedAt: 1,
  },
  { name: 'TLS alert record', bytes: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], decidedAt: 1 }, // fatal handshake_failure
  { name: 'application_data record', bytes: [0x17, 0x03, 0x03, 0x00, 0x01, 0x00], decidedAt: 1 },
  { name: 'PROXY v1 header', bytes: ascii('PROXY TCP4 192.0.2.1 192.0.2.2 51514 443\r\n'), decidedAt: 1 },
  { name: 'SSH banner', bytes: ascii('SSH-2.0-OpenSSH_9.6\r\n'), decidedAt: 1 },
  { name: 'handshake type, record version major 2', bytes: [0x16, 0x02, 0x00, 0x00, 0x30], decidedAt: 2 },
  { name: 'handshake type, then HTTP', bytes: [0x16, ...ascii('GET / HTTP/1.1\r\n')], decidedAt: 2 },
  { name: 'record length 0', bytes: [0x16, 0x03, 0x01, 0x00, 0x00, 0x01], decidedAt: 5 },
  { name: 'record length 2^14 + 1', bytes: [0x16, 0x03, 0x01, 0x40, 0x01, 0x01, 0x00], decidedAt: 5 },
  { name: 'server_hello instead of client_hello', bytes: [0x16, 0x03, 0x03, 0x00, 0x30, 0x02, 0x00, 0x00, 0x2c], decidedAt: 6 },
];

await t.test('not TLS: invalid with notTls after the minimum bytes', (t) => {
  const garbage = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 64 }).filter((b) => b[0] !== 0x16), runs(50));
  const cases = [...NOT_TLS, ...garbage.map((b, i) => ({ name: `random garbage #${i}`, bytes: [...b], decidedAt: 1 }))];
  for (const c of cases) {
    const b = Buffer.from(c.bytes);
    const whole = parseClientHello(b);
    t.match(whole, { kind: 'invalid', notTls: true }, c.name);
    for (let n = 0; n < c.decidedAt; n++) t.equal(parseClientHello(b.subarray(0, n)).kind, 'need-more', `${c.name}: ${n} bytes`);
    t.strictSame(parseClientHello(b.subarray(0, c.decidedAt)), whole, `${c.name}: decided at ${c.decidedAt} bytes`);
    const acc = new ClientHelloAccumulator();
    const kinds = byteByByte(b.subarray(0, c.decidedAt)).map((x) => acc.push(x).kind);
    t.strictSame(kinds, [...new Array<string>(c.decidedAt - 1).fill('need-more'), 'invalid'], `${c.name}: accumulator`);
  }
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Strictness, on hand-built hellos (as strict as Go's clientHelloMsg.unmarshal where routing
// depends on it).

const name253 = ['a', 'b', 'c'].map((c) => c.repeat(63)).join('.') + '.' + 'd'.repeat(61);
type WantOk = { kind: 'ok'; value: Partial<Omit<ClientHello, 'sniError'>> & { sniError?: RegExp | null } };
type WantInvalid = { kind: 'invalid'; reason: RegExp };
interface StrictCase {
  readonly name: string;
  readonly bytes: Buffer;
  readonly want: WantOk | WantInvalid;
}
const ok = (value: WantOk['value']): WantOk => ({ kind: 'ok', value });
const bad = (reason: RegExp): WantInvalid => ({ kind: 'invalid', reason });
const withSni = (name: string | Bytes): Buffer =>
  hello({ extensions: [typeof name === 'string' ? sni(name) : sniEntries([0, name])] });
const longMsg = handshake(clientHelloBody({ extensions: [sni('example.com'), alpnExt('h2')] }));
const label63 = 'a'.repeat(63);

const STRICT: StrictCase[] = [
  { name: 'annotated minimal hello', bytes: MINIMAL, want: ok({ serverName: 'example.com', sniError: null, alpn: [], versions: [0x0303], legacyVersion: 0x0303, ech: false, recordCount: 1 }) },
  { name: 'no extensions block (RFC 5246 §7.4.1.2 allows it)', bytes: hello({ extensions: null }), want: ok({ serverName: null, sniError: null, alpn: [], versions: [0x0303] }) },
  { name: 'empty extensions block', bytes: hello({ extensions: [] }), want: ok({ serverName: null, sniError: null }) },
  { name: 'session id of 32 bytes', bytes: hello({ sessionId: new Array<number>(32).fill(7), extensions: [sni('example.com')] }), want: ok({ serverName: 'example.com' }) },
  { name: 'upper case and one trailing dot are normalised', bytes: withSni('Registry.Example.COM.'), want: ok({ serverName: 'registry.example.com', sniError: null }) },
  { name: 'a label may not start with a hyphen (as in the config)', bytes: withSni('-cdn.example.com'), want: ok({ serverName: null, sniError: /hyphen/ }) },
  { name: 'a label may not end with a hyphen (as in the config)', bytes: withSni('a-.example.com'), want: ok({ serverName: null, sniError: /hyphen/ }) },
  { name: 'hyphens inside a label', bytes: withSni('xn--bcher-kva.example'), want: ok({ serverName: 'xn--bcher-kva.example' }) },
  { name: 'IPv4 literal', bytes: withSni('192.0.2.1'), want: ok({ serverName: null, sniError: /IPv4/ }) },
  { name: 'short IPv4 form 127.1', bytes: withSni('127.1'), want: ok({ serverName: null, sniError: /IPv4/ }) },
  { name: 'hex IPv4 form', bytes: withSni('0x7f.0.0.0x1'), want: ok({ serverName: null, sniError: /IPv4/ }) },
  { name: 'numeric last label', bytes: withSni('example.123'), want: ok({ serverName: null, sniError: /IPv4/ }) },
  { name: 'numeric labels before a name are fine', bytes: withSni('1.2.3.example.com'), want: ok({ serverName: '1.2.3.example.com' }) },
  { name: 'IPv6 literal', bytes: withSni('2001:db8::1'), want: ok({ serverName: null, sniError: /IPv6/ }) },
  { name: 'bracketed IPv6 literal', bytes: withSni('[::1]'), want: ok({ serverName: null, sniError: /character/ }) },
  { name: 'underscore', bytes: withSni('_acme.example.com'), want: ok({ serverName: null, sniError: /character/ }) },
  { name: 'space', bytes: withSni('example .com'), want: ok({ serverName: null, sniError: /character/ }) },
  { name: 'NUL byte', bytes: withSni([...ascii('example.com'), 0, ...ascii('.evil')]), want: ok({ serverName: null, sniError: /character/ }) },
  { name: 'UTF-8 (not A-label) name', bytes: withSni([...Buffer.from('bücher.example', 'utf8')]), want: ok({ serverName: null, sniError: /character/ }) },
  { name: '253 characters', bytes: withSni(name253), want: ok({ serverName: name253 }) },
  { name: '253 characters and a trailing dot', bytes: withSni(`${name253}.`), want: ok({ serverName: name253 }) },
  { name: '254 characters', bytes: withSni(`${name253}x`), want: ok({ serverName: null, sniError: /253/ }) },
  { name: 'label of 63', bytes: withSni(`${label63}.example`), want: ok({ serverName: `${label63}.example` }) },
  { name: 'label of 64', bytes: withSni(`${label63}a.example`), want: ok({ serverName: null, sniError: /63/ }) },
  { name: 'empty label inside', bytes: withSni('a..example'), want: ok({ serverName: null, sniError: /empty label/ }) },
  { name: 'leading dot', bytes: withSni('.example.com'), want: ok({ serverName: null, sniError: /empty label/ }) },
  { name: 'two trailing dots', bytes: withSni('example.com..'), want: ok({ serverName: null, sniError: /empty label/ }) },
  { name: 'only a dot', bytes: withSni('.'), want: ok({ serverName: null, sniError: /empty/ }) },
  { name: 'unknown name_type entries are skipped', bytes: hello({ extensions: [sniEntries([1, ascii('x')], [0, ascii('example.com')])] }), want: ok({ serverName: 'example.com' }) },
  { name: 'only unknown name_type entries', bytes: hello({ extensions: [sniEntries([1, ascii('example.com')])] }), want: ok({ serverName: null, sniError: /no host_name/ }) },
  {
    name: 'encrypted_client_hello detected',
    // ECHClientHello (draft-ietf-tls-esni §5): type outer(0), kdf_id 1, aead_id 1, config_id 0x2a;
    // enc and payload left out, since the parser only notes that the extension is there.
    bytes: hello({ extensions: [sni('public.example.com'), extension(0xfe0d, [0x00, 0x00, 0x01, 0x00, 0x01, 0x2a])] }),
    want: ok({ serverName: 'public.example.com', ech: true }),
  },
  {
    name: 'supported_versions parsed in order, GREASE kept',
    bytes: hello({ extensions: [versionsExt(0x0a0a, 0x0304, 0x0303)] }),
    want: ok({ versions: [0x0a0a, 0x0304, 0x0303], legacyVersion: 0x0303 }),
  },
  { name: 'ALPN in order', bytes: hello({ extensions: [alpnExt('h2', 'http/1.1')] }), want: ok({ alpn: ['h2', 'http/1.1'] }) },
  {
    name: 'unknown extensions skipped',
    bytes: hello({ extensions: [extension(0x1234, [1, 2, 3]), extension(0x0a0a, []), sni('example.com'), extension(0xff01, [0])] }),
    want: ok({ serverName: 'example.com' }),
  },
  { name: 'handshake header split over 1-byte records', bytes: frame(longMsg, [1, 2, 3]), want: ok({ serverName: 'example.com', alpn: ['h2'], recordCount: 4 }) },
  { name: 'every record 1 byte', bytes: frame(longMsg, longMsg.slice(1).map((_, i) => i + 1)), want: ok({ serverName: 'example.com', recordCount: longMsg.length }) },

  { name: 'duplicate extension', bytes: hello({ extensions: [extension(0x1234, []), sni('example.com'), extension(0x1234, [])] }), want: bad(/duplicate extension/) },
  { name: 'duplicate server_name extension', bytes: hello({ extensions: [sni('a.example'), sni('a.example')] }), want: bad(/duplicate extension/) },
  { name: 'two host_name entries', bytes: hello({ extensions: [sniEntries([0, ascii('a.example')], [0, ascii('b.example')])] }), want: bad(/more than one host_name/) },
  { name: 'empty server_name list', bytes: hello({ extensions: [extension(0, vec16([]))] }), want: bad(/empty server_name list/) },
  { name: 'server_name without data', bytes: hello({ extensions: [extension(0, [])] }), want: bad(/empty server_name list/) },
  { name: 'zero-length host_name', bytes: hello({ extensions: [sniEntries([0, []])] }), want: bad(/malformed server_name/) },
  { name: 'host_name longer than its list', bytes: hello({ extensions: [extension(0, vec16([0, 0, 9, ...ascii('a.b')]))] }), want: bad(/malformed server_name/) },
  { name: 'trailing bytes inside server_name', bytes: hello({ extensions: [extension(0, [...vec16([0, ...vec16(ascii('a.example'))]), 0])] }), want: bad(/trailing bytes in an extension/) },
  { name: 'trailing bytes after the extensions block', bytes: hello({ extensions: [sni('example.com')], afterExtensions: [0] }), want: bad(/extensions block/) },
  { name: 'extension longer than the block', bytes: hello({ extensions: [[0x12, 0x34, 0x00, 0x05, 1, 2]] }), want: bad(/truncated extension/) },
  { name: 'half an extension header', bytes: hello({ extensions: [[0x12]] }), want: bad(/truncated extension/) },
  { name: 'ALPN with an empty protocol name', bytes: hello({ extensions: [extension(16, vec16([0]))] }), want: bad(/ALPN/) },
  { name: 'empty ALPN list', bytes: hello({ extensions: [extension(16, vec16([]))] }), want: bad(/ALPN/) },
  { name: 'ALPN name past its list', bytes: hello({ extensions: [extension(16, vec16([5, 0x68, 0x32]))] }), want: bad(/ALPN/) },
  { name: 'empty supported_versions', bytes: hello({ extensions: [extension(43, vec8([]))] }), want: bad(/supported_versions/) },
  { name: 'odd supported_versions', bytes: hello({ extensions: [extension(43, vec8([3, 4, 3]))] }), want: bad(/supported_versions/) },
  { name: 'session id of 33 bytes', bytes: hello({ sessionId: new Array<number>(33).fill(7) }), want: bad(/legacy_session_id/) },
  { name: 'odd cipher_suites', bytes: hello({ cipherSuites: [0x13, 0x01, 0x13] }), want: bad(/cipher_suites/) },
  { name: 'empty cipher_suites', bytes: hello({ cipherSuites: [] }), want: bad(/cipher_suites/) },
  { name: 'cipher_suites past the message', bytes: frame(handshake([...clientHelloBody({ extensions: null }).slice(0, 35), 0x7f, 0xff, 1, 2, 3, 4, 5, 6])), want: bad(/cipher_suites/) },
  { name: 'no compression methods', bytes: hello({ compression: [] }), want: bad(/compression/) },
  { name: 'message too short for any ClientHello', bytes: frame(handshake(new Array<number>(40).fill(0))), want: bad(/too small/) },
  { name: 'record continues past the hello', bytes: record([...longMsg, 0x14, 0x00, 0x00, 0x00]), want: bad(/record continues past/) },
  { name: 'later record longer than the rest of the hello', bytes: Buffer.concat([record(longMsg.slice(0, 10)), record([...longMsg.slice(10), 0])]), want: bad(/record continues past/) },
  { name: 'application_data record inside the hello', bytes: Buffer.concat([record(longMsg.slice(0, 10)), record(longMsg.slice(10), 23)]), want: bad(/non-handshake record/) },
  { name: 'continuation record with major version 2', bytes: Buffer.concat([record(longMsg.slice(0, 10)), record(longMsg.slice(10), 22, 0x0201)]), want: bad(/major/) },
  { name: 'zero-length continuation record', bytes: Buffer.concat([record(longMsg.slice(0, 10)), record([]), record(longMsg.slice(10))]), want: bad(/zero-length/) },
  { name: 'continuation record over 2^14', bytes: Buffer.concat([record(longMsg.slice(0, 10)), record([], 22, 0x0303, 2 ** 14 + 1)]), want: bad(/2\^14/) },
];

await t.test('the builder reproduces the annotated fixture', (t) => {
  t.ok(hello({ extensions: [sni('example.com')] }).equals(MINIMAL));
  t.equal(name253.length, 253);
  t.end();
});

await t.test('strictness cases', (t) => {
  for (const c of STRICT) {
    const r = parseClientHello(c.bytes);
    if (c.want.kind === 'ok') {
      t.match(r, { kind: 'ok', consumed: c.bytes.length }, c.name);
      if (r.kind !== 'ok') continue;
      for (const [key, want] of Object.entries(c.want.value)) {
        const got: unknown = r.value[key as keyof ClientHello];
        if (want instanceof RegExp) t.match(got, want, `${c.name}: ${key}`);
        else t.strictSame(got, want, `${c.name}: ${key}`);
      }
    } else {
      t.match(r, { kind: 'invalid', notTls: false, reason: c.want.reason }, c.name);
    }
    t.strictSame(feed(byteByByte(c.bytes)), r, `${c.name}: byte by byte`);
  }
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Properties (fast-check, seeded above).

const KINDS = new Set(['ok', 'need-more', 'invalid']);
const chunking = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 });
await t.test('property: random bytes never throw, and chunking does not change the answer', (t) => {
  const plain = fc.uint8Array({ maxLength: 600 });
  // Framed as one handshake record with a client_hello header, so the body parser runs on noise.
  const framed = fc.uint8Array({ minLength: 41, maxLength: 600 }).map((body) => frame(handshake([...body])));
  fc.assert(
    fc.property(fc.oneof(plain, framed), chunking, fc.uint8Array({ minLength: 1, maxLength: 8 }), (b, sizes, extra) =>
      KINDS.has(parseClientHello(b).kind) &&
      wellFormed(parseClientHello(b), b.length) &&
      isDeepStrictEqual(feed(chunked(b, sizes)), parseClientHello(b)) &&
      prefixStable(b, extra)),
    runs(10_000),
  );
  t.pass('held');
  t.end();
});

// LDH labels, a hyphen never first or last (sniff/host-name.ts).
const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/);
const hostName = fc
  .array(label, { minLength: 1, maxLength: 5 })
  .map((ls) => ls.join('.'))
  .filter((n) => !/(?:^|\.)(?:\d+|0x[0-9a-f]*)$/i.test(n));
const generated = fc.record({
  name: fc.option(hostName, { nil: null }),
  trailingDot: fc.boolean(),
  alpn: fc.option(fc.array(fc.stringMatching(/^[!-~]{1,12}$/), { minLength: 1, maxLength: 4 }), { nil: null }),
  versions: fc.option(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 8 }), { nil: null }),
  sessionId: fc.uint8Array({ maxLength: 32 }),
  suites: fc.integer({ min: 1, max: 40 }),
  unknown: fc.uniqueArray(fc.integer({ min: 0x1000, max: 0xfdff }), { maxLength: 4 }),
  ech: fc.boolean(),
});

await t.test('property: generated hellos parse to what was put in, prefixes need more, any framing and chunking agree', (t) => {
  fc.assert(
    fc.property(generated, chunking, fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 6 }), (g, sizes, fragmentSizes) => {
      const exts: Bytes[] = [];
      if (g.name !== null) exts.push(sni(g.trailingDot ? `${g.name}.` : g.name));
      for (const id of g.unknown) exts.push(extension(id, u16(id)));
      if (g.alpn !== null) exts.push(alpnExt(...g.alpn));
      if (g.versions !== null) exts.push(versionsExt(...g.versions));
      if (g.ech) exts.push(extension(0xfe0d, [0]));
      const msg = handshake(clientHelloBody({ sessionId: [...g.sessionId], cipherSuites: new Array<number>(2 * g.suites).fill(0x13), extensions: exts }));
      const b = frame(msg);
      const want: ClientHello = {
        serverName: g.name?.toLowerCase() ?? null,
        sniError: null,
        alpn: g.alpn ?? [],
        versions: g.versions ?? [0x0303],
        legacyVersion: 0x0303,
        ech: g.ech,
        recordCount: 1,
      };
      const r = parseClientHello(b);
      if (!isDeepStrictEqual(r, { kind: 'ok', value: want, consumed: b.length })) throw new Error(`got ${JSON.stringify(r)}`);
      for (let n = 0; n < b.length; n++) if (parseClientHello(b.subarray(0, n)).kind !== 'need-more') throw new Error(`prefix ${n} decided`);
      if (!isDeepStrictEqual(feed(chunked(b, sizes)), r)) throw new Error('chunking changed the answer');
      const cuts: number[] = [];
      for (let at = 0, i = 0; (at += fragmentSizes[i % fragmentSizes.length] ?? 1) < msg.length; i++) cuts.push(at);
      const reframed = frame(msg, cuts);
      const rr = parseClientHello(reframed);
      return isDeepStrictEqual(rr, { kind: 'ok', value: { ...want, recordCount: cuts.length + 1 }, consumed: reframed.length });
    }),
    runs(1000),
  );
  t.pass('held');
  t.end();
});

await t.test('property: single-byte mutations of real hellos never throw and chunking agrees', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: REAL.length - 1 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.nat(),
      (fx, offset, value, cut) => {
        const src = REAL[fx]?.bytes ?? MINIMAL;
        const b = Buffer.from(src);
        b[offset % b.length] = value;
        const r = parseClientHello(b);
        return KINDS.has(r.kind) && wellFormed(r, b.length) &&
          isDeepStrictEqual(feed(splitAt(b, [cut % (b.length + 1)])), r) && prefixStable(b, Buffer.from([0x16, 0x03]));
      },
    ),
    runs(10_000),
  );
  t.pass('held');
  t.end();
});

await t.test('property: real hellos re-framed into random record sizes and fed in random chunks parse the same', (t) => {
  const table = [...REAL.map((f) => f.bytes), MINIMAL].map((b) => ({ msg: messageOf(b), whole: parseClientHello(b) }));
  t.ok(table.every((x) => x.whole.kind === 'ok'), 'every source parses whole');
  fc.assert(
    fc.property(fc.nat(), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }), chunking, (src, recordSizes, sizes) => {
      const entry = table[src % table.length];
      if (entry === undefined || entry.whole.kind !== 'ok') return false;
      const cuts: number[] = [];
      for (let at = 0, i = 0; (at += recordSizes[i % recordSizes.length] ?? 1) < entry.msg.length; i++) cuts.push(at);
      const reframed = frame(entry.msg, cuts);
      const want = { kind: 'ok', value: { ...entry.whole.value, recordCount: cuts.length + 1 }, consumed: reframed.length };
      return isDeepStrictEqual(parseClientHello(reframed), want) && isDeepStrictEqual(feed(chunked(reframed, sizes)), want);
    }),
    runs(2000),
  );
  t.end();
});

/** Offsets and widths of every length field in a single-record hello (test-side walk). */
function lengthFields(b: Buffer): { at: number; width: 1 | 2 | 3 }[] {
  const fields: { at: number; width: 1 | 2 | 3 }[] = [{ at: 3, width: 2 }, { at: 6, width: 3 }];
  let at = 5 + 4 + 2 + 32;
  fields.push({ at, width: 1 });
  at += 1 + (b[at] ?? 0);
  fields.push({ at, width: 2 });
  at += 2 + b.readUInt16BE(at);
  fields.push({ at, width: 1 });
  at += 1 + (b[at] ?? 0);
  if (at >= b.length) return fields;
  fields.push({ at, width: 2 });
  for (at += 2; at + 4 <= b.length; at += 4 + b.readUInt16BE(at + 2)) {
    fields.push({ at: at + 2, width: 2 });
    const type = b.readUInt16BE(at);
    if (type === 0) fields.push({ at: at + 4, width: 2 }, { at: at + 7, width: 2 }); // list, HostName
    if (type === 16) fields.push({ at: at + 4, width: 2 }, { at: at + 6, width: 1 }); // list, first name
    if (type === 43) fields.push({ at: at + 4, width: 1 });
  }
  return fields;
}

await t.test('property: corrupted length fields never throw or read past what they decide on', (t) => {
  const sources = [...REAL.map((f) => f.bytes), MINIMAL];
  const table = sources.map((b) => ({ b, fields: lengthFields(b) }));
  t.ok(table.every((x) => x.fields.length >= 8), 'found the length fields');
  const corruption = fc.record({ field: fc.nat(), value: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.nat({ max: 0xffffff })) });
  fc.assert(
    fc.property(fc.nat(), fc.array(corruption, { minLength: 1, maxLength: 3 }), chunking, (src, corruptions, sizes) => {
      const entry = table[src % table.length];
      if (entry === undefined) return true;
      const b = Buffer.from(entry.b);
      for (const c of corruptions) {
        const f = entry.fields[c.field % entry.fields.length];
        if (f === undefined || f.at + f.width > b.length) continue;
        const max = 2 ** (8 * f.width) - 1;
        // Small values nudge the length by -3..3; larger ones replace it.
        const v = c.value >= -3 && c.value <= 3 ? b.readUIntBE(f.at, f.width) + c.value : c.value;
        b.writeUIntBE(Math.min(Math.max(v, 0), max), f.at, f.width);
      }
      const r = parseClientHello(b);
      return KINDS.has(r.kind) && wellFormed(r, b.length) &&
        isDeepStrictEqual(feed(chunked(b, sizes)), r) && prefixStable(b, Buffer.alloc(300, 0x16));
    }),
    runs(10_000),
  );
  t.pass('held');
  t.end();
});

t.comment(casesComment());
