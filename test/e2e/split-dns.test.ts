// Issue #17 end to end: one bastion, two private networks, two DNS servers. Two dnsmasq
// instances answer different zones and each refuses the other's (as Alibaba's VPC resolver does
// not answer AWS endpoint names); one route per resolver carries a real TLS transfer; an outage
// of one resolver leaves the other's routes untouched while the first serves stale answers; a
// reload that changes one resolver keeps the other's cache.
import { createHash } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import t from 'tap';
import { DaemonProcess, metric, runCli, type LogLine } from '../helpers/daemon.js';
import { Dnsmasq } from '../helpers/dnsmasq.js';
import { blobSha256, Origin } from '../helpers/origin.js';
import { TestCa } from '../helpers/pki.js';

const ca = new TestCa();
t.teardown(() => ca.cleanup());
const leaf = ca.issue(['registry.acr.test', 'fresh.acr.test', 'api.ecr.test']);

// The "Alibaba" side on 127.0.0.31, the "AWS" side on 127.0.0.32: each origin names itself.
const acrOrigin = new Origin('acr', leaf);
const acrPort = await acrOrigin.listen('127.0.0.31');
const ecrOrigin = new Origin('ecr', leaf);
const ecrPort = await ecrOrigin.listen('127.0.0.32');
t.teardown(async () => { await acrOrigin.close(); await ecrOrigin.close(); });

const acrDns = await Dnsmasq.start({
  domain: 'acr.test', ttlSeconds: 60, address: '127.0.0.87',
  records: { 'registry.acr.test': ['127.0.0.31'], 'fresh.acr.test': ['127.0.0.31'] },
});
t.teardown(() => acrDns.stop());
const ecrDns = await Dnsmasq.start({ domain: 'ecr.test', ttlSeconds: 60, address: '127.0.0.88', records: { 'api.ecr.test': ['127.0.0.32'] } });
t.teardown(() => ecrDns.stop());

/** The config: the default resolver answers acr.test, the named `ecr` one ecr.test. */
function config(opts: { maxTtl: string; ecrTimeout: string }): string {
  return `
listen:
  - address: "127.0.0.1:0"
metrics:
  address: "127.0.0.1:0"
resolver:
  servers: ["${acrDns.server}"]
  min_ttl: 0s
  max_ttl: ${opts.maxTtl}
  negative_ttl: 1ms
resolvers:
  ecr:
    servers: ["${ecrDns.server}"]
    timeout: ${opts.ecrTimeout}
    min_ttl: 0s
    max_ttl: ${opts.maxTtl}
    negative_ttl: 1ms
# The origins are on loopback: open exactly that block (special-purpose addresses rule).
upstream_networks: ["127.0.0.0/24"]
routes:
  - hosts: ["registry.acr.test", "fresh.acr.test"]
    port: ${acrPort}
  - hosts: ["api.ecr.test"]
    port: ${ecrPort}
    resolver: ecr
`;
}

