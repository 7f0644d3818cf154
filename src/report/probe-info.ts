/**
 * What each probe's hypothesis means and what to do when it is supported, keyed by probe id
 * (stable API). The text lives with each probe (`claim`, `fix` on the probe module, like
 * Lighthouse's UIStrings); this table only gathers it for the views. Unknown ids fall back
 * to the hypothesis label the result carries.
 */
import { PROBES } from '../../probes/index.js';
import { learnability } from '../../probes/learnability.js';

export interface ProbeInfo {
  claim: string;
  fix: string;
}

/** Results no probe module emits: the ONNX target's headline row (src/onnx/judge.ts; its text moves there when ONNX sites are judged by the probes, #16 item 1). */
const OTHER_INFO: Readonly<Record<string, ProbeInfo>> = {
  'qdq-audit': {
    claim: 'a QuantizeLinear/DequantizeLinear site of the ONNX model is broken (the per-site rows say which node and why)',
    fix: 'Fix the first broken node (the sites after it may fail only because their input is already wrong), then re-run: the per-site rows give the hypothesis and the numbers for each node.',
  },
};

export const PROBE_INFO: Readonly<Record<string, ProbeInfo>> = {
  ...Object.fromEntries([...PROBES, learnability].map((p) => [p.id, { claim: p.claim, fix: p.fix }])),
  ...OTHER_INFO,
};

export function probeClaim(probe: string, hypothesis: string): string {
  return PROBE_INFO[probe]?.claim ?? hypothesis;
}
