// `make fuzz`: the suite's property tests with FUZZ_RUNS cases per property (default 50,000:
// 22 properties, 1.1 million cases in all; see README "Reliability" for times)
// and one seed for all (FC_SEED, printed). Runs each compiled property file with node directly
// (no tap runner, so no per-file timeout) and prints cases, time and result per file. On a
// failure, fast-check's counterexample is printed with the command that reproduces it.
import { spawn } from 'node:child_process';

const FILES = [
  'build/test/sniff/client-hello.test.js',
  'build/test/sniff/proxy-header.test.js',
  'build/test/sniff/http-host.test.js',
  'build/test/sniff/http-requests.test.js',
  'build/test/sniff/intake.test.js',
  'build/test/decide/router.test.js',
  'build/test/config/load-properties.test.js',
];

const runs = process.env.FUZZ_RUNS ?? '50000';
const seed = process.env.FC_SEED ?? String(Date.now() % 2 ** 31);
console.log(`fuzz: FUZZ_RUNS=${runs} per property, FC_SEED=${seed}`);

/** Runs one file; resolves with its exit code, case count, seconds and the failure lines. */
function runFile(file) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    // TAP_TIMEOUT=0: a long run must not hit tap's 30 s per-file limit.
    const env = { ...process.env, FUZZ_RUNS: runs, FC_SEED: seed, TAP_TIMEOUT: '0' };
    const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c.toString(); });
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cases = Number(/# fuzz: (\d+) cases/.exec(out)?.[1] ?? 0);
      const failures = out.split('\n').filter((l) => /^\s*not ok\b/.test(l) || /Counterexample|seed: \d+, path:/.test(l));
      resolve({ file, code, cases, seconds, failures });
    });
  });
}

const results = [];
for (const file of FILES) {
  const r = await runFile(file);
  results.push(r);
  console.log(`${r.code === 0 ? 'ok  ' : 'FAIL'} ${file.padEnd(44)} ${String(r.cases).padStart(10)} cases ${r.seconds.toFixed(1).padStart(8)} s`);
  if (r.code !== 0) {
    for (const l of r.failures.slice(0, 20)) console.log(`     ${l.trim()}`);
    console.log(`     reproduce: FC_SEED=${seed} FUZZ_RUNS=${runs} node ${file}`);
  }
}
const total = results.reduce((n, r) => n + r.cases, 0);
const seconds = results.reduce((n, r) => n + r.seconds, 0);
const failed = results.filter((r) => r.code !== 0).length;
console.log(`fuzz: ${total} cases in ${seconds.toFixed(1)} s, ${failed} file(s) failed, FC_SEED=${seed}`);
process.exit(failed === 0 ? 0 : 1);
