// Every request of a plain-HTTP connection is checked (issue 14 item 8): HttpRequestStream
// frames requests with Node's llhttp and admits bytes only up to the first refused request.
import t from 'tap';
import fc from 'fast-check';
import { HttpRequestStream, type HttpRefusal, type HttpRequestInfo } from '../../src/sniff/http-requests.js';
import { casesComment, runs, seedComment } from '../helpers/parser-properties.js';

t.comment(seedComment());
t.teardown(() => t.comment(casesComment()));

const s = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Allows a.example and b.example (one upstream), refuses everything else with 421. */
function allowAB(seen: HttpRequestInfo[] = []): (r: HttpRequestInfo) => HttpRefusal | null {
  return (r) => {
    seen.push(r);
    if (r.host === null) return { status: 400, outcome: 'no_sni', reason: `request ${r.index}: ${r.hostError ?? 'no Host header'}` };
    return r.host === 'a.example' || r.host === 'b.example' ? null : { status: 421, outcome: 'not_allowed', reason: `request ${r.index}: host ${r.host} is not allowed` };
  };
}

/** Feeds `bytes` in chunks of the given sizes (the rest in one); returns the admitted byte count. */
function feed(stream: HttpRequestStream, bytes: Buffer, sizes: readonly number[] = []): number {
  let pos = 0;
  let admitted = 0;
  for (const size of [...sizes, bytes.length]) {
    if (pos >= bytes.length) break;
    const chunk = bytes.subarray(pos, Math.min(bytes.length, pos + Math.max(1, size)));
    const n = stream.admit(chunk);
    admitted += n;
    pos += chunk.length;
    if (n < chunk.length) break;
  }
  return admitted;
}

const GET_A = 'GET /v2/ HTTP/1.1\r\nHost: a.example\r\n\r\n';
const GET_EVIL = 'GET /latest/meta-data/ HTTP/1.1\r\nHost: evil.example\r\n\r\n';
const SMUGGLED = 'GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n12345678';
const POST_A_CL = `POST /up HTTP/1.1\r\nHost: a.example\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`;
const POST_A_CHUNKED = 'POST /up HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n'
  + '26\r\nGET / HTTP/1.1\r\nHost: evil.example\r\n\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n';

/**
 * Of the refused request (from `start`), only bytes that came in pieces before its head was
 * complete went on, and never the blank line that ends a head: the upstream never sees it whole.
 */
function wholeHeadNeverPasses(bytes: Buffer, start: number, admitted: number): boolean {
  return admitted >= start && !bytes.subarray(start, admitted).includes('\r\n\r\n');
}

interface Case {
  readonly name: string;
  readonly bytes: string;
  /**
   * Bytes admitted when fed whole: the whole input, or where the refused request starts. Fed in
   * pieces, the part of the refused request that came in earlier pieces has gone on as well, but
   * never its whole head (see wholeHeadNeverPasses).
   */
  readonly admitted: number;
  readonly refusal?: RegExp;
  readonly status?: number;
  readonly requests: number;
}

