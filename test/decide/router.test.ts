import fc from 'fast-check';
import t from 'tap';
import type { RouteConfig } from '../../src/config/types.js';
import { Router } from '../../src/decide/router.js';
import { normaliseHostName } from '../../src/sniff/host-name.js';
import { casesComment, runs, seedComment } from '../helpers/parser-properties.js';

t.comment(seedComment());

const ROUTES: RouteConfig[] = [
  { hosts: ['registry.example.com'], upstream: null, port: 443, origin: 'test', resolver: 'default' },
  { hosts: ['*.example.com'], upstream: { host: '10.0.0.1', port: 443 }, port: null, origin: 'test', resolver: 'default' },
  { hosts: ['*.s3.example.com', 'a.s3.example.com'], upstream: null, port: null, origin: 'test', resolver: 'default' },
  { hosts: ['harbor'], upstream: { host: 'harbor.internal', port: 8443 }, port: null, origin: 'test', resolver: 'default' },
];

await t.test('match: exact, wildcard, precedence, case, trailing dot, no match', (t) => {
  const router = Router.compile(ROUTES);
  const cases: [string, string | undefined][] = [
    ['registry.example.com', 'registry.example.com'],
    ['REGISTRY.Example.COM', 'registry.example.com'],
    ['registry.example.com.', 'registry.example.com'],
    ['x.example.com', '*.example.com'],
    ['X.EXAMPLE.COM.', '*.example.com'],
    ['s3.example.com', '*.example.com'],
    ['bucket.s3.example.com', '*.s3.example.com'], // the longer suffix wins
    ['a.s3.example.com', 'a.s3.example.com'], // exact beats wildcard
    ['harbor', 'harbor'],
    ['a.b.example.com', undefined], // `*` is exactly one label
    ['x.y.s3.example.com', undefined],
    ['example.com', undefined], // `*.example.com` needs a label before the suffix
    ['registry.example.com..', undefined], // only one trailing dot is dropped
    ['.example.com', undefined], // an empty first label is not a label
    ['a..example.com', undefined],
    ['', undefined],
    ['.', undefined],
    ['registry.example.co', undefined],
    ['xregistry.example.com.evil', undefined],
    ['a_b.example.com', undefined], // not a host name
    ['10.0.0.1', undefined],
    [`${'a'.repeat(64)}.example.com`, undefined],
  ];
  for (const [host, want] of cases) t.equal(router.match(host)?.pattern, want, JSON.stringify(host));
  t.end();
});

await t.test('a match carries its route\'s upstream and port', (t) => {
  const router = Router.compile(ROUTES);
  t.same(router.match('registry.example.com'), { pattern: 'registry.example.com', upstream: null, port: 443, origin: 'test', resolver: 'default' });
  t.same(router.match('x.example.com'), { pattern: '*.example.com', upstream: { host: '10.0.0.1', port: 443 }, port: null, origin: 'test', resolver: 'default' });
  t.same(router.match('Harbor.'), { pattern: 'harbor', upstream: { host: 'harbor.internal', port: 8443 }, port: null, origin: 'test', resolver: 'default' });
  t.end();
});

await t.test('routes lists one entry per pattern in config order', (t) => {
  const router = Router.compile(ROUTES);
  t.same(router.routes.map((r) => r.pattern),
    ['registry.example.com', '*.example.com', '*.s3.example.com', 'a.s3.example.com', 'harbor']);
  t.ok(Object.isFrozen(router.routes));
  t.ok(router.routes.every((r) => Object.isFrozen(r)));
  t.end();
});

await t.test('a pattern listed twice keeps its first route', (t) => {
  const router = Router.compile([
    { hosts: ['a.example.com', '*.example.com'], upstream: null, port: 1, origin: 'test', resolver: 'default' },
    { hosts: ['a.example.com', '*.example.com'], upstream: null, port: 2, origin: 'test', resolver: 'default' },
  ]);
  t.equal(router.match('a.example.com')?.port, 1);
  t.equal(router.match('b.example.com')?.port, 1);
  t.equal(router.routes.length, 2);
  t.end();
});

await t.test('no routes matches nothing', (t) => {
  t.equal(Router.compile([]).match('example.com'), undefined);
  t.same(Router.compile([]).routes, []);
  t.end();
});

