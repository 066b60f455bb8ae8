// UpstreamResolver against a real dnsmasq: shared lookups, TTL clamping, negative caching,
// family order, failures. Time is a fake clock injected into the resolver, so TTL expiry is
// exercised without waiting.
import t from 'tap';
import type { ResolverConfig } from '../../src/config/types.js';
import { UpstreamResolver } from '../../src/connect/resolver.js';
import { ForwardError } from '../../src/errors.js';
import type { DnsLookupResult } from '../../src/observe/metrics.js';
import { Dnsmasq } from '../helpers/dnsmasq.js';

const dns = await Dnsmasq.start({
  domain: 'test',
  ttlSeconds: 60,
  address: '127.0.0.78',
  records: {
    'shared.test': ['127.0.0.10'],
    'cached.test': ['127.0.0.11'],
    'minttl.test': ['127.0.0.12'],
    'maxttl.test': ['127.0.0.13'],
    'dual.test': ['127.0.0.14', '::1'],
    'two.test': ['127.0.0.15', '127.0.0.16'],
  },
});
t.teardown(() => dns.stop());

function setup(over: Partial<ResolverConfig> = {}): { r: UpstreamResolver; clock: { now: number }; counts: Record<DnsLookupResult, number> } {
  const clock = { now: 1_000_000 };
  const counts: Record<DnsLookupResult, number> = { hit: 0, miss: 0, stale: 0, failure: 0 };
  const cfg: ResolverConfig = {
    name: 'default', servers: [{ host: dns.address, port: dns.port }],
    prefer: 'ipv4', timeoutMs: 500, minTtlMs: 5000, maxTtlMs: 300_000, negativeTtlMs: 5000, ...over,
  };
  return { r: new UpstreamResolver(cfg, (res) => { counts[res]++; }, () => clock.now), clock, counts };
}

await t.test('concurrent lookups of one name share one query', async (t) => {
  const { r, counts } = setup();
  const results = await Promise.all(Array.from({ length: 20 }, () => r.resolve('shared.test')));
  for (const res of results) t.same(res, ['127.0.0.10']);
  t.equal(dns.queries('shared.test', 'A'), 1, 'one A query');
  t.equal(dns.queries('shared.test', 'AAAA'), 1, 'one AAAA query');
  t.same(counts, { hit: 0, miss: 20, stale: 0, failure: 0 }, 'every caller waited for DNS: a miss each');
});

await t.test('answers are cached for their TTL', async (t) => {
  const { r, clock } = setup();
  await r.resolve('cached.test');
  clock.now += 59_000;
  await r.resolve('cached.test');
  t.equal(dns.queries('cached.test', 'A'), 1, 'still cached 59 s later (TTL 60 s)');
  clock.now += 2000;
  await r.resolve('cached.test');
  t.equal(dns.queries('cached.test', 'A'), 2, 'queried again after the TTL');
});

await t.test('min_ttl and max_ttl clamp the TTL', async (t) => {
  const long = setup({ minTtlMs: 120_000 });
  await long.r.resolve('minttl.test');
  long.clock.now += 90_000;
  await long.r.resolve('minttl.test');
  t.equal(dns.queries('minttl.test', 'A'), 1, 'min_ttl 120 s keeps a 60 s answer');
  const short = setup({ maxTtlMs: 2000 });
  await short.r.resolve('maxttl.test');
  short.clock.now += 2500;
  await short.r.resolve('maxttl.test');
  t.equal(dns.queries('maxttl.test', 'A'), 2, 'max_ttl 2 s expires a 60 s answer');
});

await t.test('prefer orders the families; both are asked', async (t) => {
  t.same(await setup().r.resolve('dual.test'), ['127.0.0.14', '::1']);
  t.same(await setup({ prefer: 'ipv6' }).r.resolve('dual.test'), ['::1', '127.0.0.14']);
  t.same([...await setup().r.resolve('two.test')].sort(), ['127.0.0.15', '127.0.0.16'], 'every address is kept');
});

await t.test('NXDOMAIN is dns_failure and cached for negative_ttl', async (t) => {
  const { r, clock } = setup({ negativeTtlMs: 3000 });
  const err = await r.resolve('missing.test').catch((e: unknown) => e);
  t.ok(err instanceof ForwardError && err.outcome === 'dns_failure', 'dns_failure');
  t.match(String((err as Error).message), /ENOTFOUND/);
  await r.resolve('missing.test').catch(() => undefined);
  t.equal(dns.queries('missing.test', 'A'), 1, 'negative answer cached');
  clock.now += 3500;
  await r.resolve('missing.test').catch(() => undefined);
  t.equal(dns.queries('missing.test', 'A'), 2, 'asked again after negative_ttl');
});

await t.test('an IP literal needs no lookup', async (t) => {
  const { r, counts } = setup();
  t.same(await r.resolve('10.1.2.3'), ['10.1.2.3']);
  t.same(await r.resolve('2001:db8::1'), ['2001:db8::1']);
  t.same(counts, { hit: 0, miss: 0, stale: 0, failure: 0 });
});

