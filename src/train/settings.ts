/**
 * Learnability defaults and their validation. The defaults are tuned (bench/train.ts) so that
 * every healthy format reaches bpb < 6.5 in 100 steps with both optimizers, while the whole
 * default matrix fits the time budget on a 2-core machine (wasm backend).
 */
import { UsageError } from '../errors.js';
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

export function resolveSettings(cfg: LearnabilityConfig = {}): LearnabilitySettings {
  const int = (key: keyof LearnabilityConfig, value: number | undefined, fallback: number, max: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new UsageError(`learnability.${key} must be an integer from 1 to ${max}, got ${v}.`);
    }
    return v;
  };
  const d = LEARNABILITY_DEFAULTS;
  const evalEvery = int('evalEvery', cfg.evalEvery, d.evalEvery, 100_000);
  return {
    model: {
      vocab: VOCAB,
      context: int('context', cfg.context, d.context, 256),
      embed: int('embed', cfg.embed, d.embed, 1024),
      hidden: int('hidden', cfg.hidden, d.hidden, 4096),
      initStd: d.initStd,
      headGain: d.headGain,
    },
    batch: int('batch', cfg.batch, d.batch, 65_536),
    evalEvery,
    evalTokens: int('evalTokens', cfg.evalTokens, d.evalTokens, 1_000_000),
    masterWeights: cfg.masterWeights ?? d.masterWeights,
    earlyStop: cfg.earlyStop ?? d.earlyStop,
    patience: evalEvery,
  };
}
