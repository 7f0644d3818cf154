/**
 * Mutant `sign-flip` (H2): the sign is restored with the wrong test, so positive values come
 * back negative; negative values are fine. A sign-loss statistic that only asks "did a negative
 * stay negative?" never sees it. The STE is fine.
 *
 *     const q = round(abs(x) / scale);
 *     return (x < 0 || x > 0 ? -q : q) * scale;   // BUG: the positive branch negates too
 *
 * Applies to every quantized format.
 */
import { fakeQuant } from '../../formats/index.js';
import { buggyForward, quantized, type MutantDefinition } from './common.js';

export const signFlip: MutantDefinition = {
  name: 'sign-flip',
  probe: 'scale-collapse',
  description: 'restores the sign with the wrong test: positive values come back negative',
  appliesTo: quantized,
  module: buggyForward(quantized, (spec, data, shape) => {
    const y = fakeQuant(spec, data, { shape });
    for (let i = 0; i < y.length; i++) if (data[i]! > 0) y[i] = -Math.abs(y[i]!); // the bug
    return y;
  }),
};
