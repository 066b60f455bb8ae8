// PROXY protocol with a real sender (HAProxy send-proxy-v2 and send-proxy) and the plain-HTTP
// listener, through the built daemon (issue 7).
import { createServer as createHttpServer } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import t from 'tap';
import { DaemonProcess, type LogLine } from '../helpers/daemon.js';
import { Haproxy, haproxyAvailable } from '../helpers/haproxy.js';
import { Origin } from '../helpers/origin.js';
import { TestCa } from '../helpers/pki.js';
import { freePort, run } from '../helpers/proc.js';

const ca = new TestCa();
t.teardown(() => ca.cleanup());
const leaf = ca.issue(['pp.test']);
const origin = new Origin('pp', leaf);
await origin.listen();
t.teardown(() => origin.close());

/** Every request the plain-HTTP origin received: "host url body-length". */
const originSaw: string[] = [];
const httpOrigin = createHttpServer((req, res) => {
  const body: Buffer[] = [];
  req.on('data', (c: Buffer) => body.push(c));
  req.on('end', () => {
    originSaw.push(`${req.headers.host ?? '?'} ${req.url ?? ''} ${Buffer.concat(body).length}`);
    res.end(`plain hello for ${req.headers.host ?? '?'} ${req.url ?? ''}\n`);
  });
});
httpOrigin.listen(0, '127.0.0.1');
await once(httpOrigin, 'listening');
t.teardown(() => httpOrigin.close());
const httpOriginPort = (httpOrigin.address() as AddressInfo).port;

const proxyPort = await freePort();
const httpPort = await freePort();
const d = await DaemonProcess.start(`
listen:
  - address: "127.0.0.1:${proxyPort}"
    proxy_protocol: true
    proxy_protocol_from: ["127.0.0.1/32"]
  - address: "127.0.0.1:${httpPort}"
    protocol: http
metrics:
  address: "127.0.0.1:0"
clients:
  allow: ["127.0.0.1/32", "127.0.0.2/32"]
routes:
  - hosts: ["pp.test"]
    upstream: "127.0.0.1:${origin.port}"
  - hosts: ["http.test", "alias.test"]
    upstream: "127.0.0.1:${httpOriginPort}"
  - hosts: ["elsewhere.test"]
    upstream: "127.0.0.1:${proxyPort}"
`);
t.teardown(() => d.stop());

const skip = await haproxyAvailable();
const v2Port = await freePort();
const v1Port = await freePort();
const haproxy = skip === false
  ? await Haproxy.start([
    { port: v2Port, target: proxyPort, serverOptions: 'send-proxy-v2' },
    { port: v1Port, target: proxyPort, serverOptions: 'send-proxy' },
  ])
  : null;
if (haproxy !== null) t.teardown(() => haproxy.stop());

function curlVia(port: number, from: string): ReturnType<typeof run> {
  return run('curl', ['-sS', '--max-time', '10', '--interface', from, '--cacert', ca.caFile,
    '--resolve', `pp.test:${port}:127.0.0.1`, `https://pp.test:${port}/hello`]);
}

for (const [version, port] of [['v2', v2Port], ['v1', v1Port]] as const) {
  await t.test(`HAProxy send-proxy ${version}: the log and the ACL see the original client`, { skip }, async (t) => {
    const viaLb = (l: LogLine): boolean => l['outcome'] === 'forwarded' && String(l['client']).startsWith('127.0.0.2:') && 'peer' in l;
    const seen = d.lines.filter(viaLb).length;
    const r = await curlVia(port, '127.0.0.2');
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'hello from pp\n');
    const line = (await d.waitForCount(viaLb, seen + 1)).at(-1);
    t.match(String(line?.['peer']), /^127\.0\.0\.1:\d+$/, 'the client is 127.0.0.2; the load balancer is the peer');
    const before = d.lines.filter((l) => l['outcome'] === 'client_denied').length;
    const denied = await curlVia(port, '127.0.0.5');
    t.not(denied.code, 0, 'a client outside clients.allow is refused through the load balancer');
    const all = await d.waitForCount((l) => l['outcome'] === 'client_denied', before + 1);
    t.match(String(all.at(-1)?.['client']), /^127\.0\.0\.5:/);
  });
}

