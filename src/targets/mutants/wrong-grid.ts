/**
 * Mutant `wrong-grid` (H5): the format name maps to another format's grid — the confusions
 * quantization code really has: bitsandbytes' FP4 codebook where NF4 was asked for, E5M2 for
 * E4M3, a `.half()` where `.bfloat16()` was meant, the legacy posit conventions (es = 0/1) for
 * the 2022 standard's es = 2, fp16 for GoldenFloat-16, and a `bits` argument ignored so int8
 * quantizes to int4. Every output is a valid value of *some* format, the distinct count fits,
 * nothing passes through unchanged: only checking the grid itself shows it.
 *
 *     const codec = CODECS[format.replace('nf4', 'fp4')];   // BUG: another format's grid
 *
 * Applies to the formats in APPLIED_INSTEAD; the others get the reference.
 */
import { fakeQuant } from '../../formats/index.js';
import type { FormatSpec } from '../../formats/types.js';
import { buggyForward, type MutantDefinition } from './common.js';
import { defaultRegistry } from '../../formats/index.js';

/** Named format → the format whose grid is applied instead. */
const APPLIED_INSTEAD: Readonly<Record<string, string>> = {
  nf4: 'fp4-e2m1',
  'fp8-e4m3': 'fp8-e5m2',
  mxfp8: 'mxfp8-e5m2',
  bf16: 'fp16',
  gf16: 'fp16',
  posit8: 'posit8-es0',
  posit16: 'posit16-es1',
  int8: 'int4',
};

/** The row actually applied: the other format, with the named format's scale groups (nf4's blocks of 64 keep their per-block absmax). */
function appliedSpec(named: FormatSpec): FormatSpec {
  const other = defaultRegistry.get(APPLIED_INSTEAD[named.name]!);
  if (named.scaling === 'per-block-absmax' && other.family !== 'mx') return { ...other, scaling: named.scaling, blockSize: named.blockSize };
  return other;
}

const appliesTo = (spec: FormatSpec): boolean => APPLIED_INSTEAD[spec.name] !== undefined && spec.source !== 'config';

export const wrongGrid: MutantDefinition = {
  name: 'wrong-grid',
  probe: 'format-applied',
  description: "applies another format's grid than the one named (fp4 for nf4, e5m2 for e4m3, fp16 for bf16, es=0 posits, int4 for int8)",
  appliesTo,
  module: buggyForward(appliesTo, (spec, data, shape) => fakeQuant(appliedSpec(spec), data, { shape })),
};