/** GET /blob?size=N through the daemon with SNI `name`; resolves with the body's SHA-256. */
function fetchBlob(d: DaemonProcess, name: string, size: number): Promise<{ sha256: string; status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({ host: '127.0.0.1', port: d.listenerPort(), servername: name, ca: ca.caPem, path: `/blob?size=${size}`, agent: false, timeout: 15_000 }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => resolve({ sha256: hash.digest('hex'), status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${name} in time`)));
    req.on('error', reject);
  });
}

/** The value of dns_lookups_total for one resolver and result. */
async function lookups(d: DaemonProcess, resolver: string, result: string): Promise<number> {
  return (await d.metrics()).get(metric('sni_forwarder_dns_lookups_total', { resolver, result })) ?? 0;
}

/** The n-th (1-based) access line for `sni`, waiting for it. */
async function nthAccess(d: DaemonProcess, sni: string, n: number): Promise<LogLine> {
  const lines = await d.waitForCount((l) => l.msg === 'connection' && l['sni'] === sni, n);
  return lines[n - 1] ?? {};
}

const SIZE = 1024 * 1024;

await t.test('precondition: each DNS server refuses the other zone', async (t) => {
  const ask = async (server: string, name: string): Promise<string> => {
    const r = new Resolver({ timeout: 1000, tries: 1 });
    r.setServers([server]);
    return r.resolve4(name).then((a) => a.join(','), (e: unknown) => (e as { code?: string }).code ?? 'error');
  };
  t.equal(await ask(acrDns.server, 'registry.acr.test'), '127.0.0.31');
  t.equal(await ask(acrDns.server, 'api.ecr.test'), 'EREFUSED', 'the acr server does not answer the ecr zone');
  t.equal(await ask(ecrDns.server, 'api.ecr.test'), '127.0.0.32');
  t.equal(await ask(ecrDns.server, 'registry.acr.test'), 'EREFUSED', 'nor the ecr server the acr zone');
});

await t.test('check accepts the two-resolver config and says which resolver serves which route', async (t) => {
  const d = await DaemonProcess.start(config({ maxTtl: '1ms', ecrTimeout: '2s' }));
  t.teardown(() => d.stop());
  const r = await runCli(['check', '-c', d.configFile]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^resolver default ${acrDns.server.replace(/\./g, '\\.')} `, 'm'));
  t.match(r.stdout, new RegExp(`^resolver ecr ${ecrDns.server.replace(/\./g, '\\.')} `, 'm'));
  t.match(r.stdout, /^ {2}registry\.acr\.test +-> <sni name>:\d+ via resolver default /m);
  t.match(r.stdout, /^ {2}api\.ecr\.test +-> <sni name>:\d+ via resolver ecr /m);
  const route = await runCli(['route', 'api.ecr.test', '-c', d.configFile]);
  t.match(route.stdout, `resolved by: resolver ecr (${ecrDns.server})`);
});

