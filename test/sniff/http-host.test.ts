import t from 'tap';
import fc from 'fast-check';
import { request } from 'node:http';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import {
  HttpHeadParser,
  MAX_HTTP_HEAD_BYTES,
  parseHttpHead,
  type HttpHeadResult,
  type HttpRequestHead,
} from '../../src/sniff/http-host.js';
import { run } from '../helpers/proc.js';
import { casesComment, decidedIsFinal as checkFinal, runs, seedComment } from '../helpers/parser-properties.js';

const CRLF = '\r\n';
/** A request head: the request line and field lines, each ended by CRLF, then the empty line. */
const head = (...lines: string[]): Buffer => Buffer.from(lines.map((l) => l + CRLF).join('') + CRLF, 'latin1');
const s = (text: string): Buffer => Buffer.from(text, 'latin1');

// ---------------------------------------------------------------------------------------------
// Properties used by several tests.

/** One of the three variants, with sane fields; need-more only below the cap. */
function wellFormed(r: HttpHeadResult, input: Uint8Array): boolean {
  switch (r.kind) {
    case 'need-more': return input.length < MAX_HTTP_HEAD_BYTES;
    case 'invalid': return typeof r.reason === 'string' && r.reason !== '' && typeof r.notHttp === 'boolean';
    case 'ok':
      return r.consumed === r.value.headBytes && r.consumed <= input.length && r.consumed <= MAX_HTTP_HEAD_BYTES
        && (r.value.host === null || r.value.hostError === null);
    default: return false;
  }
}

/** parseHttpHead must answer once and for all: see decidedIsFinal. */
function decidedIsFinal(x: Uint8Array): string | undefined {
  return checkFinal(parseHttpHead, wellFormed, x);
}

t.comment(seedComment());

// ---------------------------------------------------------------------------------------------
// Real request heads, captured now from the clients installed here: a loopback server records
// the bytes up to the first CRLF CRLF (found with indexOf, not the parser) and answers 204.

const CAPTURE_LIMIT_MS = 10_000;

