/**
 * The tiny lane the lane tests train (builtin:markov, vocab 128, a 32-unit MLP): seconds, not
 * minutes, and still far enough from the uniform baseline to tell learning from a dead lane.
 */
import type { LaneSpec } from '../../src/train/lane.js';

export function tinyLane(over: Partial<LaneSpec> = {}): LaneSpec {
  return {
    name: 'QA-test',
    format: 'test',
    optimizer: 'adamw',
    seed: 1597,
    lr: 0.01,
    steps: 30,
    control: false,
    model: { vocab: 128, context: 4, embed: 8, hidden: 32, initStd: 0.1, headGain: 0.5 },
    batch: 32,
    evalEvery: 10,
    evalTokens: 256,
    masterWeights: true,
    earlyStop: false,
    deadLine: 6.9,
    cleanMargin: 0.05,
    patience: 10,
    ...over,
  };
}
