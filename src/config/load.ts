// Reads and parses the config file; validation and defaults are in schema.ts (STYLE §5).

import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type YAMLError } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { notTextReason, readConfigText } from './file-text.js';
import { validateConfig } from './schema.js';
import { locateYamlError } from './yaml-position.js';
import type { Config } from './types.js';

/**
 * Reads, parses and validates the config file. Resolves to a deep-frozen Config; rejects with a
 * ConfigError listing every problem as `file:line:col: path: message`. A file that cannot be
 * read, or is not text, is one problem without a position ("file: cannot read config: no such file").
 */
export async function loadConfig(file: string): Promise<Config> {
  return loadConfigText(await readConfigText(file), file);
}

/**
 * Parses and validates config text as if read from `file` (used for messages only). Returns a
 * deep-frozen Config or throws a ConfigError with every problem. YAML syntax errors, duplicate
 * keys and warnings (such as unknown tags) are reported alone: a tree that failed to parse would
 * only add confusing follow-on problems.
 */
export function loadConfigText(text: string, file: string): Config {
  const binary = notTextReason(text);
  if (binary !== undefined) throw new ConfigError([{ file, line: 0, col: 0, path: '', message: binary }]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlProblems = unique([...doc.errors, ...doc.warnings].map((e) => yamlProblem(text, e, doc.contents, lines, file)));
  if (yamlProblems.length > 0) throw new ConfigError(yamlProblems);
  const result = validateConfig(doc.contents, lines, file);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

function yamlProblem(text: string, e: YAMLError, root: unknown, lines: LineCounter, file: string): ConfigProblem {
  const { offset, message } = locateYamlError(text, e);
  const { line, col } = lines.linePos(offset);
  // A mis-indented line is parsed into the wrong mapping (or into a multi-line key): a key path
  // would name where the parser put it, not where the operator meant it.
  const path = message.startsWith('indentation:') ? '' : pathAt(root, offset, '');
  return { file, line, col, path, message: `YAML: ${message}` };
}

/** The same problem reported twice (yaml gives two errors for one over-indented line) is kept once. */
function unique(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.col}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The key path of the innermost key or item whose source range holds `offset` ('' if none). */
function pathAt(node: unknown, offset: number, path: string): string {
  const holds = (n: unknown): boolean =>
    isNode(n) && n.range !== undefined && n.range !== null && n.range[0] <= offset && offset < n.range[2];
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      const keyPath = path === '' ? key : `${path}.${key}`;
      if (holds(pair.key) || (isNode(pair.key) && pair.key.range?.[0] === offset)) return keyPath;
      if (holds(pair.value)) return pathAt(pair.value, offset, keyPath);
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      if (holds(item)) return pathAt(item, offset, `${path}[${i}]`);
    }
  }
  return path;
}
