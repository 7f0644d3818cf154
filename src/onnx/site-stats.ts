/**
 * What one QDQ site does to the tensor it really sees, as numbers: zero fraction, sign loss,
 * levels used, effective bits, local SQNR (x vs DQ(Q(x))), cumulative SQNR (float twin vs
 * DQ output), per scale group (channel or block). Every number is set beside the same number
 * for a reference quantizer of the same code type and granularity with a correct scale
 * (absmax, or min/max for unsigned codes and for signed codes with a zero-point), so a
 * format's own coarseness is not a bug.
 * Pure: typed arrays in, numbers out.
 */
import { countNonFinite, entropyBits, entropyOfCounts } from '../stats.js';
import type { CodeType } from './proto.js';
import { elementCodec } from '../formats/codec.js';
import type { ElementCodec } from '../formats/element.js';
import { integerZeroPoint, quantizeInteger, rangeScale } from '../formats/integer.js';
import { byteHistogram, CHUNK, fusedKernel, kernelAvailable, rangeKernel, type GroupSums } from './stats-kernel.js';

export interface SiteTensors {
  /** The float tensor quantized (undefined for dq-only sites). */
  x: Float32Array | undefined;
  dims: readonly number[];
  /** The codes as numbers (integers, or float8 values). */
  codes: ArrayLike<number>;
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
  /** The quantized tensor's dims (to name a scale group by its index). */
  dims: readonly number[];
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

/**
 * A scale group as a reader finds it: per tensor or per channel, its index (the channel); per block, also its index
 * in the scale tensor (the input's dims with dims[axis] counted in blocks), e.g. `4 [1, 1]` = row 1, block 1.
 */
export function scaleGroupName(dims: readonly number[], axis: number, blockSize: number, g: number): string {
  if (blockSize <= 0 || dims.length === 0) return String(g);
  const a = axis < 0 ? axis + dims.length : axis;
  const scaleDims = dims.map((d, k) => (k === a ? Math.ceil(d / blockSize) : d));
  const index: number[] = [];
  let rest = g;
  for (let k = scaleDims.length - 1; k >= 0; k--) {
    index.unshift(rest % scaleDims[k]!);
    rest = Math.floor(rest / scaleDims[k]!);
  }
  return `${g} [${index.join(', ')}]`;
}

/**
 * Float8 reference codes: x / scale in float32 (as QuantizeLinear divides) rounded onto the type's grid (RNE,
 * saturating at ±max) by the registry codec of its element row, in one `fakeQuantRange` pass at scale 1; non-finite
 * values pass through (the reference is judged on finite inputs; NaN/Inf outputs are counted apart).
 */
function float8Codes(x: Float32Array, ids: Int32Array | null, scale: Float64Array, codec: ElementCodec): Float32Array {
  const codes = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) codes[i] = x[i]! / scale[ids ? ids[i]! : 0]!;
  codec.fakeQuantRange(codes, codes, 0, codes.length, 1, 0);
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) codes[i] = x[i]! / scale[ids ? ids[i]! : 0]!;
  return codes;
}

/**
 * Whether a site's reference quantizer is asymmetric (min/max scale and zero-point): unsigned integer codes, and
 * signed integer codes whose site uses a nonzero zero-point (TFLite-style asymmetric int8, ONNX int4 with a
 * zero-point) — judged against a symmetric absmax reference, a one-sided tensor would look wasteful when it is not.
 */
export function asymmetricReference(type: CodeType, zeroPoint: ArrayLike<number> | undefined): boolean {
  if (type.kind !== 'integer') return false;
  if (!type.signed) return true;
  if (zeroPoint) for (let i = 0; i < zeroPoint.length; i++) if (zeroPoint[i] !== 0) return true;
  return false;
}

/**
 * The reference quantizer's scale and zero-point per group, from the group's min and max of the finite values (both
 * start at 0, so lo ≤ 0 ≤ hi): symmetric, scale = absmax / qmax and zero-point 0; asymmetric (see
 * asymmetricReference), scale = (max − min) / (qmax − qmin) and zero-point = RNE(qmin − min / scale) clamped to the
 * codes (ONNX DynamicQuantizeLinear's rule) — the registry's own rule (src/formats/integer.ts rangeScale and
 * integerZeroPoint: scales in float32, as ONNX stores them). A group of zeros gets scale 1.
 */
