/**
 * Mutant `collapsed-scale` (H2): an LSQ-style learnable step size initialised to 1.0 and
 * never calibrated. Weights of magnitude 0.02 are all far below half a step: they round to 0
 * (int8, int4, uint8), or to the zero code (nf4). The STE (`x + stopGradient(q − x)`) is fine.
 *
 *     const scale = tf.variable(tf.scalar(1.0));   // BUG: should be calibrated: absmax / qmax
 *
 * Applies to step-size formats (integer and codebook families, scaled).
 */
import { fakeQuant } from '../../formats/index.js';
import { buggyForward, quantized, type MutantDefinition } from './common.js';
import type { FormatSpec } from '../../formats/types.js';

/** The uncalibrated initial step size. */
const INITIAL_SCALE = 1.0;

const appliesTo = (spec: FormatSpec) => quantized(spec) && (spec.family === 'integer' || spec.family === 'codebook') && spec.scaling !== 'none';

export const collapsedScale: MutantDefinition = {
  name: 'collapsed-scale',
  probe: 'scale-collapse',
  description: `step size initialised to ${INITIAL_SCALE} and never calibrated: small weights all round to zero`,
  appliesTo,
  module: buggyForward(appliesTo, (spec, data, shape) => fakeQuant(spec, data, { shape, scale: INITIAL_SCALE })),
};
