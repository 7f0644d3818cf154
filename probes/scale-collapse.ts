/**
 * scale-collapse — H2: "the scale/zero-point init collapses values (all to zero, to one
 * level, or loses the sign)".
 *
 * On weight-like tensors (N(0, 0.02), U(±1/√fan_in)) measure the zero fraction, the sign-loss
 * fraction and the effective bits (entropy of the output values), and compare each with
 * the reference codec of the same format on the same tensor: a 3-bit format legitimately
 * zeroes many small weights, a correct int8 does not. Only formats without a reference
 * codec are held to an absolute zero-fraction limit.
 */
import { distinctCount, signLossFraction, zeroFraction } from '../src/stats.js';
import { numberThreshold } from '../src/thresholds.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { Statistic } from '../src/report/types.js';
import type { Target } from '../src/targets/types.js';
import type { Probe, ProbeContext, ProbeOutcome } from './types.js';
import { weightInputs, type ProbeInput } from './inputs.js';
import { blockEntropyBits, cell, formatNotImplemented, referenceForward, samplesAt, scaleBlockLength, statistic, topIndices } from './common.js';

export interface CollapseMeasurement {
  input: string;
  zeroFraction: number;
  signLoss: number;
  bits: number;
  levels: number;
  /** The reference codec on the same input; undefined when there is none. */
  reference?: { zeroFraction: number; signLoss: number; bits: number; levels: number };
}

export interface CollapseThresholds {
  maxZeroExcess: number;
  maxSignLossExcess: number;
  minBitsRatio: number;
  maxZeroFraction: number;
}

export type CollapseSign = 'zero-excess' | 'sign-loss-excess' | 'bits-ratio' | 'zero-fraction';

export interface CollapseJudgement {
  verdict: 'pass' | 'fail';
  /** The sign that came closest to (or furthest past) its threshold. */
  sign: CollapseSign;
  value: number;
  input: string;
  statistic: Statistic;
}

interface Candidate {
  sign: CollapseSign;
  value: number;
  /** value relative to its threshold: > 1 means failed. */
  severity: number;
  input: string;
}

function candidates(m: CollapseMeasurement, t: CollapseThresholds): Candidate[] {
  if (!m.reference) {
    return [{ sign: 'zero-fraction', value: m.zeroFraction, severity: m.zeroFraction / t.maxZeroFraction, input: m.input }];
  }
  const r = m.reference;
  const zeroExcess = m.zeroFraction - r.zeroFraction;
  const signExcess = m.signLoss - r.signLoss;
  const out: Candidate[] = [
    { sign: 'zero-excess', value: zeroExcess, severity: zeroExcess / t.maxZeroExcess, input: m.input },
    { sign: 'sign-loss-excess', value: signExcess, severity: signExcess / t.maxSignLossExcess, input: m.input },
  ];
  if (r.bits > 0) {
    const ratio = m.bits / r.bits;
    // 1 at the threshold; a ratio at or above 1 (as many bits as the reference) gives <= 0
    out.push({ sign: 'bits-ratio', value: ratio, severity: (1 - ratio) / (1 - t.minBitsRatio), input: m.input });
  }
  return out;
}

const STATS: Record<CollapseSign, (t: CollapseThresholds) => Pick<Statistic, 'name' | 'threshold' | 'comparator'>> = {
  'zero-excess': (t) => ({ name: 'zero fraction above reference', threshold: t.maxZeroExcess, comparator: '>' }),
  'sign-loss-excess': (t) => ({ name: 'sign-loss fraction above reference', threshold: t.maxSignLossExcess, comparator: '>' }),
  'bits-ratio': (t) => ({ name: 'effective bits / reference effective bits', threshold: t.minBitsRatio, comparator: '<' }),
  'zero-fraction': (t) => ({ name: 'zero fraction (no reference codec)', threshold: t.maxZeroFraction, comparator: '>' }),
};

/** Pure judgement: the most severe collapse sign over all inputs; fail when it passes its threshold. */
export function judgeScaleCollapse(ms: readonly CollapseMeasurement[], t: CollapseThresholds): CollapseJudgement {
  const all = ms.flatMap((m) => candidates(m, t));
  const worst = all.reduce((a, b) => (b.severity > a.severity ? b : a));
  const s = STATS[worst.sign](t);
  return {
    verdict: worst.severity > 1 ? 'fail' : 'pass',
    sign: worst.sign,
    value: worst.value,
    input: worst.input,
    statistic: statistic(s.name, worst.value, s.threshold, s.comparator),
  };
}

