/**
 * Pure statistics over Float32Arrays, shared by probes and target-side audits (ONNX sites).
 * No tensors, no targets: numbers in, numbers out.
 */

export function rms(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return x.length === 0 ? 0 : Math.sqrt(s / x.length);
}

/** Signal-to-quantization-noise ratio in dB of y against x: 10·log10(Σx² / Σ(x−y)²). +Inf when exact. */
export function sqnrDb(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - y[i]!;
    signal += x[i]! * x[i]!;
    noise += d * d;
  }
  if (Number.isNaN(noise)) return Number.NaN;
  if (noise === 0) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(signal / noise);
}

export function countNonFinite(x: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) n++;
  return n;
}

/** Share of exactly-zero outputs among nonzero inputs (a value that was there and is gone). */
export function zeroFraction(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let nonzero = 0;
  let zeroed = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== 0) {
      nonzero++;
      if (y[i] === 0) zeroed++;
    }
  }
  return nonzero === 0 ? 0 : zeroed / nonzero;
}

/** Share of nonzero inputs whose output has the opposite sign or is clamped to zero from a negative. */
export function signLossFraction(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let negatives = 0;
  let lost = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i]! < 0) {
      negatives++;
      if (!(y[i]! < 0)) lost++;
    }
  }
  return negatives === 0 ? 0 : lost / negatives;
}

/** Number of distinct values (NaN counted once). */
export function distinctCount(y: ArrayLike<number>): number {
  const seen = new Set<number>();
  for (let i = 0; i < y.length; i++) seen.add(Object.is(y[i], -0) ? 0 : y[i]!);
  return seen.size;
}

/** Shannon entropy in bits of the empirical distribution of values: the effective bits a tensor uses. */
export function entropyBits(y: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < y.length; i++) {
    const v = Object.is(y[i], -0) ? 0 : y[i]!;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  let h = 0;
  for (const c of counts.values()) {
    const p = c / y.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 || bb === 0) return 0;
  return ab / Math.sqrt(aa * bb);
}

/** Share of elements that are integers (|y − round(y)| == 0) among nonzero ones. */
export function integerFraction(y: ArrayLike<number>): number {
  let nonzero = 0;
  let ints = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && Number.isFinite(y[i]!)) {
      nonzero++;
      if (Number.isInteger(y[i]!)) ints++;
    }
  }
  return nonzero === 0 ? 0 : ints / nonzero;
}

/** Share of positions where a and b differ (bitwise float equality; NaN == NaN). */
export function mismatchFraction(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    const same = a[i] === b[i] || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!));
    if (!same) diff++;
  }
  return a.length === 0 ? 0 : diff / a.length;
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a > m) m = a;
  }
  return m;
}

/** Share of nonzero inputs whose output is nonzero with the opposite sign (positive → negative or negative → positive). */
export function signFlipFraction(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let nonzero = 0;
  let flipped = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === 0) continue;
    nonzero++;
    if (x[i]! * y[i]! < 0) flipped++;
  }
  return nonzero === 0 ? 0 : flipped / nonzero;
}
