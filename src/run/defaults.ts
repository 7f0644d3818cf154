/**
 * What `run` does when neither a flag nor quant-audit.yaml says otherwise. A light module (no
 * tfjs) so that `run --help` can show the defaults without loading the engine.
 */
import type { FailOn } from '../report/types.js';

export const OPTIMIZERS = ['adamw', 'muon'] as const;

export const DEFAULTS = {
  target: 'reference',
  seeds: [1597],
  steps: 100,
  corpus: 'builtin:english',
  backend: 'auto' as 'auto' | 'tensorflow' | 'wasm' | 'cpu',
  ep: 'cpu' as const,
  failOn: 'fail' as FailOn,
  out: 'reports',
  /** lost-updates learning rates (DESIGN.md: 1e-4 and 1e-3 by default). */
  probeLrs: [1e-4, 1e-3],
};
