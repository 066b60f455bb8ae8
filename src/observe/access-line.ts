// The access line, built by hand: one string with a fixed key order, written to the logger's
// own destination. pino's generic path (a fields object, a spread per optional field, a
// property walk with a type switch per value) cost about 3 KB and 4 % of the CPU per
// connection (issue #18). The line is byte for byte what `log.info(fields, 'connection')`
// writes (test/observe/access-line.test.ts compares the two), so nothing reading it changes.
import { pino, type Logger } from 'pino';
import type { AccessRecord } from './log.js';

const INFO = 30;
const sym = pino.symbols;
/** Not in pino's typings (pino ≥ 8.14 has it): looked up by name, absent means no prefix. */
const msgPrefixSym = (pino.symbols as unknown as Record<string, symbol | undefined>)['msgPrefixSym'];

/** What the fast path needs from a logger; null when the logger is configured in a way it does not copy. */
interface Parts {
  readonly start: string;
  readonly end: string;
}

/** The keys of the access line (a serializer or redaction on one of them sends it through pino). */
const KEYS = ['conn', 'client', 'peer', 'listener', 'sni', 'ech', 'host', 'upstream', 'outcome', 'bytesUp', 'bytesDown',
  'durationMs', 'connectMs', 'reason', 'code', 'reset', 'attempts', 'suppressed', 'msg'];

const partsOf = new WeakMap<Logger, Parts | null>();

/**
 * The fixed parts of the line as `log` would write it, or null when `log` has something that
 * changes lines (mixin, log formatter, hooks, redaction, serializers of these keys, another
 * message key, a destination that wants metadata): such a logger gets `log.info` instead.
 */
function parts(log: Logger): Parts | null {
  const cached = partsOf.get(log);
  if (cached !== undefined) return cached;
  const l = log as unknown as Record<symbol, unknown>;
  const formatters = l[sym.formattersSym] as { log?: unknown } | undefined;
  const hooks = l[sym.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const stringifiers = l[sym.stringifiersSym] as object | undefined;
  const serializers = (l[sym.serializersSym] ?? {}) as Record<string, unknown>;
  const stream = l[sym.streamSym] as Record<symbol, unknown> | undefined;
  const start = (l[sym.lsCacheSym] as Record<number, unknown> | undefined)?.[INFO];
  const end = l[sym.endSym];
  const plain = l[sym.mixinSym] === undefined && formatters?.log === undefined && hooks?.logMethod === undefined
    && hooks?.streamWrite === undefined && stringifiers !== undefined && Reflect.ownKeys(stringifiers).length === 0
    && KEYS.every((k) => serializers[k] === undefined) && l[sym.messageKeySym] === 'msg' && l[sym.nestedKeySym] === null
    && (msgPrefixSym === undefined || l[msgPrefixSym] === undefined) && stream !== undefined
    && stream[sym.needsMetadataGsym] !== true;
  const result = plain && typeof start === 'string' && typeof end === 'string' ? { start, end } : null;
  partsOf.set(log, result);
  return result;
}

/** A number as pino writes it: non-finite numbers become null. */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** A string as JSON (JSON.stringify escapes quotes, backslashes and control characters). */
function str(s: string | null): string {
  return s === null ? 'null' : JSON.stringify(s);
}

/**
 * Writes the access line for `r` at level info (nothing when info is off), with `suppressed`
 * when greater than 0. Field order and presence as documented in the README: peer, ech, reason,
 * code, reset, attempts and suppressed only when they have something to say.
 */
export function writeAccessLine(log: Logger, r: AccessRecord, suppressed = 0): void {
  if (!log.isLevelEnabled('info')) return;
  const p = parts(log);
  if (p === null) {
    log.info(accessFields(r, suppressed), 'connection');
    return;
  }
  const l = log as unknown as Record<symbol, unknown>;
  let line = p.start + (l[sym.timeSym] as () => string)() + (l[sym.chindingsSym] as string)
    + ',"conn":' + num(r.conn) + ',"client":' + str(r.client);
  if (r.peer !== null) line += ',"peer":' + str(r.peer);
  line += ',"listener":' + str(r.listener) + ',"sni":' + str(r.sni);
  if (r.ech === true) line += ',"ech":true';
  line += ',"host":' + str(r.host) + ',"upstream":' + str(r.upstream) + ',"outcome":' + str(r.outcome)
    + ',"bytesUp":' + num(r.bytesUp) + ',"bytesDown":' + num(r.bytesDown) + ',"durationMs":' + num(r.durationMs)
    + ',"connectMs":' + (r.connectMs === null ? 'null' : num(r.connectMs));
  if (r.reason !== null) line += ',"reason":' + str(r.reason);
  if (r.code !== null) line += ',"code":' + str(r.code);
  if (r.reset !== null) line += ',"reset":' + str(r.reset);
  if (r.attempts.length > 0) line += ',"attempts":' + JSON.stringify(r.attempts);
  if (suppressed > 0) line += ',"suppressed":' + num(suppressed);
  (l[sym.streamSym] as { write(s: string): unknown }).write(line + ',"msg":"connection"' + p.end);
}

/** The access line's fields as an object, in the line's order (for loggers off the fast path). */
export function accessFields(r: AccessRecord, suppressed = 0): Record<string, unknown> {
  const fields: Record<string, unknown> = { conn: r.conn, client: r.client };
  if (r.peer !== null) fields['peer'] = r.peer;
  fields['listener'] = r.listener;
  fields['sni'] = r.sni;
  if (r.ech === true) fields['ech'] = true;
  fields['host'] = r.host;
  fields['upstream'] = r.upstream;
  fields['outcome'] = r.outcome;
  fields['bytesUp'] = r.bytesUp;
  fields['bytesDown'] = r.bytesDown;
  fields['durationMs'] = r.durationMs;
  fields['connectMs'] = r.connectMs;
  if (r.reason !== null) fields['reason'] = r.reason;
  if (r.code !== null) fields['code'] = r.code;
  if (r.reset !== null) fields['reset'] = r.reset;
  if (r.attempts.length > 0) fields['attempts'] = r.attempts;
  if (suppressed > 0) fields['suppressed'] = suppressed;
  return fields;
}
