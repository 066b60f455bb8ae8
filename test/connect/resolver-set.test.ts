// ResolverSet: one UpstreamResolver per configured name, each with its own cache and counts,
// and a rebuild (reload) that keeps every resolver whose settings did not change.
import t from 'tap';
import type { ResolverConfig } from '../../src/config/types.js';
import { ResolverSet } from '../../src/connect/resolver-set.js';
import { Dnsmasq } from '../helpers/dnsmasq.js';

const acr = await Dnsmasq.start({ domain: 'acr.test', ttlSeconds: 600, address: '127.0.0.85', records: { 'registry.acr.test': ['127.0.0.50'] } });
t.teardown(() => acr.stop());
const ecr = await Dnsmasq.start({ domain: 'ecr.test', ttlSeconds: 600, address: '127.0.0.86', records: { 'api.ecr.test': ['127.0.0.60'] } });
t.teardown(() => ecr.stop());

function cfg(name: string, d: Dnsmasq, over: Partial<ResolverConfig> = {}): ResolverConfig {
  return { name, servers: [{ host: d.address, port: d.port }], prefer: 'ipv4', timeoutMs: 500, minTtlMs: 5_000, maxTtlMs: 300_000, negativeTtlMs: 5_000, ...over };
}

await t.test('each name resolves with its own servers and counts under its own name', async (t) => {
  const counted: string[] = [];
  const set = ResolverSet.build([cfg('default', acr), cfg('aws', ecr)], (resolver, result) => counted.push(`${resolver}:${result}`));
  t.same(set.names, ['default', 'aws']);
  t.same(await set.get('default').resolve('registry.acr.test'), ['127.0.0.50']);
  t.same(await set.get('aws').resolve('api.ecr.test'), ['127.0.0.60']);
  const wrong = await set.get('default').resolve('api.ecr.test').catch((e: unknown) => e);
  t.match(wrong instanceof Error ? wrong.message : '', /^resolve api\.ecr\.test: EREFUSED \(resolver default, servers 127\.0\.0\.85:\d+\)$/,
    'the other zone is refused, and the reason names the resolver and its server');
  t.same(counted, ['default:miss', 'aws:miss', 'default:failure']);
  t.throws(() => set.get('azure'), /no resolver named azure/, 'a name the config did not validate is a bug');
});

await t.test('a rebuild keeps each unchanged resolver with its cache and replaces the changed one', async (t) => {
  const counted: string[] = [];
  const count = (resolver: string, result: string): void => { counted.push(`${resolver}:${result}`); };
  const first = ResolverSet.build([cfg('default', acr), cfg('aws', ecr)], count);
  await first.get('default').resolve('registry.acr.test');
  await first.get('aws').resolve('api.ecr.test');
  const second = ResolverSet.build([cfg('default', acr), cfg('aws', ecr, { timeoutMs: 700 })], count, first);
  t.equal(second.get('default'), first.get('default'), 'the unchanged resolver is the same object');
  t.not(second.get('aws'), first.get('aws'), 'the changed one is new');
  t.equal(second.get('default').cacheSize, 1, 'and keeps its cache');
  t.equal(second.get('aws').cacheSize, 0, 'the new one starts empty');
  const asked = acr.queries('registry.acr.test');
  await second.get('default').resolve('registry.acr.test');
  t.equal(acr.queries('registry.acr.test'), asked, 'answered from the kept cache, no query');
  t.same(counted.slice(-1), ['default:hit']);
  const third = ResolverSet.build([cfg('aws', ecr, { timeoutMs: 700 })], count, second);
  t.same(third.names, ['aws'], 'a removed name is gone');
  t.equal(third.get('aws'), second.get('aws'));
});
