/**
 * missing-dequant — H1: "the output stays in the integer/code domain".
 *
 * A quantizer that forgets to multiply by its scale returns codes (int8: −127…127) or
 * block-relative elements (nf4, mx: values in the element range) whatever the input's
 * magnitude. Feed the same tensor at overall scales 1e-3, 1 and 1e3 and measure
 * rms(fq(x))/rms(x), relative to the reference codec's ratio on the same input (a format
 * that saturates or flushes legitimately moves the ratio). Fail when that relative ratio
 * leaves [0.5, 2] while the outputs look like codes: integer-valued at every scale, or an
 * output rms that barely moves while the input spans six decades.
 */
import { countNonFinite, integerFraction, rms } from '../src/stats.js';
import { numberThreshold, rangeThreshold } from '../src/thresholds.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { ForwardProbe, Observation, ProbeContext, ProbeOutcome } from './types.js';
import { OVERALL_SCALES, activationNormal, formatScale, scaled, weightNormal, type ProbeInput } from './inputs.js';
import { answered, cell, forwardRun, isOutside, nonFiniteOutcome, samplesAt, statistic, topIndices, transferPlot } from './common.js';
import { fmt } from '../src/onnx/lint.js';
import { round4, siteMeasurements, siteWitness, storedMeasurements, type SiteArtifact, type SiteContext, type SiteFindings } from './site.js';

const STAT = 'rms(fq(x))/rms(x) relative to reference';

export interface ScalePoint {
  scale: number;
  rmsX: number;
  rmsTarget: number;
  /** undefined: no reference codec. */
  rmsReference: number | undefined;
  integerFractionTarget: number;
  integerFractionReference: number | undefined;
}

export interface DequantSeries {
  input: string;
  points: ScalePoint[];
}

export interface DequantThresholds {
  rmsRatio: readonly [number, number];
  integerFraction: number;
  maxRmsSpread: number;
}

export interface DequantJudgement {
  verdict: 'pass' | 'fail';
  /** The relative ratio furthest from 1 (in log terms) over all series and scales. */
  worstRatio: number;
  worstInput: string;
  worstScale: number;
  integerValued: boolean;
  scaleIndependent: boolean;
}

/** Target rms ratio divided by the reference's (1 = behaves like the reference). */
export function relativeRatio(p: ScalePoint): number {
  const t = p.rmsX === 0 ? 0 : p.rmsTarget / p.rmsX;
  if (p.rmsReference === undefined) return t;
  const r = p.rmsX === 0 ? 0 : p.rmsReference / p.rmsX;
  if (r === 0) return t === 0 ? 1 : Number.POSITIVE_INFINITY;
  return t / r;
}

function spread(values: number[]): number {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min > 0 ? max / min : Number.POSITIVE_INFINITY;
}

/** Outputs that look like codes: integer at every scale (and the reference's are not), or rms independent of the input's scale. */
function codeDomainSigns(s: DequantSeries, t: DequantThresholds): { integerValued: boolean; scaleIndependent: boolean } {
  const everyScaleInteger = (f: (p: ScalePoint) => number | undefined) =>
    s.points.every((p) => (f(p) ?? 0) >= t.integerFraction);
  const integerValued =
    everyScaleInteger((p) => p.integerFractionTarget) && !everyScaleInteger((p) => p.integerFractionReference);
  const refIndependent = s.points.every((p) => p.rmsReference !== undefined) && spread(s.points.map((p) => p.rmsReference!)) < t.maxRmsSpread;
  const scaleIndependent = spread(s.points.map((p) => p.rmsTarget)) < t.maxRmsSpread && !refIndependent;
  return { integerValued, scaleIndependent };
}

