/**
 * Mutant `vanishing-ste` (H3): the custom gradient differentiates y = q·s with respect to q
 * instead of x, so it returns dy·s: the straight-through gradient shrunk by the step size
 * (int8 weights: s ≈ 5e-4). Training "runs" but nothing moves.
 *
 *     gradFunc: (dy) => dy.mul(scale)      // BUG: should be dy (· 1[x in range])
 *
 * Applies to every quantized format (s = absmax / the format's largest element value).
 */
import { fakeQuant, maxFinite, steMask } from '../../formats/index.js';
import { maxAbs } from '../../stats.js';
import { arrayOp, buggyFakeQuant, quantized, type MutantDefinition } from './common.js';

const appliesTo = quantized;

export const vanishingSte: MutantDefinition = {
  name: 'vanishing-ste',
  probe: 'broken-ste',
  description: 'the custom gradient returns dy·scale (d/dq of q·s) instead of dy: a vanishing STE',
  appliesTo,
  module: buggyFakeQuant(appliesTo, (tf, spec, x) =>
    arrayOp(
      tf,
      (data, shape) => fakeQuant(spec, data, { shape }),
      (data, shape, dy) => {
        const mask = steMask(spec, data, { shape });
        const scale = maxAbs(data) / maxFinite(spec);
        return dy.map((g, i) => (mask[i] ? g * scale : 0)); // the bug
      },
    )(x),
  ),
};
