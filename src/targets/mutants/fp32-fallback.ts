/**
 * Mutant `fp32-fallback` (H5): the quantizer only knows the formats in its own table and
 * silently returns the input for every other name, so those lanes train in plain fp32.
 *
 *     const quantize = IMPLEMENTED[format];
 *     if (!quantize) return x;             // BUG: should throw "unknown format"
 *
 * Applies to every quantized format below 32 bits outside its table (it implements fp16 and bf16).
 */
import { quantized, referenceOps, type MutantDefinition } from './common.js';
import type { FormatSpec } from '../../formats/types.js';

/** The only formats this quantizer really implements. */
const IMPLEMENTED = ['fp16', 'bf16'];

// 32-bit formats (gf32 = float32 with subnormals flushed) equal fp32 on every normal value:
// falling back to fp32 there is not observable, so it is not counted as a planted bug.
const appliesTo = (spec: FormatSpec) => quantized(spec) && spec.bits < 32 && !IMPLEMENTED.includes(spec.name);

export const fp32Fallback: MutantDefinition = {
  name: 'fp32-fallback',
  probe: 'format-applied',
  description: `implements only ${IMPLEMENTED.join(' and ')}; any other format name silently returns x (fp32)`,
  appliesTo,
  module: (tf, ctx) => {
    const reference = referenceOps(ctx!.registry);
    const table = new Map(IMPLEMENTED.map((name) => [name, reference(name)] as const));
    return {
      fakeQuant(x, format) {
        const quantize = table.get(format) ?? (format === 'fp32' ? reference(format) : undefined);
        if (!quantize) return tf.clone(x); // the bug
        return quantize(x);
      },
    };
  },
};
