/**
 * The reference fake-quant as a differentiable tfjs op: the forward pass runs the JS codec
 * (dataSync → fakeQuant → tensor), the gradient is the clipped straight-through estimator
 * dy · 1[x inside the representable range] (steMask). Per-channel rows use axis 0 of x.
 */
import { tf } from '../tf.js';
import type { FormatSpec } from './types.js';
import { fakeQuant, steMask } from './tensor.js';

export function tfFakeQuant(spec: FormatSpec): (x: tf.Tensor) => tf.Tensor {
  if (spec.family === 'identity') return (x) => tf.clone(x);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const shape = x.shape;
    const data = (x.dtype === 'float32' ? x.dataSync() : tf.tidy(() => x.toFloat()).dataSync()) as Float32Array;
    save([x]);
    const y = fakeQuant(spec, data, { shape });
    return {
      value: tf.tensor(y, shape, 'float32'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!;
        const mask = steMask(spec, xs.dataSync() as Float32Array, { shape: xs.shape });
        const m = tf.tensor(Float32Array.from(mask), xs.shape, 'float32');
        const dx = tf.mul(dy, m);
        m.dispose();
        return dx;
      },
    };
  });
  return (x) => op(x) as tf.Tensor;
}