function referenceScales(lo: Float64Array, hi: Float64Array, type: CodeType, asymmetric: boolean): { scale: Float64Array; zeroPoint: Float64Array } {
  const groups = lo.length;
  const scale = new Float64Array(groups);
  const zeroPoint = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    // the registry's rule (rangeScale, integerZeroPoint); an all-zero group gets scale 1 (any scale reproduces it)
    scale[g] = rangeScale(lo[g]!, hi[g]!, type.qmin, type.qmax, asymmetric) || 1;
    if (asymmetric) zeroPoint[g] = integerZeroPoint(lo[g]!, scale[g]!, type.qmin, type.qmax);
  }
  return { scale, zeroPoint };
}

/**
 * The reference quantizer: absmax (symmetric) or min/max (asymmetric: unsigned codes, or signed codes with a
 * zero-point — see asymmetricReference) scale per group (referenceScales); integer codes as ONNX QuantizeLinear
 * defines them, the registry's quantizeInteger: saturate(RNE(x / scale) + zero-point); float8 codes by the registry
 * codec of the type's row.
 */
export function referenceQuantize(
  x: Float32Array, ids: Int32Array | null, groups: number, type: CodeType, asymmetric = type.kind === 'integer' && !type.signed,
): { codes: Float32Array; dq: Float32Array } {
  const lo = new Float64Array(groups);
  const hi = new Float64Array(groups);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    const g = ids ? ids[i]! : 0;
    if (v < lo[g]!) lo[g] = v;
    if (v > hi[g]!) hi[g] = v;
  }
  const { scale, zeroPoint: zp } = referenceScales(lo, hi, type, asymmetric);
  const dq = new Float32Array(x.length);
  if (type.kind === 'float8') {
    const codes = float8Codes(x, ids, scale, elementCodec(type.element!));
    for (let i = 0; i < x.length; i++) dq[i] = codes[i]! * scale[ids ? ids[i]! : 0]!;
    return { codes, dq };
  }
  const codes = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const g = ids ? ids[i]! : 0;
    const s = scale[g]!;
    const z = zp[g]!;
    // NaN passes through (as float8Codes does; the registry's quantizer maps it to the zero-point): the reference is
    // judged on finite inputs, NaN outputs are counted apart. ±Inf saturate.
    const c = x[i] !== x[i] ? Number.NaN : quantizeInteger(x[i]! / s, z, type.qmin, type.qmax);
    codes[i] = c;
    dq[i] = (c - z) * s;
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
  return entropyOfCounts(counts, n);
}

function finiteOrNull(v: number): number | null {
  if (Number.isNaN(v)) return null;
  return v;
}

/**
 * Levels used and entropy of integer codes of `type`, counted straight into bins qmin…qmax (one pass, no Map);
 * null when a code is not an integer in that range (then levelsAndEntropy decides). Same bins in the same
 * ascending order as levelsAndEntropy's counting array, so the same numbers to the last bit.
 */
function typedLevels(codes: ArrayLike<number>, type: CodeType | undefined, wasm: boolean): { levels: number; bits: number } | null {
  if (!type || type.kind !== 'integer' || type.qmax - type.qmin > 1 << 17) return null;
  const n = codes.length;
  if (n === 0) return { levels: 0, bits: 0 };
  const span = type.qmax - type.qmin;
  const counts = new Int32Array(span + 1);
  const qmin = type.qmin;
  if ((codes instanceof Int8Array && qmin <= -128 && type.qmax >= 127) || (codes instanceof Uint8Array && qmin <= 0 && type.qmax >= 255)) {
    // Every byte is an integer code in range: count without checks (in WebAssembly where it runs).
    const bytes = wasm ? byteHistogram(codes) : null;
    const first = codes instanceof Int8Array ? -128 : 0;
    if (bytes) for (let b = 0; b < 256; b++) counts[first + b - qmin] = bytes[b]!;
    else for (let i = 0; i < n; i++) counts[codes[i]! - qmin]++;
    return entropyOfCounts(counts, n);
  }
  for (let i = 0; i < n; i++) {
    const c = codes[i]!;
    const k = c - qmin;
    if (!(k >= 0 && k <= span) || Math.floor(c) !== c) return null;
    counts[k]++;
  }
  return entropyOfCounts(counts, n);
}

/** Scale groups as runs: per tensor (one run) or per axis (runs of `inner` elements, group = channel); null for blocks. */
function axisRuns(dims: readonly number[], groups: number, axis: number, blockSize: number, n: number): { inner: number; channels: number } | null {
  if (groups <= 1 || dims.length === 0) return { inner: n, channels: 1 };
  if (blockSize > 0) return null;
  const rank = dims.length;
  const a = axis < 0 ? axis + rank : axis;
  let inner = 1;
  for (let k = a + 1; k < rank; k++) inner *= dims[k]!;
  return { inner: Math.max(1, inner), channels: dims[a] ?? 1 };
}

