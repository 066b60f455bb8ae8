// "Did you mean ...?" for a mistyped config key. Pure.
//
// The edit distance is written here because no runtime dependency provides one: commander has
// a private suggestSimilar (not in its package exports), and fast-levenshtein is in
// node_modules only as a dependency of eslint, which is not installed in production.

/**
 * Optimal string alignment distance (Levenshtein plus the swap of two adjacent characters,
 * "resovler" → "resolver" costs 1): the number of single-character edits from `a` to `b`.
 */
export function editDistance(a: string, b: string): number {
  // d[i][j] = distance between a[0..i) and b[0..j); three rows are enough for the swap.
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidate `word` was most likely meant to be, or undefined when none is close: at most a
 * third of the word's length in edits (at least 1), so "resolvr" finds "resolver" but "foo" finds
 * nothing. Case, "-" for "_" and a missing "_" count as no edit ("idleTimeout", "idle-timeout"
 * and "idletimeout" all find "idle_timeout"). Ties go to the candidate listed first.
 */
export function closestKey(word: string, candidates: readonly string[]): string | undefined {
  const fold = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const w = fold(word);
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(w, fold(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
