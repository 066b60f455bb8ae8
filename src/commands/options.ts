// Option values that need more checking than commander does. Each throws a one-sentence Error
// naming the option, which the CLI prints like any other error.

/** A positive number of seconds ("--timeout 2.5") in milliseconds. */
export function secondsOption(name: string, s: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected seconds above 0, got ${JSON.stringify(s)}`);
  return n * 1000;
}
