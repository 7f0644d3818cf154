/**
 * Learnability defaults and their validation. The defaults are tuned (bench/train.ts) so that
 * every healthy format reaches bpb < 6.5 in 100 steps with both optimizers, while the whole
 * default matrix fits the time budget on a 2-core machine (wasm backend).
 */
import type { LearnabilityConfig } from '../config.js';
import { VOCAB } from '../corpus/index.js';
import type { ModelShape } from './model.js';

export const DEFAULT_LR = 0.003;

export interface LearnabilitySettings {
  model: ModelShape;
  batch: number;
  evalEvery: number;
  evalTokens: number;
  masterWeights: boolean;
  earlyStop: boolean;
  /** Zero-gradient steps before a dead lane counts as frozen (early stopping). */
  patience: number;
}

export const LEARNABILITY_DEFAULTS = {
  hidden: 128,
  context: 8,
  embed: 8,
  batch: 64,
  evalEvery: 10,
  evalTokens: 512,
  initStd: 0.05,
  headGain: 1,
  masterWeights: true,
  earlyStop: true,
} as const;

/** Defaults under the config's values (their ranges are checked by the config schema, src/config.ts). */
export function resolveSettings(cfg: LearnabilityConfig = {}): LearnabilitySettings {
  const d = LEARNABILITY_DEFAULTS;
  const evalEvery = cfg.evalEvery ?? d.evalEvery;
  return {
    model: {
      vocab: VOCAB,
      context: cfg.context ?? d.context,
      embed: cfg.embed ?? d.embed,
      hidden: cfg.hidden ?? d.hidden,
      initStd: d.initStd,
      headGain: d.headGain,
    },
    batch: cfg.batch ?? d.batch,
    evalEvery,
    evalTokens: cfg.evalTokens ?? d.evalTokens,
    masterWeights: cfg.masterWeights ?? d.masterWeights,
    earlyStop: cfg.earlyStop ?? d.earlyStop,
    patience: evalEvery,
  };
}
