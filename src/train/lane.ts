/**
 * One lane: train the MLP LM for `steps` steps with one optimizer, seed and lr, every weight
 * matrix passing through one quantizer, and record validation bpb every `evalEvery` steps.
 * Same spec + same corpus + same backend ⇒ the same curve, bit for bit.
 */
import { tf } from '../tf.js';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import type { Corpus } from '../corpus/index.js';
import { createModel, crossEntropy, disposeBatch, makeBatch, type Batch, type EffectiveWeights } from './model.js';
import { createOptimizer, type OptimizerName, type OptimizerSettings } from './optimizers.js';
import { allInOrder, type QuantizerBridge } from './bridge.js';
import { earlyStopReason, type StopReason } from './early-stop.js';
import { UpdateRatioSampler, type UpdateToStep } from './update-ratio.js';
import type { LearnabilitySettings } from './settings.js';
import type { FormatSpec } from '../formats/types.js';
import { UsageError } from '../errors.js';

/** One lane: the run's learnability settings plus what names and seeds this lane. */
export interface LaneSpec extends LearnabilitySettings {
  name: string;
  format: string;
  optimizer: OptimizerName;
  seed: number;
  lr: number;
  /** Momentum, Newton–Schulz steps, weight decay when the run changes them. */
  optimizerSettings?: OptimizerSettings;
  steps: number;
  control: boolean;
  /**
   * Train the way the target's own update step behaves: after each optimizer step the stored
   * weights become update(w, Δ, 1) from the target (which rounds in place when lost-updates
   * fails). Needs masterWeights false and a target with an `update` capability.
   */
  targetUpdate?: boolean;
  /** Early stopping inputs (see early-stop.ts). */
  deadLine: number;
  cleanMargin: number;
  patience: number;
  controlBestBpb?: number;
}

export interface LaneOutcome {
  name: string;
  curve: { step: number; bpb: number }[];
  bpb: number;
  bestBpb: number;
  stepsRun: number;
  stoppedBy: StopReason;
  notes: string[];
  durationMs: number;
  /** Set when the target itself failed during the lane. */
  targetError?: string;
  /** Proposed update / quantization step (quantized lanes with a registry grid). */
  updateToStep?: UpdateToStep;
}

export interface LaneOptions {
  /** The format's registry row: the grid the update-to-step ratio is measured on. */
  grid?: FormatSpec;
}

const LN2 = Math.log(2);

/** Validation positions: the first `evalTokens` predictable positions of the validation split. */
export function validationPositions(corpus: Corpus, context: number, evalTokens: number): Int32Array {
  const first = corpus.trainEnd + context;
  const n = Math.max(0, Math.min(evalTokens, corpus.tokens.length - first));
  return Int32Array.from({ length: n }, (_, i) => first + i);
}

/** Training positions of one step: uniform over the train split (seeded per lane seed, shared by every format). */
function sampleBatch(rng: Rng, corpus: Corpus, context: number, size: number): Int32Array {
  const span = corpus.trainEnd - context;
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = context + rng.int(span);
  return out;
}