/**
 * `wasm: false` runs the JavaScript passes only (the kernels' reference; tests compare both). Integer codes in an
 * Int8Array/Uint8Array are counted without per-element checks.
 */
export function siteStats(t: SiteTensors, type: CodeType | undefined, opts: { wasm?: boolean } = {}): SiteStats {
  const n = t.codes.length;
  const groups = Math.max(1, t.scale.length);
  const { levels, bits } = typedLevels(t.codes, type, opts.wasm !== false) ?? levelsAndEntropy(t.codes);
  const levelsAvailable = type ? 2 ** type.bits : levels;
  const x = t.x;
  const dq = t.dq;
  if (!x || !dq || !type || x.length !== dq.length) {
    return {
      elements: n, dims: t.dims, groups, nonFiniteInput: 0, nonFiniteOutput: dq ? countNonFinite(dq) : 0,
      zeroFraction: 0, refZeroFraction: 0, signLoss: 0, refSignLoss: 0,
      levelsUsed: levels, levelsAvailable, effectiveBits: bits, refEffectiveBits: bits,
      localSqnrDb: null, refSqnrDb: null, cumulativeSqnrDb: null, rmsRatio: null, perGroup: [], worst: [],
    };
  }
  const len = x.length;
  // Scale group of element i: per tensor / per axis by arithmetic (runs of `inner` elements, group = channel),
  // per block from groupIds.
  const runs = axisRuns(t.dims, groups, t.axis, t.blockSize, len);
  const ids = runs && runs.channels * runs.inner * Math.floor(len / (runs.channels * runs.inner)) === len ? null : groupIds(t.dims, groups, t.axis, t.blockSize) ?? new Int32Array(len);
  const inner = runs?.inner ?? 1;
  const channels = runs?.channels ?? 1;

  // The float twin at the site's output; a weight's twin is the weight itself (then the twin sums are the local
  // ones, not summed again).
  const twin = t.twin && t.twin.length === n ? t.twin : undefined;
  const passTwin = twin === x ? undefined : twin;
  // Runs of one scale group (per tensor, per axis) go through the WebAssembly passes (stats-kernel.ts: the same
  // operations, sums added on two lanes); blocks, float8 codes and non-finite inputs stay here.
  const bins = type.kind === 'integer' ? type.qmax - type.qmin + 1 : 0;
  const kernelInput = opts.wasm !== false && ids === null && channels <= groups && kernelAvailable(groups, bins)
    ? { x, dq, twin: passTwin, inner, channels, groups, qmin: type.qmin, qmax: type.qmax }
    : undefined;

  // Pass 1: per-group range and non-finite inputs.
  const lo = new Float64Array(groups);
  const hi = new Float64Array(groups);
  const ranged = kernelInput ? rangeKernel(kernelInput) : null;
  if (ranged) {
    lo.set(ranged.lo);
    hi.set(ranged.hi);
  }
  const nonFiniteX = ranged ? ranged.nonFiniteX : rangePass(x, ids, inner, channels, lo, hi);

  // The reference quantizer (same definition as referenceQuantize). Integer codes on finite inputs are quantized
  // inline in pass 2 and counted into bins; float8 or non-finite inputs take referenceQuantize's arrays.
  const inline = type.kind === 'integer' && nonFiniteX === 0 && type.qmax - type.qmin <= 1 << 17 && (ids !== null || channels <= groups);
  const asymmetric = asymmetricReference(type, t.zeroPoint);
  const ref = inline ? undefined : referenceQuantize(x, ids ?? groupIds(t.dims, groups, t.axis, t.blockSize), groups, type, asymmetric);
  const refDq = ref?.dq;
  // (unread when referenceQuantize gave refDq)
  const { scale: refScale, zeroPoint: refZp } = inline ? referenceScales(lo, hi, type, asymmetric) : { scale: new Float64Array(groups), zeroPoint: new Float64Array(groups) };
  const qmin = type.qmin;
  const qmax = type.qmax;
  const refCounts = new Int32Array(inline ? qmax - qmin + 1 : 0);

  // Pass 2, fused: per-group signal, noise, zeroing; global sign loss, non-finite outputs, twin sums, the
  // reference's codes histogram, and the witness positions. Same definitions as src/stats.ts (zeroFraction,
  // signLossFraction, sqnrDb, countNonFinite), summed per group in element order.
  const sig = new Float64Array(groups);
  const noise = new Float64Array(groups);
  const refNoise = new Float64Array(groups);
  const nonzero = new Float64Array(groups);
  const zeroed = new Float64Array(groups);
  const refZeroed = new Float64Array(groups);
  const tot = new Float64Array(TOTALS);
  const worst: Worst[] = [];
  const fused = inline && kernelInput ? fusedKernel(kernelInput, refScale, refZp) : null;
  if (fused) {
    sig.set(fused.sig); noise.set(fused.noise); refNoise.set(fused.refNoise);
    nonzero.set(fused.nonzero); zeroed.set(fused.zeroed); refZeroed.set(fused.refZeroed);
    refCounts.set(fused.refCounts);
    tot.set(fused.totals);
    worstFromChunks(x, dq, fused.chunkMax, worst, (i) => {
      const g = Math.floor(i / inner) % channels;
      const c = quantizeInteger(x[i]! / refScale[g]!, refZp[g]!, qmin, qmax);
      return Math.fround((c - refZp[g]!) * refScale[g]!);
    });
  } else {
    fusedPass(x, dq, passTwin, refDq, refScale, refZp, refCounts, qmin, qmax, ids, inner, channels, { sig, noise, refNoise, nonzero, zeroed, refZeroed }, tot, worst);
  }
  const [negatives, lost, refLost, nonFiniteY, sumY2] = tot as unknown as number[];
  const refLevels = inline ? entropyOfCounts(refCounts, len) : levelsAndEntropy(ref!.codes);
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
    dims: t.dims,
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
    cumulativeSqnrDb: twin ? finiteOrNull(twin === x ? db(sumX2, sum(noise)) : db(tot[5]!, tot[6]!)) : null,
    rmsRatio: sumX2 === 0 ? null : finiteOrNull(Math.sqrt(sumY2 / sumX2)),
    perGroup,
    worst: worst.map((w) => ({ index: w.index, x: x[w.index]!, y: dq[w.index]!, expected: w.expected })),
  };
}

