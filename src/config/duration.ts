// Durations and sizes as written in the config file (SPEC §3). Pure: strings in, numbers out.
//
// Duration grammar: one or more `<digits><unit>` groups, units `h`, `m`, `s`, `ms`, each used at
// most once and in that order, no spaces, no sign, no fractions: `250ms`, `5s`, `10m`, `1h`,
// `1m30s`, `1h30m`. A bare number is not a duration: `timeout: 5` is more likely a mistake
// (seconds? milliseconds?) than a choice, so the unit is required.
//
// Size grammar: `<digits>` (bytes) or `<digits><unit>` with a binary unit `B`, `KiB`, `MiB`,
// `GiB`: `65536`, `64KiB`, `1MiB`. Decimal units (`KB`, `MB`) are refused because 1000 vs 1024 is
// exactly the ambiguity a config file should not have.

const DURATION = /^(?:(\d{1,9})h)?(?:(\d{1,9})m(?!s))?(?:(\d{1,9})s)?(?:(\d{1,9})ms)?$/;
const MS_PER_UNIT = [3_600_000, 60_000, 1_000, 1] as const;

/** Milliseconds for a duration such as `250ms`, `5s`, `10m`, `1h` or `1m30s`; undefined if malformed. */
export function parseDuration(s: string): number | undefined {
  const m = DURATION.exec(s);
  if (m === null || s === '') return undefined;
  let ms = 0;
  for (let i = 0; i < MS_PER_UNIT.length; i++) {
    const digits = m[i + 1];
    if (digits !== undefined) ms += Number(digits) * (MS_PER_UNIT[i] ?? 0);
  }
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Formats milliseconds back into the largest exact grammar form (`300000` → `5m`), for messages. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

const SIZE = /^(\d{1,15})(B|KiB|MiB|GiB)?$/;
const BYTES_PER_UNIT: Readonly<Record<string, number>> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Bytes for a size such as `65536`, `64KiB` or `1MiB`; undefined if malformed or too large. */
export function parseSize(s: string): number | undefined {
  const m = SIZE.exec(s);
  if (m === null) return undefined;
  const bytes = Number(m[1]) * (BYTES_PER_UNIT[m[2] ?? 'B'] ?? 1);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