export async function trainLane(
  spec: LaneSpec,
  bridge: QuantizerBridge,
  corpus: Corpus,
  onEval?: (step: number, bpb: number) => void,
  options: LaneOptions = {},
): Promise<LaneOutcome> {
  const started = performance.now();
  const shape = spec.model;
  if (spec.targetUpdate && (spec.masterWeights || !bridge.update)) {
    throw new UsageError(`lane ${spec.name} trains through the target's update step, which needs masterWeights false and a target with an update capability.`);
  }
  const model = createModel(shape, spec.seed);
  const vars = model.params.map((p) => p.variable);
  const optimizer = createOptimizer(spec.optimizer, model.params, spec.optimizerSettings);
  // The identity (fp32 control) has no grid to measure against.
  const ratio =
    options.grid && options.grid.family !== 'identity'
      ? new UpdateRatioSampler(options.grid, model.params.map((p) => ({ name: p.name, shape: p.variable.shape })), spec.steps, spec.seed)
      : undefined;
  const batches = new Rng(spec.seed).fork('batches');
  const valPositions = validationPositions(corpus, shape.context, spec.evalTokens);
  const valBatch = makeBatch(corpus.tokens, valPositions, shape.context, shape.vocab);
  const notes: string[] = [];
  if (bridge.kind === 'external') notes.push(bridge.note);
  if (spec.targetUpdate) notes.push("in place through the target's own update step: after every optimizer step the stored weights were what update(w, Δ, 1) returned");
  else if (!spec.masterWeights) notes.push('no master weights: after every step the stored weights were replaced by their fake-quantized value');

  const curve: { step: number; bpb: number }[] = [];
  let best = Number.POSITIVE_INFINITY;
  let zeroStreak = 0;
  let stoppedBy: StopReason = 'steps';
  let step = 0;

  const effective = async (): Promise<EffectiveWeights> => {
    if (bridge.kind === 'autodiff') {
      // clone(): an identity quantizer returns the variable itself, which must survive the dispose below.
      return tf.tidy(() => vars.map((v) => bridge.fakeQuant(v).clone() as Tensor2D)) as unknown as EffectiveWeights;
    }
    const quantized = await allInOrder(vars.map((v) => bridge.forward(v.dataSync() as Float32Array, v.shape)));
    return quantized.map((w, i) => tf.tensor2d(w, vars[i]!.shape as [number, number])) as unknown as EffectiveWeights;
  };

  const evaluate = async (): Promise<number> => {
    const w = await effective();
    const ce = tf.tidy(() => crossEntropy(shape, w, valBatch));
    const bpb = (await ce.data())[0]! / LN2;
    ce.dispose();
    w.forEach((t) => t.dispose());
    curve.push({ step, bpb });
    if (Number.isNaN(bpb)) best = Number.NaN;
    else if (!Number.isNaN(best)) best = Math.min(best, bpb);
    onEval?.(step, bpb);
    return bpb;
  };

  /** One optimizer step; returns whether every gradient element was exactly zero (only checked when asked). */
  const trainStep = async (batch: Batch, checkZero: boolean): Promise<boolean> => {
    let grads: Tensor[];
    if (bridge.kind === 'autodiff') {
      const { value, grads: byName } = tf.variableGrads(() => crossEntropy(shape, vars.map((v) => bridge.fakeQuant(v)) as unknown as EffectiveWeights, batch), vars);
      value.dispose();
      grads = vars.map((v) => byName[v.name]!);
    } else {
      const master = vars.map((v) => v.dataSync() as Float32Array);
      const forwards = await allInOrder(master.map((w, i) => bridge.forward(w, vars[i]!.shape)));
      const quantized = forwards.map((w, i) => tf.tensor2d(w, vars[i]!.shape as [number, number]));
      const dq = tf.grads((e: Tensor, h: Tensor, o: Tensor) => crossEntropy(shape, [e, h, o] as unknown as EffectiveWeights, batch))(quantized);
      quantized.forEach((t) => t.dispose());
      if (bridge.gradient) {
        const gradient = bridge.gradient;
        const dx = await allInOrder(master.map((w, i) => gradient(w, vars[i]!.shape, dq[i]!.dataSync() as Float32Array)));
        grads = dx.map((g, i) => tf.tensor(g, vars[i]!.shape));
        dq.forEach((t) => t.dispose());
      } else {
        grads = dq;
      }
    }
    let allZero = false;
    if (checkZero) {
      allZero = tf.tidy(() => tf.addN(grads.map((g) => g.abs().sum())).dataSync()[0] === 0);
    }
    // Weights before the step: for the update-to-step sample (a few steps) and the target's update (every step).
    const sampled = ratio?.wants(step + 1) === true;
    const before = sampled || spec.targetUpdate ? vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)) : undefined;
    optimizer.step(grads, spec.lr);
    grads.forEach((g) => g.dispose());
    const after = before ? vars.map((v) => v.dataSync() as Float32Array) : undefined;
    if (sampled) ratio!.record(step + 1, before!, after!);
    if (spec.targetUpdate) {
      // The target's own step applies the optimizer's proposal Δ to the stored weights.
      const update = bridge.update!;
      const next = await allInOrder(vars.map((v, i) => update(before![i]!, v.shape, after![i]!.map((x, k) => x - before![i]![k]!))));
      vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor2d(next[i]!, v.shape as [number, number]))));
    } else if (!spec.masterWeights) {
      // The original trainer's bug: the rounded weights replace the fp32 ones.
      if (bridge.kind === 'autodiff') {
        for (const v of vars) tf.tidy(() => v.assign(bridge.fakeQuant(v) as Tensor2D));
      } else {
        const rounded = await allInOrder(vars.map((v) => bridge.forward(v.dataSync() as Float32Array, v.shape)));
        vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor2d(rounded[i]!, v.shape as [number, number]))));
      }
    }
    return allZero;
  };

  try {
    await evaluate();
    while (step < spec.steps) {
      const batch = makeBatch(corpus.tokens, sampleBatch(batches, corpus, shape.context, spec.batch), shape.context, shape.vocab);
      // Zero-gradient checks cost a readback; only a lane still at the dead line needs them.
      const checkZero = spec.earlyStop && !(best < spec.deadLine);
      try {
        const zero = await trainStep(batch, checkZero);
        zeroStreak = zero ? zeroStreak + 1 : 0;
      } finally {
        disposeBatch(batch);
      }
      step++;
      // Let the event loop run between steps (~9 µs a turn, measured): lanes also train on the main thread, beside
      // the worker threads whose messages (progress, a finished lane) it must serve.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (step % spec.evalEvery === 0 || step === spec.steps) {
        const bpb = await evaluate();
        if (spec.earlyStop && step < spec.steps) {
          const reason = earlyStopReason({
            lastBpb: bpb,
            bestBpb: best,
            deadLine: spec.deadLine,
            controlBestBpb: spec.control ? undefined : spec.controlBestBpb,
            cleanMargin: spec.cleanMargin,
            zeroGradientStreak: zeroStreak,
            optimizerStateZero: zeroStreak >= spec.patience ? optimizer.stateIsZero() : false,
            patience: spec.patience,
          });
          if (reason) {
            stoppedBy = reason;
            break;
          }
        }
      }
    }
  } finally {
    disposeBatch(valBatch);
    optimizer.dispose();
    model.dispose();
  }
  if (stoppedBy === 'frozen') notes.push(`stopped at step ${step}: every gradient element was exactly 0 for ${zeroStreak} steps (the quantizer passes no gradient)`);
  if (stoppedBy === 'clean') notes.push(`stopped at step ${step}: best bpb is within the clean margin of the control, which it cannot leave`);
  if (stoppedBy === 'diverged') notes.push(`stopped at step ${step}: validation bpb is not finite (diverged)`);
  const last = curve[curve.length - 1]!.bpb;
  const updateToStep = ratio?.summary();
  return {
    name: spec.name,
    curve,
    bpb: last,
    bestBpb: best,
    stepsRun: step,
    stoppedBy,
    notes,
    durationMs: performance.now() - started,
    ...(updateToStep ? { updateToStep } : {}),
  };
}
