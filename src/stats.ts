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

/**
 * Calls `onValue(count, value)` once per distinct value of `y` (−0 and +0 equal; every NaN
 * counted together, last) in first-seen order: an open-addressing table over the float64 bits,
 * reused between calls — the probes count levels of thousands of small groups.
 */
let slotsKey = new Float64Array(0);
let slotsCount = new Int32Array(0);
let slotsUsed = new Uint8Array(0);
let slotOrder = new Int32Array(0);
const hashF = new Float64Array(1);
const hashU = new Uint32Array(hashF.buffer);
export function equalRuns(y: ArrayLike<number>, onValue: (count: number, value: number) => void): void {
  const n = y.length;
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  if (slotsKey.length < cap) {
    slotsKey = new Float64Array(cap);
    slotsCount = new Int32Array(cap);
    slotsUsed = new Uint8Array(cap);
    slotOrder = new Int32Array(cap);
  }
  slotsUsed.fill(0, 0, cap);
  const mask = cap - 1;
  let distinct = 0;
  let nan = 0;
  for (let i = 0; i < n; i++) {
    let v = y[i]!;
    if (v !== v) {
      nan++;
      continue;
    }
    if (v === 0) v = 0;
    hashF[0] = v;
    let h = Math.imul(hashU[0]! ^ Math.imul(hashU[1]!, 0x9e3779b1), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) & mask;
    while (slotsUsed[h] && slotsKey[h] !== v) h = (h + 1) & mask;
    if (!slotsUsed[h]) {
      slotsUsed[h] = 1;
      slotsKey[h] = v;
      slotsCount[h] = 0;
      slotOrder[distinct++] = h;
    }
    slotsCount[h]!++;
  }
  for (let k = 0; k < distinct; k++) onValue(slotsCount[slotOrder[k]!]!, slotsKey[slotOrder[k]!]!);
  if (nan > 0) onValue(nan, Number.NaN);
}

/**
 * Per group of `group` consecutive values, from one sort each: the entropy in bits, the most
 * common finite value (ties: the smallest; 0 for a group with none) and how many sit on it.
 */
export function groupLevels(y: ArrayLike<number> & { subarray?: unknown }, group: number): { entropy: Float64Array; mode: Float64Array; modeCount: Float64Array } {
  const groups = Math.ceil(y.length / group);
  const entropy = new Float64Array(groups);
  const mode = new Float64Array(groups);
  const modeCount = new Float64Array(groups);
  const view = (lo: number, hi: number): ArrayLike<number> =>
    y instanceof Float32Array || y instanceof Float64Array ? y.subarray(lo, hi) : Array.prototype.slice.call(y, lo, hi);
  for (let g = 0; g < groups; g++) {
    const part = view(g * group, Math.min(y.length, (g + 1) * group));
    let h = 0;
    equalRuns(part, (c, v) => {
      const p = c / part.length;
      h -= p * Math.log2(p);
      if (!Number.isNaN(v) && (c > modeCount[g]! || (c === modeCount[g]! && v < mode[g]!))) {
        modeCount[g] = c;
        mode[g] = v;
      }
    });
    entropy[g] = h;
  }
  return { entropy, mode, modeCount };
}

/** Whether every value of `x` is the same (−0 and +0 alike; an empty array counts). */
export function allEqual(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0] && !(Number.isNaN(x[i]!) && Number.isNaN(x[0]!))) return false;
  return true;
}

/** Number of distinct values (NaN counted once). */
export function distinctCount(y: ArrayLike<number>): number {
  let runs = 0;
  equalRuns(y, () => runs++);
  return runs;
}

/** Shannon entropy in bits of the empirical distribution of values: the effective bits a tensor uses. */
export function entropyBits(y: ArrayLike<number>): number {
  let h = 0;
  equalRuns(y, (c) => {
    const p = c / y.length;
    h -= p * Math.log2(p);
  });
  return h;
}

/** Levels used and Shannon entropy (bits) of a histogram of n values (bins in any fixed order; empty bins skipped). */
export function entropyOfCounts(counts: ArrayLike<number>, n: number): { levels: number; bits: number } {
  let levels = 0;
  let bits = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    levels++;
    const p = c / n;
    bits -= p * Math.log2(p);
  }
  return { levels, bits };
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

/** Whether two arrays hold the same values bit for bit (NaN payloads aside: NaN equals NaN, −0 differs from +0). */
export function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
