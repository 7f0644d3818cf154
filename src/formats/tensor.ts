/**
 * Reference codecs on Float32Array: encode (codes + scales), decode, fakeQuant = decode∘encode,
 * and the clipped-STE mask. The scaling policy of the row picks the groups (tensor, rows of
 * axis 0, blocks of `blockSize`, MX blocks) and one scale per group; the element codec of the
 * family does the rounding. Scales are float32 (as ONNX stores them):
 *  - absmax: scale = fround(absmax / elementMax) over finite values (0 for an all-zero group,
 *    whose outputs are then 0, never NaN);
 *  - integer min/max (unsigned rows, and signed rows with per-tensor-minmax scaling): min/max
 *    include 0 (ONNX DynamicQuantizeLinear), scale = (max − min) / (qmax − qmin), zero-point =
 *    roundHalfEven(qmin − min / scale) clamped to [qmin, qmax];
 *  - a row's `zeroPoint` (integer rows) replaces the computed zero-point of every group;
 *  - mx-e8m0: X = 2^(floor(log2 amax) − elementEmax), exponent clamped to [−127, 127]; a block
 *    with NaN gets the NaN scale (0xFF) and decodes to NaN; an all-zero block gets 2^−127.
 * `opts.scale` replaces the computed scale of every group (for `quantize --scale S` and for
 * conformance tests); `opts.zeroPoint` likewise for the zero-point of integer rows (ONNX
 * QuantizeLinear: q = saturate(RNE(x / scale) + zp), x̂ = (q − zp) · scale).
 */
import type { Encoded, FormatInfo, FormatSpec } from './types.js';
import { elementCodec, type CodecOptions } from './codec.js';
import { minifloatLayout } from './minifloat.js';
import { groupsOf, hasZeroPoints, scaleOfGroup } from './groups.js';
import { fakeQuantFast } from './fast.js';

export function encode(spec: FormatSpec, x: Float32Array, opts?: CodecOptions): Encoded {
  const codec = elementCodec(spec);
  const n = x.length;
  const shape = [...(opts?.shape ?? [n])];
  const g = groupsOf(spec, n, shape);
  const codes = new Uint32Array(n);
  const hasScales = spec.family !== 'identity' && (spec.scaling !== 'none' || opts?.scale !== undefined);
  const scales = new Float32Array(hasScales ? g.count : 0);
  const zeroPoints = hasZeroPoints(spec, opts) ? new Int32Array(g.count) : undefined;
  const mx = spec.scaling === 'mx-e8m0' && opts?.scale === undefined;
  const sharedExponents = mx ? new Uint8Array(g.count) : undefined;
  const t = new Float32Array(1);
  for (let gi = 0; gi < g.count; gi++) {
    const lo = gi * g.size;
    const hi = Math.min(lo + g.size, n);
    const s = scaleOfGroup(spec, codec, x, lo, hi, opts);
    if (hasScales) scales[gi] = s.scale;
    if (zeroPoints) zeroPoints[gi] = s.zeroPoint;
    if (sharedExponents) sharedExponents[gi] = s.sharedExponent ?? 0;
    const divide = s.scale !== 1 && s.scale > 0 && Number.isFinite(s.scale);
    for (let i = lo; i < hi; i++) {
      t[0] = divide ? x[i]! / s.scale : s.scale === 0 ? 0 : x[i]!;
      codes[i] = codec.encode(t[0]!, s.zeroPoint);
    }
  }
  const enc: Encoded = { format: spec.name, shape, codes, scales };
  if (zeroPoints) enc.zeroPoints = zeroPoints;
  if (sharedExponents) enc.sharedExponents = sharedExponents;
  return enc;
}

export function decode(spec: FormatSpec, enc: Encoded): Float32Array {
  const codec = elementCodec(spec);
  const n = enc.codes.length;
  const g = groupsOf(spec, n, enc.shape);
  const out = new Float32Array(n);
  for (let gi = 0; gi < g.count; gi++) {
    const lo = gi * g.size;
    const hi = Math.min(lo + g.size, n);
    const scale = enc.scales.length > 0 ? enc.scales[Math.min(gi, enc.scales.length - 1)]! : 1;
    const zp = enc.zeroPoints ? enc.zeroPoints[gi]! : 0;
    for (let i = lo; i < hi; i++) {
      const v = codec.decode(enc.codes[i]!, zp);
      out[i] = scale === 1 ? v : v * scale;
    }
  }
  return out;
}

/**
 * decode(encode(x)) in one pass; `out` may be given to avoid an allocation (may be x).
 * Runs the WebAssembly SIMD kernels (fast.ts) where a row has one, else `fakeQuantScalar`;
 * both give the same bits.
 */
export function fakeQuant(spec: FormatSpec, x: Float32Array, opts?: CodecOptions, out = new Float32Array(x.length)): Float32Array {
  if (fakeQuantFast(spec, elementCodec(spec), x, opts, out)) return out;
  return fakeQuantScalar(spec, x, opts, out);
}

