/**
 * Mutant `in-place` (H4): the training step rounds the weights in place after every update,
 * with no fp32 master copy. fakeQuant and its gradient are correct; an update smaller than
 * half a quantization step is rounded away, every step, forever.
 *
 *     w.assign(fakeQuant(w.add(delta)))    // BUG: keep w_master in fp32, use fakeQuant(w_master)
 *
 * Applies to formats of 8 bits or fewer (16-bit formats resolve updates of 1e-4 on weights
 * of 0.02, which is why fp16 and posit16 lanes learned in the original report).
 */
import { masterWeightStep, quantized, referenceOps, type MutantDefinition } from './common.js';
import type { FormatSpec } from '../../formats/types.js';

const appliesTo = (spec: FormatSpec) => quantized(spec) && spec.bits <= 8;

export const inPlace: MutantDefinition = {
  name: 'in-place',
  probe: 'lost-updates',
  description: 'rounds the weights in place after each step (no fp32 master weights): sub-half-step updates vanish',
  appliesTo,
  module: (tf, ctx) => {
    const registry = ctx!.registry;
    const reference = referenceOps(registry);
    return {
      fakeQuant: (x, format) => reference(format)(x),
      update(w, delta, steps, format) {
        const fq = reference(format);
        if (!appliesTo(registry.get(format))) {
          // correct QAT: accumulate in fp32, quantize for use
          return masterWeightStep(tf, fq, w, delta, steps);
        }
        let cur = fq(w);
        for (let k = 0; k < steps; k++) {
          const next = tf.tidy(() => fq(tf.add(cur, delta))); // the bug: no master copy
          cur.dispose();
          cur = next;
        }
        return cur;
      },
    };
  },
};