async function captureHead(client: (port: number) => Promise<unknown>): Promise<Buffer> {
  let onHead: (b: Buffer) => void = () => {};
  const captured = new Promise<Buffer>((resolve) => { onHead = resolve; });
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf(CRLF + CRLF);
      if (end < 0) return;
      onHead(buf.subarray(0, end + 4));
      sock.end(`HTTP/1.1 204 No Content${CRLF}Connection: close${CRLF}${CRLF}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const [bytes] = await Promise.all([captured, client((server.address() as AddressInfo).port)]);
    return bytes;
  } finally {
    for (const sock of sockets) sock.destroy();
    server.close();
  }
}

const nodeRequest = (headers: Record<string, string>) => (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', headers, signal: AbortSignal.timeout(CAPTURE_LIMIT_MS) }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });

async function curl(args: string[]): Promise<void> {
  const r = await run('curl', ['-q', '--silent', '--show-error', '--max-time', String(CAPTURE_LIMIT_MS / 1000), ...args]);
  if (r.code !== 0) throw new Error(`curl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

interface Real {
  readonly name: string;
  readonly bytes: Buffer;
  readonly host: string | null;
  readonly hostError: RegExp | null;
  readonly target: string;
}
const REAL: readonly Real[] = [
  {
    name: 'node:http with a Host header',
    bytes: await captureHead(nodeRequest({ Host: 'Registry.Example.com:5000' })),
    host: 'registry.example.com',
    hostError: null,
    target: '/v2/',
  },
  {
    name: 'node:http default Host (an IP literal)',
    bytes: await captureHead(nodeRequest({})),
    host: null,
    hostError: /IPv4 address literal/,
    target: '/v2/',
  },
  {
    name: 'curl, origin-form',
    bytes: await captureHead((port) =>
      curl(['--noproxy', '*', '--resolve', `registry.example.com:${port}:127.0.0.1`, `http://registry.example.com:${port}/v2/`])),
    host: 'registry.example.com',
    hostError: null,
    target: '/v2/',
  },
  {
    name: 'curl --http1.0',
    bytes: await captureHead((port) =>
      curl(['--http1.0', '--noproxy', '*', '--resolve', `a.example:${port}:127.0.0.1`, `http://a.example:${port}/x?y=1`])),
    host: 'a.example',
    hostError: null,
    target: '/x?y=1',
  },
  {
    name: 'curl through an HTTP proxy (absolute-form)',
    bytes: await captureHead((port) => curl(['--proxy', `http://127.0.0.1:${port}`, 'http://Registry.Example.com/v2/'])),
    host: 'registry.example.com',
    hostError: null,
    target: 'http://Registry.Example.com/v2/',
  },
];

await t.test('real request heads parse', (t) => {
  for (const f of REAL) {
    t.comment(`${f.name}: ${JSON.stringify(f.bytes.toString('latin1'))}`);
    const r = parseHttpHead(Buffer.concat([f.bytes, s('body')]));
    t.match(r, { kind: 'ok', consumed: f.bytes.length, value: { method: 'GET', target: f.target, host: f.host } }, f.name);
    if (r.kind !== 'ok') continue;
    if (f.hostError === null) t.equal(r.value.hostError, null, `${f.name}: no hostError`);
    else t.match(r.value.hostError, f.hostError, `${f.name}: hostError`);
    t.equal(decidedIsFinal(f.bytes), undefined, `${f.name}: every strict prefix need-more, then final`);
    let early = 0;
    for (let n = 0; n < f.bytes.length; n++) if (parseHttpHead(f.bytes.subarray(0, n)).kind !== 'need-more') early++;
    t.equal(early, 0, `${f.name}: need-more before the last byte`);
  }
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Hand-made heads.

interface Good {
  readonly name: string;
  readonly bytes: Buffer; // the head only
  readonly want: Partial<Omit<HttpRequestHead, 'hostError'>> & { hostError?: RegExp | null };
}
/** A head whose host is present but unusable: hostError, and the caller refuses the request. */
const unusable = (name: string, bytes: Buffer, hostError: RegExp): Good => ({ name, bytes, want: { host: null, hostError } });
const long = (n: number): string => 'a'.repeat(n);
// The head of exactly MAX_HTTP_HEAD_BYTES: request line, Host, X, empty line.
const AT_CAP_PREFIX = `GET / HTTP/1.1${CRLF}Host: cap.example${CRLF}X: `;
const AT_CAP = s(`${AT_CAP_PREFIX}${long(MAX_HTTP_HEAD_BYTES - AT_CAP_PREFIX.length - 4)}${CRLF}${CRLF}`);

const GOOD: readonly Good[] = [
  {
    name: 'origin-form with Host',
    bytes: head('GET /v2/ HTTP/1.1', 'Host: registry.example.com', 'User-Agent: docker/27.0', 'Accept: */*'),
    want: { method: 'GET', target: '/v2/', version: '1.1', host: 'registry.example.com', hostError: null },
  },
  {
    name: 'Host with a port, upper case, a trailing dot',
    bytes: head('HEAD /v2/library/alpine/manifests/3 HTTP/1.1', 'HOST: Registry.Example.COM.:5000'),
    want: { method: 'HEAD', host: 'registry.example.com', hostError: null },
  },
  {
    name: 'Host value with OWS (SP and HTAB) around it',
    bytes: head('GET / HTTP/1.1', 'host:\t  a.example \t'),
    want: { host: 'a.example', hostError: null },
  },
  { name: 'HTTP/1.0 without Host', bytes: head('GET / HTTP/1.0'), want: { version: '1.0', host: null, hostError: null } },
  { name: 'HTTP/1.1 without Host', bytes: head('GET / HTTP/1.1', 'Accept: */*'), want: { host: null, hostError: null } },
  {
    name: 'absolute-form: the host comes from the target (RFC 9112 §3.2.2); a Host of the same name may differ in case and port',
    bytes: head('GET http://Registry.Example.com:8080/v2/?q=1 HTTP/1.1', 'Host: registry.example.COM'),
    want: { target: 'http://Registry.Example.com:8080/v2/?q=1', host: 'registry.example.com', hostError: null },
  },
  {
    name: 'absolute-form https without a path',
    bytes: head('OPTIONS HTTPS://a.example HTTP/1.1'),
    want: { method: 'OPTIONS', host: 'a.example', hostError: null },
  },
  {
    name: 'authority-form CONNECT: the host comes from Host',
    bytes: head('CONNECT registry.example.com:443 HTTP/1.1', 'Host: registry.example.com:443'),
    want: { method: 'CONNECT', target: 'registry.example.com:443', host: 'registry.example.com' },
  },
  { name: 'asterisk-form', bytes: head('OPTIONS * HTTP/1.1', 'Host: a.example'), want: { target: '*', host: 'a.example' } },
  {
    name: 'methods are any token starting with an upper-case letter',
    bytes: head("M-SEARCH!#$%&'*+.^_`|~9 / HTTP/1.1", 'Host: a.example'),
    want: { method: "M-SEARCH!#$%&'*+.^_`|~9", host: 'a.example' },
  },
  {
    name: 'field values may hold obs-text and HTAB; names any token',
    bytes: head('GET /caf\xe9 HTTP/1.1', "X-!#$%&'*+-.^_`|~: caf\xe9\tna\xefve", 'Host: a.example', 'Empty:'),
    want: { target: '/caf\xe9', host: 'a.example' },
  },
  { name: 'a head of exactly 16 KiB', bytes: AT_CAP, want: { host: 'cap.example', headBytes: MAX_HTTP_HEAD_BYTES } },
  // Present but unusable.
  unusable('Host is an IPv4 address', head('GET / HTTP/1.1', 'Host: 192.0.2.1:80'), /IPv4 address literal/),
  unusable('Host looks like inet_aton IPv4', head('GET / HTTP/1.1', 'Host: 0x7f.1'), /IPv4/),
  unusable('Host is an IPv6 literal', head('GET / HTTP/1.1', 'Host: [::1]:8080'), /IPv6 address literal/),
  unusable('two Host headers (RFC 9112 §3.2)', head('GET / HTTP/1.1', 'Host: a.example', 'host: a.example'), /more than one Host/),
  unusable('empty Host', head('GET / HTTP/1.1', 'Host: '), /host is empty/),
  unusable('Host with an underscore', head('GET / HTTP/1.1', 'Host: my_registry.example'), /^host has a character other than/),
  unusable('Host with obs-text', head('GET / HTTP/1.1', 'Host: caf\xe9.example'), /character/),
  unusable('Host with an empty port', head('GET / HTTP/1.1', 'Host: a.example:'), /port/),
  unusable('Host with port 65536', head('GET / HTTP/1.1', 'Host: a.example:65536'), /port/),
  unusable('Host with two ports', head('GET / HTTP/1.1', 'Host: a.example:1:2'), /port/),
  unusable('Host with an empty label', head('GET / HTTP/1.1', 'Host: a..example'), /empty label/),
  unusable('Host of 254 characters', head('GET / HTTP/1.1', `Host: ${long(60)}.${long(60)}.${long(60)}.${long(60)}.abcdefghijklm`), /longer than 253/),
  unusable('Host label of 64 characters', head('GET / HTTP/1.1', `Host: ${long(64)}.example`), /label longer than 63/),
  unusable('absolute-form with a Host naming another host (the upstream may pick either)',
    head('GET http://a.example/ HTTP/1.1', 'Host: b.example'), /absolute-form target and Host header name different hosts/),
  unusable('absolute-form with two Host headers', head('GET http://a.example/ HTTP/1.1', 'Host: a.example', 'Host: a.example'), /more than one Host/),
  unusable('absolute-form with userinfo (RFC 9110 §4.2.4)', head('GET http://user:pw@a.example/ HTTP/1.1', 'Host: a.example'), /userinfo/),
  unusable('absolute-form, not http(s)', head('GET ftp://a.example/ HTTP/1.1', 'Host: a.example'), /not an http or https URI/),
  unusable('absolute-form with an empty host', head('GET http:///v2/ HTTP/1.1', 'Host: a.example'), /host is empty/),
  unusable('absolute-form with an IPv6 literal', head('GET http://[::1]:80/ HTTP/1.1'), /IPv6/),
];

await t.test('hand-made heads parse; the body after them is left to the caller', (t) => {
  for (const g of GOOD) {
    const r = parseHttpHead(Buffer.concat([g.bytes, s('{"body":1}')]));
    const { hostError, ...rest } = g.want;
    t.match(r, { kind: 'ok', consumed: g.bytes.length, value: { ...rest, headBytes: g.bytes.length } }, g.name);
    if (r.kind !== 'ok') continue;
    if (hostError === null || hostError === undefined) t.equal(r.value.hostError, null, `${g.name}: no hostError`);
    else t.match(r.value.hostError, hostError, `${g.name}: hostError`);
    t.ok(Object.isFrozen(r.value), `${g.name}: frozen`);
  }
  t.end();
});

await t.test('every strict prefix of a valid head is need-more; split anywhere, the result is the same', (t) => {
  for (const g of GOOD) {
    if (g.bytes.length > 1000) continue; // the 16 KiB head is checked at its boundary below
    const stream = Buffer.concat([g.bytes, s('POST / HTTP/1.1\r\n')]); // a pipelined request
    let early = 0;
    for (let n = 0; n < g.bytes.length; n++) if (parseHttpHead(stream.subarray(0, n)).kind !== 'need-more') early++;
    t.equal(early, 0, `${g.name}: need-more before byte ${g.bytes.length}`);
    t.equal(decidedIsFinal(stream), undefined, `${g.name}: decided once, then final`);
  }
  t.equal(parseHttpHead(AT_CAP.subarray(0, AT_CAP.length - 1)).kind, 'need-more', '16 KiB head minus one byte');
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Invalid heads, refused after the byte that decides them.

interface Bad {
  readonly name: string;
  readonly bytes: Buffer;
  readonly decidedAt: number;
  readonly reason: RegExp;
  readonly notHttp: boolean;
}
/** A bad case whose deciding byte is the last of `upTo`. */
const bad = (name: string, upTo: string, rest: string, reason: RegExp, notHttp = false): Bad =>
  ({ name, bytes: s(upTo + rest), decidedAt: upTo.length, reason, notHttp });
const OK_LINE = `GET / HTTP/1.1${CRLF}`;

const BAD: readonly Bad[] = [
  // Not HTTP at all: answer nothing (notHttp).
  bad('a TLS ClientHello record', '\x16', '\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', /uppercase letter/, true),
  bad('a PROXY v2 signature', '\r', '\n\r\n\x00\r\nQUIT\n', /uppercase letter/, true),
  bad('an empty line first', '\r', '\nGET / HTTP/1.1\r\n\r\n', /uppercase letter/, true),
  bad('lower-case method', 'g', 'et / HTTP/1.1\r\n\r\n', /uppercase letter/, true),
  bad('NUL', '\x00', '', /uppercase letter/, true),
  bad('binary after a letter', 'G\x00', 'ET', /method has a character/, true),
  bad('an SSH banner', 'SSH-2.0-OpenSSH_9.6\r', '\n', /method has a character/, true),
  bad('HTAB after the method', 'GET\t', '/ HTTP/1.1\r\n\r\n', /method has a character/, true),
  {
    name: 'a 16 KiB method',
    bytes: s('A'.repeat(MAX_HTTP_HEAD_BYTES + 10)),
    decidedAt: MAX_HTTP_HEAD_BYTES,
    reason: /larger than 16 KiB/,
    notHttp: true,
  },
  // Looked like HTTP: answer 400.
  bad('empty request-target', 'GET  ', '/ HTTP/1.1\r\n\r\n', /request-target is empty/),
  bad('control character in the target', 'GET /a\x7f', 'b HTTP/1.1\r\n\r\n', /control character/),
  bad('NUL in the target', 'GET /\x00', ' HTTP/1.1\r\n\r\n', /control character/),
  bad('HTTP/0.9 (no version)', 'GET /\r', '\n\r\n', /no HTTP version/),
  bad('HTTP/1.2', 'GET / HTTP/1.2', '\r\n\r\n', /not HTTP\/1.0 or HTTP\/1.1/),
  bad('HTTP/3.0', 'GET / HTTP/3', '.0\r\n\r\n', /not HTTP\/1.0 or HTTP\/1.1/),
  bad('lower-case http/1.1', 'GET / h', 'ttp/1.1\r\n\r\n', /not HTTP\/1.0 or HTTP\/1.1/),
  bad('the HTTP/2 preface', 'PRI * HTTP/2', '.0\r\n\r\nSM\r\n\r\n', /HTTP\/2 is not supported/),
  bad('HTTP/1.10', 'GET / HTTP/1.10', '\r\n\r\n', /does not end after the HTTP version/),
  bad('space after the version', 'GET / HTTP/1.1 ', '\r\n\r\n', /does not end after the HTTP version/),
  bad('request line ends in a bare LF', 'GET / HTTP/1.1\n', 'Host: a\r\n\r\n', /LF without a CR/),
  bad('request line ends in a bare CR', 'GET / HTTP/1.1\rH', 'ost: a\r\n\r\n', /CR without a LF/),
  bad('obs-fold (RFC 9112 §5.2)', `${OK_LINE}Host: a.example\r\n `, 'b\r\n\r\n', /obs-fold/),
  bad('whitespace before the first field (RFC 9112 §2.2)', `${OK_LINE}\t`, 'Host: a\r\n\r\n', /obs-fold/),
  bad('space before the colon (RFC 9112 §5.1)', `${OK_LINE}Host `, ': a\r\n\r\n', /header name has a character/),
  bad('empty field name', `${OK_LINE}:`, ' a\r\n\r\n', /header name is empty/),
  bad('bad character in a field name', `${OK_LINE}X(`, 'y): 1\r\n\r\n', /header name has a character/),
  bad('field line without a colon', `${OK_LINE}Host\r`, '\n\r\n', /header name has a character/),
  bad('NUL in a field value', `${OK_LINE}X: a\x00`, '\r\n\r\n', /control character/),
  bad('bare CR in a field value', `${OK_LINE}X: a\rb`, '\r\n\r\n', /CR without a LF/),
  bad('bare LF in a field value', `${OK_LINE}X: a\n`, 'b\r\n\r\n', /LF without a CR/),
  bad('head ends in a bare LF', `${OK_LINE}Host: a\r\n\n`, '', /LF without a CR/),
  bad('head ends in a bare CR', `${OK_LINE}Host: a\r\n\rX`, '', /CR without a LF/),
  {
    name: 'a head one byte over 16 KiB',
    bytes: s(`${AT_CAP_PREFIX}${long(MAX_HTTP_HEAD_BYTES - AT_CAP_PREFIX.length - 3)}${CRLF}${CRLF}`),
    decidedAt: MAX_HTTP_HEAD_BYTES,
    reason: /larger than 16 KiB/,
    notHttp: false,
  },
];

await t.test('invalid heads are refused after the bytes that decide them, and stay refused', (t) => {
  for (const c of BAD) {
    t.ok(c.decidedAt <= c.bytes.length, `${c.name}: fixture`);
    // Each call is linear in its input, so for the 16 KiB cases only some prefixes are tried.
    const lengths = Array.from({ length: c.decidedAt }, (_, n) => n)
      .filter((n) => c.decidedAt < 1000 || n < 100 || n % 97 === 0 || n > c.decidedAt - 100);
    const early = lengths.filter((n) => parseHttpHead(c.bytes.subarray(0, n)).kind !== 'need-more');
    t.strictSame(early, [], `${c.name}: need-more before ${c.decidedAt} bytes`);
    const at = parseHttpHead(c.bytes.subarray(0, c.decidedAt));
    t.match(at, { kind: 'invalid', reason: c.reason, notHttp: c.notHttp }, `${c.name}: invalid at ${c.decidedAt} bytes`);
    t.strictSame(parseHttpHead(Buffer.concat([c.bytes, s('\r\n\r\n')])), at, `${c.name}: the same with more bytes`);
    if (c.bytes.length < 1000) t.equal(decidedIsFinal(c.bytes), undefined, `${c.name}: final once decided`);
  }
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Generated heads.

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...TCHARS), minLength: min, maxLength: max });
// LDH labels, a hyphen never first or last (sniff/host-name.ts).
const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,18}[a-zA-Z0-9])?$/);
const lastLabel = fc.stringMatching(/^[a-zA-Z](?:[a-zA-Z0-9-]{0,9}[a-zA-Z0-9])?$/); // not numeric: that would read as IPv4
const hostName = fc.tuple(fc.array(label, { maxLength: 3 }), lastLabel, fc.boolean())
  .map(([ls, last, dot]) => [...ls, last].join('.') + (dot ? '.' : ''));
const port = fc.option(fc.integer({ min: 0, max: 65535 }).map(String), { nil: undefined });
const ows = fc.constantFrom('', ' ', '\t', ' \t ');
// VCHAR, SP and obs-text (RFC 9110 §5.5); other fields' values do not affect the host.
const fieldValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 40 });
const otherField = fc.tuple(token(1, 12), fieldValue)
  .filter(([name]) => name.toLowerCase() !== 'host')
  .map(([name, value]) => `${name}: ${value}`);
