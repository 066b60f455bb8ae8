// Shared checks for the pure incremental parsers (PROXY header, HTTP head): the seeded
// fast-check settings and the "once decided, final" property over every prefix.
import { isDeepStrictEqual } from 'node:util';

/** The fast-check seed: FC_SEED from the environment, or a fresh one to print. */
export const FC_SEED = process.env['FC_SEED'] === undefined ? Date.now() % 2 ** 31 : Number(process.env['FC_SEED']);

/**
 * FUZZ_RUNS from the environment (`make fuzz`): every property runs that many cases instead of
 * its short default, so the long run checks exactly the properties the suite checks.
 */
export const FUZZ_RUNS = process.env['FUZZ_RUNS'] === undefined ? undefined : Number(process.env['FUZZ_RUNS']);

let casesAsked = 0;

/** fast-check parameters with the shared seed; `numRuns` is the short default FUZZ_RUNS replaces. */
export function runs(numRuns: number): { seed: number; numRuns: number } {
  const n = FUZZ_RUNS ?? numRuns;
  casesAsked += n;
  return { seed: FC_SEED, numRuns: n };
}

/** The line a property file prints first: the seed, and how to rerun it. */
export function seedComment(): string {
  return `fast-check seed ${FC_SEED} (rerun with FC_SEED=${FC_SEED}${FUZZ_RUNS === undefined ? '' : ` FUZZ_RUNS=${FUZZ_RUNS}`})`;
}

/** The line a property file prints last: cases run (fc.assert throws before counting a failure). */
export function casesComment(): string {
  return `fuzz: ${casesAsked} cases, seed ${FC_SEED}`;
}

/**
 * Once some prefix decides (ok or invalid), every longer prefix, the whole input included, gives
 * the same answer: bytes after the deciding ones never matter. Every result must also pass
 * `wellFormed`. Returns the first violation, or undefined.
 */
export function decidedIsFinal<R extends { kind: string }>(
  parse: (b: Uint8Array) => R,
  wellFormed: (r: R, input: Uint8Array) => boolean,
  x: Uint8Array,
): string | undefined {
  let decided: R | undefined;
  for (let n = 0; n <= x.length; n++) {
    const r = parse(x.subarray(0, n));
    if (!wellFormed(r, x.subarray(0, n))) return `${n} bytes: malformed result ${JSON.stringify(r)}`;
    if (decided === undefined && r.kind !== 'need-more') decided = r;
    else if (decided !== undefined && !isDeepStrictEqual(r, decided)) {
      return `${n} bytes: ${JSON.stringify(r)} after ${JSON.stringify(decided)}`;
    }
  }
  return undefined;
}

/** Cuts `b` into chunks whose sizes cycle through `sizes` (as a socket might deliver it). */
export function chunked<B extends Uint8Array>(b: B, sizes: readonly number[]): B[] {
  const out: B[] = [];
  for (let at = 0, i = 0; at < b.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    out.push(b.subarray(at, at + n) as B);
    at += n;
  }
  return out;
}
