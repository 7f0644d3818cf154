/**
 * Mutant `uint8-zero-point` (H2): unsigned codes with zero-point 0 on signed data, a classic
 * of uint8 exports. The scale is max(x)/qmax; every negative value clamps to code 0, so half
 * of a weight tensor becomes exactly zero and loses its sign. The STE is the unclipped
 * `x + stopGradient(q − x)`.
 *
 *     const scale = x.max().div(255);
 *     const q = x.div(scale).round().clipByValue(0, 255);   // BUG: zero-point 0 on signed data
 *
 * Applies to integer formats (written with unsigned codes of the same width).
 */
import { arrayOp, buggyFakeQuant, identityBackward, quantized, type MutantDefinition } from './common.js';
import type { FormatSpec } from '../../formats/types.js';

const appliesTo = (spec: FormatSpec) => quantized(spec) && spec.family === 'integer';

export const uint8ZeroPoint: MutantDefinition = {
  name: 'uint8-zero-point',
  probe: 'scale-collapse',
  description: 'unsigned codes with zero-point 0 on signed data: negatives clamp to 0',
  appliesTo,
  module: buggyFakeQuant(appliesTo, (tf, spec, x) => {
    const qmax = 2 ** spec.bits - 1;
    const quantize = (t: typeof x) =>
      tf.tidy(() => {
        const scale = tf.maximum(tf.div(tf.max(t), qmax), 1e-12);
        const q = tf.clipByValue(tf.round(tf.div(t, scale)), 0, qmax); // the bug
        return tf.mul(q, scale);
      });
    // forward written in tf ops as above; the STE passes dy straight through
    return arrayOp(tf, (data, shape) => quantize(tf.tensor(data, shape, 'float32')).dataSync() as Float32Array, identityBackward)(x);
  }),
};
