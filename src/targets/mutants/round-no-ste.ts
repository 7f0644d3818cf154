/**
 * Mutant `round-no-ste` (H3): the quantizer is written with tf.round and no tf.customGrad.
 * The forward pass is right; tfjs's gradient of round is 0 everywhere, so nothing upstream
 * of the quantizer ever learns.
 *
 * Integer formats are written out literally (symmetric absmax, or asymmetric min/max with a
 * zero-point). Other families quantize on the data (dataSync → codec → new tensor): the tape
 * never sees the op, which gives the same zero gradient.
 */
import { fakeQuant, maxFinite } from '../../formats/index.js';
import { buggyFakeQuant, quantized, type MutantDefinition } from './common.js';
import type { Tf, tf as tfNs } from '../../tf.js';

type Tensor = tfNs.Tensor;

const appliesTo = quantized;

/** int: y = clip(round(x / s), −qmax, qmax) · s with s = absmax / qmax. No custom gradient. */
function signedInteger(tf: Tf, x: Tensor, qmax: number): Tensor {
  return tf.tidy(() => {
    const absmax = tf.max(tf.abs(x));
    const s = tf.maximum(tf.div(absmax, qmax), 1e-30); // an all-zero tensor stays 0
    return tf.mul(tf.clipByValue(tf.round(tf.div(x, s)), -qmax, qmax), s);
  });
}

/** uint: s = (max − min) / qmax over min/max including 0, zp = round(−min / s), y = (clip(round(x/s) + zp) − zp) · s. */
function unsignedInteger(tf: Tf, x: Tensor, qmax: number): Tensor {
  return tf.tidy(() => {
    const mn = tf.minimum(tf.min(x), 0);
    const mx = tf.maximum(tf.max(x), 0);
    const s = tf.maximum(tf.div(tf.sub(mx, mn), qmax), 1e-30);
    const zp = tf.clipByValue(tf.round(tf.div(tf.neg(mn), s)), 0, qmax);
    const q = tf.clipByValue(tf.add(tf.round(tf.div(x, s)), zp), 0, qmax);
    return tf.mul(tf.sub(q, zp), s);
  });
}

export const roundNoSte: MutantDefinition = {
  name: 'round-no-ste',
  probe: 'broken-ste',
  description: 'tf.round with no custom gradient: correct values, zero gradient',
  appliesTo,
  module: buggyFakeQuant(appliesTo, (tf, spec, x) => {
    if (spec.family === 'integer' && spec.scaling === 'per-tensor-absmax') return signedInteger(tf, x, maxFinite(spec));
    if (spec.family === 'integer' && spec.scaling === 'per-tensor-minmax') return unsignedInteger(tf, x, maxFinite(spec));
    // quantized on the data, outside autodiff
    const y = fakeQuant(spec, x.dataSync() as Float32Array, { shape: x.shape });
    return tf.tensor(y, x.shape, 'float32');
  }),
};
