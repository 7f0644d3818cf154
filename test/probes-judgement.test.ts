// The probes' judgements are pure functions of measured numbers: tested here without a target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeRoundtrip, SQNR_CAP_DB } from '../probes/roundtrip.js';
import { judgeMissingDequant, relativeRatio, type DequantSeries } from '../probes/missing-dequant.js';
import { judgeScaleCollapse, type CollapseSigns } from '../probes/scale-collapse.js';
import { signFlipFraction } from '../src/stats.js';
import { judgeBrokenSte } from '../probes/broken-ste.js';
import { forwardBroken, judgeLostUpdates, retainedShare, interiorMask, movableFraction } from '../probes/lost-updates.js';
import { judgeFormatApplied, maxDistinctPerBlock } from '../probes/format-applied.js';
import { PROBES, probeById } from '../probes/index.js';
import { UsageError } from '../src/errors.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { baseInputs, weightNormal } from '../probes/inputs.js';

test('PROBES lists the six probes in a fixed order; probeById rejects unknown ids with the valid list', () => {
  assert.deepEqual(PROBES.map((p) => p.id), ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'lost-updates', 'format-applied']);
  assert.deepEqual(PROBES.map((p) => p.hypothesis), ['codec', 'H1', 'H2', 'H3', 'H4', 'H5']);
  assert.equal(probeById('broken-ste').requires[0], 'gradient');
  assert.throws(() => probeById('ste'), (e: unknown) => e instanceof UsageError && /roundtrip, missing-dequant, scale-collapse, broken-ste, lost-updates, format-applied/.test(e.message));
});

test('every probe threshold key exists in DEFAULT_THRESHOLDS', () => {
  for (const k of ['roundtrip.maxSqnrDeficitDb', 'missing-dequant.rmsRatio', 'scale-collapse.minBitsRatio', 'broken-ste.minCosine', 'lost-updates.minRetained', 'format-applied.maxUnchangedFraction']) {
    assert.ok(k in DEFAULT_THRESHOLDS, k);
  }
  assert.deepEqual(DEFAULT_THRESHOLDS['broken-ste.magnitudeRatio'], [0.5, 2]);
});

test('inputs are seeded: same seed, same numbers; weight-normal has std 0.02', () => {
  const a = baseInputs(7);
  const b = baseInputs(7);
  assert.deepEqual(a.map((i) => i.name), ['weight-normal', 'weight-uniform', 'activation-normal', 'activation-heavy']);
  assert.deepEqual(a[0]!.x, b[0]!.x);
  assert.notDeepEqual(weightNormal(8).x, a[0]!.x);
  const x = a[0]!.x;
  const std = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
  const uniformBound = Math.max(...a[1]!.x.map(Math.abs));
  assert.ok(uniformBound <= 1 / 8 && uniformBound > 0.12, `U(±1/√64) bound ${uniformBound}`);
});

test('roundtrip: 1 dB below the reference passes, 3 dB fails, one NaN fails, an exact target passes', () => {
  const m = (t: number, r: number | undefined, nonFinite = 0) => ({ input: 'a', sqnrTarget: t, sqnrReference: r, nonFinite, exactMatch: 1 });
  assert.equal(judgeRoundtrip([m(39.2, 40)], 1).verdict, 'pass');
  assert.equal(judgeRoundtrip([m(37, 40)], 1).verdict, 'fail');
  assert.equal(judgeRoundtrip([m(37, 40)], 1).worstDeficitDb, 3);
  assert.equal(judgeRoundtrip([m(40, 40, 1)], 1).verdict, 'fail');
  // fp32: both exact (+Inf) → capped, deficit 0
  assert.equal(judgeRoundtrip([m(Infinity, Infinity)], 1).worstDeficitDb, 0);
  assert.equal(judgeRoundtrip([m(150, Infinity)], 1).worstDeficitDb, SQNR_CAP_DB - SQNR_CAP_DB);
  assert.equal(judgeRoundtrip([m(Number.NaN, 40)], 1).verdict, 'fail');
});

const T = { rmsRatio: [0.5, 2] as const, integerFraction: 0.99, maxRmsSpread: 10 };
const series = (name: string, pts: [number, number, number, number, number][]): DequantSeries => ({
  input: name,
  points: pts.map(([scale, rmsX, rmsT, rmsR, intT]) => ({ scale, rmsX, rmsTarget: rmsT, rmsReference: rmsR, integerFractionTarget: intT, integerFractionReference: 0 })),
});

