// Reading a yaml node tree with positions: typed field readers that report a ConfigProblem at
// the offending node and return undefined, so schema.ts can validate everything in one pass.
// Pure: no I/O.

import { isAlias, isMap, isNode, isScalar, isSeq, type LineCounter } from 'yaml';
import type { ConfigProblem } from '../errors.js';
import { parseCidr, parseHostPort, type HostPortOptions, type Parsed } from './address.js';
import { parseDuration } from './duration.js';
import { closestKey } from './suggest.js';
import type { Cidr, HostPort } from './types.js';

/** Node timers fire at once for delays above this; no duration may exceed it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A value node with its key path and its start offset (the key's, when the value is empty). */
export interface At {
  readonly node: unknown;
  readonly path: string;
  readonly pos: number;
}

export class Ctx {
  readonly problems: ConfigProblem[] = [];
  /** Every valid route host pattern where it was read, for the duplicate check (even in invalid routes). */
  readonly hosts: { pattern: string; at: At }[] = [];
  /** Every key read with its parsed value (undefined if invalid), for the UNBUILT check. */
  readonly seen: { path: string; at: At; value: unknown }[] = [];
  constructor(readonly file: string, readonly lines: LineCounter) {}

  problem(pos: number, path: string, message: string): ConfigProblem {
    const { line, col } = this.lines.linePos(pos);
    // An unused LineCounter (no text was parsed) answers line 0; positions are 1-based.
    return { file: this.file, line: Math.max(line, 1), col: Math.max(col, 1), path, message };
  }

  report(at: At, message: string): undefined {
    this.problems.push(this.problem(at.pos, at.path, message));
    return undefined;
  }

  where(at: At): string {
    const { line, col } = this.lines.linePos(at.pos);
    return `${at.path}, line ${line} col ${col}`;
  }
}

export function startOf(node: unknown, fallback: number): number {
  return isNode(node) ? (node.range?.[0] ?? fallback) : fallback;
}

