/** Lane names: `QA-int8-h128-LR0.003-rng1597-adamw` (DESIGN.md vocabulary), read back by the fleet witness. */
import { ADAMW_DEFAULTS, MUON_DEFAULTS, type OptimizerSettings } from './optimizers.js';

export interface LaneNameOptions {
  /** Non-default optimizer settings: appended after the optimizer (`-m0.9-ns3-wd0`). */
  settings?: OptimizerSettings;
  /** Trained through the target's own update step: `QA-inplace-…` (the witness name pattern reads it as a prefix). */
  targetUpdate?: boolean;
}

/** `QA-int8-h128-LR0.003-rng1597-adamw` (DESIGN.md vocabulary). */
export function laneName(format: string, hidden: number, lr: number, seed: number, optimizer: string, opts: LaneNameOptions = {}): string {
  const st = opts.settings ?? {};
  const tag = [
    st.momentum !== undefined && st.momentum !== MUON_DEFAULTS.momentum ? `m${st.momentum}` : '',
    st.nsSteps !== undefined && st.nsSteps !== MUON_DEFAULTS.nsSteps ? `ns${st.nsSteps}` : '',
    st.weightDecay !== undefined && st.weightDecay !== ADAMW_DEFAULTS.weightDecay ? `wd${st.weightDecay}` : '',
  ].filter((t) => t !== '');
  return `QA-${opts.targetUpdate ? 'inplace-' : ''}${format}-h${hidden}-LR${lr}-rng${seed}-${optimizer}${tag.map((t) => `-${t}`).join('')}`;
}
