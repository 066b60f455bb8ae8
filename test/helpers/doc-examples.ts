// The console examples of README.md and docs/ that are marked as checked: parsed here, run by
// test/docs/examples.test.ts, so that what the documentation shows is what the program prints.
//
// A checked example is a ```console block right after the line
//   <!-- checked-example: DIR -->
// where DIR (relative to the repository) is the working directory its commands run in. In the
// block, a line `$ COMMAND` starts a command (optionally ending in `# exit N`, the expected exit
// status; 0 otherwise); the lines up to the next command are its expected stdout, and lines
// after a line `(stderr)` its expected stderr (stderr is not compared when that line is absent).
// In an expected line, `…` stands for any text within that line.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface DocExample {
  /** `path:line` of the command in the document. */
  readonly where: string;
  readonly dir: string;
  readonly command: string;
  readonly exitCode: number;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[] | null;
}

const MARKER = /^<!-- checked-example: (\S+) -->$/;
const COMMAND = /^\$ (.*?)(?:\s+# exit (\d+))?$/;

/** Every checked example in `text` (the document at `path`). Throws on a marker without a block. */
export function parseExamples(path: string, text: string): DocExample[] {
  const lines = text.split('\n');
  const out: DocExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i] ?? '');
    if (marker === null) continue;
    if (lines[i + 1] !== '```console') throw new Error(`${path}:${i + 1}: checked-example marker not followed by a \`\`\`console block`);
    let j = i + 2;
    let current: { where: string; command: string; exitCode: number; stdout: string[]; stderr: string[] | null } | null = null;
    const flush = (): void => {
      if (current !== null) out.push({ dir: marker[1] ?? '.', ...current });
      current = null;
    };
    for (; j < lines.length && lines[j] !== '```'; j++) {
      const line = lines[j] ?? '';
      const command = COMMAND.exec(line);
      if (command !== null) {
        flush();
        current = { where: `${path}:${j + 1}`, command: command[1] ?? '', exitCode: Number(command[2] ?? 0), stdout: [], stderr: null };
      } else if (current === null) {
        throw new Error(`${path}:${j + 1}: checked example must start with a "$ " command line`);
      } else if (line === '(stderr)') {
        current.stderr = [];
      } else {
        (current.stderr ?? current.stdout).push(line);
      }
    }
    if (j >= lines.length) throw new Error(`${path}:${i + 2}: unterminated \`\`\`console block`);
    flush();
    i = j;
  }
  return out;
}

/** README.md and every .md under docs/, relative to `root`. */
export function documents(root: string): string[] {
  const found = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.md')) found.push(relative(root, p));
    }
  };
  walk(join(root, 'docs'));
  return found.sort();
}

export function examplesIn(root: string): DocExample[] {
  return documents(root).flatMap((doc) => parseExamples(doc, readFileSync(join(root, doc), 'utf8')));
}

export function lineMatches(expected: string, actual: string): boolean {
  if (!expected.includes('…')) return expected === actual;
  const pattern = expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${pattern}$`).test(actual);
}

/**
 * The first difference between the expected lines and `actual` (trailing newlines ignored), as
 * one sentence, or null when they agree.
 */
export function difference(expected: readonly string[], actual: string): string | null {
  const want = [...expected];
  while (want.length > 0 && want[want.length - 1] === '') want.pop();
  const got = outputLines(actual);
  for (let k = 0; k < Math.max(want.length, got.length); k++) {
    const w = want[k];
    const g = got[k];
    if (w === undefined) return `line ${k + 1}: not in the example: ${JSON.stringify(g)}`;
    if (g === undefined) return `line ${k + 1}: the example shows ${JSON.stringify(w)}, the program printed nothing more`;
    if (!lineMatches(w, g)) return `line ${k + 1}: the example shows ${JSON.stringify(w)}, the program printed ${JSON.stringify(g)}`;
  }
  return null;
}

/** The lines of a command's output, trailing newlines ignored (none for empty output). */
export function outputLines(text: string): string[] {
  const lines = text.replace(/\n+$/, '').split('\n');
  return lines.length === 1 && lines[0] === '' ? [] : lines;
}

export interface ExampleRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs an example's `command` with bash in `cwd`, `sni-forwarder` being `cli` (the built
 * dist/cli.js) on this Node, with a fixed time zone and locale and no rc files.
 */
export function runExample(command: string, cwd: string, cli: string): Promise<ExampleRun> {
  const script = `sni-forwarder() { "$SNI_NODE" "$SNI_CLI" "$@"; }\n${command}`;
  return new Promise((done) => {
    execFile('bash', ['--norc', '--noprofile', '-c', script], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', SNI_NODE: process.execPath, SNI_CLI: cli, TZ: 'UTC', LANG: 'C.UTF-8' },
      timeout: 30_000,
    }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr });
    });
  });
}
