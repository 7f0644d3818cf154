/**
 * What one QDQ site does to the tensor it really sees, as numbers: zero fraction, sign loss,
 * levels used, effective bits, local SQNR (x vs DQ(Q(x))), cumulative SQNR (float twin vs
 * DQ output), per scale group (channel or block). Every number is set beside the same number
 * for a reference quantizer of the same code type and granularity with a correct scale
 * (absmax, or min/max for unsigned codes), so a format's own coarseness is not a bug.
 * Pure: typed arrays in, numbers out.
 */
import { countNonFinite, entropyBits } from '../stats.js';
import type { CodeType } from './proto.js';

export interface SiteTensors {
  /** The float tensor quantized (undefined for dq-only sites). */
  x: Float32Array | undefined;
  dims: readonly number[];
  /** The codes as numbers (integers, or float8 values). */
  codes: Float32Array;
  dq: Float32Array | undefined;
  /** The float twin's value at the site's output. */
  twin: Float32Array | undefined;
  scale: Float64Array;
  zeroPoint: Float64Array | undefined;
  axis: number;
  blockSize: number;
}

export interface GroupStats {
  group: number;
  scale: number;
  zeroPoint: number;
  absmax: number;
  min: number;
  max: number;
  /** Representable range ÷ observed range (1 = the scale fits the data). */
  coverage: number | null;
  zeroFraction: number;
  refZeroFraction: number;
  sqnrDb: number;
  refSqnrDb: number;
}

export interface SiteStats {
  elements: number;
  groups: number;
  nonFiniteInput: number;
  nonFiniteOutput: number;
  zeroFraction: number;
  refZeroFraction: number;
  signLoss: number;
  refSignLoss: number;
  levelsUsed: number;
  levelsAvailable: number;
  effectiveBits: number;
  refEffectiveBits: number;
  localSqnrDb: number | null;
  refSqnrDb: number | null;
  cumulativeSqnrDb: number | null;
  /** rms(dq) / rms(x). */
  rmsRatio: number | null;
  perGroup: GroupStats[];
  /** Largest |x − dq| positions: the witness samples. */
  worst: { index: number; x: number; y: number; expected: number }[];
}

/**
 * Scale group of each element: null for one scale per tensor, else an index per element —
 * per axis, or per block along the axis (opset 21 block_size). Built once with nested loops
 * so the statistics passes are plain array reads.
 */
export function groupIds(dims: readonly number[], groups: number, axis: number, blockSize: number): Int32Array | null {
  if (groups <= 1 || dims.length === 0) return null;
  const rank = dims.length;
  const a = axis < 0 ? axis + rank : axis;
  const c = dims[a] ?? 1;
  let inner = 1;
  for (let k = a + 1; k < rank; k++) inner *= dims[k]!;
  let outer = 1;
  for (let k = 0; k < a; k++) outer *= dims[k]!;
  const ids = new Int32Array(outer * c * inner);
  const nb = blockSize > 0 ? Math.ceil(c / blockSize) : c;
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let ch = 0; ch < c; ch++) {
      const g = blockSize > 0 ? (o * nb + Math.floor(ch / blockSize)) * inner : ch;
      for (let k = 0; k < inner; k++) ids[i++] = blockSize > 0 ? g + k : g;
    }
  }
  return ids;
}