/** Effective bits are measured per scale block (a per-block format's blocks each use their own grid). */
function measure(spec: FormatSpec, input: ProbeInput, y: Float32Array): Omit<CollapseMeasurement, 'input' | 'reference'> {
  const block = scaleBlockLength(spec, input.shape);
  return { zeroFraction: zeroFraction(input.x, y), signLoss: signLossFraction(input.x, y), bits: blockEntropyBits(y, block), levels: distinctCount(y) };
}

async function run(target: Target, spec: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome> {
  const notImplemented = formatNotImplemented(target, spec, 'collapse');
  if (notImplemented) return notImplemented;
  const t: CollapseThresholds = {
    maxZeroExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxZeroExcess'),
    maxSignLossExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxSignLossExcess'),
    minBitsRatio: numberThreshold(ctx.thresholds, 'scale-collapse.minBitsRatio'),
    maxZeroFraction: numberThreshold(ctx.thresholds, 'scale-collapse.maxZeroFraction'),
  };
  const measured: CollapseMeasurement[] = [];
  const seen = new Map<string, { input: ProbeInput; y: Float32Array; ref: Float32Array | undefined }>();
  for (const input of weightInputs(ctx.seed)) {
    const y = await target.forward(spec.name, input.x, input.shape);
    const ref = referenceForward(spec, input);
    seen.set(input.name, { input, y, ref });
    const m: CollapseMeasurement = { input: input.name, ...measure(spec, input, y) };
    if (ref) m.reference = measure(spec, input, ref);
    measured.push(m);
  }
  const j = judgeScaleCollapse(measured, t);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic: j.statistic,
    evidence: {
      measurements: { sign: j.sign, value: cell(j.value), input: j.input },
      tables: [
        {
          title: 'weight-like inputs: target vs reference codec',
          headings: ['input', 'zero fraction', 'ref', 'sign loss', 'ref', 'effective bits per scale block', 'ref', 'levels', 'ref'],
          rows: measured.map((m) => [
            m.input,
            cell(m.zeroFraction), cell(m.reference?.zeroFraction),
            cell(m.signLoss), cell(m.reference?.signLoss),
            cell(m.bits), cell(m.reference?.bits),
            m.levels, m.reference?.levels ?? null,
          ]),
        },
      ],
    },
  };
  if (j.verdict === 'fail') {
    const w = seen.get(j.input)!;
    const { x } = w.input;
    const lostSign = (i: number) => x[i]! < 0 && !(w.y[i]! < 0) && (!w.ref || w.ref[i]! < 0);
    const zeroed = (i: number) => x[i] !== 0 && w.y[i] === 0 && (!w.ref || w.ref[i] !== 0);
    const score = j.sign === 'sign-loss-excess' ? (i: number) => (lostSign(i) ? Math.abs(x[i]!) : 0) : (i: number) => (zeroed(i) ? Math.abs(x[i]!) : Math.abs(w.y[i]! - (w.ref?.[i] ?? x[i]!)));
    const m = measured.find((mm) => mm.input === j.input)!;
    outcome.witness = {
      summary: `${spec.name} on ${j.input}: ${j.statistic.name} = ${cell(j.value)} (threshold ${j.statistic.threshold}); zero fraction ${cell(m.zeroFraction)} vs ${cell(m.reference?.zeroFraction)}, sign loss ${cell(m.signLoss)} vs ${cell(m.reference?.signLoss)}, ${m.levels} levels vs ${m.reference?.levels ?? '?'} in the reference`,
      samples: samplesAt(topIndices(score, x.length), x, w.y, w.ref),
      repro: ctx.reproCommand('scale-collapse', spec.name),
    };
  }
  return outcome;
}

export const scaleCollapse: Probe = {
  id: 'scale-collapse',
  hypothesis: 'H2',
  title: 'the scale keeps values apart (no collapse to zero, one level, or lost sign)',
  requires: ['forward'],
  run,
};
