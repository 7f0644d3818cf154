/**
 * lost-updates — H4: "updates below half a quantization step vanish (no fp32 master weights)".
 *
 * Two measurements:
 * 1. Movable fraction, for every format and every configured learning rate: the share of
 *    weight-like w (interior values, so no block's scale changes) for which fq(w ± lr) ≠ fq(w).
 *    It says how much of a step of that size survives when a loop rounds in place. It is a
 *    property of the format, not a bug: on its own it cannot falsify H4.
 * 2. With an `update` capability (the target's own training step): apply K tiny same-sign
 *    updates and see which semantics the result follows. Both candidates are computed with
 *    the reference codec on the same numbers: fp32 master weights (w += δ, K times, then fq)
 *    and rounding in place (w = fq(w + δ), K times). `retained` projects the target's result
 *    onto the segment between them: 1 = master weights, 0 = every update lost.
 * Without an update capability the probe is `skipped` (the loop is not observable) and still
 * reports the movable fractions. When the forward pass itself is broken on these weights
 * (NaN/Inf, or collapsed: far more zeros or fewer levels than the reference), neither
 * expectation means anything and the probe is `inconclusive` with `forwardBroken` saying why
 * (the forward probes name the cause; probes/causes.ts links the two). A NaN `retained` is
 * inconclusive too: a statistic that is not a number is evidence for nothing.
 */
import { fakeQuant } from '../src/formats/index.js';
import { countNonFinite, distinctCount, signFlipFraction, zeroFraction } from '../src/stats.js';
import { numberThreshold } from '../src/thresholds.js';
import { DEFAULTS } from '../src/run/defaults.js';
import { Rng } from '../src/rng.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { Target } from '../src/targets/types.js';
import type { Probe, ProbeContext, ProbeOutcome } from './types.js';
import { weightNormal, type ProbeInput } from './inputs.js';
import { cell, formatNotImplemented, samplesAt, skippedOutcome, statistic, topIndices } from './common.js';

/** Number of tiny updates in the direct test. */
const UPDATE_STEPS = 100;
/** Below this relative gap between the master-weight and in-place results the test cannot tell them apart. */
const MIN_RELATIVE_GAP = 0.01;
/** Interior values: not in the outer half of their 32-value block, so a block's scale never moves. */
const INTERIOR_BLOCK = 32;
const STAT = 'update retained (1 = fp32 master weights, 0 = rounded in place)';

export interface UpdateMeasurement {
  lr: number;
  /** ‖target − inPlace‖, ‖target − master‖, ‖master − inPlace‖ and ‖master − fq(w)‖. */
  distToInPlace: number;
  distToMaster: number;
  gap: number;
  masterMovement: number;
}

export interface UpdateJudgement {
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** Why the retained share cannot be read as H4 (a value outside [0, 1]). */
  reason?: string;
  /** Lowest retained share over the learning rates where the test can tell (null: it never can). */
  retained: number | null;
  lr: number | null;
}

/** Projection of the target's result onto the segment in-place → master: 1 = master weights, 0 = in place. */
export function retainedShare(m: UpdateMeasurement): number {
  const { gap, distToInPlace: dI, distToMaster: dM } = m;
  if (gap === 0) return 1;
  return (gap * gap + dI * dI - dM * dM) / (2 * gap * gap);
}

export function judgeLostUpdates(ms: readonly UpdateMeasurement[], minRetained: number): UpdateJudgement {
  let worst: { retained: number; lr: number } | undefined;
  for (const m of ms) {
    if (!(m.masterMovement > 0) || m.gap / m.masterMovement < MIN_RELATIVE_GAP) continue;
    const r = retainedShare(m);
    if (worst === undefined || !(r >= worst.retained)) worst = { retained: r, lr: m.lr };
  }
  if (!worst) return { verdict: 'pass', retained: null, lr: null };
  // retained is a projection onto in-place (0) → master (1); outside [0, 1] the target did something else.
  const beyond = measuredBeyondMaster(ms);
  if (worst.retained >= minRetained && beyond) {
    return {
      verdict: 'inconclusive',
      retained: beyond.retained,
      lr: beyond.lr,
      reason: `retained ${beyond.retained.toPrecision(3)} at lr ${beyond.lr} is above 1: the target's update moved the weights further than fp32 master weights would (an update applied more than once, or a scaled step), so H4 cannot be judged from it`,
    };
  }
  return { verdict: worst.retained >= minRetained ? 'pass' : 'fail', retained: worst.retained, lr: worst.lr };
}