export function judgeMissingDequant(series: readonly DequantSeries[], t: DequantThresholds): DequantJudgement {
  let worst = { ratio: 1, input: series[0]?.input ?? '', scale: 1, badness: -1 };
  let fail = false;
  let integerValued = false;
  let scaleIndependent = false;
  for (const s of series) {
    const signs = codeDomainSigns(s, t);
    integerValued ||= signs.integerValued;
    scaleIndependent ||= signs.scaleIndependent;
    for (const p of s.points) {
      const ratio = relativeRatio(p);
      const badness = ratio === 0 || !Number.isFinite(ratio) ? Number.POSITIVE_INFINITY : Math.abs(Math.log(ratio));
      if (badness > worst.badness) worst = { ratio, input: s.input, scale: p.scale, badness };
      if ((signs.integerValued || signs.scaleIndependent) && isOutside(ratio, t.rmsRatio)) fail = true;
    }
  }
  return { verdict: fail ? 'fail' : 'pass', worstRatio: worst.ratio, worstInput: worst.input, worstScale: worst.scale, integerValued, scaleIndependent };
}

function inputs(seed: number): ProbeInput[] {
  return [activationNormal(seed), weightNormal(seed)].flatMap((base) => OVERALL_SCALES.map((s) => scaled(base, s)));
}

function seriesOf(observations: readonly Observation[]): DequantSeries[] {
  const byBase = new Map<string, ScalePoint[]>();
  for (const { input, y, ref } of observations) {
    const points = byBase.get(input.base ?? input.name) ?? [];
    points.push({
      scale: input.overallScale ?? 1,
      rmsX: rms(input.x),
      rmsTarget: rms(y),
      rmsReference: ref ? rms(ref) : undefined,
      integerFractionTarget: integerFraction(y),
      integerFractionReference: ref ? integerFraction(ref) : undefined,
    });
    byBase.set(input.base ?? input.name, points);
  }
  return [...byBase].map(([input, points]) => ({ input, points }));
}

function judge(spec: FormatSpec, all: readonly Observation[], ctx: ProbeContext): ProbeOutcome {
  const { usable: observations, notes: raised } = answered(all);
  const t: DequantThresholds = {
    rmsRatio: rangeThreshold(ctx.thresholds, 'missing-dequant.rmsRatio'),
    integerFraction: numberThreshold(ctx.thresholds, 'missing-dequant.integerFraction'),
    maxRmsSpread: numberThreshold(ctx.thresholds, 'missing-dequant.maxRmsSpread'),
  };
  const broken = observations.find((o) => countNonFinite(o.y) > countNonFinite(o.input.x));
  if (broken) return nonFiniteOutcome(STAT, spec, broken);
  const series = seriesOf(observations);
  const j = judgeMissingDequant(series, t);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic: statistic(STAT, j.worstRatio, [t.rmsRatio[0], t.rmsRatio[1]], 'outside'),
    evidence: {
      measurements: {
        worstRatio: cell(j.worstRatio),
        worstInput: `${j.worstInput}×${formatScale(j.worstScale)}`,
        integerValuedAtEveryScale: j.integerValued,
        scaleIndependentRms: j.scaleIndependent,
      },
      tables: [
        {
          title: 'rms(fq(x))/rms(x) at each overall input scale',
          headings: ['input', 'scale', 'target', 'reference', 'target/reference', 'integer share (target)'],
          rows: series.flatMap((s) =>
            s.points.map((p) => [
              s.input,
              formatScale(p.scale),
              cell(p.rmsTarget / p.rmsX),
              cell(p.rmsReference === undefined ? undefined : p.rmsReference / p.rmsX),
              cell(relativeRatio(p)),
              cell(p.integerFractionTarget),
            ]),
          ),
        },
      ],
    },
  };
  if (raised.length > 0) outcome.evidence.notes = [...(outcome.evidence.notes ?? []), ...raised];
  if (j.verdict === 'fail') {
    const w = observations.find((o) => (o.input.base ?? o.input.name) === j.worstInput && (o.input.overallScale ?? 1) === j.worstScale)!;
    const idx = topIndices((i) => Math.abs(w.y[i]! - (w.ref ? w.ref[i]! : w.input.x[i]!)), w.input.x.length);
    const sign = j.integerValued ? 'integer-valued at every scale' : 'the same rms at every input scale';
    outcome.witness = {
      summary: `${spec.name}: outputs are ${sign} (codes, not values); rms(fq(x))/rms(x) is ${cell(j.worstRatio)}× the reference's on ${j.worstInput}×${formatScale(j.worstScale)}`,
      samples: samplesAt(idx, w.input.x, w.y, w.ref),
      plot: transferPlot(w, `${spec.name} on ${j.worstInput}×${formatScale(j.worstScale)}`),
      repro: ctx.reproCommand('missing-dequant', spec.name),
    };
  }
  return outcome;
}