const WORST = 5;
/** Slots of fusedPass's totals: negatives, lost, refLost, nonFiniteY, sumY2, twinSig, twinNoise. */
const TOTALS = 7;

/**
 * Per-group min/max (lo/hi start at 0) and the number of non-finite inputs, by runs of one scale group
 * (per tensor: one run; per axis: `inner` elements, group = channel; blocks: from ids). A function of its own so
 * V8 optimises this loop alone.
 */
function rangePass(x: Float32Array, ids: Int32Array | null, inner: number, channels: number, lo: Float64Array, hi: Float64Array): number {
  const len = x.length;
  let nonFinite = 0;
  for (let i = 0; i < len; ) {
    const g = ids ? ids[i]! : Math.floor(i / inner) % channels;
    let end = ids ? i + 1 : Math.min(len, i + inner);
    if (ids) while (end < len && ids[end] === g) end++;
    let l = lo[g]!;
    let h = hi[g]!;
    for (; i < end; i++) {
      const v = x[i]!;
      if (v < l) l = v;
      if (v > h) h = v;
      if (v - v !== 0) nonFinite++;
    }
    lo[g] = l;
    hi[g] = h;
  }
  return nonFinite;
}

/**
 * The fused statistics pass: per-group signal, noise, zeroing; global sign loss, non-finite outputs, twin sums;
 * the reference quantizer inline (integer codes: its codes counted into refCounts) unless refDq is given; the
 * witness positions. Same definitions as src/stats.ts (zeroFraction, signLossFraction, sqnrDb, countNonFinite),
 * summed per group in element order.
 */
