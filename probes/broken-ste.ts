/**
 * broken-ste — H3: "the gradient through the quantizer is zero, vanishing or wrong".
 *
 * Ask the target for dx = d/dx Σ fq(x)·g with a seeded upstream gradient g, and compare it
 * with what a straight-through estimator gives: g·1[x inside the format's representable
 * range] (the reference's clipped STE). Fail on NaN, on a cosine below 0.9, or on a
 * magnitude ratio outside [0.5, 2]. `tf.round` without a custom gradient gives exactly 0.
 */
import { cosine, countNonFinite } from '../src/stats.js';
import { numberThreshold, rangeThreshold } from '../src/thresholds.js';
import { Rng } from '../src/rng.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { Target } from '../src/targets/types.js';
import type { Probe, ProbeContext, ProbeOutcome } from './types.js';
import { activationNormal, weightNormal, type ProbeInput } from './inputs.js';
import { cell, formatNotImplemented, isOutside, referenceSteMask, samplesAt, skippedOutcome, statistic, topIndices } from './common.js';

export interface SteMeasurement {
  input: string;
  cosine: number;
  /** ‖dx‖ / ‖g·mask‖ */
  magnitudeRatio: number;
  nonFinite: number;
  /** Share of x the reference STE passes (1 = all in range). */
  inRange: number;
}

export interface SteJudgement {
  verdict: 'pass' | 'fail';
  worstCosine: number;
  worstMagnitude: number;
  worstInput: string;
  failedOn: 'non-finite' | 'cosine' | 'magnitude' | null;
  nonFinite: number;
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

export function judgeBrokenSte(ms: readonly SteMeasurement[], minCosine: number, magnitude: readonly [number, number]): SteJudgement {
  let worstCosine = 1;
  let worstMagnitude = 1;
  let worstInput = ms[0]?.input ?? '';
  let nonFinite = 0;
  let failedOn: SteJudgement['failedOn'] = null;
  for (const m of ms) {
    nonFinite += m.nonFinite;
    if (m.nonFinite > 0 && failedOn === null) {
      failedOn = 'non-finite';
      worstInput = m.input;
    }
    if (!(m.cosine >= worstCosine)) {
      worstCosine = m.cosine;
      if (failedOn === null) worstInput = m.input;
    }
    if (Math.abs(Math.log(m.magnitudeRatio)) > Math.abs(Math.log(worstMagnitude)) || Number.isNaN(m.magnitudeRatio)) worstMagnitude = m.magnitudeRatio;
  }
  if (failedOn === null && !(worstCosine >= minCosine)) failedOn = 'cosine';
  if (failedOn === null && isOutside(worstMagnitude, magnitude)) {
    failedOn = 'magnitude';
    worstInput = ms.find((m) => m.magnitudeRatio === worstMagnitude)?.input ?? worstInput;
  }
  return { verdict: failedOn ? 'fail' : 'pass', worstCosine, worstMagnitude, worstInput, failedOn, nonFinite };
}

async function run(target: Target, spec: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome> {
  const notImplemented = formatNotImplemented(target, spec, 'gradient cosine vs STE');
  if (notImplemented) return notImplemented;
  if (!target.gradient || !target.capabilities.has('gradient')) {
    return skippedOutcome('gradient cosine vs STE', `target ${target.spec} exposes no gradient: H3 cannot be tested on it`);
  }
  const minCosine = numberThreshold(ctx.thresholds, 'broken-ste.minCosine');
  const magnitude = rangeThreshold(ctx.thresholds, 'broken-ste.magnitudeRatio');
  const measured: SteMeasurement[] = [];
  const seen = new Map<string, { input: ProbeInput; dx: Float32Array; expected: Float32Array }>();
  for (const input of [weightNormal(ctx.seed), activationNormal(ctx.seed)]) {
    const g = new Rng(ctx.seed).fork(`upstream-gradient:${input.name}`).normalArray(input.x.length, 1);
    const mask = referenceSteMask(spec, input);
    const expected = new Float32Array(g.length);
    let inRange = 0;
    for (let i = 0; i < g.length; i++) {
      const pass = mask ? mask[i]! : 1;
      expected[i] = pass ? g[i]! : 0;
      inRange += pass ? 1 : 0;
    }
    if (norm(expected) === 0) continue; // every x outside the range: nothing to compare on this input
    const dx = await target.gradient(spec.name, input.x, input.shape, g);
    seen.set(input.name, { input, dx, expected });
    measured.push({
      input: input.name,
      cosine: cosine(dx, expected),
      magnitudeRatio: norm(dx) / norm(expected),
      nonFinite: countNonFinite(dx),
      inRange: inRange / g.length,
    });
  }
  if (measured.length === 0) {
    return skippedOutcome('gradient cosine vs STE', `format ${spec.name}: every probe input lies outside the representable range, the STE passes nothing to compare`);
  }
  const j = judgeBrokenSte(measured, minCosine, magnitude);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic:
      j.failedOn === 'magnitude'
        ? statistic('gradient magnitude / STE magnitude', j.worstMagnitude, [magnitude[0], magnitude[1]], 'outside')
        : j.failedOn === 'non-finite'
          ? statistic('non-finite gradient entries', j.nonFinite, 0, '>')
          : statistic('gradient cosine vs STE', j.worstCosine, minCosine, '<'),
    evidence: {
      measurements: { worstCosine: cell(j.worstCosine), worstMagnitudeRatio: cell(j.worstMagnitude), nonFinite: j.nonFinite },
      tables: [
        {
          title: 'd/dx Σ fq(x)·g against g·1[x in range]',
          headings: ['input', 'cosine', '‖dx‖/‖STE‖', 'NaN/Inf', 'in range'],
          rows: measured.map((m) => [m.input, cell(m.cosine), cell(m.magnitudeRatio), m.nonFinite, cell(m.inRange)]),
        },
      ],
    },
  };
  if (j.verdict === 'fail') {
    const w = seen.get(j.worstInput)!;
    const idx = topIndices((i) => Math.abs(w.dx[i]! - w.expected[i]!) || (Number.isNaN(w.dx[i]!) ? Number.MAX_VALUE : 0), w.dx.length);
    const what =
      j.failedOn === 'magnitude'
        ? `gradient magnitude is ${cell(j.worstMagnitude)}× the STE's (allowed ${magnitude[0]}–${magnitude[1]})`
        : j.failedOn === 'non-finite'
          ? `${j.nonFinite} NaN/Inf gradient entries`
          : j.worstCosine === 0
            ? 'the gradient is zero (cosine 0 with the STE)'
            : `gradient cosine with the STE is ${cell(j.worstCosine)} (needs ≥ ${minCosine})`;
    outcome.witness = {
      summary: `${spec.name} on ${j.worstInput}: ${what}; samples: x, dx, expected STE gradient g·1[x in range]`,
      samples: samplesAt(idx, w.input.x, w.dx, w.expected),
      repro: ctx.reproCommand('broken-ste', spec.name),
    };
  }
  return outcome;
}

export const brokenSte: Probe = {
  id: 'broken-ste',
  hypothesis: 'H3',
  title: 'the gradient through the quantizer is a straight-through estimator',
  claim: 'the gradient through the quantizer is zero, vanishing or wrong (broken STE)',
  fix: 'Wrap the rounding in a custom gradient that passes `dy` through inside the representable range and zeroes it outside — tfjs: `tf.customGrad((x, save) => ({ value: fq(x), gradFunc: (dy) => dy.mul(inRange(x)) }))`; PyTorch: `x + (fq(x) - x).detach()`.',
  requires: ['gradient'],
  run,
};