/** Round half to even (Math.round rounds halves up; step back to the even neighbour). */
function rne(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** rne(v) clamped to [lo, hi] (integer bounds, |bounds| < 2^31): clamping first keeps the parity test on int32. */
function rneClamp(v: number, lo: number, hi: number): number {
  const c = v < lo ? lo : v > hi ? hi : v;
  const r = Math.round(c);
  return r - c === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Round to the nearest float8 value (RNE), saturating at ±max; mantissa bits and bias from the code type. */
function roundFloat8(v: number, type: CodeType): number {
  if (!Number.isFinite(v)) return v;
  const mant = type.name.startsWith('float8e4m3') ? 3 : 2;
  const bias = type.name === 'float8e4m3fn' ? 7 : type.name === 'float8e4m3fnuz' ? 8 : type.name === 'float8e5m2' ? 15 : 16;
  const a = Math.abs(v);
  if (a === 0) return 0;
  const e = Math.max(Math.floor(Math.log2(a)), 1 - bias);
  const step = 2 ** (e - mant);
  const r = rne(a / step) * step;
  return Math.sign(v) * Math.min(r, type.qmax);
}

/** The reference quantizer: absmax (signed) or min/max (unsigned) scale per group, RNE, saturate. */
export function referenceQuantize(x: Float32Array, ids: Int32Array | null, groups: number, type: CodeType): { codes: Float32Array; dq: Float32Array } {
  const lo = new Float64Array(groups);
  const hi = new Float64Array(groups);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    const g = ids ? ids[i]! : 0;
    if (v < lo[g]!) lo[g] = v;
    if (v > hi[g]!) hi[g] = v;
  }
  const scale = new Float64Array(groups);
  const zp = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    if (type.kind === 'float8' || type.signed) {
      scale[g] = Math.max(-lo[g]!, hi[g]!) / type.qmax || 1;
    } else {
      scale[g] = (hi[g]! - lo[g]!) / (type.qmax - type.qmin) || 1;
      zp[g] = Math.min(type.qmax, Math.max(type.qmin, rne(type.qmin - lo[g]! / scale[g]!)));
    }
  }
  const codes = new Float32Array(x.length);
  const dq = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const g = ids ? ids[i]! : 0;
    const s = scale[g]!;
    if (type.kind === 'float8') {
      const c = roundFloat8(x[i]! / s, type);
      codes[i] = c;
      dq[i] = c * s;
    } else {
      const z = zp[g]!;
      const c = rneClamp(x[i]! / s + z, type.qmin, type.qmax);
      codes[i] = c;
      dq[i] = (c - z) * s;
    }
  }
  return { codes, dq };
}

