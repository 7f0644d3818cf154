/**
 * The single list of forward/gradient/update probes, in the order they run and render.
 * (learnability trains lanes and is run separately by `quant-audit run`: probes/learnability.ts.)
 */
import { UsageError } from '../src/errors.js';
import type { Probe } from './types.js';
import { roundtrip } from './roundtrip.js';
import { missingDequant } from './missing-dequant.js';
import { scaleCollapse } from './scale-collapse.js';
import { brokenSte } from './broken-ste.js';
import { lostUpdates } from './lost-updates.js';
import { formatApplied } from './format-applied.js';

export const PROBES: readonly Probe[] = [roundtrip, missingDequant, scaleCollapse, brokenSte, lostUpdates, formatApplied];

export function probeById(id: string): Probe {
  const p = PROBES.find((q) => q.id === id);
  if (!p) throw new UsageError(`unknown probe '${id}'. Valid probes: ${PROBES.map((q) => q.id).join(', ')} (and learnability, run by 'quant-audit run').`);
  return p;
}

export { roundtrip, missingDequant, scaleCollapse, brokenSte, lostUpdates, formatApplied };
