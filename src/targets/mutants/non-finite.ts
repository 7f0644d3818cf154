/**
 * Mutant `non-finite` (codec): values beyond a calibrated clip (the 99th percentile of |x|)
 * are cast to the format without a clamp, so they come back ±Inf — what
 * `x.div(scale).to(torch.float8_e4m3fn)` without `clamp(-max, max)` does (NaN there). Every
 * other value is the reference's. Its training step keeps fp32 master weights (correct), so
 * the lost-updates probe runs on a forward pass that is not finite and must not blame H4; the
 * other forward probes cannot judge NaN/Inf outputs either.
 *
 *     const clip = quantile(abs(x), 0.99);
 *     return cast(x / scale) * scale;        // BUG: clamp to ±clip (the format's max) first
 *
 * Applies to every symmetrically scaled format (scaling ≠ none, ≠ min/max).
 */
import { fakeQuant } from '../../formats/index.js';
import type { FormatSpec } from '../../formats/types.js';
import { buggyForward, quantized, type MutantDefinition } from './common.js';

// Symmetric scales only: an asymmetric (min/max) row has no single clip value to overflow.
const appliesTo = (spec: FormatSpec): boolean => quantized(spec) && spec.scaling !== 'none' && spec.scaling !== 'per-tensor-minmax';

/** The reference fq, with every |x| above the 99th percentile of |x| sent to ±Inf instead of saturating. */
function percentileOverflow(spec: FormatSpec, x: Float32Array, shape: readonly number[]): Float32Array {
  const mags = Float32Array.from(x, Math.abs).sort();
  const clip = mags[Math.min(mags.length - 1, Math.floor(0.99 * mags.length))]!;
  const y = fakeQuant(spec, x, { shape: [...shape] });
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) > clip) y[i] = x[i]! > 0 ? Infinity : -Infinity; // the bug
  return y;
}

export const nonFinite: MutantDefinition = {
  name: 'non-finite',
  probe: 'roundtrip',
  description: 'casts without a clamp: values beyond the calibrated clip (99th percentile of |x|) come back ±Inf',
  appliesTo,
  module: buggyForward(appliesTo, percentileOverflow, { masterWeights: true }),
};