const requestLine = fc.tuple(
  fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'),
  fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
  fc.constantFrom('1.0', '1.1'),
);

await t.test('round trip: generated heads give back their host', (t) => {
  fc.assert(
    fc.property(
      requestLine, hostName, port, fc.constantFrom('Host', 'host', 'HOST', 'hOsT'), ows, ows,
      fc.array(otherField, { maxLength: 4 }), fc.nat(4), fc.boolean(),
      ([method, path, version], name, p, hostField, before, after, others, at, absolute) => {
        const authority = p === undefined ? name : `${name}:${p}`;
        const target = absolute ? `http://${authority}${path}` : path;
        const fields = [...others];
        // With an absolute-form target the Host field must name the same host (any case, any port).
        fields.splice(at % (fields.length + 1), 0, `${hostField}:${before}${absolute ? `${name.toUpperCase()}:1` : authority}${after}`);
        const bytes = head(`${method} ${target} HTTP/${version}`, ...fields);
        const want = { method, target, version, host: name.replace(/\.$/, '').toLowerCase(), hostError: null, headBytes: bytes.length };
        const r = parseHttpHead(Buffer.concat([bytes, s('body')]));
        return isDeepStrictEqual(r, { kind: 'ok', value: want, consumed: bytes.length }) && decidedIsFinal(bytes) === undefined;
      },
    ),
    runs(300),
  );
  t.pass('generated heads');
  t.end();
});

