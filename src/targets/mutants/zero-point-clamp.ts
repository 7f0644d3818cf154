/**
 * Mutant `zero-point-clamp` (H2): an asymmetric min/max observer that does not include 0 in
 * the range. On zero-mean data nothing shows (min < 0 < max). On a group that does not
 * straddle 0 — post-ReLU with an offset, a shifted mean — min > 0 gives a negative zero-point,
 * clamped to 0, and every value above (max − min) saturates on the top code: half a
 * one-sided tensor collapses onto one level.
 *
 *     const scale = (max - min) / qmax;                       // BUG: min = min(min, 0) first
 *     const zp = clamp(round(-min / scale), 0, qmax);
 *
 * Applies to the unsigned integer formats (min/max scaling).
 */
import type { FormatSpec } from '../../formats/types.js';
import { roundHalfEven } from '../../formats/element.js';
import { quantizeInteger } from '../../formats/integer.js';
import { buggyForward, quantized, type MutantDefinition } from './common.js';

const appliesTo = (spec: FormatSpec): boolean => quantized(spec) && spec.family === 'integer' && spec.scaling === 'per-tensor-minmax';

function clampedZeroPointQuant(x: Float32Array, bits: number): Float32Array {
  const qmax = 2 ** bits - 1;
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) {
    if (!Number.isFinite(v)) continue;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const y = new Float32Array(x.length);
  const scale = Math.fround((max - min) / qmax);
  if (!(scale > 0)) {
    y.set(x);
    return y;
  }
  const zp = Math.min(qmax, Math.max(0, roundHalfEven(-min / scale))); // the bug: no min(min, 0) before
  for (let i = 0; i < x.length; i++) {
    const q = quantizeInteger(x[i]! / scale, zp, 0, qmax);
    y[i] = Math.fround((q - zp) * scale);
  }
  return y;
}

export const zeroPointClamp: MutantDefinition = {
  name: 'zero-point-clamp',
  probe: 'scale-collapse',
  description: 'min/max observer without 0 in the range: on one-sided groups the zero-point clamps to 0 and the top half saturates',
  appliesTo,
  module: buggyForward(appliesTo, (spec, data) => clampedZeroPointQuant(data, spec.bits)),
};
