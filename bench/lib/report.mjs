// Turns the samples into the markdown report: one table (median of the repetitions, each
// value's ratio to direct), sni-forwarder workers: 1 against HAProxy, and the targets.

export const MIB = 2 ** 20;

/** Median of the finite numbers in `xs`; NaN when there are none. */
export function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** The table's rows: sample key, label, decimals, and whether the direct column has a value. */
export const ROWS = [
  { key: 'newConnRate', label: 'new connections/s (Connection: close, /small)', digits: 0 },
  { key: 'kaRps', label: 'keep-alive req/s (/small)', digits: 0 },
  { key: 'kaP50', label: 'keep-alive p50 latency, ms', digits: 2 },
  { key: 'kaP99', label: 'keep-alive p99 latency, ms', digits: 2 },
  { key: 'down1', label: 'download MiB/s, 1 connection', digits: 0 },
  { key: 'down4', label: 'download MiB/s, 4 connections', digits: 0 },
  { key: 'up1', label: 'upload MiB/s, 1 connection', digits: 0 },
  { key: 'up4', label: 'upload MiB/s, 4 connections', digits: 0 },
  { key: 'cpuPer10k', label: 'CPU s per 10,000 connections', digits: 2, forwarderOnly: true },
  { key: 'cpuPer10kPerOrigin', label: 'CPU per connection ÷ the origin\'s CPU per connection', digits: 2, forwarderOnly: true },
  { key: 'allocKiBPerConn', label: 'V8 heap KiB allocated per new connection', digits: 1, forwarderOnly: true },
  { key: 'cpuPerGiBDown', label: 'CPU s per GiB downloaded', digits: 2, forwarderOnly: true },
  { key: 'cpuPerGiBUp', label: 'CPU s per GiB uploaded', digits: 2, forwarderOnly: true },
  { key: 'rssIdle', label: 'RSS idle after start, MiB', digits: 1, forwarderOnly: true },
  // Allocators keep their pools once grown, so only the first repetition, on a fresh process,
  // shows what idle connections cost (HAProxy grows by ~0 from the second one on).
  { key: 'rssHolding', label: 'RSS holding idle TLS connections, MiB (1st rep)', digits: 1, forwarderOnly: true, firstOnly: true },
  { key: 'rssPer1000', label: 'RSS per 1,000 idle connections, MiB (1st rep)', digits: 1, forwarderOnly: true, firstOnly: true },
  { key: 'rssAfterLoad', label: 'RSS after the load tests, MiB', digits: 1, forwarderOnly: true },
];

/** Per column and row key, the median over the repetitions' samples (first-only rows: rep 1). */
export function medians(columns, samples) {
  const out = {};
  for (const c of columns) {
    out[c.id] = {};
    for (const row of ROWS) {
      const values = (samples[c.id] ?? []).map((s) => s[row.key]);
      out[c.id][row.key] = row.firstOnly ? values[0] ?? NaN : median(values);
    }
  }
  return out;
}