export function describe(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (!isScalar(node) || node.value === null) return 'nothing';
  const v = node.value;
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  // As written: `account: 012345678901` is the number 12345678901 to YAML, but the operator
  // wrote (and looks for) 012345678901.
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${node.source ?? String(v)}`;
  return 'an unsupported value';
}

export function expected(ctx: Ctx, at: At, what: string): undefined {
  if (isAlias(at.node)) return ctx.report(at, 'YAML aliases are not supported; write the value out');
  return ctx.report(at, `expected ${what}, got ${describe(at.node)}`);
}

export type Fields = ReadonlyMap<string, At>;

/** Reads a mapping whose keys must all be in `keys`; reports every other key at the key. */
export function readMap(ctx: Ctx, at: At, keys: readonly string[]): Fields | undefined {
  if (!isMap(at.node)) return expected(ctx, at, 'a mapping');
  const fields = new Map<string, At>();
  for (const pair of at.node.items) {
    const keyPos = startOf(pair.key, at.pos);
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string') {
      ctx.report({ node: pair.key, path: at.path, pos: keyPos }, `keys must be strings, got ${describe(pair.key)}`);
      continue;
    }
    const path = at.path === '' ? key : `${at.path}.${key}`;
    if (!keys.includes(key)) {
      const guess = closestKey(key, keys);
      const hint = guess === undefined ? '' : `; did you mean ${guess}?`;
      ctx.report({ node: pair.key, path, pos: keyPos }, `unknown key${hint} (expected one of: ${keys.join(', ')})`);
      continue;
    }
    fields.set(key, { node: pair.value, path, pos: startOf(pair.value, keyPos) });
  }
  return fields;
}

/** Reads an optional field with `parse` and records it for the UNBUILT check. */
export function field<T>(ctx: Ctx, fields: Fields, key: string, parse: (ctx: Ctx, at: At) => T | undefined): T | undefined {
  const at = fields.get(key);
  if (at === undefined) return undefined;
  const value = parse(ctx, at);
  ctx.seen.push({ path: at.path, at, value });
  return value;
}

export function readList<T>(ctx: Ctx, at: At, item: (ctx: Ctx, at: At) => T | undefined): T[] | undefined {
  if (!isSeq(at.node)) return expected(ctx, at, 'a list');
  const out: T[] = [];
  let valid = true;
  at.node.items.forEach((node, i) => {
    const value = item(ctx, { node, path: `${at.path}[${i}]`, pos: startOf(node, at.pos) });
    if (value === undefined) valid = false;
    else out.push(value);
  });
  return valid ? out : undefined;
}

export const list = <T>(item: (ctx: Ctx, at: At) => T | undefined) => (ctx: Ctx, at: At): T[] | undefined =>
  readList(ctx, at, item);

export function scalar(at: At): unknown {
  return isScalar(at.node) ? at.node.value : undefined;
}

export function readString(ctx: Ctx, at: At, what = 'a string'): string | undefined {
  const v = scalar(at);
  return typeof v === 'string' ? v : expected(ctx, at, what);
}

/** Turns a Parsed result into a value, reporting the reason at `at`. */
export function parsedAt<T>(ctx: Ctx, at: At, parsed: Parsed<T>): T | undefined {
  return parsed.ok ? parsed.value : ctx.report(at, parsed.reason);
}

export const int = (min: number, max: number) => (ctx: Ctx, at: At): number | undefined => {
  const v = scalar(at);
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) return expected(ctx, at, `an integer ${min}..${max}`);
  return v >= min && v <= max ? v : ctx.report(at, `must be an integer ${min}..${max}, got ${v}`);
};

export function readBool(ctx: Ctx, at: At): boolean | undefined {
  const v = scalar(at);
  return typeof v === 'boolean' ? v : expected(ctx, at, 'true or false');
}

export const oneOf = <T extends string>(values: readonly T[]) => (ctx: Ctx, at: At): T | undefined => {
  const v = scalar(at);
  const found = values.find((x) => x === v);
  return found ?? expected(ctx, at, `one of ${values.join(', ')}`);
};

/** A duration in ms; `min` 1 for timeouts, 0 for TTLs; at most MAX_TIMER_MS. */
export const duration = (min: 0 | 1) => (ctx: Ctx, at: At): number | undefined => {
  const v = scalar(at);
  if (typeof v === 'number') return ctx.report(at, `a duration needs a unit, as in "${v}s" or "${v}ms"`);
  if (typeof v !== 'string') return expected(ctx, at, 'a duration such as 250ms, 5s, 10m or 1h');
  const ms = parseDuration(v);
  if (ms === undefined) return ctx.report(at, `"${v}" is not a duration (use 250ms, 5s, 10m, 1h or 1m30s)`);
  if (ms < min) return ctx.report(at, 'must be greater than 0');
  if (ms > MAX_TIMER_MS) return ctx.report(at, `"${v}" is too long: timers cannot wait more than 596h (about 24 days)`);
  return ms;
};

export const hostPort = (opts: HostPortOptions) => (ctx: Ctx, at: At): HostPort | undefined => {
  const s = readString(ctx, at, opts.requireIp === true ? 'an "ip:port" string' : 'a "host:port" string');
  return s === undefined ? undefined : parsedAt(ctx, at, parseHostPort(s, opts));
};

export function readCidr(ctx: Ctx, at: At): Cidr | undefined {
  const s = readString(ctx, at, 'a CIDR string such as "10.0.0.0/8"');
  return s === undefined ? undefined : parsedAt(ctx, at, parseCidr(s));
}

export function nonEmptyList<T>(ctx: Ctx, at: At, values: T[] | undefined, why: string): T[] | undefined {
  if (values !== undefined && values.length === 0) return ctx.report(at, `empty list: ${why}`);
  return values;
}

/**
 * Reads a mapping whose keys are names the file chooses (such as `resolvers`): `item` gets each
 * string key and its value; a non-string key is reported. Undefined if any entry was invalid.
 */
export function readEntries<T>(ctx: Ctx, at: At, item: (ctx: Ctx, key: string, keyAt: At, valueAt: At) => T | undefined): T[] | undefined {
  if (!isMap(at.node)) return expected(ctx, at, 'a mapping');
  const out: T[] = [];
  let valid = true;
  for (const pair of at.node.items) {
    const keyPos = startOf(pair.key, at.pos);
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string') {
      ctx.report({ node: pair.key, path: at.path, pos: keyPos }, `keys must be strings, got ${describe(pair.key)}`);
      valid = false;
      continue;
    }
    const path = at.path === '' ? key : `${at.path}.${key}`;
    const value = item(ctx, key, { node: pair.key, path, pos: keyPos }, { node: pair.value, path, pos: startOf(pair.value, keyPos) });
    if (value === undefined) valid = false;
    else out.push(value);
  }
  return valid ? out : undefined;
}
