// Runs every console example of README.md and docs/ that is marked as checked (see
// test/helpers/doc-examples.ts) with the built CLI, and compares what it prints.
import { resolve } from 'node:path';
import t from 'tap';
import { CLI } from '../helpers/daemon.js';
import { difference, examplesIn, parseExamples, runExample } from '../helpers/doc-examples.js';

const ROOT = resolve(import.meta.dirname, '../../..');

await t.test('the example checker sees a difference and accepts …', (t) => {
  t.equal(difference(['a', 'b'], 'a\nb\n'), null);
  t.equal(difference(['up … s (since …)'], 'up 3 s (since 2026-12-06 10:00:00 UTC)'), null, '… matches any text');
  t.match(difference(['a', 'b'], 'a\nc\n'), /line 2: the example shows "b", the program printed "c"/);
  t.match(difference(['a'], 'a\nextra\n'), /line 2: not in the example/);
  t.match(difference(['a', 'b'], 'a\n'), /line 2: .*printed nothing more/);
  t.match(difference(['x…'], 'yx'), /line 1/, '… is no wildcard at the start unless written there');
  const parsed = parseExamples('doc.md', [
    'text', '<!-- checked-example: docs/examples -->', '```console',
    '$ sni-forwarder route x -c config.yaml   # exit 1', 'out', '(stderr)', 'err', '$ sni-forwarder --version', '0.1.0', '```',
  ].join('\n'));
  t.same(parsed, [
    { dir: 'docs/examples', where: 'doc.md:4', command: 'sni-forwarder route x -c config.yaml', exitCode: 1, stdout: ['out'], stderr: ['err'] },
    { dir: 'docs/examples', where: 'doc.md:8', command: 'sni-forwarder --version', exitCode: 0, stdout: ['0.1.0'], stderr: null },
  ]);
  t.throws(() => parseExamples('doc.md', '<!-- checked-example: . -->\n```sh\n$ ls\n```'), /not followed by a ```console block/);
  t.end();
});

const examples = examplesIn(ROOT);
t.ok(examples.filter((e) => e.where.startsWith('README.md:')).length >= 3, `the README has checked examples (${examples.length} in all)`);

for (const example of examples) {
  await t.test(`${example.where}: $ ${example.command}`, async (t) => {
    t.ok(example.command.startsWith('sni-forwarder'), 'a checked example runs sni-forwarder');
    const ran = await runExample(example.command, resolve(ROOT, example.dir), CLI);
    t.equal(ran.code, example.exitCode, `exit status (stderr: ${ran.stderr.trim().slice(0, 300)})`);
    t.equal(difference(example.stdout, ran.stdout), null, 'stdout as in the example');
    if (example.stderr !== null) t.equal(difference(example.stderr, ran.stderr), null, 'stderr as in the example');
  });
}
