// "Did you mean …?" for misspelt keys, upstream names and enum values: the closest candidate by edit distance.

/** Levenshtein distance with adjacent transpositions counted as one edit ("primray" → "primary" is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word`, or undefined when none is close enough to be a plausible typo or two are
 * equally close: case is ignored, and at most a third of the word (minimum 1, maximum 3 edits) may differ.
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  let tied = false;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    // Replacing every letter ("b" → "a") is not a typo.
    if (distance > limit || distance >= word.length || distance > bestDistance) continue;
    tied = distance === bestDistance;
    if (!tied) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Two equally close candidates ("v3" → v1 or v2?): a guess would mislead more than it helps.
  return tied ? undefined : best;
}

/** ` (did you mean "x"?)` or an empty string, to append to a message. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}
