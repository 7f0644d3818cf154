/**
 * What each probe's hypothesis means and what to do when it is supported, keyed by probe id
 * (stable API). The text lives with each probe (`claim`, `fix` on the probe module, like
 * Lighthouse's UIStrings); this table only gathers it for the views. Unknown ids fall back
 * to the hypothesis label the result carries.
 */
import { PROBES } from '../../probes/index.js';
import { learnability } from '../../probes/learnability.js';
import { HEADLINE_INFO, HEADLINE_PROBE } from '../onnx/headline.js';

export interface ProbeInfo {
  claim: string;
  fix: string;
}

/** Results no probe module emits: the ONNX target's headline row (its text lives with it, src/onnx/headline.ts). */
const OTHER_INFO: Readonly<Record<string, ProbeInfo>> = { [HEADLINE_PROBE]: HEADLINE_INFO };

export const PROBE_INFO: Readonly<Record<string, ProbeInfo>> = {
  ...Object.fromEntries([...PROBES, learnability].map((p) => [p.id, { claim: p.claim, fix: p.fix }])),
  ...OTHER_INFO,
};

export function probeClaim(probe: string, hypothesis: string): string {
  return PROBE_INFO[probe]?.claim ?? hypothesis;
}