const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** The markdown table: median per cell with its ratio to direct, plus sni w1 ÷ HAProxy. */
export function table(columns, med) {
  const haproxy = columns.some((c) => c.id === 'haproxy') && columns.some((c) => c.id === 'sni1');
  const head = ['metric (median)', ...columns.map((c) => c.label), ...(haproxy ? ['sni w1 ÷ HAProxy'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of ROWS) {
    const direct = med.direct?.[row.key];
    const cells = columns.map((c) => {
      const v = med[c.id][row.key];
      if (!Number.isFinite(v)) return '—';
      if (c.id === 'direct' || !Number.isFinite(direct) || direct === 0) return fmt(v, row.digits);
      return `${fmt(v, row.digits)} (${(v / direct).toFixed(2)}×)`;
    });
    if (haproxy) {
      const r = med.sni1[row.key] / med.haproxy[row.key];
      cells.push(Number.isFinite(r) ? `${r.toFixed(2)}×` : '—');
    }
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The targets for workers: 1, each with the measured figure and PASS/FAIL. */
export function targets(med, samples, holdCount) {
  const s = med.sni1;
  const h = med.haproxy;
  const d = med.direct;
  if (!s) return ['(sni-forwarder workers: 1 was not measured)'];
  const lines = [];
  const check = (name, value, limit, ok, unit = '') => {
    const verdict = Number.isFinite(value) && Number.isFinite(limit) ? (ok(value, limit) ? 'PASS' : 'FAIL') : 'n/a';
    lines.push(`- ${verdict}: ${name}: ${fmt(value, 2)}${unit} (limit ${fmt(limit, 2)}${unit})`);
  };
  if (h) {
    for (const [k, what] of [['down1', 'download 1 conn'], ['down4', 'download 4 conns'], ['up1', 'upload 1 conn'], ['up4', 'upload 4 conns']]) {
      check(`${what} MiB/s ≥ 1.1× HAProxy`, s[k], 1.1 * h[k], (v, l) => v >= l);
    }
    check('CPU s per GiB downloaded ≤ 0.7× HAProxy', s.cpuPerGiBDown, 0.7 * h.cpuPerGiBDown, (v, l) => v <= l);
    check('CPU s per GiB uploaded ≤ 0.7× HAProxy', s.cpuPerGiBUp, 0.7 * h.cpuPerGiBUp, (v, l) => v <= l);
    check('new connections/s ≥ 0.9× HAProxy', s.newConnRate, 0.9 * h.newConnRate, (v, l) => v >= l);
    check('CPU s per 10,000 connections ≤ 1.5× HAProxy', s.cpuPer10k, 1.5 * h.cpuPer10k, (v, l) => v <= l);
    if (d) {
      check('keep-alive p50 added over direct ≤ 1.2× HAProxy\'s added', s.kaP50 - d.kaP50, 1.2 * (h.kaP50 - d.kaP50),
        (v, l) => v <= l, ' ms');
    }
  } else {
    lines.push('- (HAProxy not measured: the relative targets are not judged)');
  }
  check('RSS idle ≤ 60 MiB', s.rssIdle, 60, (v, l) => v <= l, ' MiB');
  check(`RSS per 1,000 idle connections ≤ 10 MiB (measured with ${holdCount})`, s.rssPer1000, 10, (v, l) => v <= l, ' MiB');
  const after = (samples.sni1 ?? []).map((x) => x.rssAfterLoad);
  check('RSS after the load tests (worst repetition) ≤ 1.5× idle', Math.max(...after), 1.5 * s.rssIdle, (v, l) => v <= l, ' MiB');
  if (after.length > 1) {
    check('RSS after load flat across repetitions (last ≤ 1.1× first)', after.at(-1), 1.1 * after[0], (v, l) => v <= l, ' MiB');
  }
  return lines;
}

/** RSS after load per repetition for every forwarder column, to show whether it is flat. */
export function afterLoadLines(columns, samples) {
  return columns.filter((c) => c.id !== 'direct').map((c) =>
    `- ${c.label}: ${(samples[c.id] ?? []).map((x) => fmt(x.rssAfterLoad, 1)).join(' → ')} MiB`);
}

/**
 * For each forwarder column, its new-connection figures divided by the Node pipe's in the same
 * repetition (a busy machine slows both alike), per repetition and their median.
 */
export function pairedLines(columns, samples) {
  const pipe = samples.nodepipe;
  if (!pipe) return ['(the Node pipe was not measured)'];
  const out = [];
  for (const c of columns.filter((x) => x.id.startsWith('sni'))) {
    for (const [key, what] of [['cpuPer10k', 'CPU per connection'], ['cpuPer10kPerOrigin', 'CPU per connection ÷ origin\'s'],
      ['newConnRate', 'new connections/s'], ['allocKiBPerConn', 'heap allocated per connection']]) {
      const ratios = (samples[c.id] ?? []).map((x, i) => x[key] / pipe[i]?.[key]);
      if (!ratios.some(Number.isFinite)) continue;
      out.push(`- ${c.label}, ${what}: ${fmt(median(ratios), 2)}× the Node pipe (per repetition: ${ratios.map((r) => fmt(r, 2)).join(', ')})`);
    }
  }
  return out;
}