function fusedPass(
  x: Float32Array, dq: Float32Array, twin: Float32Array | undefined, refDq: Float32Array | undefined,
  refScale: Float64Array, refZp: Float64Array, refCounts: Int32Array, qmin: number, qmax: number,
  ids: Int32Array | null, inner: number, channels: number, sums: GroupSums, tot: Float64Array, worst: Worst[],
): void {
  const len = x.length;
  let negatives = 0, lost = 0, refLost = 0, nonFiniteY = 0, sumY2 = 0, twinSig = 0, twinNoise = 0;
  let floor = -1;
  for (let i = 0; i < len; ) {
    const g = ids ? ids[i]! : Math.floor(i / inner) % channels;
    let end = ids ? i + 1 : Math.min(len, i + inner);
    if (ids) while (end < len && ids[end] === g) end++;
    const s = refScale[g]!;
    const z = refZp[g]!;
    let gSig = 0, gNoise = 0, gRefNoise = 0, gNonzero = 0, gZeroed = 0, gRefZeroed = 0;
    for (; i < end; i++) {
      const v = x[i]!;
      const y = dq[i]!;
      let r: number;
      if (refDq) {
        r = refDq[i]!;
      } else {
        const c = quantizeInteger(v / s, z, qmin, qmax);
        refCounts[c - qmin]++;
        r = Math.fround((c - z) * s);
      }
      const d = v - y;
      const e = v - r;
      gSig += v * v;
      gNoise += d * d;
      gRefNoise += e * e;
      sumY2 += y * y;
      if (v !== 0) {
        gNonzero++;
        if (y === 0) gZeroed++;
        if (r === 0) gRefZeroed++;
        if (v < 0) {
          negatives++;
          if (!(y < 0)) lost++;
          if (!(r < 0)) refLost++;
        }
      }
      if (y - y !== 0) nonFiniteY++;
      if (twin) {
        const w = twin[i]!;
        twinSig += w * w;
        twinNoise += (w - y) * (w - y);
      }
      // Witness: the 5 largest |x − y| (NaN as largest), ties to the lower index (as worstErrors).
      const a = Math.abs(d);
      const err = a === a ? a : Infinity;
      if (err > floor) floor = keepWorst(worst, i, err, r);
    }
    sums.sig[g] += gSig;
    sums.noise[g] += gNoise;
    sums.refNoise[g] += gRefNoise;
    sums.nonzero[g] += gNonzero;
    sums.zeroed[g] += gZeroed;
    sums.refZeroed[g] += gRefZeroed;
  }
  tot[0] = negatives; tot[1] = lost; tot[2] = refLost; tot[3] = nonFiniteY; tot[4] = sumY2; tot[5] = twinSig; tot[6] = twinNoise;
}

/**
 * fusedPass's witness positions from the kernel's per-chunk maxima: only chunks whose largest |x − y| beats the
 * current fifth are scanned, in element order, with fusedPass's test, so the same five positions.
 */
function worstFromChunks(x: Float32Array, dq: Float32Array, chunkMax: Float64Array, worst: Worst[], expectedAt: (i: number) => number): void {
  let floor = -1;
  for (let k = 0; k < chunkMax.length; k++) {
    if (!(chunkMax[k]! > floor)) continue;
    const end = Math.min(x.length, (k + 1) * CHUNK);
    for (let i = k * CHUNK; i < end; i++) {
      const a = Math.abs(x[i]! - dq[i]!);
      const err = a === a ? a : Infinity;
      if (err > floor) floor = keepWorst(worst, i, err, expectedAt(i));
    }
  }
}

interface Worst {
  index: number;
  e: number;
  expected: number;
}

/** Insert position i into the worst list (largest error first, ties to the lower index); returns the new floor. */
function keepWorst(worst: Worst[], index: number, e: number, expected: number): number {
  worst.push({ index, e, expected });
  worst.sort((p, q) => q.e - p.e || p.index - q.index);
  if (worst.length > WORST) worst.pop();
  return worst.length < WORST ? -1 : worst[worst.length - 1]!.e;
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

/** How a site treats one output channel of a weight: its largest |w| and the share of its nonzero weights sent to 0. */
export interface ChannelZeroing {
  channel: number;
  absmax: number;
  nonzero: number;
  zeroed: number;
}

/**
 * Per output channel (`axis` of `dims`, negative from the end): |x| max and how many nonzero inputs come out 0. Measured
 * whatever the scale granularity: a per-tensor scale that sends a whole channel to 0 kills that channel's output as
 * surely as a per-channel one — the reference quantizer of the same granularity would zero it too, so this is judged
 * against the float values, not against the reference.
 */
export function channelZeroing(x: Float32Array, dq: Float32Array, dims: readonly number[], axis: number): ChannelZeroing[] {
  const rank = dims.length;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank || x.length !== dq.length) return [];
  const channels = dims[a]!;
  let inner = 1;
  for (let k = a + 1; k < rank; k++) inner *= dims[k]!;
  if (channels * inner === 0 || x.length % (channels * inner) !== 0) return [];
  const out: ChannelZeroing[] = Array.from({ length: channels }, (_, channel) => ({ channel, absmax: 0, nonzero: 0, zeroed: 0 }));
  for (let i = 0; i < x.length; i++) {
    const c = out[Math.floor(i / inner) % channels]!;
    const v = x[i]!;
    if (v === 0 || v !== v) continue;
    c.nonzero++;
    if (dq[i] === 0) c.zeroed++;
    const m = Math.abs(v);
    if (m > c.absmax) c.absmax = m;
  }
  return out;
}