/** The scalar fakeQuant (element codecs' `fakeQuantRange`): the reference the SIMD kernels are tested against. */
export function fakeQuantScalar(spec: FormatSpec, x: Float32Array, opts?: CodecOptions, out = new Float32Array(x.length)): Float32Array {
  const codec = elementCodec(spec);
  const n = x.length;
  const g = groupsOf(spec, n, opts?.shape);
  for (let gi = 0; gi < g.count; gi++) {
    const lo = gi * g.size;
    const hi = Math.min(lo + g.size, n);
    const s = scaleOfGroup(spec, codec, x, lo, hi, opts);
    if (s.scale > 0 && Number.isFinite(s.scale)) codec.fakeQuantRange(x, out, lo, hi, s.scale, s.zeroPoint);
    else if (s.scale === 0) {
      // all-zero group (±Inf aside): outputs are 0, NaN stays NaN where the format has NaN
      const nanOut = codec.decode(codec.encode(NaN, s.zeroPoint), s.zeroPoint) * 0;
      for (let i = lo; i < hi; i++) out[i] = x[i]! !== x[i]! ? nanOut : 0;
    } else out.fill(NaN, lo, hi);
  }
  return out;
}

/** 1 where x lies inside the representable range of its group (clipped STE passes dy), else 0. */
export function steMask(spec: FormatSpec, x: Float32Array, opts?: CodecOptions): Uint8Array {
  const codec = elementCodec(spec);
  const n = x.length;
  const g = groupsOf(spec, n, opts?.shape);
  const mask = new Uint8Array(n);
  for (let gi = 0; gi < g.count; gi++) {
    const lo = gi * g.size;
    const hi = Math.min(lo + g.size, n);
    const s = scaleOfGroup(spec, codec, x, lo, hi, opts);
    // range in x units; an all-zero group (scale 0) passes its zeros
    const below = Math.fround((codec.minFinite - s.zeroPoint) * s.scale);
    const above = Math.fround((codec.maxFinite - s.zeroPoint) * s.scale);
    for (let i = lo; i < hi; i++) {
      const v = x[i]!;
      mask[i] = v >= below && v <= above ? 1 : 0;
    }
  }
  return mask;
}

/** Distinct finite element values (codes), ±0 once. */
export function codeCount(spec: FormatSpec): number {
  return elementCodec(spec).codeCount;
}

/** mx rows with an implicit element scale (MXINT8: 2^-6) report values in units of the shared scale. */
function elementUnit(spec: FormatSpec): number {
  return spec.family === 'mx' ? (spec.elementScale ?? 1) : 1;
}

/** Largest finite element value before scaling (integer: qmax; nf4: 1; mxint8: 127/64). */
export function maxFinite(spec: FormatSpec): number {
  return elementCodec(spec).maxFinite * elementUnit(spec);
}

/** Smallest positive element value before scaling. */
export function minPositive(spec: FormatSpec): number {
  return elementCodec(spec).minPositive * elementUnit(spec);
}

/**
 * All finite element values ascending before scaling (integer: the codes qmin..qmax; mx: the
 * element grid in units of the shared scale). Undefined for formats with more than 2^16
 * patterns (gf24, gf32, fp32).
 */
export function elementValues(spec: FormatSpec): Float32Array | undefined {
  const v = elementCodec(spec).values();
  const unit = elementUnit(spec);
  return v && unit !== 1 ? v.map((e) => e * unit) : v;
}

function layoutOf(spec: FormatSpec): string {
  switch (spec.family) {
    case 'identity':
      return 'IEEE binary32';
    case 'integer':
      return spec.signed ? `int${spec.bits} two's complement` : `uint${spec.bits}`;
    case 'minifloat':
    case 'goldenfloat': {
      const L = minifloatLayout(spec);
      const sub = L.subnormals ? 'subnormals' : 'no subnormals';
      const sp = L.specials === 'ieee' ? 'Inf/NaN' : L.specials === 'nan-only-at-all-ones' ? 'NaN at S.1…1, no Inf' : L.specials === 'nan-at-negative-zero' ? 'NaN at 1.0…0 (no −0), no Inf' : 'no Inf/NaN';
      return `1/${L.E}/${L.M} bias ${L.bias}, ${sub}, ${sp}`;
    }
    case 'posit':
      return `posit n=${spec.bits} es=${spec.es ?? 2}`;
    case 'codebook':
      return `codebook of ${spec.codebook!.length}`;
    case 'mx':
      return `${spec.elementSpec?.name ?? spec.element} ×32 + E8M0${(spec.elementScale ?? 1) !== 1 ? ` (element ×${spec.elementScale})` : ''}`;
  }
}

export function formatInfo(spec: FormatSpec): FormatInfo {
  const codec = elementCodec(spec);
  const scaleFactor = elementUnit(spec);
  const info: FormatInfo = {
    name: spec.name,
    family: spec.family,
    bits: spec.bits,
    layout: layoutOf(spec),
    scaling: spec.scaling,
    codes: codec.codeCount,
    maxFinite: codec.maxFinite * scaleFactor,
    minPositive: codec.minPositive * scaleFactor,
    source: spec.source ?? 'builtin',
  };
  if (spec.blockSize !== undefined) info.blockSize = spec.blockSize;
  if (spec.note !== undefined) info.note = spec.note;
  return info;
}