await t.test('a trusted peer without a PROXY header is refused as bad_proxy_header', async (t) => {
  const r = await run('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `pp.test:${proxyPort}:127.0.0.1`, `https://pp.test:${proxyPort}/hello`]);
  t.not(r.code, 0);
  const line = await d.accessLine((l) => l['outcome'] === 'bad_proxy_header');
  t.match(String(line['reason']), /.+/);
  t.equal(line['sni'], null);
});

await t.test('an untrusted peer is taken as a client, no header expected', async (t) => {
  const r = await curlVia(proxyPort, '127.0.0.2');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hello from pp\n');
});

await t.test('http listener: routes by Host, 421 for a host not allowed, 400 for garbage', async (t) => {
  const ok = await run('curl', ['-sS', '--max-time', '10', '--resolve', `http.test:${httpPort}:127.0.0.1`, `http://http.test:${httpPort}/v2/`]);
  t.equal(ok.stdout, `plain hello for http.test:${httpPort} /v2/\n`, ok.stderr);
  const line = await d.accessLine((l) => l['sni'] === 'http.test');
  t.equal(line['outcome'], 'forwarded');
  const no = await run('curl', ['-sS', '-w', '%{http_code}', '--max-time', '10', '--resolve', `other.test:${httpPort}:127.0.0.1`, `http://other.test:${httpPort}/`]);
  t.match(no.stdout, /host other\.test is not allowed\n421$/);
  const s = connect(httpPort, '127.0.0.1');
  s.on('error', () => {});
  const got: Buffer[] = [];
  s.on('data', (c: Buffer) => got.push(c));
  s.write('GET / HTTP/1.1\r\nHost: http.test\r\n bad fold\r\n\r\n');
  await once(s, 'close');
  t.match(Buffer.concat(got).toString(), /^HTTP\/1\.1 400 Bad Request\r\n/);
});

/**
 * Sends `requests` on one connection to the http listener — all in one write (pipelined), or each
 * after the previous response (keep-alive) — and returns everything the forwarder answered.
 */
async function onOneConnection(requests: readonly string[], pipelined: boolean): Promise<string> {
  const sock = connect(httpPort, '127.0.0.1');
  sock.on('error', () => {});
  let got = '';
  let wake: (() => void) | null = null;
  sock.on('data', (c: Buffer) => {
    got += c.toString('latin1');
    wake?.();
  });
  const closed = once(sock, 'close');
  await once(sock, 'connect');
  if (pipelined) {
    sock.write(requests.join(''));
  } else {
    for (const [i, r] of requests.entries()) {
      sock.write(r);
      if (i === requests.length - 1) break;
      // The next request goes only after this response is complete (it ends in "\n" of the body).
      const responses = i + 1;
      while ((got.match(/HTTP\/1\.1 \d{3}/g) ?? []).length < responses || !got.endsWith('\n')) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  }
  await closed;
  return got;
}

const get = (host: string, path = '/'): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const sawSince = (n: number): string[] => originSaw.slice(n);

await t.test('http listener: keep-alive requests for allowed hosts of the same upstream all go through', async (t) => {
  const before = originSaw.length;
  const got = await onOneConnection([get('http.test', '/a'), get('alias.test', '/b'), `${get('http.test', '/c')}`.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')], false);
  t.equal((got.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 3, got);
  t.same(sawSince(before), ['http.test /a 0', 'alias.test /b 0', 'http.test /c 0']);
});

for (const pipelined of [false, true]) {
  const how = pipelined ? 'pipelined' : 'keep-alive';
  await t.test(`http listener: a ${how} request for a host not allowed gets 421 and never reaches the upstream`, async (t) => {
    const before = originSaw.length;
    const got = await onOneConnection([get('http.test', '/first'), get('evil.test', '/latest/meta-data/'), get('http.test', '/after')], pipelined);
    t.match(got, /^HTTP\/1\.1 200 OK\r\n[^]*plain hello for http\.test \/first\n/, 'the first request is answered by the upstream');
    t.match(got, /\nHTTP\/1\.1 421 Misdirected Request\r\n[^]*request 2: host evil\.test is not allowed\n$/, 'then 421 for the refused one, and the connection closes');
    t.same(sawSince(before), ['http.test /first 0'], 'the upstream saw only the allowed request');
    const line = await d.accessLine((l) => l['outcome'] === 'not_allowed' && String(l['reason']).startsWith('request 2: host evil.test'));
    t.equal(line['host'], 'http.test', 'counted under the connection\'s route');
    t.ok(Number(line['bytesDown']) > 0, 'the answer to the allowed request was relayed');
  });
}

await t.test('http listener: an allowed host that goes to another upstream is refused on the same connection', async (t) => {
  const before = originSaw.length;
  const got = await onOneConnection([get('http.test', '/one'), get('elsewhere.test')], true);
  t.match(got, /421 Misdirected Request[^]*request 2: host elsewhere\.test goes to 127\.0\.0\.1:\d+, not to this connection's 127\.0\.0\.1:\d+\n$/);
  t.same(sawSince(before), ['http.test /one 0']);
});

await t.test('http listener: an absolute-form target naming another host than Host is refused', async (t) => {
  const before = originSaw.length;
  const got = await onOneConnection(['GET http://http.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n'], true);
  t.match(got, /^HTTP\/1\.1 400 Bad Request\r\n[^]*absolute-form target and Host header name different hosts/);
  t.same(sawSince(before), []);
  const got2 = await onOneConnection([get('http.test', '/ok'), 'GET http://http.test/x HTTP/1.1\r\nHost: evil.test\r\n\r\n'], true);
  t.match(got2, /400 Bad Request[^]*request 2: absolute-form target and Host header name different hosts/);
  t.same(sawSince(before), ['http.test /ok 0']);
});

await t.test('http listener: bodies are framed by the parser: a body that looks like a request is body', async (t) => {
  const before = originSaw.length;
  const smuggled = get('evil.test', '/smuggled');
  const chunked = `POST /chunked HTTP/1.1\r\nHost: http.test\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
  const sized = `PUT /sized HTTP/1.1\r\nHost: http.test\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
  const got = await onOneConnection([chunked, sized, get('http.test', '/last').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')], true);
  t.equal((got.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 3, got);
  t.same(sawSince(before), [`http.test /chunked ${smuggled.length}`, `http.test /sized ${smuggled.length}`, 'http.test /last 0']);
});
