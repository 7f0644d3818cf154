/**
 * The built-in correct target: the registry's reference codecs on typed arrays.
 * forward = fakeQuant, gradient = the clipped straight-through estimator dy·1[x in range],
 * update = standard QAT with fp32 master weights (w_master += delta each step; the model
 * uses fakeQuant(w_master)). tfFakeQuant is the same codec as a differentiable tfjs op.
 */
import { fakeQuant, steMask } from '../../formats/index.js';
import { tfFakeQuant } from '../../formats/tf.js';
import type { FormatSpec } from '../../formats/types.js';
import type { Target, TargetOptions } from '../types.js';

export function openReferenceTarget(opts: TargetOptions): Target {
  const { registry } = opts;
  const ops = new Map<string, ReturnType<typeof tfFakeQuant>>();
  const spec = (name: string): FormatSpec => registry.get(name);
  return {
    spec: 'reference',
    kind: 'reference',
    capabilities: new Set(['forward', 'gradient', 'update']),
    formats: undefined,
    info: { codec: 'quant-audit reference codecs (src/formats)', update: 'fp32 master weights' },
    async forward(format, x, shape) {
      return fakeQuant(spec(format), x, { shape });
    },
    async gradient(format, x, shape, dy) {
      const mask = steMask(spec(format), x, { shape });
      const dx = new Float32Array(x.length);
      for (let i = 0; i < dx.length; i++) dx[i] = mask[i] ? dy[i]! : 0;
      return dx;
    },
    async update(format, w, shape, delta, steps) {
      const master = Float32Array.from(w);
      for (let k = 0; k < steps; k++) for (let i = 0; i < master.length; i++) master[i] = master[i]! + delta[i]!;
      return fakeQuant(spec(format), master, { shape });
    },
    tfFakeQuant(format) {
      let op = ops.get(format);
      if (!op) {
        op = tfFakeQuant(spec(format));
        ops.set(format, op);
      }
      return op;
    },
    async close() {},
  };
}
