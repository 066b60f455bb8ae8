// Runs the compiled tap suite and ends with one plain summary line ("files: N passed, N failed")
// that CI can read, since tap's own closing line is an object literal. Arguments ending in
// .test.js run only those files (make test-runtimes); other arguments go to tap.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const args = process.argv.slice(2);
const chosen = args.filter((a) => a.endsWith('.test.js'));
const files = chosen.length > 0 ? chosen : findTests('build/test');
const extra = args.filter((a) => !a.endsWith('.test.js'));
const started = Date.now();
const child = spawn('npx', ['tap', ...extra, ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code) => {
  const m = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?(?:, skip: (\d+))?/.exec(tail);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (m) {
    const total = Number(m[1]);
    const pass = Number(m[2]);
    const skip = Number(m[4] ?? 0);
    const fail = Math.max(Number(m[3] ?? 0), total - pass - skip);
    console.log(`suite time: ${seconds}s (Node ${process.version}, ${files.length} files)`);
    console.log(`assertions: ${pass} passed, ${fail} failed, ${skip} skipped`);
  } else {
    console.log(`assertions: 0 passed, ${files.length} failed`);
  }
  process.exit(code ?? 1);
});
