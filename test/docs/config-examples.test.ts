// Config examples in the documentation stay real (STYLE §12): every ```yaml block marked
// `<!-- check: FILE -->` is loaded as FILE, and when a ```console block running
// `sni-forwarder check -c FILE` follows it, that output is exactly what `check` prints.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { describeConfig } from '../../src/commands/check.js';
import { loadConfigText } from '../../src/config/load.js';

const ROOT = resolve(import.meta.dirname, '../../..');

interface Example {
  readonly file: string;
  readonly line: number;
  readonly yaml: string;
  /** The output lines after `$ sni-forwarder check -c FILE`, when the doc shows them. */
  readonly output: readonly string[] | null;
}

/** The marked examples of a Markdown document. */
function examples(doc: string): Example[] {
  const lines = readFileSync(resolve(ROOT, doc), 'utf8').split('\n');
  const out: Example[] = [];
  lines.forEach((l, i) => {
    const m = /^<!-- check: (\S+)/.exec(l);
    if (m === null) return;
    if (lines[i + 1] !== '```yaml') throw new Error(`${doc}:${i + 1}: a check marker must be followed by a yaml block`);
    const end = lines.indexOf('```', i + 2);
    const yaml = lines.slice(i + 2, end).join('\n') + '\n';
    let output: string[] | null = null;
    let j = end + 1;
    while (lines[j] === '') j++;
    if (lines[j] === '```console' && lines[j + 1] === `$ sni-forwarder check -c ${m[1]}`) {
      output = lines.slice(j + 2, lines.indexOf('```', j + 2));
    }
    out.push({ file: m[1] ?? '', line: i + 1, yaml, output });
  });
  return out;
}

for (const [doc, want] of [['docs/dns.md', 1], ['README.md', 1]] as const) {
  await t.test(`${doc}: the marked config examples pass check`, (t) => {
    const found = examples(doc);
    t.equal(found.length, want, `${want} marked example(s)`);
    for (const e of found) {
      let lines: string[] = [];
      t.doesNotThrow(() => { lines = describeConfig(loadConfigText(e.yaml, e.file)); }, `${doc}:${e.line} loads`);
      if (e.output !== null) t.strictSame(lines, e.output, `${doc}:${e.line}: the check output shown is the real one`);
    }
    t.end();
  });
}

await t.test('the mixed-cloud examples use two resolvers, one per network', (t) => {
  for (const doc of ['docs/dns.md', 'README.md']) {
    const [e] = examples(doc);
    const config = loadConfigText(e?.yaml ?? '', 'config.yaml');
    t.strictSame(config.resolvers.map((r) => r.name), ['default', 'aws'], doc);
    t.strictSame([...new Set(config.routes.map((r) => r.resolver))], ['default', 'aws'], `${doc}: ACR by default, ECR by aws`);
  }
  t.end();
});