/** Distinct values and entropy in bits; integer codes use a counting array (fast on 10M elements). */
function levelsAndEntropy(codes: ArrayLike<number>): { levels: number; bits: number } {
  const n = codes.length;
  if (n === 0) return { levels: 0, bits: 0 };
  let lo = Infinity;
  let hi = -Infinity;
  let integral = true;
  for (let i = 0; i < n; i++) {
    const c = codes[i]!;
    if (!Number.isInteger(c)) { integral = false; break; }
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  if (!integral || hi - lo > 1 << 17) {
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const v = Object.is(codes[i], -0) ? 0 : codes[i]!;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return { levels: counts.size, bits: entropyBits(codes) };
  }
  const counts = new Float64Array(hi - lo + 1);
  for (let i = 0; i < n; i++) counts[codes[i]! - lo]!++;
  let levels = 0;
  let bits = 0;
  for (const c of counts) {
    if (c === 0) continue;
    levels++;
    const p = c / n;
    bits -= p * Math.log2(p);
  }
  return { levels, bits };
}

function finiteOrNull(v: number): number | null {
  if (Number.isNaN(v)) return null;
  return v;
}

export function siteStats(t: SiteTensors, type: CodeType | undefined): SiteStats {
  const n = t.codes.length;
  const groups = Math.max(1, t.scale.length);
  const { levels, bits } = levelsAndEntropy(t.codes);
  const levelsAvailable = type ? 2 ** type.bits : levels;
  const x = t.x;
  const dq = t.dq;
  if (!x || !dq || !type || x.length !== dq.length) {
    return {
      elements: n, groups, nonFiniteInput: 0, nonFiniteOutput: dq ? countNonFinite(dq) : 0,
      zeroFraction: 0, refZeroFraction: 0, signLoss: 0, refSignLoss: 0,
      levelsUsed: levels, levelsAvailable, effectiveBits: bits, refEffectiveBits: bits,
      localSqnrDb: null, refSqnrDb: null, cumulativeSqnrDb: null, rmsRatio: null, perGroup: [], worst: [],
    };
  }
  const ids = groupIds(t.dims, groups, t.axis, t.blockSize);
  const ref = referenceQuantize(x, ids, groups, type);
  const refLevels = levelsAndEntropy(ref.codes);
  // One fused pass (10M-element weights): per-group signal, noise, zeroing and range, and the
  // global sign-loss, non-finite and twin sums. Same definitions as src/stats.ts
  // (zeroFraction, signLossFraction, sqnrDb, countNonFinite), summed per group.
  const sig = new Float64Array(groups);
  const noise = new Float64Array(groups);
  const refNoise = new Float64Array(groups);
  const nonzero = new Float64Array(groups);
  const zeroed = new Float64Array(groups);
  const refZeroed = new Float64Array(groups);
  const lo = new Float64Array(groups);
  const hi = new Float64Array(groups);
  let negatives = 0, lost = 0, refLost = 0, nonFiniteX = 0, nonFiniteY = 0, sumY2 = 0;
  let twinSig = 0, twinNoise = 0;
  const twin = t.twin && t.twin.length === n ? t.twin : undefined;
  for (let i = 0; i < n; i++) {
    const g = ids ? ids[i]! : 0;
    const v = x[i]!;
    const y = dq[i]!;
    const r = ref.dq[i]!;
    const d = v - y;
    const e = v - r;
    sig[g] += v * v;
    noise[g] += d * d;
    refNoise[g] += e * e;
    sumY2 += y * y;
    if (v !== 0) {
      nonzero[g]++;
      if (y === 0) zeroed[g]++;
      if (r === 0) refZeroed[g]++;
      if (v < 0) {
        negatives++;
        if (!(y < 0)) lost++;
        if (!(r < 0)) refLost++;
      }
    }
    if (v < lo[g]!) lo[g] = v;
    if (v > hi[g]!) hi[g] = v;
    if (!Number.isFinite(v)) nonFiniteX++;
    if (!Number.isFinite(y)) nonFiniteY++;
    if (twin) {
      const w = twin[i]!;
      twinSig += w * w;
      twinNoise += (w - y) * (w - y);
    }
  }
  const db = (s: number, e: number): number => (Number.isNaN(e) ? Number.NaN : e === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(s / e));
  const sum = (a: Float64Array): number => a.reduce((p, q) => p + q, 0);
  const perGroup: GroupStats[] = [];
  for (let g = 0; g < groups; g++) {
    const s = t.scale[g] ?? t.scale[0] ?? Number.NaN;
    const z = t.zeroPoint?.[g] ?? t.zeroPoint?.[0] ?? 0;
    const range = hi[g]! - lo[g]!;
    const coverage = range === 0 ? null : type.kind === 'float8' ? (type.qmax * s) / Math.max(-lo[g]!, hi[g]!) : ((type.qmax - type.qmin) * s) / range;
    perGroup.push({
      group: g, scale: s, zeroPoint: z, absmax: Math.max(-lo[g]!, hi[g]!), min: lo[g]!, max: hi[g]!, coverage: coverage === null ? null : finiteOrNull(coverage),
      zeroFraction: nonzero[g] ? zeroed[g]! / nonzero[g]! : 0,
      refZeroFraction: nonzero[g] ? refZeroed[g]! / nonzero[g]! : 0,
      sqnrDb: db(sig[g]!, noise[g]!), refSqnrDb: db(sig[g]!, refNoise[g]!),
    });
  }
  const totalNonzero = sum(nonzero);
  const sumX2 = sum(sig);
  return {
    elements: n,
    groups,
    nonFiniteInput: nonFiniteX,
    nonFiniteOutput: nonFiniteY,
    zeroFraction: totalNonzero ? sum(zeroed) / totalNonzero : 0,
    refZeroFraction: totalNonzero ? sum(refZeroed) / totalNonzero : 0,
    signLoss: negatives ? lost / negatives : 0,
    refSignLoss: negatives ? refLost / negatives : 0,
    levelsUsed: levels,
    levelsAvailable,
    effectiveBits: bits,
    refEffectiveBits: refLevels.bits,
    localSqnrDb: finiteOrNull(db(sumX2, sum(noise))),
    refSqnrDb: finiteOrNull(db(sumX2, sum(refNoise))),
    cumulativeSqnrDb: twin ? finiteOrNull(db(twinSig, twinNoise)) : null,
    rmsRatio: sumX2 === 0 ? null : finiteOrNull(Math.sqrt(sumY2 / sumX2)),
    perGroup,
    worst: worstErrors(x, dq, ref.dq, 5),
  };
}

/** The k positions with the largest |x − y| (NaN counts as largest): the witness samples. */
export function worstErrors(x: Float32Array, y: Float32Array, expected: Float32Array, k: number): SiteStats['worst'] {
  const idx: number[] = [];
  const err = (i: number): number => {
    const e = Math.abs(x[i]! - y[i]!);
    return Number.isNaN(e) ? Infinity : e;
  };
  let floor = -1;
  for (let i = 0; i < x.length; i++) {
    const e = err(i);
    if (idx.length < k || e > floor) {
      idx.push(i);
      idx.sort((a, b) => err(b) - err(a) || a - b);
      if (idx.length > k) idx.pop();
      floor = idx.length < k ? -1 : err(idx[idx.length - 1]!);
    }
  }
  return idx.map((i) => ({ index: i, x: x[i]!, y: y[i]!, expected: expected[i]! }));
}
