// The intake as the daemon drives it: chunks as they arrive off the socket, an optional PROXY
// header, then a ClientHello or an HTTP head. Properties: hostile bytes never throw, and the
// way the bytes are cut into chunks never changes the decision (issue 8, "Fuzzing").
import fc from 'fast-check';
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { IntakeReader, type IntakeOptions, type IntakeResult } from '../../src/sniff/intake.js';
import { PROXY_V1_MAX_BYTES } from '../../src/sniff/proxy-header.js';
import { captureNodeTls, echOuterExtension, EXT_ENCRYPTED_CLIENT_HELLO, withExtension } from '../helpers/hello-capture.js';
import { casesComment, chunked, runs, seedComment } from '../helpers/parser-properties.js';

t.comment(seedComment());

/**
 * Feeds `chunks` to a fresh reader and returns its final answer. Bytes pushed after the answer
 * was decided are what the daemon relays after the replay, so they are appended to `replay`:
 * the result then describes the whole stream however it was cut.
 */
function feed(opts: IntakeOptions, chunks: readonly Buffer[]): IntakeResult {
  const r = new IntakeReader(opts);
  let result: IntakeResult = { kind: 'need-more' };
  const later: Buffer[] = [];
  for (const c of chunks) {
    if (result.kind === 'need-more') result = r.push(c);
    else later.push(c);
  }
  if (result.kind !== 'ok') return result;
  return { kind: 'ok', value: { ...result.value, replay: Buffer.concat([result.value.replay, ...later]) } };
}

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
/** HAProxy doc/proxy-protocol.txt §2.2: the v2 signature. */
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

const HELLO = await captureNodeTls({ servername: 'registry.example.com', alpn: ['h2'] });
const HEAD = Buffer.from('GET /v2/ HTTP/1.1\r\nHost: registry.example.com\r\nUser-Agent: x\r\n\r\n');
const chunking = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 });
const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const port = fc.integer({ min: 0, max: 0xffff });
/** A valid PROXY header: a v1 TCP4 line, or a v2 PROXY TCP/IPv4 header with random TLVs. */
const proxyHeader = fc.oneof(
  fc.tuple(ipv4, ipv4, port, port).map(([a, b, sp, dp]) => Buffer.from(`PROXY TCP4 ${a.join('.')} ${b.join('.')} ${sp} ${dp}\r\n`)),
  fc.tuple(ipv4, ipv4, port, port, fc.array(fc.tuple(fc.integer({ min: 0xe0, max: 0xef }), fc.uint8Array({ maxLength: 30 })), { maxLength: 3 }))
    .map(([a, b, sp, dp, tlvs]) => {
      // §2.2.7: types 0xE0-0xEF are reserved for custom use, so the parser skips them.
      const rest = [...a, ...b, ...u16(sp), ...u16(dp), ...tlvs.flatMap(([type, v]) => [type, ...u16(v.length), ...v])];
      return Buffer.from([...SIG, 0x21, 0x11, ...u16(rest.length), ...rest]);
    }),
);

await t.test('an HTTP listener refuses a first chunk that is not HTTP at once, with or without a PROXY header', (t) => {
  // Found by the chunking property below: a first chunk of 2+ bytes without a LF used to wait
  // for more bytes (until client_hello_timeout) where the same bytes one at a time were refused.
  const proxyLine = Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n');
  for (const [name, opts, chunks] of [
    ['no PROXY header', { protocol: 'http', expectProxy: false }, [Buffer.from([0, 0])]],
    ['the rest of the PROXY chunk', { protocol: 'http', expectProxy: true }, [Buffer.concat([proxyLine, Buffer.from([0, 0])])]],
    ['a chunk after the PROXY header', { protocol: 'http', expectProxy: true }, [proxyLine, Buffer.from('\x16\x03\x01')]],
  ] as const) {
    t.match(feed(opts, chunks), { kind: 'invalid', outcome: 'not_tls', reason: /uppercase letter/ }, name);
  }
  t.end();
});

await t.test('property: a PROXY header then a real hello decide the same in one piece or in any chunks', (t) => {
  const opts: IntakeOptions = { protocol: 'tls', expectProxy: true };
  fc.assert(
    fc.property(proxyHeader, chunking, fc.uint8Array({ maxLength: 16 }), (header, sizes, after) => {
      const b = Buffer.concat([header, HELLO, after]);
      const whole = feed(opts, [b]);
      if (whole.kind !== 'ok' || whole.value.name !== 'registry.example.com' || whole.value.proxy === null) return false;
      if (!whole.value.replay.equals(Buffer.concat([HELLO, after]))) return false;
      return isDeepStrictEqual(feed(opts, chunked(b, sizes)), whole);
    }),
    runs(2000),
  );
  t.end();
});