// Bytes that matter to the parser, so that random input gets past the request line.
const nasty = fc.constantFrom(...'\r\n \t:Host.aZ9-[]@/\x00\x7f\xff'.split(''), '\r\n', '\r\n\r\n', 'Host: ', 'GET ', ' HTTP/1.1');
const anyInput = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc.array(nasty, { maxLength: 40 }).map((a) => s(a.join(''))),
  fc.array(nasty, { maxLength: 40 }).map((a) => s(OK_LINE + a.join(''))),
  fc.tuple(fc.constantFrom('GET ', 'PRI ', 'GET / ', 'GET http://'), fc.array(nasty, { maxLength: 30 })).map(([p, a]) => s(p + a.join(''))),
);

await t.test('random input never throws, and a decided answer is final', (t) => {
  fc.assert(fc.property(anyInput, (b) => decidedIsFinal(b) === undefined), runs(1500));
  t.pass('no throw, well-formed, final');
  t.end();
});

await t.test('HttpHeadParser, given ever longer prefixes, answers as parseHttpHead does on each', (t) => {
  // The intake parses again only when a chunk brings a LF; here any prefix may be asked for, so
  // lines left incomplete by one call are completed by a later one.
  fc.assert(
    fc.property(anyInput, fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 10 }), (b, steps) => {
      const parser = new HttpHeadParser();
      for (let n = 0, i = 0; ; n = Math.min(b.length, n + (steps[i++ % steps.length] ?? 1))) {
        const got = parser.parse(b.subarray(0, n));
        if (!isDeepStrictEqual(got, parseHttpHead(b.subarray(0, n)))) return false;
        if (n === b.length) return true;
      }
    }),
    runs(1500),
  );
  t.pass('same answers');
  t.end();
});

await t.test('input not starting with A-Z is notHttp after one byte', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((b) => (b[0] ?? 0) < 0x41 || (b[0] ?? 0) > 0x5a), (b) => {
      const want = { kind: 'invalid', reason: 'request does not start with an uppercase letter', notHttp: true };
      return isDeepStrictEqual(parseHttpHead(b.subarray(0, 1)), want) && isDeepStrictEqual(parseHttpHead(b), want);
    }),
    runs(300),
  );
  t.pass('notHttp');
  t.end();
});

await t.test('single-byte mutations of valid heads never throw, and a decided answer is final', (t) => {
  const valid = [...REAL.map((r) => r.bytes), ...GOOD.filter((g) => g.bytes.length < 1000).map((g) => g.bytes)];
  fc.assert(
    fc.property(fc.nat(valid.length - 1), fc.nat(), fc.integer({ min: 0, max: 0xff }), (which, at, value) => {
      const b = Buffer.from(valid[which] ?? Buffer.alloc(0));
      b[at % b.length] = value;
      return decidedIsFinal(b) === undefined;
    }),
    runs(1000),
  );
  t.pass('mutations');
  t.end();
});

t.comment(casesComment());
