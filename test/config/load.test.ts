import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadConfig, loadConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';
import { configProblems } from '../helpers/config-problems.js';

// Compiled to build/test/config/, so the repository root is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/config');


function isDeepFrozen(v: unknown, path = 'config'): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  if (!Object.isFrozen(v)) return path;
  for (const [k, child] of Object.entries(v)) {
    const bad = isDeepFrozen(child, `${path}.${k}`);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

const L = 'listen:\n  - address: "127.0.0.1:8443"\n';
const R = 'routes:\n  - hosts: ["registry.example.com"]\n';

// Every class of mistake, with the exact file:line:col, key path and message it produces.
const CASES: { name: string; text: string; want: string[] }[] = [
  {
    name: 'unknown top-level key',
    text: L + R + 'listen_on: "0.0.0.0:443"\n',
    want: [
      'c.yaml:5:1: listen_on: unknown key; did you mean listen? (expected one of: listen, metrics, log, workers, data_path, limits, clients, resolver, resolvers, upstream_networks, presets, routes)',
    ],
  },
  {
    name: 'unknown nested key',
    text: L + R + 'limits:\n  idle: 5s\n',
    want: [
      'c.yaml:6:3: limits.idle: unknown key (expected one of: client_hello_timeout, connect_timeout, idle_timeout, drain_timeout, max_connections, max_connections_per_client, client_ipv6_prefix)',
    ],
  },
  {
    name: 'unknown listener key',
    text: 'listen:\n  - address: "127.0.0.1:8443"\n    tls: true\n' + R,
    want: [
      'c.yaml:3:5: listen[0].tls: unknown key (expected one of: address, protocol, proxy_protocol, proxy_protocol_from)',
    ],
  },
  {
    name: 'wrong type: list expected',
    text: 'listen: "127.0.0.1:8443"\n' + R,
    want: [
      'c.yaml:1:9: listen: expected a list of listeners, got the string "127.0.0.1:8443"; write listen: [{ address: "127.0.0.1:8443" }] (a list: one "- address:" entry per listener)',
    ],
  },
  {
    name: 'wrong type: mapping expected',
    text: L + R + 'limits: 5s\n',
    want: [
      'c.yaml:5:9: limits: expected a mapping, got the string "5s"',
    ],
  },
  {
    name: 'wrong type: integer expected',
    text: L + R + 'limits:\n  max_connections: "many"\n',
    want: [
      'c.yaml:6:20: limits.max_connections: expected an integer 1..1000000000, got the string "many"',
    ],
  },
  {
    name: 'wrong type: boolean expected',
    text: 'listen:\n  - address: "127.0.0.1:8443"\n    proxy_protocol: "no"\n' + R,
    want: [
      'c.yaml:3:21: listen[0].proxy_protocol: expected true or false, got the string "no"',
    ],
  },
  {
    name: 'proxy_protocol without proxy_protocol_from: every peer could claim any client address',
    text: 'listen:\n  - address: "127.0.0.1:8443"\n    proxy_protocol: true\n' + R,
    want: [
      'c.yaml:3:21: listen[0].proxy_protocol: proxy_protocol is on but proxy_protocol_from is not set: any peer could claim any client address;'
        + ' set it to the load balancers\' addresses (["0.0.0.0/0", "::/0"] trusts every peer)',
    ],
  },
  {
    name: 'proxy_protocol with an empty proxy_protocol_from',
    text: 'listen:\n  - address: "127.0.0.1:8443"\n    proxy_protocol: true\n    proxy_protocol_from: []\n' + R,
    want: [
      'c.yaml:3:21: listen[0].proxy_protocol: proxy_protocol is on but proxy_protocol_from is empty: any peer could claim any client address;'
        + ' set it to the load balancers\' addresses (["0.0.0.0/0", "::/0"] trusts every peer)',
    ],
  },
  {
    name: 'wrong type: enum',
    text: L + R + 'log:\n  level: loud\n',
    want: [
      'c.yaml:6:10: log.level: expected one of fatal, error, warn, info, debug, trace, silent, got the string "loud"',
    ],
  },
  {
    name: 'wrong type: workers',
    text: L + R + 'workers: 0\n',
    want: [
      'c.yaml:5:10: workers: expected an integer 1..64 or "auto", got number 0',
    ],
  },
  {
    name: 'wrong value: data_path',
    text: L + R + 'data_path: user-buffers\n',
    want: [
      'c.yaml:5:12: data_path: expected one of auto, streams, got the string "user-buffers"',
    ],
  },
  {
    name: 'data_path: streams is accepted',
    text: L + R + 'data_path: streams\n',
    want: ['OK'],
  },
  {
    name: 'non-string key',
    text: L + R + '1: x\n',
    want: [
      'c.yaml:5:1: keys must be strings, got number 1',
    ],
  },
  {
    name: 'null value',
    text: L + R + 'metrics:\n',
    want: [
      'c.yaml:5:9: metrics: expected a mapping, got nothing',
    ],
  },
  {
    name: 'bad duration: unknown unit',
    text: L + R + 'limits:\n  idle_timeout: 10min\n',
    want: [
      'c.yaml:6:17: limits.idle_timeout: "10min" is not a duration (use 250ms, 5s, 10m, 1h or 1m30s)',
    ],
  },
  {
    name: 'bad duration: no unit',
    text: L + R + 'limits:\n  connect_timeout: 5\n',
    want: [
      'c.yaml:6:20: limits.connect_timeout: a duration needs a unit, as in "5s" or "5ms"',
    ],
  },
  {
    name: 'bad duration: zero timeout',
    text: L + R + 'resolver:\n  timeout: 0s\n',
    want: [
      'c.yaml:6:12: resolver.timeout: must be greater than 0',
    ],
  },
  {
    name: 'bad duration: too long',
    text: L + R + 'limits:\n  drain_timeout: 1000h\n',
    want: [
      'c.yaml:6:18: limits.drain_timeout: "1000h" is too long: timers cannot wait more than 596h (about 24 days)',
    ],
  },
  {
    name: 'bad CIDR',
    text: L + R + 'upstream_networks: ["10.0.0.1/8", "10.0.0.0/40", "nope"]\n',
    want: [
      'c.yaml:5:21: upstream_networks[0]: "10.0.0.1/8": host bits are set; did you mean "10.0.0.0/8"?',
      'c.yaml:5:35: upstream_networks[1]: "10.0.0.0/40": prefix length must be an integer 0..32',
      'c.yaml:5:50: upstream_networks[2]: "nope": expected a CIDR such as "10.0.0.0/8" or an IP address',
    ],
  },
  {
    name: 'bad address: host name where an IP is needed',
    text: 'listen:\n  - address: "localhost:443"\n' + R,
    want: [
      'c.yaml:2:14: listen[0].address: "localhost:443": expected an IP address, not a host name',
    ],
  },
  {
    name: 'bad address: unbracketed IPv6',
    text: L + 'routes:\n  - hosts: ["a.example.com"]\n    upstream: "::1:443"\n',
    want: [
      'c.yaml:5:15: routes[0].upstream: "::1:443": put IPv6 addresses in brackets, as in "[::1]:443"',
    ],
  },
  {
    name: 'bad address: DNS server name',
    text: L + R + 'resolver:\n  servers: ["dns.google"]\n',
    want: [
      'c.yaml:6:13: resolver.servers[0]: "dns.google": expected an IP address, not a host name',
    ],
  },
  {
    name: 'bad address: missing port',
    text: L + R + 'metrics:\n  address: "127.0.0.1"\n',
    want: [
      'c.yaml:6:12: metrics.address: "127.0.0.1": expected host:port',
    ],
  },
  {
    name: 'bad port: listener',
    text: 'listen:\n  - address: "127.0.0.1:99999"\n' + R,
    want: [
      'c.yaml:2:14: listen[0].address: "127.0.0.1:99999": port must be an integer 0..65535',
    ],
  },
  {
    name: 'bad port: route',
    text: L + 'routes:\n  - hosts: ["a.example.com"]\n    port: 0\n',
    want: [
      'c.yaml:5:11: routes[0].port: must be an integer 1..65535, got 0',
    ],
  },
  {
    name: 'bad port: upstream',
    text: L + 'routes:\n  - hosts: ["a.example.com"]\n    upstream: "10.0.0.1:0"\n',
    want: [
      'c.yaml:5:15: routes[0].upstream: "10.0.0.1:0": port must be an integer 1..65535',
    ],
  },
  {
    name: 'duplicate host',
    text: L + 'routes:\n  - hosts: ["a.example.com", "*.example.com"]\n  - hosts: ["b.example.com", "A.Example.com."]\n    upstream: "10.0.0.1:443"\n  - hosts: ["*.EXAMPLE.com"]\n',
    want: [
      'c.yaml:5:30: routes[1].hosts[1]: duplicate host "a.example.com" (already at routes[0].hosts[0], line 4 col 13)',
      'c.yaml:7:13: routes[2].hosts[0]: duplicate host "*.example.com" (already at routes[0].hosts[1], line 4 col 30)',
    ],
  },
  {
    name: 'bad patterns',
    text: L + 'routes:\n  - hosts:\n      - "*."\n      - "a.*.com"\n      - "**.x"\n      - "10.1.2.3"\n      - "a..example.com"\n      - "*.com"\n',
    want: [
      'c.yaml:5:9: routes[0].hosts[0]: "*.": nothing after "*."',
      'c.yaml:6:9: routes[0].hosts[1]: "a.*.com": "*" must be the whole first label and appear once, as in "*.example.com"',
      'c.yaml:7:9: routes[0].hosts[2]: "**.x": "*" must be the whole first label and appear once, as in "*.example.com"',
      'c.yaml:8:9: routes[0].hosts[3]: "10.1.2.3" is an IP address, not a host name',
      'c.yaml:9:9: routes[0].hosts[4]: empty label in "a..example.com"',
      'c.yaml:10:9: routes[0].hosts[5]: "*.com" would match a whole top-level domain; use a suffix with at least two labels, such as "*.example.com"',
    ],
  },
  {
    name: 'YAML syntax error',
    text: L + 'routes:\n  - hosts: ["a.example.com"\n',
    want: [
      'c.yaml:5:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  },
  {
    name: 'YAML duplicate key',
    text: L + R + 'log:\n  level: info\n  level: debug\n',
    want: [
      'c.yaml:7:3: log.level: YAML: duplicate key: each key may appear once in a mapping',
    ],
  },
  {
    name: 'YAML tab indent',
    text: 'listen:\n\t- address: "127.0.0.1:8443"\n' + R,
    want: [
      'c.yaml:2:1: YAML: tabs are not allowed for indentation; use spaces',
    ],
  },
  {
    name: 'YAML multiple documents',
    text: L + R + '---\n' + L,
    want: [
      'c.yaml:5:1: YAML: more than one YAML document ("---"): the config is a single document',
    ],
  },
  {
    name: 'YAML alias',
    text: L + 'routes:\n  - hosts: ["a.example.com"]\n    upstream: &up "10.0.0.1:443"\n  - hosts: ["b.example.com"]\n    upstream: *up\n',
    want: [
      'c.yaml:7:15: routes[1].upstream: YAML aliases are not supported; write the value out',
    ],
  },
  {
    name: 'listener protocol and PROXY settings',
    text: 'listen:\n  - address: "127.0.0.1:8443"\n    protocol: udp\n    proxy_protocol: 1\n    proxy_protocol_from: ["10.0.0.1/8"]\n' + R,
    want: [
      'c.yaml:3:15: listen[0].protocol: expected one of tls, http, got the string "udp"',
      'c.yaml:4:21: listen[0].proxy_protocol: expected true or false, got number 1',
      'c.yaml:5:27: listen[0].proxy_protocol_from[0]: "10.0.0.1/8": host bits are set; did you mean "10.0.0.0/8"?',
    ],
  },
  {
    name: 'unbuilt: top-level features',
    text: L + R + 'workers: auto\nclients:\n  allow: ["10.0.0.0/8"]\nlimits:\n  max_connections_per_client: 10\nupstream_networks: ["10.0.0.0/8"]\npresets:\n  - provider: aliyun-acr\n    region: cn-beijing\n',
    want: ['OK'], // presets are built now (issue 6); the other features here were built earlier
  },
  {
    name: 'limits.client_ipv6_prefix out of range',
    text: L + R + 'limits:\n  client_ipv6_prefix: 0\n',
    want: [
      'c.yaml:6:23: limits.client_ipv6_prefix: must be an integer 1..128, got 0',
    ],
  },
  {
    name: 'limits.client_ipv6_prefix not an integer',
    text: L + R + 'limits:\n  client_ipv6_prefix: "/64"\n',
    want: [
      'c.yaml:6:23: limits.client_ipv6_prefix: expected an integer 1..128, got the string "/64"',
    ],
  },
  {
    name: 'limits.client_ipv6_prefix 129',
    text: L + R + 'limits:\n  client_ipv6_prefix: 129\n',
    want: [
      'c.yaml:6:23: limits.client_ipv6_prefix: must be an integer 1..128, got 129',
    ],
  },
  {
    name: 'upstream and port',
    text: L + 'routes:\n  - hosts: ["a.example.com"]\n    upstream: "10.0.0.1:443"\n    port: 443\n',
    want: [
      'c.yaml:6:11: routes[0].port: port and upstream are mutually exclusive: upstream already names its port',
    ],
  },
  {
    name: 'min_ttl > max_ttl',
    text: L + R + 'resolver:\n  min_ttl: 10m\n  max_ttl: 1m\n',
    want: [
      'c.yaml:6:12: resolver.min_ttl: min_ttl (10m) is greater than max_ttl (1m)',
    ],
  },
  {
    name: 'listen overlap and metrics clash',
    text: 'listen:\n  - address: "0.0.0.0:8443"\n  - address: "127.0.0.1:8443"\n  - address: "127.0.0.1:9464"\n' + R + 'metrics:\n  address: "127.0.0.1:8443"\n',
    want: [
      'c.yaml:3:14: listen[1].address: 127.0.0.1:8443 overlaps listen[0] (0.0.0.0:8443)',
      'c.yaml:8:12: metrics.address: metrics address 127.0.0.1:8443 clashes with listen[0] (0.0.0.0:8443)',
      'c.yaml:8:12: metrics.address: metrics address 127.0.0.1:8443 clashes with listen[1] (127.0.0.1:8443)',
    ],
  },
  {
    name: 'metrics default clash',
    text: 'listen:\n  - address: "127.0.0.1:9464"\n' + R,
    want: [
      'c.yaml:2:14: listen[0].address: metrics address 127.0.0.1:9464 clashes with listen[0] (127.0.0.1:9464); metrics uses it by default',
    ],
  },
  {
    name: 'empty file',
    text: '',
    want: [
      'c.yaml:1:1: empty config: expected a mapping with at least listen and routes',
    ],
  },
  {
    name: 'comment-only file',
    text: '# nothing\n',
    want: [
      'c.yaml:1:1: empty config: expected a mapping with at least listen and routes',
    ],
  },
  {
    name: 'not a mapping',
    text: '- a\n- b\n',
    want: [
      'c.yaml:1:1: expected a mapping, got a list',
    ],
  },
  {
    name: 'missing listen and routes',
    text: 'log:\n  level: info\n',
    want: [
      'c.yaml:1:1: missing listen: at least one listener address is required',
      'c.yaml:1:1: no routes: nothing would be forwarded',
    ],
  },
  {
    name: 'empty lists',
    text: 'listen: []\nroutes: []\n',
    want: [
      'c.yaml:1:9: listen: empty list: at least one listener is required',
      'c.yaml:2:9: routes: no routes: nothing would be forwarded',
    ],
  },
  {
    name: 'missing listener address and route hosts',
    text: 'listen:\n  - protocol: tls\nroutes:\n  - upstream: "10.0.0.1:443"\n',
    want: [
      'c.yaml:2:5: listen[0]: missing address, such as "0.0.0.0:443"',
      'c.yaml:4:5: routes[0]: missing hosts: list the host names this route allows',
    ],
  },
  {
    name: 'empty route hosts and resolver servers',
    text: L + 'routes:\n  - hosts: []\nresolver:\n  servers: []\n',
    want: [
      'c.yaml:4:12: routes[0].hosts: empty list: a route needs at least one host',
      'c.yaml:6:12: resolver.servers: empty list: remove the key to use /etc/resolv.conf',
    ],
  },
  {
    name: 'everything at once',
    text: 'listen:\n  - address: "localhost:443"\nlimits:\n  idle_timeout: 10\n  bogus: 1\nroutes:\n  - hosts: ["a.*.com", "ok.example.com"]\n  - hosts: ["ok.example.com"]\n    upstream: "x"\n',
    want: [
      'c.yaml:2:14: listen[0].address: "localhost:443": expected an IP address, not a host name',
      'c.yaml:4:17: limits.idle_timeout: a duration needs a unit, as in "10s" or "10ms"',
      'c.yaml:5:3: limits.bogus: unknown key (expected one of: client_hello_timeout, connect_timeout, idle_timeout, drain_timeout, max_connections, max_connections_per_client, client_ipv6_prefix)',
      'c.yaml:7:13: routes[0].hosts[0]: "a.*.com": "*" must be the whole first label and appear once, as in "*.example.com"',
      'c.yaml:8:13: routes[1].hosts[0]: duplicate host "ok.example.com" (already at routes[0].hosts[1], line 7 col 24)',
      'c.yaml:9:15: routes[1].upstream: "x": expected host:port',
    ],
  },
  // ---- nginx and HAProxy habits (issue #16) ----
  {
    name: 'listen written as one address, nginx style',
    text: 'listen: ":443"\n' + R,
    want: ['c.yaml:1:9: listen: expected a list of listeners, got the string ":443"; write listen: [{ address: "0.0.0.0:443" }] (a list: one "- address:" entry per listener)'],
  },
  {
    name: 'listen as a list of strings',
    text: 'listen: ["0.0.0.0:443"]\n' + R,
    want: ['c.yaml:1:10: listen[0]: expected a listener mapping, got the string "0.0.0.0:443"; write - address: "0.0.0.0:443"'],
  },
  {
    name: 'listener address without an IP: ":443", "*:443" and 443',
    text: 'listen:\n  - address: ":443"\n  - address: "*:8443"\n  - address: 80\n' + R,
    want: [
      'c.yaml:2:14: listen[0].address: ":443" has no IP address (nginx\'s "listen 443" and HAProxy\'s "bind :443" mean every address); write "0.0.0.0:443" for every IPv4 address, and add "[::]:443" for IPv6',
      'c.yaml:3:14: listen[1].address: "*:8443" has no IP address (nginx\'s "listen 8443" and HAProxy\'s "bind :8443" mean every address); write "0.0.0.0:8443" for every IPv4 address, and add "[::]:8443" for IPv6',
      'c.yaml:4:14: listen[2].address: the number 80 has no IP address (nginx\'s "listen 80" and HAProxy\'s "bind :80" mean every address); write "0.0.0.0:80" for every IPv4 address, and add "[::]:80" for IPv6',
    ],
  },
  {
    name: 'metrics address without an IP suggests loopback',
    text: L + R + 'metrics:\n  address: ":9464"\n',
    want: ['c.yaml:6:12: metrics.address: ":9464" has no IP address; write "127.0.0.1:9464" (loopback)'],
  },
  {
    name: 'a typo in a key suggests the closest valid key',
    text: L + R + 'resolvr:\n  timeout: 2s\nlimits:\n  idle-timeout: 5m\n  maxconnections: 5\n',
    want: [
      'c.yaml:5:1: resolvr: unknown key; did you mean resolver? (expected one of: listen, metrics, log, workers, data_path, limits, clients, resolver, resolvers, upstream_networks, presets, routes)',
      'c.yaml:8:3: limits.idle-timeout: unknown key; did you mean idle_timeout? (expected one of: client_hello_timeout, connect_timeout, idle_timeout, drain_timeout, max_connections, max_connections_per_client, client_ipv6_prefix)',
      'c.yaml:9:3: limits.maxconnections: unknown key; did you mean max_connections? (expected one of: client_hello_timeout, connect_timeout, idle_timeout, drain_timeout, max_connections, max_connections_per_client, client_ipv6_prefix)',
    ],
  },
  {
    name: 'YAML: a line indented deeper than a key with a value is pointed at, not the line above',
    text: L + 'resolver:\n  timeout: 2s\n   prefer: ipv4\n' + R,
    want: ['c.yaml:5:4: YAML: indentation: this line is indented deeper than the key above it, which already has a value; line it up with that key'],
  },
  {
    name: 'YAML: a key indented less than its siblings is pointed at its first character',
    text: L + 'limits:\n  idle_timeout: 5m\n\n  # a comment\n max_connections: 5\n' + R,
    want: ['c.yaml:7:2: YAML: indentation: this line does not start in the same column as the lines above it at its level; line it up with them'],
  },
  {
    name: 'YAML: a route key out of line with the item above',
    text: L + 'routes:\n  - hosts: [a.example]\n   upstream: "10.0.0.1:443"\n',
    want: ['c.yaml:5:4: YAML: indentation: this line is not in the column of the keys of the list item above; line it up with them, or start a new item with "- "'],
  },
  {
    name: 'YAML: an unclosed quote is pointed at where it opens, not at the end of the file',
    text: L + 'routes:\n  - hosts: [a.example]\n    upstream: "10.0.0.1:443\n',
    want: ['c.yaml:5:15: routes[0].upstream: YAML: this quoted string is not closed: add the closing "'],
  },
];

await t.test('every class of config mistake is reported with file:line:col and key path', (t) => {
  for (const { name, text, want } of CASES) t.same(configProblems(text), want, name);
  t.end();
});

await t.test('ConfigError carries structured problems', (t) => {
  const err = t.throws(() => loadConfigText(`${L + R}limits:\n  idle_timeout: 10\n  bogus: 1\n`, 'x/c.yaml'));
  t.ok(err instanceof ConfigError);
  if (!(err instanceof ConfigError)) return;
  t.same(err.problems, [
    { file: 'x/c.yaml', line: 6, col: 17, path: 'limits.idle_timeout', message: 'a duration needs a unit, as in "10s" or "10ms"' },
    { file: 'x/c.yaml', line: 7, col: 3, path: 'limits.bogus', message: err.problems[1]?.message },
  ]);
  t.equal(err.file, 'x/c.yaml');
  t.equal(err.line, 6);
  t.equal(err.col, 17);
  t.equal(err.path, 'limits.idle_timeout');
  t.end();
});

await t.test('a problem is one line, whatever characters its key or value holds', (t) => {
  // Found by the config fuzz (load-properties.test.ts): a key running over several lines put
  // its newlines, and hundreds of characters, into the message.
  for (const text of ['listen\n\n::', ':---\n\n<<: ', '"a\\nb\\u0007": 1\n', `${'k'.repeat(500)}\n  x: :`]) {
    const lines = configProblems(text);
    t.ok(lines.length > 0 && lines.every((l) => /^c\.yaml:\d+:\d+: /.test(l) && l.length < 400 && ![...l].some((c) => c < ' ')), JSON.stringify(lines));
  }
  t.end();
});

await t.test('a missing or unreadable file is one problem about the whole file, without a position', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sni-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = join(dir, 'nope.yaml');
  await t.rejects(loadConfig(missing), { name: 'ConfigError', message: `${missing}: cannot read config: no such file`, line: 0 });
  await t.rejects(loadConfig(dir), { name: 'ConfigError', message: `${dir}: cannot read config: is a directory; name the YAML file in it` });
  await t.rejects(loadConfig(join(missing, 'x.yaml')), { message: `${join(missing, 'x.yaml')}: cannot read config: no such file` });
});

await t.test('text with control bytes is not a YAML text file; the message shows no bytes', (t) => {
  t.same(configProblems('listen:\n\u0000\u0001\u0002ELF'), ['c.yaml: not a YAML text file (control byte 0x00 at offset 8): is it the right file?']);
  t.same(configProblems('a: "\u007f"\n'), ['c.yaml: not a YAML text file (control byte 0x7f at offset 4): is it the right file?']);
  t.end();
});

await t.test('a minimal config gets every default', async (t) => {
  const config = await loadConfig(join(FIXTURES, 'minimal.yaml'));
  const want: Config = {
    file: join(FIXTURES, 'minimal.yaml'),
    listen: [{ address: { host: '127.0.0.1', port: 0 }, protocol: 'tls', proxyProtocol: false, proxyProtocolFrom: [] }],
    metrics: { address: { host: '127.0.0.1', port: 9464 } },
    log: { level: 'info' },
    workers: 1,
    dataPath: 'auto',
    limits: {
      clientHelloTimeoutMs: 5_000, connectTimeoutMs: 5_000, idleTimeoutMs: 600_000, drainTimeoutMs: 30_000,
      maxConnections: 10_000, maxConnectionsPerClient: 0, clientIpv6Prefix: 64,
    },
    clients: { allow: null },
    resolver: { name: 'default', servers: null, prefer: 'ipv4', timeoutMs: 2_000, minTtlMs: 5_000, maxTtlMs: 300_000, negativeTtlMs: 5_000 },
    resolvers: [{ name: 'default', servers: null, prefer: 'ipv4', timeoutMs: 2_000, minTtlMs: 5_000, maxTtlMs: 300_000, negativeTtlMs: 5_000 }],
    upstreamNetworks: [],
    presets: [],
    routes: [{ hosts: ['registry.example.com'], upstream: null, port: null, origin: `${join(FIXTURES, 'minimal.yaml')}:5:5`, resolver: 'default' }],
  };
  t.same(config, want);
  t.equal(isDeepFrozen(config), undefined, 'deep-frozen');
});

await t.test('a full config round-trips to the expected frozen object', async (t) => {
  const config = await loadConfig(join(FIXTURES, 'full.yaml'));
  const want: Config = {
    file: join(FIXTURES, 'full.yaml'),
    listen: [
      { address: { host: '0.0.0.0', port: 443 }, protocol: 'tls', proxyProtocol: false, proxyProtocolFrom: [] },
      { address: { host: '::', port: 443 }, protocol: 'tls', proxyProtocol: false, proxyProtocolFrom: [] },
    ],
    metrics: { address: { host: '127.0.0.1', port: 9100 } },
    log: { level: 'debug' },
    workers: 1,
    dataPath: 'auto',
    limits: {
      clientHelloTimeoutMs: 250, connectTimeoutMs: 3_000, idleTimeoutMs: 90_000, drainTimeoutMs: 3_600_000,
      maxConnections: 500, maxConnectionsPerClient: 0, clientIpv6Prefix: 56,
    },
    clients: { allow: null },
    resolver: {
      name: 'default',
      servers: [{ host: '100.100.2.136', port: 53 }, { host: '10.0.0.2', port: 5353 }, { host: 'fd00::53', port: 53 }],
      prefer: 'ipv6', timeoutMs: 1_500, minTtlMs: 0, maxTtlMs: 60_000, negativeTtlMs: 1_000,
    },
    resolvers: [{
      name: 'default',
      servers: [{ host: '100.100.2.136', port: 53 }, { host: '10.0.0.2', port: 5353 }, { host: 'fd00::53', port: 53 }],
      prefer: 'ipv6', timeoutMs: 1_500, minTtlMs: 0, maxTtlMs: 60_000, negativeTtlMs: 1_000,
    }],
    upstreamNetworks: [],
    presets: [],
    routes: [
      { hosts: ['registry.example.com', '*.s3.example.com'], upstream: null, port: 443, origin: `${join(FIXTURES, 'full.yaml')}:31:5`, resolver: 'default' },
      { hosts: ['harbor.internal.example'], upstream: { host: '10.1.2.3', port: 443 }, port: null, origin: `${join(FIXTURES, 'full.yaml')}:33:5`, resolver: 'default' },
      { hosts: ['mirror.example.com'], upstream: { host: 'mirror-backend.example.net', port: 8443 }, port: null, origin: `${join(FIXTURES, 'full.yaml')}:35:5`, resolver: 'default' },
      { hosts: ['v6.example.com'], upstream: { host: '2001:db8::10', port: 443 }, port: null, origin: `${join(FIXTURES, 'full.yaml')}:37:5`, resolver: 'default' },
    ],
  };
  t.same(config, want);
  t.equal(isDeepFrozen(config), undefined, 'deep-frozen');
  t.throws(() => {
    (config.routes as unknown as RouteArray).push({ hosts: [], upstream: null, port: null, origin: 'test' });
  }, TypeError, 'routes cannot be extended');
});

type RouteArray = { hosts: string[]; upstream: null; port: null; origin: string }[];

await t.test('config.example.yaml is valid', async (t) => {
  const config = await loadConfig(join(ROOT, 'config.example.yaml'));
  t.same(config.listen.map((l) => l.address), [{ host: '127.0.0.1', port: 8443 }]);
  t.same(config.metrics.address, { host: '127.0.0.1', port: 9464 });
  t.ok(config.routes.length >= 2, 'has example routes');
  t.ok(config.routes.some((r) => r.upstream !== null), 'has a static route');
  t.ok(config.routes.some((r) => r.upstream === null), 'has a dynamic route');
});

await t.test('proxy_protocol trusts every peer only when proxy_protocol_from names 0.0.0.0/0 and ::/0', (t) => {
  const c = loadConfigText('listen:\n  - address: "127.0.0.1:8443"\n    proxy_protocol: true\n    proxy_protocol_from: ["0.0.0.0/0", "::/0"]\n' + R, 'c.yaml');
  t.same(c.listen[0]?.proxyProtocolFrom.map((x) => `${x.address}/${x.prefix}`), ['0.0.0.0/0', '::/0']);
  t.end();
});
