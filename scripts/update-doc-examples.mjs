#!/usr/bin/env node
// Rewrites the checked console examples of README.md and docs/ (CONTRIBUTING.md, "Documentation
// that cannot drift") whose output no longer matches what the built CLI prints, with that
// output. Examples that still match, `…` included, are left as they are. Needs `make build
// build-test`; review the diff before committing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { difference, documents, lineMatches, outputLines, parseExamples, runExample } from '../build/test/helpers/doc-examples.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');

/** The actual lines, keeping each expected line (`…` and all) that still matches its actual one. */
function merged(expected, actual) {
  return outputLines(actual).map((line, i) => (expected[i] !== undefined && lineMatches(expected[i], line) ? expected[i] : line));
}

let changed = 0;
for (const doc of documents(ROOT)) {
  const path = join(ROOT, doc);
  const text = readFileSync(path, 'utf8');
  const examples = parseExamples(doc, text);
  if (examples.length === 0) continue;
  const docLines = text.split('\n');
  // Rewrite from the last example up, so earlier line numbers stay valid.
  for (const example of [...examples].reverse()) {
    const at = Number(example.where.split(':').at(-1)) - 1; // the command line, 0-based
    const expectedCount = example.stdout.length + (example.stderr === null ? 0 : 1 + example.stderr.length);
    const ran = await runExample(example.command, resolve(ROOT, example.dir), CLI);
    const stdout = difference(example.stdout, ran.stdout) === null ? example.stdout : merged(example.stdout, ran.stdout);
    const stderr = example.stderr === null ? null
      : difference(example.stderr, ran.stderr) === null ? example.stderr : merged(example.stderr, ran.stderr);
    if (stdout === example.stdout && stderr === example.stderr) continue;
    // Keep a blank line before the next command, as the examples are written.
    const trailing = example.stdout.length > 0 && example.stdout.at(-1) === '' && example.stderr === null ? [''] : [];
    const replacement = [...stdout, ...(stderr === null ? [] : ['(stderr)', ...stderr]), ...trailing];
    docLines.splice(at + 1, expectedCount, ...replacement);
    console.log(`${example.where}: updated`);
    changed++;
  }
  writeFileSync(path, docLines.join('\n'));
}
console.log(`${changed} example(s) updated`);