test('missing-dequant: int8 codes (rms ≈ 36 at every scale, integers) fail; a correct quantizer passes; zeros alone do not', () => {
  const codes = series('a', [[1e-3, 1e-3, 36, 1e-3, 1], [1, 1, 36, 1, 1], [1e3, 1e3, 36, 1e3, 1]]);
  const j = judgeMissingDequant([codes], T);
  assert.equal(j.verdict, 'fail');
  assert.equal(j.integerValued, true);
  assert.equal(j.scaleIndependent, true);
  assert.equal(j.worstRatio, 36000);
  const good = series('a', [[1e-3, 1e-3, 0.99e-3, 1e-3, 0], [1, 1, 0.99, 1, 0], [1e3, 1e3, 990, 1e3, 0]]);
  assert.equal(judgeMissingDequant([good], T).verdict, 'pass');
  // a collapsed scale: zeros at small scales, saturation at large: ratio far off but neither integer nor scale-independent
  const collapsed = series('a', [[1e-3, 1e-3, 0, 1e-3, 0], [1, 1, 0.9, 1, 0.5], [1e3, 1e3, 127, 1e3, 1]]);
  assert.equal(judgeMissingDequant([collapsed], T).verdict, 'pass');
  assert.equal(relativeRatio({ scale: 1, rmsX: 1, rmsTarget: 0, rmsReference: 0, integerFractionTarget: 0, integerFractionReference: 0 }), 1);
});

test('scale-collapse: judged against the reference; sign loss and all-zero outputs fail, a coarse format does not', () => {
  const t = { maxZeroExcess: 0.25, maxSignLossExcess: 0.25, maxSignFlipExcess: 0.05, maxModeExcess: 0.25, maxCollapsedGroupExcess: 0.1, minBitsRatio: 0.5, maxZeroFraction: 0.9 };
  const signs = (zeroFraction: number, signLoss: number, bits: number, levels: number, more: Partial<CollapseSigns> = {}): CollapseSigns => ({ zeroFraction, signLoss, signFlip: 0, modeShare: zeroFraction, collapsedGroups: 0, bits, levels, ...more });
  const ref = signs(0.9, 0.9, 0.5, 3);
  // int2 reference zeroes 90 %: the same from the target is fine
  assert.equal(judgeScaleCollapse([{ input: 'w', ...ref, reference: ref }], t).verdict, 'pass');
  const zp0 = judgeScaleCollapse([{ input: 'w', ...signs(0.5, 1, 7, 128), reference: signs(0.004, 0.004, 7.5, 255) }], t);
  assert.equal(zp0.verdict, 'fail');
  assert.equal(zp0.sign, 'sign-loss-excess');
  assert.equal(zp0.statistic.value, 0.996);
  const zero = judgeScaleCollapse([{ input: 'w', ...signs(1, 1, 0, 1), reference: signs(0.01, 0.01, 6, 200) }], t);
  assert.equal(zero.verdict, 'fail');
  assert.equal(judgeScaleCollapse([{ input: 'w', ...signs(0.95, 0, 1, 2) }], t).sign, 'zero-fraction');
  // positive values turned negative: no negative lost its sign, yet 50 % of the values flipped
  const flip = judgeScaleCollapse([{ input: 'w', ...signs(0, 0, 7, 255, { signFlip: 0.5 }), reference: signs(0, 0, 7, 255) }], t);
  assert.deepEqual([flip.verdict, flip.sign, flip.statistic.value], ['fail', 'sign-flip-excess', 0.5]);
  // half the values saturate on one level that is not 0 (a zero-point clamp on a one-sided group)
  const mode = judgeScaleCollapse([{ input: 'a', ...signs(0, 0, 4.6, 129, { modeShare: 0.5 }), reference: signs(0, 0, 7.4, 170, { modeShare: 0.02 }) }], t);
  assert.deepEqual([mode.verdict, mode.sign, mode.statistic.value], ['fail', 'mode-excess', 0.48]);
  // one channel in four collapsed to a single level while the reference keeps every channel
  const group = judgeScaleCollapse([{ input: 'g', ...signs(0.05, 0.05, 6.9, 250, { collapsedGroups: 0.25, modeShare: 0.06 }), reference: signs(0.01, 0.01, 7, 255) }], t);
  assert.deepEqual([group.verdict, group.sign], ['fail', 'collapsed-groups']);
});

test('scale-collapse: sign flips are counted both ways, zeros never count as flips', () => {
  assert.equal(signFlipFraction([1, 2, -1, -2, 0], [-1, 2, 1, -2, 5]), 0.5);
  assert.equal(signFlipFraction([1, -1], [0, 0]), 0);
});

