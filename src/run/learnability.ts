/**
 * Learnability lanes for the run command: plan the lane matrix (format × optimizer × seed ×
 * lr, one fp32 control per optimizer × seed × lr), train it on the worker pool (each worker
 * opens the target itself), and judge the lanes with the probe's pure judge
 * (probes/learnability.ts). The probe never reaches a target kind; this module does.
 */
import { availableParallelism } from 'node:os';
import type { BackendName } from '../tf.js';
import type { LearnabilityConfig } from '../config.js';
import type { Thresholds } from '../thresholds.js';
import type { Lane, ProbeResult } from '../report/types.js';
import { UsageError } from '../errors.js';
import { inShard } from '../report/shard.js';
import { loadCorpus, type Corpus } from '../corpus/index.js';
import { numberThreshold } from '../thresholds.js';
import { uniformBaselineBits } from '../verdict/lanes.js';
import { parseOptimizer, type OptimizerSettings } from '../train/optimizers.js';
import { DEFAULT_LR, resolveSettings, type LearnabilitySettings } from '../train/settings.js';
import { judgeLanes, laneResults, round } from '../../probes/learnability.js';
import { laneName } from '../train/lane-name.js';
import { openExecutors, runSchedule } from '../train/pool.js';
import type { SerializableTargetOptions } from '../train/runner.js';
import type { LaneOutcome, LaneSpec } from '../train/lane.js';


export interface LearnabilityOptions {
  /** Target spec (`reference`, `mutant:NAME`, `onnx:PATH`…); workers open it themselves. */
  target: string;
  targetOptions: SerializableTargetOptions;
  /** Formats to train (fp32 is the control and is not trained as a lane). */
  formats: string[];
  optimizers: string[];
  seeds: number[];
  /** Empty or undefined: the default lr. */
  lrs?: number[];
  /** An optimizer's own learning rates (`--lr muon=0.0235`), in place of `lrs` for it. */
  lrsByOptimizer?: Record<string, number[]>;
  /** An optimizer's own momentum, Newton–Schulz steps, weight decay (quant-audit.yaml `optimizers:`). */
  optimizerSettings?: Record<string, OptimizerSettings>;
  /**
   * Formats whose lanes also train the way the target's own update behaves (lost-updates
   * failed: it rounds in place), next to the master-weight lanes. Ignored without master weights.
   */
  targetUpdateFormats?: string[];
  steps: number;
  corpus: string;
  backend: BackendName;
  learnability: LearnabilityConfig;
  thresholds: Thresholds;
  workers?: number;
  shard?: { index: number; count: number };
  onProgress?(p: { done: number; total: number; lane: string; bpb: number }): void;
  /** `targetUpdate`: the lane trained through the target's update (its repro needs lost-updates too). */
  reproCommand(format: string, optimizer: string, targetUpdate?: boolean): string;
}

export interface LearnabilityOutcome {
  lanes: Lane[];
  results: ProbeResult[];
  backend: string;
  corpusInfo: Record<string, string | number>;
  notes: string[];
}

type PlanInput = Pick<LearnabilityOptions, 'formats' | 'optimizers' | 'seeds' | 'lrs' | 'lrsByOptimizer' | 'optimizerSettings' | 'targetUpdateFormats' | 'steps' | 'shard' | 'thresholds'>;

/** The learning rates an optimizer's lanes train at: its own, else the run's, else the default. */
export function lrsFor(o: Pick<LearnabilityOptions, 'lrs' | 'lrsByOptimizer'>, optimizer: string): number[] {
  const own = o.lrsByOptimizer?.[optimizer];
  if (own && own.length > 0) return own;
  return o.lrs && o.lrs.length > 0 ? o.lrs : [DEFAULT_LR];
}

/**
 * Lane specs for the whole matrix: one control per optimizer × seed × lr, then the lanes
 * (format × optimizer × seed × the optimizer's lrs), then — for targetUpdateFormats — the same
 * lanes trained through the target's update step.
 */
