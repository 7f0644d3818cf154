/**
 * What each probe's hypothesis means and what to do when it is supported, keyed by probe id
 * (stable API). The text lives with each probe (`claim`, `fix` on the probe module, like
 * Lighthouse's UIStrings); this table only gathers it for the views. Unknown ids fall back
 * to the hypothesis label the result carries.
 */
import { PROBES } from '../../probes/index.js';

export interface ProbeInfo {
  claim: string;
  fix: string;
}

/** Results that no probe module emits: the ONNX target's headline row (src/onnx/judge.ts) and the training probe's. */
const OTHER_INFO: Readonly<Record<string, ProbeInfo>> = {
  'qdq-audit': {
    claim: 'a QuantizeLinear/DequantizeLinear site of the ONNX model is broken (the per-site rows say which node and why)',
    fix: 'Fix the first broken node (the sites after it may fail only because their input is already wrong), then re-run: the per-site rows give the hypothesis and the numbers for each node.',
  },
  learnability: {
    claim: 'the format cannot train at all',
    fix: 'Read the other witnesses first: a dead lane usually has one of H1–H5 behind it. If none is supported, try per-block scaling or keep the sensitive layers (embeddings, output head) in a wider format.',
  },
};

export const PROBE_INFO: Readonly<Record<string, ProbeInfo>> = {
  ...Object.fromEntries(PROBES.map((p) => [p.id, { claim: p.claim, fix: p.fix }])),
  ...OTHER_INFO,
};

export function probeClaim(probe: string, hypothesis: string): string {
  return PROBE_INFO[probe]?.claim ?? hypothesis;
}
