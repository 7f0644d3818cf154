/**
 * Scale groups and the scale rule of each scaling policy (see tensor.ts for the rules). The
 * statistics of a group (absmax, NaN, min, max over finite values) are gathered either by the
 * scalar loops here or by the SIMD stats kernel (fast.ts); `scaleFromStats` turns them into
 * the group's scale, so both paths share one rule.
 */
import type { FormatSpec } from './types.js';
import type { ElementCodec } from './element.js';
import type { CodecOptions } from './codec.js';
import { integerZeroPoint, rangeScale } from './integer.js';

export interface Groups {
  /** elements per group (the last group may be shorter) */
  size: number;
  count: number;
}

export function groupsOf(spec: FormatSpec, n: number, shape: readonly number[] | undefined): Groups {
  switch (spec.scaling) {
    case 'none':
    case 'per-tensor-absmax':
    case 'per-tensor-minmax':
      return { size: Math.max(n, 1), count: 1 };
    case 'per-channel-absmax': {
      const rows = shape && shape.length > 1 ? shape[0]! : 1;
      if (rows <= 0 || n % rows !== 0) throw new Error(`shape [${shape?.join(', ')}] does not match ${n} elements`);
      return { size: Math.max(n / rows, 1), count: rows };
    }
    case 'per-block-absmax':
    case 'mx-e8m0': {
      const size = spec.blockSize ?? 32;
      return { size, count: Math.max(Math.ceil(n / size), 1) };
    }
  }
}

/**
 * Integer rows whose zero-point comes from each group's min/max (asymmetric): every unsigned row
 * (ONNX DynamicQuantizeLinear) and signed rows with `per-tensor-minmax` scaling (TFLite-style
 * asymmetric int8).
 */
export function isAsymmetricInteger(spec: FormatSpec): boolean {
  return spec.family === 'integer' && (spec.signed === false || spec.scaling === 'per-tensor-minmax');
}

/** Whether encode records zero-points: asymmetric rows, a row with a fixed zero-point, or a call that gives one. */
export function hasZeroPoints(spec: FormatSpec, options: CodecOptions | undefined): boolean {
  return spec.family === 'integer' && (isAsymmetricInteger(spec) || spec.zeroPoint !== undefined || options?.zeroPoint !== undefined);
}

export interface GroupScale {
  scale: number;
  zeroPoint: number;
  sharedExponent?: number;
}

/** What the scale rule reads of a group: absmax of the finite values, any NaN, min/max of the finite values and 0. */
export interface GroupStats {
  amax: number;
  nan: boolean;
  min: number;
  max: number;
}

/** Whether the scale of a group depends on its values (else `scaleFromStats` ignores the stats). */
export function needsStats(spec: FormatSpec, options: CodecOptions | undefined): boolean {
  if (spec.family === 'identity') return false;
  if (options?.scale === undefined) return spec.scaling !== 'none';
  return isAsymmetricInteger(spec) && options.zeroPoint === undefined && spec.zeroPoint === undefined;
}

export function scaleOfGroup(spec: FormatSpec, codec: ElementCodec, x: Float32Array, lo: number, hi: number, options: CodecOptions | undefined): GroupScale {
  const st: GroupStats = { amax: 0, nan: false, min: 0, max: 0 };
  if (needsStats(spec, options)) {
    if (isAsymmetricInteger(spec)) {
      let mn = 0;
      let mx = 0;
      for (let i = lo; i < hi; i++) {
        const v = x[i]!;
        if (v < mn && v > -Infinity) mn = v;
        if (v > mx && v < Infinity) mx = v;
      }
      st.min = mn;
      st.max = mx;
    } else {
      let amax = 0;
      let nan = false;
      for (let i = lo; i < hi; i++) {
        const a = Math.abs(x[i]!);
        if (a > amax && a < Infinity) amax = a;
        else if (a !== a) nan = true;
      }
      st.amax = amax;
      st.nan = nan;
    }
  }
  return scaleFromStats(spec, codec, st, options);
}

/** The group's scale; `into` (reused by the SIMD path, one per call) receives the result. */
export function scaleFromStats(spec: FormatSpec, codec: ElementCodec, st: GroupStats, options: CodecOptions | undefined, into?: GroupScale): GroupScale {
  const s = into ?? { scale: 1, zeroPoint: 0 };
  s.sharedExponent = undefined;
  return scaleRule(spec, codec, st, options, s);
}

function set(s: GroupScale, scale: number, zeroPoint: number, sharedExponent?: number): GroupScale {
  s.scale = scale;
  s.zeroPoint = zeroPoint;
  if (sharedExponent !== undefined) s.sharedExponent = sharedExponent;
  return s;
}

/** 2^k for k in [−127, 127] at [k + 127]: `2 ** k` with a variable k costs ~100 ns in V8. */
const POW2 = Float64Array.from({ length: 255 }, (_, i) => 2 ** (i - 127));
const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** floor(log2(a)) for a float32 a > 0, exact (from its bit pattern). */
function floorLog2F32(a: number): number {
  f32[0] = a;
  const u = f32Bits[0]!;
  const field = u >>> 23;
  return field > 0 ? field - 127 : 31 - Math.clz32(u) - 149;
}

function scaleRule(spec: FormatSpec, codec: ElementCodec, st: GroupStats, options: CodecOptions | undefined, s: GroupScale): GroupScale {
  if (spec.family === 'identity') return set(s, 1, 0); // fp32 ignores any scale
  // scales are float32, as ONNX stores them
  const opts = options?.scale === undefined ? options : { ...options, scale: Math.fround(options.scale) };
  if (spec.scaling === 'none' && opts?.scale === undefined) return set(s, 1, 0);
  // a zero-point given by the call or fixed by the row replaces the computed one (integer rows)
  const givenZp = spec.family === 'integer' ? (opts?.zeroPoint ?? spec.zeroPoint) : undefined;
  if (isAsymmetricInteger(spec)) {
    // ONNX DynamicQuantizeLinear generalised to signed codes: scale = (max − min) / (qmax − qmin),
    // zero-point = RNE(qmin − min / scale) clamped to [qmin, qmax] (min ≤ 0 ≤ max)
    const qmin = codec.minFinite;
    const qmax = codec.maxFinite;
    const mn = st.min;
    const mx = st.max;
    const scale = opts?.scale ?? rangeScale(mn, mx, qmin, qmax, true);
    return set(s, scale, givenZp ?? (scale > 0 ? integerZeroPoint(mn, scale, qmin, qmax) : 0));
  }
  if (opts?.scale !== undefined) return set(s, opts.scale, givenZp ?? 0);
  const amax = st.amax;
  if (spec.scaling === 'mx-e8m0') {
    if (st.nan) return set(s, NaN, 0, 0xff);
    if (amax === 0) return set(s, 2 ** -127, 0, 0);
    // amax is a float32 (an element of x); the general floor(log2) otherwise
    let e: number;
    if (Math.fround(amax) === amax) e = floorLog2F32(amax);
    else {
      e = Math.floor(Math.log2(amax));
      if (2 ** e > amax) e--;
      else if (2 ** (e + 1) <= amax) e++;
    }
    const shared = Math.min(Math.max(e - (spec.elementEmax ?? 0), -127), 127);
    const elementScale = spec.elementScale ?? 1;
    return set(s, POW2[shared + 127]! * elementScale, 0, shared + 127); // = 2^shared · elementScale
  }
  return set(s, rangeScale(-amax, amax, -codec.maxFinite, codec.maxFinite, false), givenZp ?? 0);
}