/** Tolerance on the [0, 1] scale before a retained share counts as outside it (rounding of the last step). */
const RETAINED_SLACK = 0.05;

function measuredBeyondMaster(ms: readonly UpdateMeasurement[]): { retained: number; lr: number } | undefined {
  for (const m of ms) {
    if (!(m.masterMovement > 0) || m.gap / m.masterMovement < MIN_RELATIVE_GAP) continue;
    const r = retainedShare(m);
    if (r > 1 + RETAINED_SLACK) return { retained: r, lr: m.lr };
  }
  return undefined;
}

/** 1 for values in the inner half of their block (|w| below half the block's max in its direction). */
export function interiorMask(w: Float32Array, block = INTERIOR_BLOCK): Uint8Array {
  const mask = new Uint8Array(w.length);
  for (let b = 0; b < w.length; b += block) {
    const end = Math.min(w.length, b + block);
    let lo = 0;
    let hi = 0;
    for (let i = b; i < end; i++) {
      lo = Math.min(lo, w[i]!);
      hi = Math.max(hi, w[i]!);
    }
    for (let i = b; i < end; i++) mask[i] = w[i]! < 0.5 * hi && w[i]! > 0.5 * lo ? 1 : 0;
  }
  return mask;
}

/** Share of interior w whose quantized value changes under a ±lr step (random seeded signs). */
export function movableFraction(fqW: Float32Array, fqStepped: Float32Array, mask: Uint8Array): number {
  let n = 0;
  let moved = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    n++;
    if (fqW[i] !== fqStepped[i]) moved++;
  }
  return n === 0 ? 0 : moved / n;
}

/**
 * Why the forward pass cannot carry the update test, or undefined when it can: NaN/Inf from
 * finite weights, a collapse (zeroed share above the reference's by more than
 * `maxZeroExcess`, or a single level where the reference has many), or sign flips above the
 * reference's by more than `maxSignFlipExcess` (the update would be read through a mirror).
 */
export function forwardBroken(
  w: Float32Array,
  fqT: Float32Array,
  fqR: Float32Array | undefined,
  maxZeroExcess: number,
  maxSignFlipExcess = Infinity,
): string | undefined {
  const nonFinite = countNonFinite(fqT) - countNonFinite(w);
  if (nonFinite > 0) return `non-finite (${nonFinite} NaN/Inf outputs)`;
  const zeroExcess = zeroFraction(w, fqT) - (fqR ? zeroFraction(w, fqR) : 0);
  if (fqR && zeroExcess > maxZeroExcess) return `collapsed (${cell(zeroFraction(w, fqT))} of the weights read as 0, the reference ${cell(zeroFraction(w, fqR))})`;
  const flips = signFlipFraction(w, fqT);
  if (fqR && flips - signFlipFraction(w, fqR) > maxSignFlipExcess) return `sign-flipped (${cell(flips)} of the nonzero weights come back with the opposite sign, the reference ${cell(signFlipFraction(w, fqR))})`;
  if (fqR && distinctCount(fqT) <= 1 && distinctCount(fqR) > 1) return 'collapsed (one level for every weight)';
  return undefined;
}

function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

function referenceFq(spec: FormatSpec, x: Float32Array, shape: readonly number[]): Float32Array | undefined {
  try {
    return fakeQuant(spec, x, { shape: [...shape] });
  } catch {
    return undefined;
  }
}

