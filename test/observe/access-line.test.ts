// The hand-built access line against what pino writes for the same fields: byte for byte.
import { Writable } from 'node:stream';
import { pino, stdTimeFunctions, type Logger } from 'pino';
import t from 'tap';
import { accessFields, writeAccessLine } from '../../src/observe/access-line.js';
import { isoTime, type AccessRecord } from '../../src/observe/log.js';

/** The access line's fields as recordAccess built them before the line was built by hand. */
function reference(r: AccessRecord, suppressed: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    conn: r.conn,
    client: r.client,
    ...(r.peer === null ? {} : { peer: r.peer }),
    listener: r.listener,
    sni: r.sni,
    ...(r.ech === true ? { ech: true } : {}),
    host: r.host,
    upstream: r.upstream,
    outcome: r.outcome,
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    durationMs: r.durationMs,
    connectMs: r.connectMs,
  };
  if (r.reason !== null) fields['reason'] = r.reason;
  if (r.code !== null) fields['code'] = r.code;
  if (r.reset !== null) fields['reset'] = r.reset;
  if (r.attempts.length > 0) fields['attempts'] = r.attempts;
  if (suppressed > 0) Object.assign(fields, { suppressed });
  return fields;
}

function capture(options: pino.LoggerOptions): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino(options, sink), lines };
}

const forwarded: AccessRecord = {
  conn: 7, client: '10.0.0.1:5000', peer: null, listener: '0.0.0.0:443', sni: 'registry.example.com', host: 'registry.example.com',
  upstream: '203.0.113.7:443', outcome: 'forwarded', bytesUp: 5123, bytesDown: 90211, durationMs: 1834.125, connectMs: 0.412,
  reason: null, code: null, reset: null, attempts: [],
};
const records: [string, AccessRecord, number][] = [
  ['forwarded', forwarded, 0],
  ['every optional field', {
    ...forwarded, peer: '[2001:db8::1]:7000', ech: true, reason: 'upstream error: read ECONNRESET', code: 'ECONNRESET', reset: 'upstream',
    attempts: [{ address: '[2001:db8::2]:443', code: 'ECONNREFUSED' }, { address: '192.0.2.1:443', code: 'ETIMEDOUT' }],
  }, 3],
  ['refused before a name', {
    ...forwarded, sni: null, host: '', upstream: null, outcome: 'not_tls', bytesUp: 0, bytesDown: 0, connectMs: null,
    reason: 'client closed before a complete ClientHello', ech: false,
  }, 0],
  ['strings that need escaping', {
    ...forwarded, outcome: 'no_sni', reason: 'request 1: Host "a\\b"\u0000\u001f\n\t\u2028é €', code: 'E"X',
  }, 0],
  ['numbers pino writes as null', { ...forwarded, durationMs: Number.NaN, connectMs: Number.POSITIVE_INFINITY, bytesUp: 0 }, 0],
];

const FIXED_TIME = (): string => ',"time":"2026-12-06T19:38:39.748Z"';

await t.test('the line is what log.info writes for the same fields', async (t) => {
  for (const options of [
    { name: 'production-like', opts: { level: 'info', timestamp: FIXED_TIME, base: { pid: 4242 } } },
    { name: 'pino defaults', opts: { level: 'info', timestamp: FIXED_TIME } },
  ]) {
    for (const [name, r, suppressed] of records) {
      const fast = capture(options.opts);
      const slow = capture(options.opts);
      writeAccessLine(fast.log, r, suppressed);
      slow.log.info(reference(r, suppressed), 'connection');
      // A child logger's bindings are part of the line too.
      writeAccessLine(fast.log.child({ worker: 2 }), r, suppressed);
      slow.log.child({ worker: 2 }).info(reference(r, suppressed), 'connection');
      await new Promise<void>((resolve) => setImmediate(resolve));
      t.same(fast.lines, slow.lines, `${options.name}: ${name}`);
      t.equal(fast.lines.length, 2);
      for (const line of fast.lines) t.doesNotThrow(() => { JSON.parse(line); });
    }
  }
});

await t.test('loggers the line cannot copy get log.info: mixin, redaction, level off', async (t) => {
  const opts = { level: 'info', timestamp: FIXED_TIME, mixin: () => ({ extra: 1 }) };
  const fast = capture(opts);
  const slow = capture(opts);
  writeAccessLine(fast.log, forwarded, 0);
  slow.log.info(accessFields(forwarded), 'connection');
  const redacted = capture({ level: 'info', timestamp: FIXED_TIME, redact: ['client'] });
  writeAccessLine(redacted.log, forwarded, 0);
  const quiet = capture({ level: 'warn' });
  writeAccessLine(quiet.log, forwarded, 0);
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.same(fast.lines, slow.lines);
  t.match(fast.lines[0], /"extra":1/);
  t.match(redacted.lines[0], /"client":"\[Redacted\]"/);
  t.same(quiet.lines, []);
});

await t.test('isoTime writes what pino stdTimeFunctions.isoTime writes', (t) => {
  const starts = [0, Date.UTC(2026, 11, 6, 19, 38, 39), Date.UTC(2000, 1, 29, 23, 59, 59), Date.now()];
  for (const start of starts) {
    for (const ms of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 60_000, 86_399_999]) {
      const now = start + ms;
      t.equal(isoTime(now), `,"time":"${new Date(now).toISOString()}"`, `at ${now}`);
    }
  }
  // The clock read as pino would: the same shape as its own isoTime.
  t.match(isoTime(), /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  t.match(stdTimeFunctions.isoTime(), /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  t.end();
});