test('broken-ste: zero gradient (cosine 0) fails, dy·5e-4 fails on magnitude, the STE passes, NaN fails', () => {
  const m = (cosine: number, magnitudeRatio: number, nonFinite = 0) => ({ input: 'w', cosine, magnitudeRatio, nonFinite, inRange: 1 });
  assert.equal(judgeBrokenSte([m(1, 1)], 0.9, [0.5, 2]).verdict, 'pass');
  const zero = judgeBrokenSte([m(0, 0)], 0.9, [0.5, 2]);
  assert.deepEqual([zero.verdict, zero.failedOn], ['fail', 'cosine']);
  const small = judgeBrokenSte([m(1, 5e-4)], 0.9, [0.5, 2]);
  assert.deepEqual([small.verdict, small.failedOn, small.worstMagnitude], ['fail', 'magnitude', 5e-4]);
  assert.equal(judgeBrokenSte([m(Number.NaN, Number.NaN, 3)], 0.9, [0.5, 2]).failedOn, 'non-finite');
});

test('lost-updates: master weights retain 1, rounding in place retains 0; indistinguishable cases pass', () => {
  const master = { lr: 1e-4, distToInPlace: 2, distToMaster: 0, gap: 2, masterMovement: 2 };
  const inPlace = { lr: 1e-4, distToInPlace: 0, distToMaster: 2, gap: 2, masterMovement: 2 };
  assert.equal(retainedShare(master), 1);
  assert.equal(retainedShare(inPlace), 0);
  assert.equal(judgeLostUpdates([master], 0.5).verdict, 'pass');
  const j = judgeLostUpdates([inPlace, { ...master, lr: 1e-3 }], 0.5);
  assert.deepEqual([j.verdict, j.retained, j.lr], ['fail', 0, 1e-4]);
  // fp16 at lr 1e-4: in place and master agree (gap 0.1 % of the movement): nothing to judge
  assert.deepEqual(judgeLostUpdates([{ lr: 1e-4, distToInPlace: 0, distToMaster: 0.001, gap: 0.001, masterMovement: 1 }], 0.5), { verdict: 'pass', retained: null, lr: null });
  const w = Float32Array.from([0.1, -0.1, 0.01, -0.01]);
  assert.deepEqual([...interiorMask(w, 4)], [0, 0, 1, 1]);
  assert.equal(movableFraction(Float32Array.from([0, 0, 0, 0]), Float32Array.from([1, 1, 0, 1]), interiorMask(w, 4)), 0.5);
});

test('lost-updates: a forward pass that is non-finite, zeroed or sign-flipped cannot carry the update test', () => {
  const w = Float32Array.from([0.5, -0.5, 0.25, -0.25]);
  const ref = Float32Array.from([0.5, -0.5, 0.25, -0.25]);
  assert.equal(forwardBroken(w, ref, ref, 0.1, 0.05), undefined);
  assert.match(forwardBroken(w, Float32Array.from([0.5, Infinity, 0.25, -0.25]), ref, 0.1, 0.05)!, /^non-finite \(1 /);
  assert.match(forwardBroken(w, Float32Array.from([0, 0, 0, -0.25]), ref, 0.1, 0.05)!, /^collapsed/);
  // unsigned nibbles decoded as signed: positives come back negative
  assert.match(forwardBroken(w, Float32Array.from([-0.5, -0.5, -0.25, -0.25]), ref, 0.1, 0.05)!, /^sign-flipped \(0\.5 of the nonzero weights/);
  // the same flips in the reference are the format's, not the target's
  assert.equal(forwardBroken(w, Float32Array.from([-0.5, -0.5, -0.25, -0.25]), Float32Array.from([-0.5, -0.5, -0.25, -0.25]), 0.1, 0.05), undefined);
});

test('format-applied: input returned unchanged fails; off the grid fails; another grid fails; 40 distinct values in a 16-code block fail', () => {
  const t = { maxUnchanged: 0.5, maxOffGrid: 0.01, maxDistinctOverCodes: 1 };
  const m = (unchanged: number | undefined, distinct: number, codes = 255, offGrid: number | undefined = 0) => ({ input: 'a', nonRepresentable: 2000, unchangedFraction: unchanged, offGrid, maxDistinctPerBlock: distinct, codes });
  assert.equal(judgeFormatApplied([m(0, 200)], t).verdict, 'pass');
  assert.deepEqual(judgeFormatApplied([m(1, 2048, 255, 1)], t).failedOn, 'unchanged');
  assert.deepEqual(judgeFormatApplied([m(0, 8, 16, 0.9)], t).failedOn, 'off-grid');
  assert.deepEqual(judgeFormatApplied([m(0, 200, 256, 0)], t, 'fp8-e5m2').failedOn, 'other-grid');
  assert.deepEqual(judgeFormatApplied([m(undefined, 40, 16, undefined)], t).failedOn, 'distinct');
  assert.equal(maxDistinctPerBlock(Float32Array.from([1, 2, 3, 4, 1, 1, 1, 1]), 4), 4);
});
