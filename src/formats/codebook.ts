/**
 * Codebook formats (nf4): the element is the index of the nearest codebook value; the
 * codebook lives in [−1, 1] and the block absmax scales it. A value exactly halfway between
 * two entries goes to the even index. NaN → the entry closest to 0.
 */
import type { FormatSpec } from './types.js';
import type { ElementCodec } from './element.js';

export function codebookCodec(spec: FormatSpec): ElementCodec {
  const book = Float64Array.from(spec.codebook!);
  const n = book.length;
  const mids = new Float64Array(n - 1);
  for (let i = 0; i < n - 1; i++) mids[i] = (book[i]! + book[i + 1]!) / 2;
  let zeroIndex = 0;
  for (let i = 1; i < n; i++) if (Math.abs(book[i]!) < Math.abs(book[zeroIndex]!)) zeroIndex = i;
  const encode = (t: number): number => {
    if (t !== t) return zeroIndex;
    // index = number of midpoints strictly below t, ties to the even index
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (mids[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo < n - 1 && mids[lo] === t && lo % 2 === 1) lo++;
    return lo;
  };
  const book32 = Float32Array.from(book);
  const positives = book.filter((v) => v > 0);
  const sorted = Float32Array.from(new Set(book32));
  return {
    bits: spec.bits,
    maxFinite: Math.max(...book.map(Math.abs)),
    minFinite: book[0]!,
    minPositive: positives.length ? Math.min(...positives) : 0,
    codeCount: sorted.length,
    encode,
    decode: (c) => book32[c]!,
    values: () => sorted,
    fakeQuantRange(x, out, lo, hi, scale) {
      const unit = scale === 1;
      for (let i = lo; i < hi; i++) {
        const t = unit ? x[i]! : Math.fround(x[i]! / scale);
        const v = book32[encode(t)]!;
        out[i] = unit ? v : v * scale;
      }
    },
  };
}
