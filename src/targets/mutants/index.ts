/**
 * The built-in mutants: the seven of DESIGN.md and four added for the bug classes real
 * quantizers have (sign flips, another format's grid, one-sided zero-point clamps, NaN/Inf), one planted bug each. `mutant:NAME` opens one
 * through the same tfjs adapter as `tfjs:PATH`.
 */
import { UsageError } from '../../errors.js';
import { tf } from '../../tf.js';
import type { Target, TargetOptions } from '../types.js';
import { tfjsTarget } from '../tfjs/index.js';
import type { MutantDefinition } from './common.js';
import { probeById } from '../../../probes/index.js';
import { missingDequant } from './missing-dequant.js';
import { collapsedScale } from './collapsed-scale.js';
import { roundNoSte } from './round-no-ste.js';
import { vanishingSte } from './vanishing-ste.js';
import { inPlace } from './in-place.js';
import { fp32Fallback } from './fp32-fallback.js';
import { uint8ZeroPoint } from './uint8-zero-point.js';
import { signFlip } from './sign-flip.js';
import { wrongGrid } from './wrong-grid.js';
import { zeroPointClamp } from './zero-point-clamp.js';
import { nonFinite } from './non-finite.js';

export type { MutantDefinition } from './common.js';

export const MUTANTS: readonly MutantDefinition[] = [missingDequant, collapsedScale, roundNoSte, vanishingSte, inPlace, fp32Fallback, uint8ZeroPoint, signFlip, wrongGrid, zeroPointClamp, nonFinite];
export const MUTANT_NAMES: readonly string[] = MUTANTS.map((m) => m.name);

/** The hypothesis a mutant plants: the one its probe tests (H1…H5, or the probe's label). */
export function plantedHypothesis(m: MutantDefinition): string {
  return probeById(m.probe).hypothesis;
}

function mutantByName(name: string): MutantDefinition {
  const m = MUTANTS.find((d) => d.name === name);
  if (!m) throw new UsageError(`unknown mutant '${name}'. Known mutants: ${MUTANT_NAMES.join(', ')}.`);
  return m;
}

export function openMutantTarget(name: string, opts: TargetOptions): Target {
  const m = mutantByName(name);
  const spec = `mutant:${name}`;
  const impl = m.module(tf, { registry: opts.registry });
  return tfjsTarget(spec, 'mutant', spec, impl, { mutant: name, plants: plantedHypothesis(m), bug: m.description }, opts);
}
