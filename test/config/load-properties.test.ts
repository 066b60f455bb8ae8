// Hostile configs: random text, random config-shaped YAML documents and mutations of the
// example config always give a Config or a ConfigError located at file:line:col — never
// another exception (issue 8, "Fuzzing"). A few go through the real `check` command too.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { stringify } from 'yaml';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { runCli, writeConfig } from '../helpers/daemon.js';
import { casesComment, FC_SEED, runs, seedComment } from '../helpers/parser-properties.js';

t.comment(seedComment());

// Compiled to build/test/config/, so the repository root is three levels up.
const EXAMPLE = readFileSync(fileURLToPath(new URL('../../../config.example.yaml', import.meta.url)), 'utf8');
const FILE = 'fuzz.yaml';
// A located problem, or (text with control characters) one about the whole file.
const PROBLEM_LINE = /^fuzz\.yaml(:\d+:\d+: |: not a YAML text file )/;

/** 'ok', 'error' (a well-located ConfigError), or a description of what went wrong. */
function verdict(text: string): string {
  try {
    loadConfigText(text, FILE);
    return 'ok';
  } catch (err) {
    if (!(err instanceof ConfigError)) return `threw ${String(err)}`;
    if (err.problems.length === 0) return 'ConfigError without problems';
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const p of err.problems) {
      // A position past the end (or on the line after a final newline) would point nowhere.
      // Text with control characters is a problem of the whole file, which has no position.
      const wholeFile = p.line === 0 && p.col === 0 && p.message.startsWith('not a YAML text file');
      if (p.file !== FILE || (!wholeFile && (!(p.line >= 1 && p.line <= lineCount + 1) || !(p.col >= 1)))) return `bad position ${JSON.stringify(p)}`;
    }
    if (!err.message.split('\n').every((l) => PROBLEM_LINE.test(l))) return `bad message ${JSON.stringify(err.message)}`;
    return 'error';
  }
}

let seen = { ok: 0, error: 0 };
function holds(text: string): boolean {
  const v = verdict(text);
  if (v === 'ok' || v === 'error') seen = { ...seen, [v]: seen[v] + 1 };
  else throw new Error(v);
  return true;
}

const yamlish = fc.constantFrom(...':-[]{},#&*!|>\'"%@` \n\n\t?'.split(''), '  ', '- ', ': ', '---\n', '...\n', '!!str ', '!!binary ', '<<: ', '&a ', '*a', '~', 'null', '1e999', '0x1F', '.inf');
const configWord = fc.constantFrom('listen', 'address', 'routes', 'hosts', 'upstream', 'limits', 'idle_timeout', '127.0.0.1:443', '10s', '*.example.com', 'port', 'resolver');

await t.test('property: random text gives a Config or a located ConfigError', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.oneof(yamlish, configWord), { maxLength: 60 }).map((a) => a.join(''))),
      holds,
    ),
    runs(300),
  );
  t.end();
});

const KEYS = ['listen', 'metrics', 'log', 'workers', 'data_path', 'limits', 'clients', 'resolver', 'resolvers', 'default', 'aws', 'upstream_networks', 'presets', 'routes',
  'address', 'protocol', 'proxy_protocol', 'proxy_protocol_from', 'level', 'client_hello_timeout', 'connect_timeout', 'idle_timeout',
  'drain_timeout', 'max_connections', 'max_connections_per_client', 'client_ipv6_prefix', 'allow', 'servers', 'prefer', 'timeout', 'min_ttl', 'max_ttl',
  'negative_ttl', 'hosts', 'upstream', 'port', 'provider', 'nonsense'];
const scalar = fc.oneof(
  fc.constantFrom('127.0.0.1:443', '[::1]:8443', '0.0.0.0:0', 'host:99999', '10.0.0.0/8', '::/0', '5s', '10m', '0s', '-1s', '1y',
    'tls', 'http', 'auto', 'streams', 'ipv4', 'ipv6', 'info', 'default', 'aws', 'registry.example.com', '*.example.com', '*.*.x', 'docker-hub', 'ghcr'),
  fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 12 }),
);
/** A config-shaped value: maps keyed by real config keys, lists and scalars, a few levels deep. */
const { value: configValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  ),
}));
const configDoc = fc.dictionary(fc.constantFrom(...KEYS.slice(0, 10)), configValue, { maxKeys: 8 });

await t.test('property: random config-shaped YAML documents give a Config or a located ConfigError', (t) => {
  fc.assert(fc.property(configDoc, (doc) => holds(stringify(doc))), runs(200));
  t.end();
});

const edit = fc.oneof(
  fc.record({ kind: fc.constant('char' as const), at: fc.nat(), text: fc.oneof(yamlish, configWord, fc.string({ maxLength: 3 })) }),
  fc.record({ kind: fc.constant('delete-line' as const), at: fc.nat(), text: fc.constant('') }),
  fc.record({ kind: fc.constant('copy-line' as const), at: fc.nat(), text: fc.constant('') }),
);
/** Applies one edit: replace a character, drop a line, or repeat a line. */
function applyEdit(text: string, e: { kind: 'char' | 'delete-line' | 'copy-line'; at: number; text: string }): string {
  if (e.kind === 'char') {
    const i = e.at % (text.length + 1);
    return text.slice(0, i) + e.text + text.slice(i + 1);
  }
  const lines = text.split('\n');
  const i = e.at % lines.length;
  if (e.kind === 'delete-line') lines.splice(i, 1);
  else lines.splice(i, 0, lines[i] ?? '');
  return lines.join('\n');
}

await t.test('property: mutations of config.example.yaml give a Config or a located ConfigError', (t) => {
  t.equal(verdict(EXAMPLE), 'ok', 'the example itself loads');
  fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => holds(edits.reduce(applyEdit, EXAMPLE))), runs(300));
  t.comment(`outcomes so far: ${seen.ok} valid configs, ${seen.error} ConfigErrors`);
  t.ok(seen.ok > 0 && seen.error > 0, 'both valid and invalid configs were generated');
  t.end();
});

await t.test('check through the CLI: exit 1 with one located line per problem, no stack trace', async (t) => {
  const samples = fc.sample(fc.array(edit, { minLength: 2, maxLength: 4 }).map((edits) => edits.reduce(applyEdit, EXAMPLE)), { seed: FC_SEED, numRuns: 40 })
    .filter((text) => verdict(text) === 'error')
    .slice(0, 1);
  samples.push('listen: [\n', 'routes:\n  - hosts: [1, {a: b}]\n    upstream: 99999\n', '"a\\u0000\\nb": \u0001\uffff');
  for (const text of samples) {
    const file = writeConfig(text);
    const r = await runCli(['check', '-c', file]);
    t.equal(r.code, 1, `exit 1 for ${JSON.stringify(text.slice(0, 40))}`);
    const lines = r.stderr.trimEnd().split('\n');
    t.ok(lines.length > 0 && lines.every((l) => l.startsWith(`sni-forwarder: ${file}`) && /^sni-forwarder: \S+(:\d+:\d+: |: not a YAML text file )/.test(l)), `located lines: ${r.stderr.slice(0, 200)}`);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

t.comment(casesComment());
