/**
 * The learnability trainer: corpus → lanes (model, optimizers, quantizer bridge) → judged lanes.
 * The run command enters through src/run/learnability.ts (runLearnability); the lanes are judged by probes/learnability.ts.
 */
export { trainLane, validationPositions, type LaneOutcome, type LaneSpec } from './lane.js';
export { createModel, crossEntropy, makeBatch, type ModelShape } from './model.js';
export { createAdamW, createMuon, createOptimizer, newtonSchulz, parseOptimizer, OPTIMIZERS, NS_COEFFS, type OptimizerName } from './optimizers.js';
export { bridgeFor, IDENTITY_BRIDGE, type QuantizerBridge } from './bridge.js';
export { earlyStopReason, type StopReason } from './early-stop.js';
export { laneName } from './lane-name.js';
export { openExecutors, runSchedule, controlKey } from './pool.js';
export { createLaneProgress, type LaneProgress, type LaneProgressEvent } from './progress.js';
export { DEFAULT_LR, LEARNABILITY_DEFAULTS, resolveSettings, type LearnabilitySettings } from './settings.js';