export function planLanes(o: PlanInput, s: LearnabilitySettings): LaneSpec[] {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new UsageError(`--steps must be a positive integer, got ${o.steps}.`);
  if (o.seeds.length === 0) throw new UsageError('learnability needs at least one seed (--seed).');
  for (const seed of o.seeds) if (!Number.isInteger(seed)) throw new UsageError(`seeds must be integers, got ${seed}.`);
  const optimizers = o.optimizers.map(parseOptimizer);
  for (const optimizer of optimizers) {
    for (const lr of lrsFor(o, optimizer)) if (!(lr > 0) || !Number.isFinite(lr)) throw new UsageError(`learning rates must be positive numbers, got ${lr} for ${optimizer}.`);
  }
  const deadLine = uniformBaselineBits(s.model.vocab) - numberThreshold(o.thresholds, 'learnability.deadMargin');
  const cleanMargin = numberThreshold(o.thresholds, 'learnability.cleanMargin');
  const base = (format: string, optimizer: (typeof optimizers)[number], seed: number, lr: number, control: boolean, targetUpdate = false): LaneSpec => ({
    name: laneName(format, s.model.hidden, lr, seed, optimizer, { settings: o.optimizerSettings?.[optimizer], targetUpdate }),
    format,
    optimizer,
    seed,
    lr,
    ...(o.optimizerSettings?.[optimizer] ? { optimizerSettings: o.optimizerSettings[optimizer] } : {}),
    steps: o.steps,
    control,
    ...(targetUpdate ? { targetUpdate: true } : {}),
    model: s.model,
    batch: s.batch,
    evalEvery: s.evalEvery,
    evalTokens: s.evalTokens,
    // The control always keeps fp32 weights: it is the yardstick, not the mode under test.
    masterWeights: control ? true : targetUpdate ? false : s.masterWeights,
    earlyStop: s.earlyStop,
    deadLine,
    cleanMargin,
    patience: s.patience,
  });
  const formats = [...new Set(o.formats.filter((f) => f !== 'fp32'))];
  // Without master weights every lane rounds in place already: the target's update adds nothing.
  const viaUpdate = s.masterWeights ? formats.filter((f) => o.targetUpdateFormats?.includes(f)) : [];
  let lanes: LaneSpec[] = [];
  for (const format of formats) for (const optimizer of optimizers) for (const seed of o.seeds) for (const lr of lrsFor(o, optimizer)) lanes.push(base(format, optimizer, seed, lr, false));
  for (const format of viaUpdate) for (const optimizer of optimizers) for (const seed of o.seeds) for (const lr of lrsFor(o, optimizer)) lanes.push(base(format, optimizer, seed, lr, false, true));
  if (o.shard) {
    // Same partition rule as the probe jobs; every shard trains the controls its lanes are judged against.
    const shard = o.shard;
    lanes = lanes.filter((lane) => inShard(lane.name, shard));
  }
  const controls: LaneSpec[] = [];
  for (const optimizer of optimizers) for (const seed of o.seeds) for (const lr of lrsFor(o, optimizer)) controls.push(base('fp32', optimizer, seed, lr, true));
  return [...controls, ...lanes];
}

function checkCorpus(corpus: Corpus, s: LearnabilitySettings): void {
  const trainSpan = corpus.trainEnd - s.model.context;
  const valSpan = corpus.tokens.length - corpus.trainEnd - s.model.context;
  if (trainSpan < s.batch || valSpan < 16) {
    throw new UsageError(`corpus ${corpus.spec} is too short for context ${s.model.context} and batch ${s.batch}: ${corpus.tokens.length} bytes. Use a longer text or builtin:english.`);
  }
}

