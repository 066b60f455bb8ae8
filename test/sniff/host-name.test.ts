// One host name rule (issue #14 item 11): the SNI path (a ClientHello's server_name), the HTTP
// Host path and the config path (validateHostname, route patterns) accept exactly the same
// names and normalise them the same way.
import fc from 'fast-check';
import t from 'tap';
import { normalizeHostPattern, validateHostname } from '../../src/config/address.js';
import { parseClientHello } from '../../src/sniff/client-hello.js';
import { checkHostName } from '../../src/sniff/host-name.js';
import { parseHttpHead } from '../../src/sniff/http-host.js';
import { casesComment, runs, seedComment } from '../helpers/parser-properties.js';

t.comment(seedComment());

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];

/** A ClientHello (RFC 8446 §4.1.2) whose only extension is server_name carrying `name`. */
function helloWithSni(name: string): Buffer {
  const host = [...Buffer.from(name, 'latin1')];
  const entry = [0, ...u16(host.length), ...host]; // name_type host_name, HostName<1..2^16-1>
  const sni = [0, 0, ...u16(entry.length + 2), ...u16(entry.length), ...entry]; // type 0, ServerNameList
  const body = [0x03, 0x03, ...new Array<number>(32).fill(7), 0, ...u16(2), 0x13, 0x01, 1, 0, ...u16(sni.length), ...sni];
  const message = [0x01, 0, ...u16(body.length), ...body];
  return Buffer.from([22, 0x03, 0x01, ...u16(message.length), ...message]);
}

/** The name each path gives for `name`: the normalised name, or null when it refuses it. */
function viaSni(name: string): string | null {
  const r = parseClientHello(helloWithSni(name));
  if (r.kind !== 'ok') throw new Error(`hello for ${JSON.stringify(name)}: ${JSON.stringify(r)}`);
  return r.value.serverName;
}

function viaHttpHost(name: string): string | null {
  const r = parseHttpHead(Buffer.from(`GET / HTTP/1.1\r\nHost: ${name}\r\n\r\n`, 'latin1'));
  // A name with a control character or ':' ends the head or the host earlier: not comparable.
  if (r.kind !== 'ok') return null;
  return r.value.host;
}

function viaConfig(name: string): string | null {
  const r = validateHostname(name);
  return r.ok ? r.value : null;
}

const label63 = 'a'.repeat(63);
const name253 = [label63, label63, label63, 'd'.repeat(61)].join('.');

/** [name, the normalised name or null for refused]. */
const CASES: readonly [string, string | null][] = [
  ['registry.example.com', 'registry.example.com'],
  ['Registry.Example.COM.', 'registry.example.com'],
  ['harbor', 'harbor'],
  ['a-b.c0.example', 'a-b.c0.example'],
  ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ['1password.com', '1password.com'],
  ['1.2.3.example.com', '1.2.3.example.com'],
  [`${label63}.example`, `${label63}.example`],
  [`${label63}a.example`, null],
  [name253, name253],
  [`${name253}.`, name253],
  [`${name253}x`, null],
  ['', null],
  ['.', null],
  ['a..b', null],
  ['.a.b', null],
  ['a.b..', null],
  ['a-.example.com', null], // the case the two checks disagreed on
  ['-a.example.com', null],
  ['-cdn-.example.com', null],
  ['a.example-', null],
  ['-', null],
  ['a_b.com', null],
  ['_acme.example.com', null],
  ['a b.com', null],
  ['a*.com', null],
  ['*.example.com', null], // a pattern, not a name: only the config's pattern check takes it
  ['bücher.example', null],
  ['a\x00.example', null],
  ['10.0.0.1', null],
  ['10.0.0.300', null],
  ['127.1', null],
  ['0x7f.0.0.0x1', null],
  ['example.0x', null],
  ['123', null],
  ['example.123', null],
  ['::1', null],
  ['2001:db8::1', null],
  ['[::1]', null],
];

await t.test('the SNI and config paths agree on every case', (t) => {
  for (const [name, want] of CASES) {
    // A TLS HostName is never empty (RFC 6066 §3, HostName<1..2^16-1>).
    if (name !== '') t.equal(viaSni(name), want, `SNI ${JSON.stringify(name)}`);
    t.equal(viaConfig(name), want, `config ${JSON.stringify(name)}`);
    t.equal(checkHostName(name).ok, want !== null, `checkHostName ${JSON.stringify(name)}`);
    // The Host header of a plain HTTP request goes the same way, where it can carry the name.
    if (![...name].some((c) => c < ' ' || c === ':') && name !== '') t.equal(viaHttpHost(name), want, `Host ${JSON.stringify(name)}`);
  }
  t.end();
});

await t.test('a wildcard pattern is exactly "*." and a name the same rule accepts', (t) => {
  for (const [name, want] of CASES) {
    if (name === '' || name.startsWith('*') || name.endsWith('.')) continue;
    const suffix = want?.split('.') ?? [];
    const pattern = normalizeHostPattern(`*.${name}`);
    // *.x needs a suffix of two labels; otherwise the pattern stands or falls with its suffix.
    t.equal(pattern.ok, want !== null && suffix.length >= 2, `*.${name}`);
  }
  t.end();
});

await t.test('property: random strings get the same answer on both paths', (t) => {
  const piece = fc.oneof(
    fc.constantFrom('a', 'B', '0', '9', '-', '.', '..', '_', '*', ':', 'xn--', '0x', 'ab-c', '-x', 'x-'),
    fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
  );
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 16 }), (pieces) => {
      const name = pieces.join('');
      return viaSni(name) === viaConfig(name);
    }),
    runs(2000),
  );
  t.pass('agree');
  t.end();
});

t.comment(casesComment());
