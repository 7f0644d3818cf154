/**
 * The forward/gradient/update probes, in the order they run and render (probes/ids.ts).
 * (learnability trains lanes: its metadata and judge are probes/learnability.ts, the run trains them: src/run/learnability.ts.)
 */
import { UsageError } from '../src/errors.js';
import type { Probe } from './types.js';
import { LEARNABILITY_ID, PROBE_IDS, type ProbeId } from './ids.js';
import { roundtrip } from './roundtrip.js';
import { missingDequant } from './missing-dequant.js';
import { scaleCollapse } from './scale-collapse.js';
import { brokenSte } from './broken-ste.js';
import { lostUpdates } from './lost-updates.js';
import { formatApplied } from './format-applied.js';

/** Every id but learnability, mapped to its module (a missing or extra id is a compile error). */
const MODULES: { readonly [K in Exclude<ProbeId, typeof LEARNABILITY_ID>]: Probe } = {
  roundtrip,
  'missing-dequant': missingDequant,
  'scale-collapse': scaleCollapse,
  'broken-ste': brokenSte,
  'lost-updates': lostUpdates,
  'format-applied': formatApplied,
};

export const PROBES: readonly Probe[] = PROBE_IDS.filter((id): id is keyof typeof MODULES => id !== LEARNABILITY_ID).map((id) => MODULES[id]);

export function probeById(id: string): Probe {
  const p = PROBES.find((q) => q.id === id);
  if (!p) throw new UsageError(`unknown probe '${id}'. Valid probes: ${PROBES.map((q) => q.id).join(', ')} (and learnability, run by 'quant-audit run').`);
  return p;
}

export { PROBE_IDS, LEARNABILITY_ID, type ProbeId };
export { roundtrip, missingDequant, scaleCollapse, brokenSte, lostUpdates, formatApplied };