export async function runLearnability(o: LearnabilityOptions): Promise<LearnabilityOutcome> {
  const settings = resolveSettings(o.learnability);
  const specs = planLanes(o, settings);
  const corpus = loadCorpus(o.corpus);
  checkCorpus(corpus, settings);
  const workers = Math.max(1, Math.min(o.workers ?? o.learnability.workers ?? availableParallelism(), specs.length));
  const executors = await openExecutors(workers, { target: o.target, targetOptions: o.targetOptions, backend: o.backend, corpus });
  let outcomes: LaneOutcome[];
  // Progress counts the lanes the summary counts: the fp32 controls train too, but are not lanes under test.
  let done = 0;
  const total = specs.filter((s) => !s.control).length;
  try {
    outcomes = await runSchedule(executors, specs, {
      onEval: (spec, _step, bpb) => o.onProgress?.({ done, total, lane: spec.name, bpb }),
      onDone: (spec, outcome) => {
        if (!spec.control) done++;
        o.onProgress?.({ done, total, lane: spec.name, bpb: outcome.bpb });
      },
    });
  } finally {
    await Promise.all(executors.map((e) => e.close()));
  }

  const raw = specs.map((spec, i): Omit<Lane, 'status'> => {
    const out = outcomes[i]!;
    return {
      name: spec.name,
      format: spec.format,
      optimizer: spec.optimizer,
      seed: spec.seed,
      lr: spec.lr,
      hidden: spec.model.hidden,
      steps: spec.steps,
      stepsRun: out.stepsRun,
      bpb: round(out.bpb),
      bestBpb: round(out.bestBpb),
      curve: out.curve.map((p) => ({ step: p.step, bpb: round(p.bpb) })),
      ...(spec.optimizerSettings && Object.keys(spec.optimizerSettings).length > 0 ? { optimizerSettings: { ...spec.optimizerSettings } } : {}),
      ...(spec.control ? { control: true } : {}),
      masterWeights: spec.masterWeights,
      weightUpdate: spec.targetUpdate ? 'target-update' : spec.masterWeights ? 'master' : 'in-place',
      ...(out.updateToStep ? { updateToStep: out.updateToStep } : {}),
      ...(out.notes.length ? { note: out.notes.join('; ') } : {}),
      ...(out.targetError !== undefined ? { targetError: out.targetError } : {}),
      durationMs: Math.round(out.durationMs),
    };
  });
  const lanes = judgeLanes(raw, { thresholds: o.thresholds });
  const perLane = o.seeds.length > 1 || o.optimizers.some((opt) => lrsFor(o, opt).length > 1);
  const results = laneResults(lanes, { thresholds: o.thresholds, reproCommand: o.reproCommand, perLane });

  const notes: string[] = [];
  const m = settings.model;
  notes.push(
    `learnability: char-level MLP LM, context ${m.context}, embedding ${m.embed}, hidden ${m.hidden}, batch ${settings.batch}, ${specs[0]?.steps ?? 0} steps, ` +
      `bpb on the first ${settings.evalTokens} validation positions every ${settings.evalEvery} steps; ${workers} worker(s), backend ${executors[0]!.backend}.`,
  );
  if (corpus.floorBits !== undefined) notes.push(`corpus ${corpus.spec}: entropy rate ${corpus.floorBits.toFixed(4)} bits/byte is the floor no lane can beat.`);
  if (!settings.masterWeights) notes.push('--no-master-weights: lanes rounded their weights in place after every step (the original trainer bug); updates below half a quantization step are lost.');
  const viaUpdate = [...new Set(specs.filter((x) => x.targetUpdate).map((x) => x.format))];
  if (viaUpdate.length > 0) {
    notes.push(
      `lost-updates failed for ${viaUpdate.join(', ')}: those formats' lanes also trained the way the target's update behaves (QA-inplace-…: after every optimizer step the weights became the target's update(w, Δ, 1)), next to the master-weight lanes.`,
    );
  }
  const stopped = outcomes.filter((x) => x.stoppedBy !== 'steps');
  if (stopped.length > 0) {
    const saved = specs.reduce((acc, s, i) => acc + (s.steps - outcomes[i]!.stepsRun), 0);
    notes.push(`early stopping ended ${stopped.length} lane(s) once their status could no longer change, saving ${saved} of ${specs.reduce((a, s) => a + s.steps, 0)} steps (rule: docs/learnability.md).`);
  }
  for (const c of lanes.filter((l) => l.control)) {
    if (!(c.bestBpb <= uniformBaselineBits(m.vocab) - numberThreshold(o.thresholds, 'learnability.controlMinDrop'))) {
      notes.push(`the fp32 control lane ${c.name} reached only ${c.bestBpb}: its lanes are inconclusive (raise --steps or --lr).`);
    }
  }
  return {
    lanes,
    results,
    backend: executors[0]!.backend,
    corpusInfo: { ...corpus.info, ...(corpus.floorBits !== undefined ? { floorBits: round(corpus.floorBits) } : {}) },
    notes,
  };
}