await t.test('the intake says whether the ClientHello carried encrypted_client_hello', (t) => {
  const tls: IntakeOptions = { protocol: 'tls', expectProxy: false };
  const ech = withExtension(HELLO, EXT_ENCRYPTED_CLIENT_HELLO, echOuterExtension());
  t.match(feed(tls, [ech]), { kind: 'ok', value: { name: 'registry.example.com', ech: true } }, 'with the extension');
  t.match(feed(tls, [HELLO]), { kind: 'ok', value: { ech: false } }, 'without it');
  t.match(feed({ protocol: 'http', expectProxy: false }, [HEAD]), { kind: 'ok', value: { ech: false } }, 'an HTTP head');
  t.end();
});

/** Pushes `b` one byte at a time; the reader and its final answer. */
function byteByByte(opts: IntakeOptions, b: Buffer): { reader: IntakeReader; result: IntakeResult } {
  const reader = new IntakeReader(opts);
  let result: IntakeResult = { kind: 'need-more' };
  for (let i = 0; i < b.length && result.kind === 'need-more'; i++) result = reader.push(b.subarray(i, i + 1));
  return { reader, result };
}

await t.test('work is linear in the bytes received: a 64 KiB PROXY v2 header one byte at a time', (t) => {
  // A PROXY TCP/IPv4 header whose TLV area fills the largest length a v2 header can declare:
  // custom TLVs (type 0xE0, §2.2.7) of 1000 bytes, then one that takes up the rest.
  const addresses = [10, 0, 0, 1, 10, 0, 0, 2, ...u16(1234), ...u16(443)];
  const tlvs: number[] = [];
  const room = 0xffff - addresses.length;
  while (room - tlvs.length > 1003 + 3) tlvs.push(0xe0, ...u16(1000), ...new Array<number>(1000).fill(0x61));
  const last = room - tlvs.length - 3;
  tlvs.push(0xe0, ...u16(last), ...new Array<number>(last).fill(0x62));
  const header = Buffer.from([...SIG, 0x21, 0x11, ...u16(0xffff), ...addresses, ...tlvs]);
  t.equal(header.length, 16 + 0xffff, 'the header has the largest size');
  const b = Buffer.concat([header, HELLO]);
  const { reader, result } = byteByByte({ protocol: 'tls', expectProxy: true }, b);
  t.match(result, { kind: 'ok', value: { name: 'registry.example.com', proxy: { version: 2, command: 'proxy' } } });
  // Joining the pending bytes again on every chunk copies n²/2 bytes (over 2 GiB here).
  t.ok(reader.workBytes <= 4 * b.length, `work ${reader.workBytes} bytes for ${b.length} received (at most 4n)`);
  t.end();
});

await t.test('work is linear in the bytes received: a 16 KiB HTTP head one byte at a time', (t) => {
  // Short header lines, so that a LF (which makes the head worth parsing again) comes every few bytes.
  const lines = ['GET /v2/ HTTP/1.1', 'Host: registry.example.com'];
  for (let i = 0; Buffer.byteLength(lines.join('\r\n')) < 16 * 1024 - 64; i++) lines.push(`x${i % 10}: y`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  t.ok(head.length > 16 * 1024 - 64 && head.length <= 16 * 1024, `head of ${head.length} bytes`);
  for (const expectProxy of [false, true]) {
    const proxyLine = Buffer.from(expectProxy ? 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n' : '');
    const b = Buffer.concat([proxyLine, head]);
    const { reader, result } = byteByByte({ protocol: 'http', expectProxy }, b);
    t.match(result, { kind: 'ok', value: { name: 'registry.example.com', helloBytes: head.length } }, `PROXY header: ${expectProxy}`);
    // v1 is checked field by field as it arrives: bounded (107² bytes at most), but not linear.
    const v1Work = expectProxy ? PROXY_V1_MAX_BYTES ** 2 : 0;
    t.ok(reader.workBytes <= 4 * b.length + v1Work, `work ${reader.workBytes} bytes for ${b.length} received (at most 4n)`);
  }
  t.end();
});

const MODES: readonly IntakeOptions[] = [
  { protocol: 'tls', expectProxy: false },
  { protocol: 'tls', expectProxy: true },
  { protocol: 'http', expectProxy: false },
  { protocol: 'http', expectProxy: true },
];

/** Hostile input: noise, and noise after a valid prefix of each stage. */
const hostile = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.tuple(proxyHeader, fc.uint8Array({ maxLength: 200 })).map(([h, b]) => Buffer.concat([h, b])),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]) => {
    const b = Buffer.from(HELLO);
    b[at % b.length] = v;
    return b;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]) => {
    const b = Buffer.from(HEAD);
    b[at % b.length] = v;
    return b;
  }),
);

await t.test('property: hostile bytes never throw, and chunking never changes a decision', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...MODES), hostile, chunking, (opts, b, sizes) => {
      const whole = feed(opts, [b]);
      const parts = feed(opts, chunked(b, sizes));
      if (isDeepStrictEqual(parts, whole)) return true;
      // An HTTP head is only re-parsed when a chunk brings a LF (nothing else can complete it),
      // so chunks may leave an invalid head undecided until more bytes come — never otherwise.
      return opts.protocol === 'http' && whole.kind === 'invalid' && parts.kind === 'need-more';
    }),
    runs(3000),
  );
  t.end();
});

t.comment(casesComment());