/**
 * H1 at a site of a model (probes/site.ts): the graph lets float maths read the codes — a tensor computed from the
 * QuantizeLinear's output reaches a float op without a DequantizeLinear. The gatherer finds the paths (and runs
 * order-only readers such as ArgMax on the dequantized codes too: same indices, no leak); the evidence is the leaked
 * tensor's rms against the site's input (≈ 1/scale when codes leak, ≈ 1 for values) and its integer-valued share.
 */
function judgeMeasured(f: SiteFindings, ctx: SiteContext): ProbeOutcome {
  const leaks = f.leaks;
  const measurements = {
    ...siteMeasurements(f),
    leaks: leaks.length,
    rmsRatio: leaks[0]?.rmsRatio ?? f.stats.rmsRatio,
    integerFraction: leaks[0]?.integerFraction ?? null,
  };
  const stat = statistic(SITE_STAT, leaks.length, 0, '>');
  if (leaks.length === 0) {
    const notes = [
      ...(f.site.kind === 'qdq' && f.site.dequantize.length === 0 ? ['the codes are read only by integer kernels (QLinear*, MatMulInteger, …): no DequantizeLinear needed'] : []),
      ...(f.orderChecks ?? []).map((c) => `${c.opType} ${c.node} reads the codes: run on the dequantized codes it gives the same ${c.compared} indices (order-preserving, not a leak)`),
    ];
    return { verdict: 'pass', statistic: stat, evidence: { measurements, ...(notes.length > 0 ? { notes } : {}) } };
  }
  const l = leaks[0]!;
  const summary =
    `${f.site.name}: the ${f.site.codeType?.name ?? ''} codes reach ${l.consumers.join(', ')} through ${l.opType} ${l.node} without DequantizeLinear; ` +
    `rms(${l.tensor}) / rms(${f.site.input}) = ${fmt(l.rmsRatio)} (a dequantized tensor has ≈ 1), ${fmt(l.integerFraction === null ? null : l.integerFraction * 100)} % integer-valued`;
  return {
    verdict: 'fail',
    statistic: stat,
    evidence: {
      measurements,
      tables: [{ title: `${f.site.name}: codes leaking into float maths`, headings: ['via', 'tensor', 'read by', 'rms ratio', 'integer share'], rows: leaks.map((x) => [`${x.opType} ${x.node}`, x.tensor, x.consumers.join(', '), fmt(x.rmsRatio), x.integerFraction === null ? null : round4(x.integerFraction)]) }],
    },
    witness: siteWitness(f, ctx, 'missing-dequant', summary),
  };
}

const SITE_STAT = 'float ops reading codes without DequantizeLinear';

/**
 * A site's H1: where the graph is measured (a QDQ site), its leaks; a DequantizeLinear of stored codes passes by
 * construction; other stored forms (their codes are read by the runtime's own kernel) and QOperator activations are
 * not H1's question.
 */
function judgeSite(f: SiteArtifact, ctx: SiteContext): ProbeOutcome | undefined {
  if (f.artifact === 'measured') return judgeMeasured(f, ctx);
  if (f.artifact === 'stored-codes' && f.site.form === 'dq-weight') {
    return { verdict: 'pass', statistic: statistic(SITE_STAT, 0, 0, '>'), evidence: { measurements: storedMeasurements(f), notes: ['stored codes read by DequantizeLinear'] } };
  }
  return undefined;
}

export const missingDequant: ForwardProbe = {
  id: 'missing-dequant',
  hypothesis: 'H1',
  title: 'the output is dequantized (values, not codes)',
  claim: 'the output stays in the integer/code domain (never dequantized)',
  fix: 'Dequantize after rounding: return `(q - zeroPoint) * scale`, not `q`. The fake-quant output must be in the units of its input.',
  requires: ['forward'],
  inputs,
  judge,
  site: judgeSite,
  run: forwardRun({ inputs, judge }, STAT),
};