await t.test('one route per resolver; an outage of one leaves the other untouched and serves stale', async (t) => {
  const d = await DaemonProcess.start(config({ maxTtl: '1ms', ecrTimeout: '2s' }));
  t.teardown(() => d.stop());
  // The precondition asked each server for the other's name once, directly.
  const crossAcr = acrDns.queries('api.ecr.test');
  const crossEcr = ecrDns.queries('registry.acr.test');

  // A real TLS transfer through each route, each name resolved by its own resolver.
  const acr = await fetchBlob(d, 'registry.acr.test', SIZE);
  t.same(acr, { sha256: blobSha256(SIZE), status: 200 }, 'acr: 1 MiB through the default resolver');
  const ecr = await fetchBlob(d, 'api.ecr.test', SIZE);
  t.same(ecr, { sha256: blobSha256(SIZE), status: 200 }, 'ecr: 1 MiB through the ecr resolver');
  t.equal((await nthAccess(d, 'registry.acr.test', 1))['upstream'], `127.0.0.31:${acrPort}`);
  t.equal((await nthAccess(d, 'api.ecr.test', 1))['upstream'], `127.0.0.32:${ecrPort}`);
  await acrDns.waitForQueries('registry.acr.test', 1);
  await ecrDns.waitForQueries('api.ecr.test', 1);
  t.equal(acrDns.queries('api.ecr.test'), crossAcr, 'the ecr name never went to the acr server');
  t.equal(ecrDns.queries('registry.acr.test'), crossEcr, 'nor the acr name to the ecr server');
  t.equal(await lookups(d, 'default', 'miss'), 1);
  t.equal(await lookups(d, 'ecr', 'miss'), 1);

  // The acr resolver goes down. max_ttl is 1 ms: every answer has expired by now.
  await acrDns.stop();
  const ecrAsked = ecrDns.queries('api.ecr.test');
  for (let i = 0; i < 2; i++) {
    t.same(await fetchBlob(d, 'registry.acr.test', SIZE), { sha256: blobSha256(SIZE), status: 200 }, `acr transfer ${i + 1} with its DNS server down: stale answer`);
    t.same(await fetchBlob(d, 'api.ecr.test', SIZE), { sha256: blobSha256(SIZE), status: 200 }, `ecr transfer ${i + 1} goes on as before`);
  }
  await ecrDns.waitForQueries('api.ecr.test', ecrAsked + 2);
  t.pass('the ecr server was asked afresh for each ecr connection');
  t.ok(await lookups(d, 'default', 'stale') >= 2, 'stale answers counted for the default resolver');
  t.equal(await lookups(d, 'ecr', 'stale'), 0, 'none for ecr');
  t.equal(await lookups(d, 'ecr', 'failure'), 0, 'and no ecr failure');
  t.equal(await lookups(d, 'ecr', 'miss'), 3, 'every ecr lookup was a fresh answer');

  // A name the down resolver never answered: dns_failure, and the reason names the server.
  const failed = await fetchBlob(d, 'fresh.acr.test', 16).catch((e: unknown) => e);
  t.ok(failed instanceof Error, 'the client is refused');
  const line = await nthAccess(d, 'fresh.acr.test', 1);
  t.equal(line['outcome'], 'dns_failure');
  t.match(String(line['reason']), new RegExp(`^resolve fresh\\.acr\\.test: E[A-Z]+ \\(resolver default, servers ${acrDns.server.replace(/\./g, '\\.')}\\)$`));

  // The per-resolver view of `status`.
  const status = await runCli(['status', '--metrics', d.metricsUrl]);
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, /^ {2}ecr: hit 0, miss 3, stale 0, failure 0; routes api\.ecr\.test$/m, 'status: the ecr resolver, its lookups and its route');
  t.match(status.stdout, /^ {2}default: hit \d+, miss 1, stale [2-9]\d*, failure [1-9]\d*; routes [^]*?\bregistry\.acr\.test\b/m, 'status: the default resolver and the acr route (the line may wrap)');
  const page = await (await fetch(`${d.metricsUrl}/`, { signal: AbortSignal.timeout(5000) })).text();
  t.match(page, '<tr><td class="name"><code>api.<wbr>ecr.<wbr>test</code></td><td class="wrap"><code>&lt;sni name&gt;:' + String(ecrPort) + ' via resolver ecr</code></td><td>ecr</td>');

  await acrDns.restart();
  const before = acrDns.queries('registry.acr.test');
  t.same(await fetchBlob(d, 'registry.acr.test', 16), { sha256: blobSha256(16), status: 200 });
  await acrDns.waitForQueries('registry.acr.test', before + 1);
  t.pass('with its server back, the default resolver asks it again');
});

await t.test('a reload that changes one resolver keeps the other\'s cache', async (t) => {
  const d = await DaemonProcess.start(config({ maxTtl: '5m', ecrTimeout: '2s' }));
  t.teardown(() => d.stop());
  t.same(await fetchBlob(d, 'registry.acr.test', 16), { sha256: blobSha256(16), status: 200 });
  t.same(await fetchBlob(d, 'api.ecr.test', 16), { sha256: blobSha256(16), status: 200 });
  t.equal(await lookups(d, 'default', 'miss'), 1);
  t.equal(await lookups(d, 'ecr', 'miss'), 1);

  writeFileSync(d.configFile, config({ maxTtl: '5m', ecrTimeout: '3s' }));
  const seen = d.lines.length;
  d.child.kill('SIGHUP');
  const reloaded = await d.waitFor((l) => d.lines.indexOf(l) >= seen && (l.msg === 'reloaded' || l.msg === 'reload rejected: keeping the running configuration'));
  t.equal(reloaded.msg, 'reloaded');

  t.same(await fetchBlob(d, 'registry.acr.test', 16), { sha256: blobSha256(16), status: 200 });
  t.same(await fetchBlob(d, 'api.ecr.test', 16), { sha256: blobSha256(16), status: 200 });
  t.equal(await lookups(d, 'default', 'hit'), 1, 'the unchanged default resolver answered from its cache');
  t.equal(await lookups(d, 'default', 'miss'), 1, 'without asking its server again');
  t.equal(await lookups(d, 'ecr', 'miss'), 2, 'the changed ecr resolver started with an empty cache');
  t.equal(await lookups(d, 'ecr', 'hit'), 0);
});