/** The definition of SPEC §3 matching, written as plainly as possible. */
function referenceMatch(routes: readonly RouteConfig[], host: string): { pattern: string; route: number } | undefined {
  let name = host.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const all = routes.flatMap((r, route) => r.hosts.map((pattern) => ({ pattern, route })));
  const exact = all.find((p) => p.pattern === name);
  if (exact !== undefined) return exact;
  return all.find(({ pattern }) => {
    if (!pattern.startsWith('*.')) return false;
    const suffix = pattern.slice(1); // ".example.com"
    const label = name.slice(0, name.length - suffix.length);
    return name.endsWith(suffix) && label !== '' && !label.includes('.');
  });
}

/** A random route with hosts drawn from `pattern`. */
function routeArb(pattern: fc.Arbitrary<string>): fc.Arbitrary<RouteConfig> {
  return fc.record({
    hosts: fc.array(pattern, { minLength: 1, maxLength: 3 }),
    upstream: fc.constant(null),
    port: fc.integer({ min: 1, max: 65535 }),
    origin: fc.constant('test'),
    resolver: fc.constant('default'),
  });
}

await t.test('property: Router.match agrees with the reference matcher', (t) => {
  // A small label alphabet so that random names often hit random patterns.
  const label = fc.constantFrom('a', 'b', 'c', 'ex', 'com', 'x-1');
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
  const pattern = fc.oneof(
    name,
    fc.array(label, { minLength: 2, maxLength: 3 }).map((ls) => `*.${ls.join('.')}`),
  );
  const route = routeArb(pattern);
  const query = fc.tuple(name, fc.boolean(), fc.boolean()).map(([n, upper, dot]) =>
    `${upper ? n.toUpperCase() : n}${dot ? '.' : ''}`);
  fc.assert(
    fc.property(fc.array(route, { maxLength: 6 }), fc.array(query, { minLength: 1, maxLength: 20 }), (routes, queries) => {
      const router = Router.compile(routes);
      for (const q of queries) {
        const want = referenceMatch(routes, q);
        const got = router.match(q);
        if (got?.pattern !== want?.pattern) return false;
        if (want !== undefined && got?.port !== routes[want.route]?.port) return false;
      }
      return true;
    }),
    runs(500),
  );
  t.pass('random tables agree');
  t.end();
});

await t.test('property: random SNI bytes reach an upstream only through a route the reference matches', (t) => {
  // The daemon's path for a name: the raw HostName bytes are normalised, then matched. Bytes
  // are drawn from pattern labels plus hostile ones (NUL, '*', '_', ':', high bytes, dots).
  const piece = fc.oneof(
    fc.constantFrom('a', 'b', 'ex', 'com', 'x-1', '.', '.', '*', '*.', 'A', 'EX', '_', ':', '..', '-'),
    fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
  );
  const sniBytes = fc.array(piece, { maxLength: 12 }).map((ps) => Buffer.from(ps.join(''), 'latin1'));
  const label = fc.constantFrom('a', 'b', 'ex', 'com', 'x-1');
  const pattern = fc.oneof(
    fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.')),
    fc.array(label, { minLength: 1, maxLength: 2 }).map((ls) => `*.${ls.join('.')}`),
  );
  const route = routeArb(pattern);
  let reached = 0;
  fc.assert(
    fc.property(fc.array(route, { maxLength: 5 }), fc.array(sniBytes, { minLength: 1, maxLength: 20 }), (routes, names) => {
      const router = Router.compile(routes);
      for (const raw of names) {
        const n = normaliseHostName(raw);
        const got = n.ok ? router.match(n.name) ?? null : null;
        const want = referenceMatch(routes, raw.toString('latin1'));
        if (got !== null) reached++;
        // Reaching needs a valid name and the reference's route. A valid name the reference
        // matches must reach it: the SNI check and Router.match apply the same rule.
        if (got !== null && got.pattern !== want?.pattern) return false;
        if (n.ok && want !== undefined && got === null) return false;
      }
      return true;
    }),
    runs(1000),
  );
  t.comment(`${reached} names reached a route`);
  t.ok(reached > 0, 'some random names did match');
  t.end();
});

t.comment(casesComment());
