/**
 * Mutant `missing-dequant` (H1): the quantizer decodes its codes but never multiplies by the
 * scale, so the tensor the model sees stays in the code domain (int8: −127…127 whatever the
 * weights' magnitude; nf4/mx: block-relative element values). The STE is fine.
 *
 *     const { codes, scales } = encode(x);
 *     return decode(codes);            // BUG: decode(codes) * scales
 *
 * Applies to formats that have a scale to forget (scaling ≠ none).
 */
import { decode, encode } from '../../formats/index.js';
import { buggyForward, quantized, type MutantDefinition } from './common.js';
import type { FormatSpec } from '../../formats/types.js';

const appliesTo = (spec: FormatSpec) => quantized(spec) && spec.scaling !== 'none';

export const missingDequant: MutantDefinition = {
  name: 'missing-dequant',
  probe: 'missing-dequant',
  description: 'decodes the codes but never multiplies by the scale: outputs stay in the code domain',
  appliesTo,
  module: buggyForward(appliesTo, (spec, data, shape) => {
    const enc = encode(spec, data, { shape });
    return decode(spec, { ...enc, scales: new Float32Array(enc.scales.length).fill(1) }); // the bug
  }),
};