await t.test('a dead DNS server is dns_failure within the timeout, counted as failure', async (t) => {
  const { r, counts } = setup({ servers: [{ host: '127.0.0.79', port: dns.port }], timeoutMs: 300 });
  const started = Date.now();
  const err = await r.resolve('shared.test').catch((e: unknown) => e);
  t.ok(err instanceof ForwardError && err.outcome === 'dns_failure');
  // Issue #16 item 8: the access line's reason says which resolver and server failed.
  t.match(err instanceof Error ? err.message : '', new RegExp(`^resolve shared\\.test: E[A-Z]+ \\(resolver default, servers 127\\.0\\.0\\.79:${dns.port}\\)$`));
  t.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
  t.equal(counts.failure, 1);
});

await t.test('when the DNS server dies, answers are served stale; fresh ones return with it', async (t) => {
  const local = await Dnsmasq.start({ domain: 'test', ttlSeconds: 60, address: '127.0.0.80', records: { 'stale.test': ['127.0.0.40'] } });
  t.teardown(() => local.stop());
  const { r, clock, counts } = setup({ servers: [{ host: local.address, port: local.port }], negativeTtlMs: 5000 });
  t.same(await r.resolve('stale.test'), ['127.0.0.40']);
  await local.stop();
  clock.now += 61_000;
  t.same(await r.resolve('stale.test'), ['127.0.0.40'], 'stale answer after expiry with the server down');
  t.same(await r.resolve('stale.test'), ['127.0.0.40'], 'and again, without waiting for the dead server');
  t.equal(counts.stale, 2);
  // The second stale answer started a refresh against the dead server: let it fail first, or
  // under load the next lookup can share it and be served stale again instead of asking.
  await r.settled();
  await local.restart();
  clock.now += 6000; // past negative_ttl: the server is asked again
  t.same(await r.resolve('stale.test'), ['127.0.0.40']);
  t.equal(counts.miss, 2, 'a fresh answer from the restarted server');
  await local.stop();
  clock.now += 60_000 + 60 * 60 * 1000 + 1000;
  const err = await r.resolve('stale.test').catch((e: unknown) => e);
  t.ok(err instanceof ForwardError && err.outcome === 'dns_failure', 'not served more than an hour past expiry');
  t.equal(counts.failure, 1);
});

await t.test('a name in use is refreshed in the background before it expires', async (t) => {
  const local = await Dnsmasq.start({ domain: 'test', ttlSeconds: 60, address: '127.0.0.81', records: { 'ahead.test': ['127.0.0.41'] } });
  t.teardown(() => local.stop());
  const s = setup({ servers: [{ host: local.address, port: local.port }] });
  await s.r.resolve('ahead.test');
  s.clock.now += 55_000; // under 10 % of the 60 s TTL left
  t.same(await s.r.resolve('ahead.test'), ['127.0.0.41'], 'served from cache at once');
  await local.waitForQueries('ahead.test', 2);
  t.pass('a second query was sent in the background');
  await s.r.settled();
  s.clock.now += 10_000; // past the first answer's expiry, within the refreshed one
  await s.r.resolve('ahead.test');
  t.equal(local.queries('ahead.test'), 2, 'the refreshed answer is used: no third query');
  t.same(s.counts, { hit: 2, miss: 1, stale: 0, failure: 0 });
});

await t.test('the cache is bounded: the least recently used name goes first', async (t) => {
  const clock = { now: 0 };
  const r = new UpstreamResolver(
    { name: 'default', servers: [{ host: dns.address, port: dns.port }], prefer: 'ipv4', timeoutMs: 500, minTtlMs: 5000, maxTtlMs: 300_000, negativeTtlMs: 5000 },
    () => {}, () => clock.now, { maxCacheEntries: 2, maxConcurrentLookups: 16 });
  await r.resolve('shared.test');
  await r.resolve('cached.test');
  await r.resolve('shared.test'); // now most recently used
  await r.resolve('two.test'); // evicts cached.test
  t.equal(r.cacheSize, 2);
  const before = dns.queries('cached.test');
  await r.resolve('cached.test');
  t.equal(dns.queries('cached.test'), before + 1, 'the evicted name is asked again');
  const sharedBefore = dns.queries('shared.test');
  await r.resolve('two.test');
  t.equal(dns.queries('shared.test'), sharedBefore, 'no query for a name still cached');
});

await t.test('lookups in flight are bounded; past the bound a lookup fails at once', async (t) => {
  const r = new UpstreamResolver(
    { name: 'default', servers: [{ host: dns.address, port: dns.port }], prefer: 'ipv4', timeoutMs: 500, minTtlMs: 5000, maxTtlMs: 300_000, negativeTtlMs: 5000 },
    () => {}, Date.now, { maxCacheEntries: 100, maxConcurrentLookups: 2 });
  const results = await Promise.allSettled([r.resolve('b1.test'), r.resolve('b2.test'), r.resolve('b3.test')]);
  const third = results[2];
  t.equal(third?.status, 'rejected');
  t.match(String(third?.status === 'rejected' ? (third.reason as Error).message : ''), /2 lookups in flight/);
  t.equal(dns.queries('b3.test'), 0, 'no query sent past the bound');
});