const cases: Case[] = [
  { name: 'keep-alive: two requests for the allowed host', bytes: GET_A + GET_A, admitted: 2 * GET_A.length, requests: 2 },
  { name: 'two allowed hosts of one upstream', bytes: GET_A + GET_A.replace('a.example', 'B.Example.'), admitted: 2 * GET_A.length + 1, requests: 2 },
  { name: 'a second request for another host is refused at its first byte', bytes: GET_A + GET_EVIL, admitted: GET_A.length, refusal: /request 2: host evil\.example is not allowed/, status: 421, requests: 2 },
  { name: 'the first request is checked too', bytes: GET_EVIL + GET_A, admitted: 0, refusal: /request 1: host evil/, status: 421, requests: 1 },
  { name: 'a Content-Length body that looks like a request is body', bytes: POST_A_CL + GET_A, admitted: POST_A_CL.length + GET_A.length, requests: 2 },
  { name: 'a chunked body (extensions, trailer) that looks like a request is body', bytes: POST_A_CHUNKED + GET_A, admitted: POST_A_CHUNKED.length + GET_A.length, requests: 2 },
  { name: 'after a chunked body, a request for another host is refused', bytes: POST_A_CHUNKED + GET_EVIL, admitted: POST_A_CHUNKED.length, refusal: /request 2: host evil/, requests: 2 },
  { name: 'after a Content-Length body, a request for another host is refused', bytes: POST_A_CL + GET_EVIL, admitted: POST_A_CL.length, refusal: /request 2: host evil/, requests: 2 },
  { name: 'an empty line before a request goes with it', bytes: GET_A + '\r\n' + GET_EVIL, admitted: GET_A.length, refusal: /request 2/, requests: 2 },
  {
    name: 'absolute-form target and a Host for another host (the upstream may pick either)',
    bytes: GET_A + 'GET http://a.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n',
    admitted: GET_A.length, refusal: /request 2: absolute-form target and Host header name different hosts/, status: 400, requests: 2,
  },
  { name: 'a second request without Host', bytes: GET_A + 'GET / HTTP/1.1\r\n\r\n', admitted: GET_A.length, refusal: /request 2: no Host header/, status: 400, requests: 2 },
  { name: 'a second request with two Hosts', bytes: GET_A + 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: evil.example\r\n\r\n', admitted: GET_A.length, refusal: /more than one Host/, requests: 2 },
  { name: 'a malformed second request', bytes: GET_A + 'GET / HTTP/1.1\r\nHost: a.example\r\n bad fold\r\n\r\n', admitted: GET_A.length, refusal: /request 2 is malformed/, status: 400, requests: 1 },
  {
    name: 'Content-Length with Transfer-Encoding (a smuggling classic) is malformed',
    bytes: GET_A + 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    admitted: GET_A.length, refusal: /request 2 is malformed/, status: 400, requests: 1,
  },
  { name: 'two different Content-Lengths are malformed', bytes: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', admitted: 0, refusal: /malformed/, requests: 0 },
  { name: 'an Upgrade request is refused', bytes: GET_A + 'GET / HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', admitted: GET_A.length, refusal: /request 2 asks for a protocol switch \(Upgrade\)/, requests: 2 },
  { name: 'CONNECT is refused', bytes: 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n', admitted: 0, refusal: /CONNECT/, requests: 1 },
  { name: 'a bad chunk size ends the stream where the body goes wrong', bytes: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', admitted: 64, refusal: /request 1 has a malformed body/, requests: 1 },
  { name: 'HTTP/1.0 with a body, then another request', bytes: 'POST / HTTP/1.0\r\nHost: a.example\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok' + GET_EVIL, admitted: 81, refusal: /request 2: host evil/, requests: 2 },
];

for (const c of cases) {
  await t.test(c.name, (t) => {
    const bytes = s(c.bytes);
    // Whole, byte by byte, and in chunks of 7: the same cut every time.
    for (const sizes of [[], Array<number>(bytes.length).fill(1), Array<number>(Math.ceil(bytes.length / 7)).fill(7)]) {
      const stream = new HttpRequestStream(allowAB());
      const admitted = feed(stream, bytes, sizes);
      const how = sizes.length === 0 ? 'whole' : `in chunks of ${sizes[0]}`;
      if (sizes.length === 0) t.equal(admitted, c.admitted, `admitted bytes, ${how}`);
      else t.ok(admitted === c.admitted || (c.refusal !== undefined && wholeHeadNeverPasses(bytes, c.admitted, admitted)), `admitted ${admitted} bytes ${how}, from ${c.admitted}`);
      if (c.refusal === undefined) {
        t.equal(stream.refusal, null, `nothing refused, ${how}`);
      } else {
        t.match(stream.refusal?.reason, c.refusal, `refusal, ${how}`);
        if (c.status !== undefined) t.equal(stream.refusal?.status, c.status);
        t.equal(stream.admit(s(GET_A)), 0, 'nothing is admitted after a refusal');
      }
      t.equal(stream.requests, c.requests, `request heads read, ${how}`);
      stream.close();
    }
    t.end();
  });
}

await t.test('the check sees every request with its method, target and host', (t) => {
  const seen: HttpRequestInfo[] = [];
  const stream = new HttpRequestStream(allowAB(seen));
  const bytes = s(GET_A + POST_A_CHUNKED + 'GET http://b.example/x HTTP/1.1\r\n\r\n');
  t.equal(stream.admit(bytes), bytes.length);
  t.same(seen.map((r) => [r.index, r.method, r.target, r.host]), [
    [1, 'GET', '/v2/', 'a.example'],
    [2, 'POST', '/up', 'a.example'],
    [3, 'GET', 'http://b.example/x', 'b.example'],
  ]);
  stream.close();
  t.end();
});

await t.test('a head with more than 32 fields (delivered in pieces by the parser) keeps its Host', (t) => {
  const seen: HttpRequestInfo[] = [];
  const stream = new HttpRequestStream(allowAB(seen));
  const fields = Array.from({ length: 40 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
  const bytes = s(`GET / HTTP/1.1\r\n${fields}Host: evil.example\r\n\r\n`);
  // Fed in two parts so that the parser flushes the first fields before the head ends.
  const first = stream.admit(bytes.subarray(0, 200));
  t.equal(first, 200);
  t.equal(stream.admit(bytes.subarray(200)), 0);
  t.match(stream.refusal?.reason, /host evil\.example is not allowed/);
  stream.close();
  t.end();
});

// Random request sequences, one of them possibly for a refused host, cut into random chunks:
// the admitted bytes are exactly the requests before the refused one.
const hostArb = fc.constantFrom('a.example', 'b.example', 'evil.example');
const bodyArb = fc.oneof(
  fc.constant<null>(null),
  fc.record({ kind: fc.constantFrom('length', 'chunked'), text: fc.string({ maxLength: 80 }) }),
);
const requestArb = fc.record({ method: fc.constantFrom('GET', 'PUT', 'POST', 'HEAD'), host: hostArb, body: bodyArb });

function render(r: { method: string; host: string; body: null | { kind: string; text: string } }): string {
  const headLine = `${r.method} /p HTTP/1.1\r\nHost: ${r.host}\r\n`;
  if (r.body === null) return `${headLine}\r\n`;
  // Bodies that look like requests for the refused host, to tempt a sloppy framer.
  const body = `GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n${r.body.text}`;
  const bytes = Buffer.byteLength(body, 'latin1');
  if (r.body.kind === 'length') return `${headLine}Content-Length: ${bytes}\r\n\r\n${body}`;
  const half = Math.floor(bytes / 2);
  const parts = [body.slice(0, half), body.slice(half)].filter((p) => p.length > 0);
  return `${headLine}Transfer-Encoding: chunked\r\n\r\n${parts.map((p) => `${Buffer.byteLength(p, 'latin1').toString(16)}\r\n${p}\r\n`).join('')}0\r\n\r\n`;
}

await t.test('property: exactly the requests before the first refused one are admitted', (t) => {
  fc.assert(
    fc.property(fc.array(requestArb, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (requests, sizes) => {
      const texts = requests.map(render);
      const firstBad = requests.findIndex((r) => r.host === 'evil.example');
      const want = s(texts.slice(0, firstBad === -1 ? texts.length : firstBad).join('')).length;
      const stream = new HttpRequestStream(allowAB());
      const admitted = feed(stream, s(texts.join('')), sizes);
      if (firstBad === -1 && admitted !== want) return false;
      stream.close();
      const all = s(texts.join(''));
      return (admitted === want || (firstBad !== -1 && wholeHeadNeverPasses(all, want, admitted))) && (stream.refusal === null) === (firstBad === -1);
    }),
    runs(400),
  );
  t.pass('admitted bytes end where the refused request starts');
  t.end();
});
