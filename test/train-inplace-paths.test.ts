/**
 * The two ways a lane trains without fp32 master weights are one experiment apart from the
 * first step (docs/learnability.md, "Two in-place paths"):
 *   --no-master-weights   the lane rounds in place: w ← fq(w + Δ)
 *   QA-inplace-…          the target's update: w ← update(w, Δ, 1), which for mutant:in-place
 *                         (and fixtures/exec/in-place.mjs) is fq(fq(w) + Δ)
 * The pre-round fq(w) is the identity on weights already on the grid, so the two differ only at
 * step 1, where the lane's w is still the unrounded fp32 init. Both facts are pinned here: the
 * target-update plumbing (Δ read back as float32, handed over, re-added by the target) is exact,
 * and the mutant's step is the lane's rounding on grid weights and not on the fp32 init.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initTf } from '../src/tf.js';
import { loadCorpus, type Corpus } from '../src/corpus/index.js';
import { trainLane } from '../src/train/lane.js';
import { bridgeFor, type QuantizerBridge } from '../src/train/bridge.js';
import { openTarget } from '../src/targets/index.js';
import { defaultRegistry } from '../src/formats/registry.js';
import type { Target } from '../src/targets/types.js';
import { Rng } from '../src/rng.js';
import { tinyLane } from './support/lane-support.js';

let corpus: Corpus;
let target: Target;

before(async () => {
  await initTf('wasm');
  corpus = loadCorpus('builtin:markov');
  target = await openTarget('mutant:in-place', { registry: defaultRegistry });
});

/** The target's own quantizer with an update that rounds w + Δ without rounding w first. */
function roundSumBridge(format: string): QuantizerBridge {
  const b = bridgeFor(target, format);
  assert.equal(b.kind, 'autodiff');
  const fq = b.fakeQuant;
  return {
    ...b,
    update: async (w, shape, delta) => tf.tidy(() => fq(tf.add(tf.tensor(w, [...shape]), tf.tensor(delta, [...shape]))).dataSync() as Float32Array),
  };
}

test('a lane through an update w ← fq(w + Δ) is the --no-master-weights lane bit for bit (int4 and int8, muon at 0.0235)', async () => {
  for (const format of ['int4', 'int8']) {
    const lane = { format, optimizer: 'muon' as const, lr: 0.0235, steps: 30, masterWeights: false };
    const inPlace = await trainLane(tinyLane(lane), bridgeFor(target, format), corpus);
    const viaUpdate = await trainLane(tinyLane({ ...lane, targetUpdate: true }), roundSumBridge(format), corpus);
    assert.deepEqual(viaUpdate.curve, inPlace.curve, `${format}: the same curve`);
    // The mutant's own update also rounds the fp32 init before the first step: same start, another trajectory.
    const viaMutant = await trainLane(tinyLane({ ...lane, targetUpdate: true }), bridgeFor(target, format), corpus);
    assert.equal(viaMutant.curve[0]!.bpb, inPlace.curve[0]!.bpb);
    assert.notEqual(viaMutant.curve[1]!.bpb, inPlace.curve[1]!.bpb, `${format}: the mutant's update parts from the lane's rounding at step 1`);
    const drop = inPlace.curve[0]!.bpb - inPlace.bestBpb;
    assert.ok(drop > 0.3, `${format}: the lane learns (bpb fell by ${drop}), so the curves have something to differ in`);
  }
});

test("mutant:in-place's update is fq(w + Δ) on grid weights, and differs from it on the unrounded fp32 init: the two paths part at step 1 only", async () => {
  const rng = new Rng(1597).fork('inplace-paths');
  const shape = [64, 32];
  const n = 64 * 32;
  const w0 = Float32Array.from(rng.normalArray(n, 0.05));
  const delta = Float32Array.from(rng.normalArray(n, 0.005));
  const fq = (bridgeFor(target, 'int4') as Extract<QuantizerBridge, { kind: 'autodiff' }>).fakeQuant;
  const roundSum = (w: Float32Array): Float32Array => tf.tidy(() => fq(tf.add(tf.tensor(w, shape), tf.tensor(delta, shape))).dataSync() as Float32Array);
  const onGrid = tf.tidy(() => fq(tf.tensor(w0, shape)).dataSync() as Float32Array);
  // elements more than half an int4 step apart (absmax ≈ 0.2: a step is ≈ 0.028)
  const differing = (a: Float32Array, b: Float32Array, by = 0): number => a.reduce((k, x, i) => k + (Math.abs(x - b[i]!) > by ? 1 : 0), 0);

  assert.equal(differing(await target.update!('int4', onGrid, shape, delta, 1), roundSum(onGrid)), 0, 'on the grid: the same step');
  // From the fp32 init the mutant rounds w first, the lane does not: weights whose w0 + Δ and
  // fq(w0) + Δ round differently land a whole int4 step apart (measured: 325 of 2,048).
  const fromInit = differing(await target.update!('int4', w0, shape, delta, 1), roundSum(w0), 0.014);
  assert.ok(fromInit > n / 20, `from the fp32 init ${fromInit} of ${n} weights differ by more than half a step`);
});
