/**
 * "Did you mean …?" for a mistyped name (format, probe, config key): the known names within a
 * small edit distance (optimal string alignment: insert, delete, substitute, swap neighbours).
 */

/** Edit distance with adjacent transpositions (int9 → int8 is 1, fp8e4m3 → fp8-e4m3 is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The words of a name, lower-cased and sorted: `broken-ste.cosineMin` and `broken-ste.minCosine` have the same. */
function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '')
    .sort()
    .join(' ');
}

/** Summed character-code gap of the differing positions (equal lengths): int9 is nearer int8 than int2. */
function charGap(a: string, b: string): number {
  if (a.length !== b.length) return Number.MAX_SAFE_INTEGER;
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap += Math.abs(a.charCodeAt(i) - b.charCodeAt(i));
  return gap;
}

/**
 * The closest known names, or [] when nothing is close: the same words in another order, or at
 * most 1 edit per 3 characters (at most 3). Only the best-scoring names are returned (at most 3).
 */
export function closestNames(word: string, known: readonly string[]): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  const lower = word.toLowerCase();
  const scored = known
    .map((name) => ({ name, d: words(name) === words(word) ? 0 : editDistance(lower, name.toLowerCase()), gap: charGap(lower, name.toLowerCase()) }))
    .filter((c) => c.d <= limit)
    .sort((x, y) => x.d - y.d || x.gap - y.gap || x.name.localeCompare(y.name));
  const best = scored[0];
  if (!best) return [];
  return scored.filter((c) => c.d === best.d && c.gap === best.gap).slice(0, 3).map((c) => c.name);
}

/** " Did you mean 'int8'?" (with a leading space), or '' when nothing is close. */
export function didYouMean(word: string, known: readonly string[]): string {
  const names = closestNames(word, known);
  if (names.length === 0) return '';
  return ` Did you mean ${names.map((n) => `'${n}'`).join(' or ')}?`;
}