/** fp32 master weights: accumulate in float32, quantize once for use. */
function masterWeightUpdate(fq: (x: Float32Array) => Float32Array, w: Float32Array, delta: Float32Array, steps: number): Float32Array {
  const master = Float32Array.from(w);
  for (let k = 0; k < steps; k++) for (let i = 0; i < master.length; i++) master[i] = master[i]! + delta[i]!;
  return fq(master);
}

/** No master copy: the quantized weight is the weight. */
function inPlaceUpdate(fq: (x: Float32Array) => Float32Array, w: Float32Array, delta: Float32Array, steps: number): Float32Array {
  let cur = fq(w);
  for (let k = 0; k < steps; k++) {
    const next = new Float32Array(cur.length);
    for (let i = 0; i < cur.length; i++) next[i] = cur[i]! + delta[i]!;
    const q = fq(next);
    // a fixed point stays one: the same weights and the same delta give the same step
    if (q.every((v, i) => v === cur[i])) break;
    cur = q;
  }
  return cur;
}

async function run(target: Target, spec: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome> {
  const notImplemented = formatNotImplemented(target, spec, STAT);
  if (notImplemented) return notImplemented;
  const minRetained = numberThreshold(ctx.thresholds, 'lost-updates.minRetained');
  const lrs = [...(ctx.lrs.length > 0 ? ctx.lrs : DEFAULTS.probeLrs)].sort((a, b) => a - b);
  const input: ProbeInput = weightNormal(ctx.seed, [16, 64]);
  const { x: w, shape } = input;
  const mask = interiorMask(w);
  const fqT0 = await target.forward(spec.name, w, shape);
  const fqR0 = referenceFq(spec, w, shape);
  const signs = new Rng(ctx.seed).fork('lost-updates:signs');

  const movable: { lr: number; target: number; reference: number | undefined }[] = [];
  for (const lr of lrs) {
    const stepped = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) stepped[i] = w[i]! + (signs.next() < 0.5 ? -lr : lr);
    const yT = await target.forward(spec.name, stepped, shape);
    const yR = fqR0 ? referenceFq(spec, stepped, shape) : undefined;
    movable.push({ lr, target: movableFraction(fqT0, yT, mask), reference: fqR0 && yR ? movableFraction(fqR0, yR, mask) : undefined });
  }
  const movableRows = movable.map((m) => [m.lr, cell(m.target), cell(m.reference)]);
  const lrMin = lrs[0]!;
  const movableAtMin = movable[0]!.target;

  if (!target.update || !target.capabilities.has('update')) {
    return skippedOutcome(
      `movable fraction at lr ${lrMin}`,
      `target ${target.spec} exposes no update step: H4 is about the training loop, which this target does not show. ` +
        `Movable fraction at lr ${lrMin} is ${cell(movableAtMin)}: if the loop rounds in place without fp32 master weights, ` +
        `${cell(1 - movableAtMin)} of such updates are lost.`,
      {
        statistic: statistic(`movable fraction at lr ${lrMin}`, movableAtMin, null, '<'),
        evidence: {
          measurements: { movableFractionAtMinLr: cell(movableAtMin), lr: lrMin },
          tables: [{ title: 'movable fraction: share of interior weight-like w with fq(w ± lr) ≠ fq(w)', headings: ['lr', 'target', 'reference'], rows: movableRows }],
          notes: ['informational: a low movable fraction is harmless with fp32 master weights and fatal without them'],
        },
      },
    );
  }
  if (!fqR0) {
    return skippedOutcome(STAT, `format ${spec.name} has no reference codec to compute the master-weight and in-place expectations`);
  }
  const broken = forwardBroken(
    w,
    fqT0,
    fqR0,
    numberThreshold(ctx.thresholds, 'scale-collapse.maxZeroExcess'),
    numberThreshold(ctx.thresholds, 'scale-collapse.maxSignFlipExcess'),
  );
  if (broken) {
    const reason = `the forward pass of ${spec.name} is ${broken} on these weights: whether tiny updates survive cannot be observed`;
    return {
      verdict: 'inconclusive',
      statistic: { name: STAT, value: null, threshold: minRetained, comparator: '<' },
      evidence: { measurements: { forwardBroken: broken }, notes: [reason] },
      reason,
    };
  }


  const fqRef = (x: Float32Array) => referenceFq(spec, x, shape)!;
  const measured: UpdateMeasurement[] = [];
  const detail = new Map<number, { y: Float32Array; master: Float32Array; inPlace: Float32Array; movedTarget: number; movedMaster: number }>();
  for (const lr of lrs) {
    const delta = new Float32Array(w.length).fill(lr);
    const y = await target.update(spec.name, w, shape, delta, UPDATE_STEPS);
    const master = masterWeightUpdate(fqRef, w, delta, UPDATE_STEPS);
    const inPlace = inPlaceUpdate(fqRef, w, delta, UPDATE_STEPS);
    measured.push({ lr, distToInPlace: distance(y, inPlace), distToMaster: distance(y, master), gap: distance(master, inPlace), masterMovement: distance(master, fqR0) });
    detail.set(lr, { y, master, inPlace, movedTarget: movableFraction(fqT0, y, mask), movedMaster: movableFraction(fqR0, master, mask) });
  }
  const j = judgeLostUpdates(measured, minRetained);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    ...(j.reason ? { reason: j.reason } : {}),
    statistic: statistic(STAT, j.retained ?? 1, minRetained, '<'),
    evidence: {
      measurements: {
        retained: j.retained === null ? null : cell(j.retained),
        lr: j.lr,
        steps: UPDATE_STEPS,
        movableFractionAtMinLr: cell(movableAtMin),
        // what probes/causes.ts reads: a forward cause on the same format explains an update that follows neither semantics
        ...(j.verdict === 'inconclusive' ? { forwardBroken: 'off the update semantics (retained above 1)' } : {}),
      },
      tables: [
        { title: 'movable fraction: share of interior weight-like w with fq(w ± lr) ≠ fq(w)', headings: ['lr', 'target', 'reference'], rows: movableRows },
        {
          title: `${UPDATE_STEPS} same-sign updates of +lr through the target's update step`,
          headings: ['lr', 'retained', 'moved share (target)', 'moved share (fp32 master)', 'master vs in-place gap'],
          rows: measured.map((m) => [m.lr, cell(retainedShare(m)), cell(detail.get(m.lr)!.movedTarget), cell(detail.get(m.lr)!.movedMaster), cell(m.masterMovement > 0 ? m.gap / m.masterMovement : 0)]),
        },
      ],
      notes: j.retained === null ? [`at these learning rates rounding in place and fp32 master weights give the same ${spec.name} weights: nothing to lose`] : undefined,
    },
  };
  if (j.verdict === 'fail') {
    const d = detail.get(j.lr!)!;
    const idx = topIndices((i) => (mask[i] ? Math.abs(d.master[i]! - d.y[i]!) : 0), w.length);
    outcome.witness = {
      summary:
        `${spec.name}: ${UPDATE_STEPS} updates of +${j.lr} through the target's update step kept ${cell(j.retained!)} of the movement fp32 master weights give (1 = master weights, 0 = exactly what rounding in place gives): ` +
        (j.retained! < -RETAINED_SLACK
          ? 'below 0: the weights moved against the update, further from the master-weight result than rounding in place leaves them (a sign error in the update, or a step applied as a subtraction).'
          : 'updates below half a quantization step are rounded away.'),
      samples: samplesAt(idx, w, d.y, d.master),
      sampleLabels: { x: 'w before', y: `target after ${UPDATE_STEPS} updates`, expected: 'fp32 master weights' },
      repro: ctx.reproCommand('lost-updates', spec.name),
    };
  }
  return outcome;
}

export const lostUpdates: Probe = {
  id: 'lost-updates',
  hypothesis: 'H4',
  title: 'tiny updates survive quantization (fp32 master weights)',
  claim: 'updates smaller than half a quantization step vanish (no fp32 master weights)',
  fix: 'Keep fp32 master weights: the optimizer updates the full-precision copy and fake-quant is applied in the forward pass only. Never write rounded weights back into the parameter after a step.',
  requires: ['forward'],
  run,
};
