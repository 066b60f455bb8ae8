// A reader for the Prometheus text exposition format (version 0.0.4), enough for what prom-client
// writes: `name{label="value",...} value [timestamp]`, `# HELP` / `# TYPE` comments. Pure: text in,
// samples out; a malformed line is skipped, never thrown on.

/** One sample line: metric name (with any _bucket/_sum/_count suffix), its labels and value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses exposition text into samples, in order; comments, blank and malformed lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const s = parseSampleLine(line);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** One sample line, or undefined when it does not follow the format. */
export function parseSampleLine(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') { i++; break; }
      const key = LABEL_NAME.exec(line.slice(i))?.[0];
      if (key === undefined) return undefined;
      i += key.length;
      if (line[i] !== '=' || line[i + 1] !== '"') return undefined;
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        i++;
        if (c === '"') break;
        if (c === '\\') {
          // Exposition escapes: \\, \" and \n.
          const e = line[i];
          i++;
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else return undefined;
        } else {
          value += c;
        }
      }
      labels[key] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') return undefined;
    }
  }
  if (line[i] !== ' ') return undefined;
  const rest = line.slice(i + 1).trim().split(/\s+/);
  const valueText = rest[0];
  if (valueText === undefined || rest.length > 2) return undefined;
  const value = parseValue(valueText);
  return value === undefined ? undefined : { name, labels, value };
}

function parseValue(s: string): number | undefined {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  return s !== '' && !Number.isNaN(n) ? n : undefined;
}
