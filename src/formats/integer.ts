/**
 * Integer codes as ONNX QuantizeLinear/DequantizeLinear define them:
 * q = saturate(roundHalfEven(x / scale) + zeroPoint), x̂ = (q − zeroPoint) · scale, in float32.
 * Signed rows saturate to [−2^(b−1), 2^(b−1) − 1] (absmax scaling only reaches ±qmax; an
 * explicit scale can reach −2^(b−1)); unsigned rows to [0, 2^b − 1]. NaN → the zero-point.
 * Codes are stored masked to `bits` (two's complement for signed).
 */
import type { FormatSpec } from './types.js';
import { type ElementCodec, RNE_MAGIC } from './element.js';

export function integerRange(spec: FormatSpec): { qmin: number; qmax: number } {
  const b = spec.bits;
  return spec.signed ? { qmin: -(2 ** (b - 1)), qmax: 2 ** (b - 1) - 1 } : { qmin: 0, qmax: 2 ** b - 1 };
}

/**
 * The integer quantizer (the one definition outside the hot loops below and the WASM kernels):
 * q = saturate(roundHalfEven(t) + zp) to [qmin, qmax]. Clamps first (as MLAS does), so ±Inf
 * saturate; NaN → the zero-point.
 */
export function quantizeInteger(t: number, zp: number, qmin: number, qmax: number): number {
  const lo = qmin - zp;
  const hi = qmax - zp;
  const c = t < lo ? lo : t > hi ? hi : t;
  const r = c + RNE_MAGIC - RNE_MAGIC;
  return r === r ? r + zp : zp;
}

/**
 * The scale of a group from its range (the one rule: the registry's codecs and the ONNX site reference; scales in
 * float32, as ONNX stores them): symmetric amax / qmax (qmax = the largest finite code value, any family), or
 * asymmetric (ONNX DynamicQuantizeLinear generalised to signed codes) (max − min) / (qmax − qmin), with min ≤ 0 ≤ max.
 * 0 for an all-zero group.
 */
export function rangeScale(min: number, max: number, qmin: number, qmax: number, asymmetric: boolean): number {
  return asymmetric ? Math.fround((max - min) / (qmax - qmin)) : Math.fround(Math.max(-min, max) / qmax);
}

/** The asymmetric zero-point for a scale > 0: RNE(qmin − min / scale), min / scale in float32, clamped to [qmin, qmax]. */
export function integerZeroPoint(min: number, scale: number, qmin: number, qmax: number): number {
  const zp = qmin - Math.fround(min / scale) + RNE_MAGIC - RNE_MAGIC;
  return Math.min(Math.max(zp, qmin), qmax);
}

/** Symmetric variant used by MXINT8 elements: ±qmax, never −qmax−1. */
export function integerCodec(spec: FormatSpec, symmetric = false): ElementCodec {
  const { qmax } = integerRange(spec);
  const qmin = symmetric && spec.signed ? -qmax : integerRange(spec).qmin;
  const size = 2 ** spec.bits;
  const quantize = (t: number, zp: number): number => quantizeInteger(t, zp, qmin, qmax);
  let values: Float32Array | undefined;
  return {
    bits: spec.bits,
    maxFinite: qmax,
    minFinite: qmin,
    minPositive: 1,
    codeCount: qmax - qmin + 1,
    encode: (t, zp = 0) => {
      const q = quantize(t, zp);
      return q < 0 ? q + size : q;
    },
    decode: (code, zp = 0) => {
      const q = spec.signed && code >= size / 2 ? code - size : code;
      return q - zp;
    },
    values() {
      if (spec.bits > 16) return undefined;
      if (!values) {
        values = new Float32Array(qmax - qmin + 1);
        for (let q = qmin; q <= qmax; q++) values[q - qmin] = q;
      }
      return values;
    },
    fakeQuantRange(x, out, lo, hi, scale, zp) {
      const tlo = qmin - zp;
      const thi = qmax - zp;
      const magic = 6755399441055744; // local copy: an imported binding is slower in hot loops
      for (let i = lo; i < hi; i++) {
        const t = Math.fround(x[i]! / scale);
        const c = t < tlo ? tlo : t > thi ? thi : t;
        const r = c + magic - magic;
        out[i] = r === r ? r * scale : 0;
      }
    },
  };
}
