/**
 * roundtrip — "dequant(quant(x)) is wrong for this format".
 *
 * Runs the target's fake-quant on seeded weight-, activation- and one-sided tensors and on
 * empty, flat and tiny groups, and compares its SQNR with the reference codec's SQNR on the
 * very same tensors: a coarse format has a low SQNR in both, a wrong implementation falls
 * below the reference. NaN/Inf out of a finite input is always a failure (an all-zero
 * tensor is where a scale computed without a floor divides 0 by 0). The exact-match rate vs
 * the reference is evidence (an implementation may legitimately round ties differently).
 */
import { mismatchFraction, sqnrDb } from '../src/stats.js';
import { numberThreshold } from '../src/thresholds.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { ForwardProbe, Observation, ProbeContext, ProbeOutcome } from './types.js';
import { activationNormal, baseInputs, groupsMixed, oneSidedInputs, scaled, weightZeroInit, type ProbeInput } from './inputs.js';
import { answered, cell, forwardRun, samplesAt, statistic, topIndices, transferPlot } from './common.js';
import { fmt } from '../src/onnx/lint.js';
import { FOLDED_NOTE, siteMeasurements, siteWitness, storedMeasurements, type SiteArtifact, type SiteContext, type SiteFindings } from './site.js';

/** float32 fake-quant cannot be judged beyond this; caps +Inf (exact) so deficits stay finite. */
export const SQNR_CAP_DB = 120;
const STAT = 'SQNR deficit vs reference';

export interface RoundtripMeasurement {
  input: string;
  sqnrTarget: number;
  /** undefined when the format has no reference codec. */
  sqnrReference: number | undefined;
  /** Non-finite outputs where the input (and the reference) are finite. */
  nonFinite: number;
  exactMatch: number | undefined;
}

export interface RoundtripJudgement {
  verdict: 'pass' | 'fail';
  /** Worst (largest) reference − target SQNR over the inputs, dB. */
  worstDeficitDb: number;
  worstInput: string;
  nonFinite: number;
}

/** Pure judgement: fail on any NaN/Inf from finite input, or SQNR more than maxDeficitDb below the reference. */
export function judgeRoundtrip(ms: readonly RoundtripMeasurement[], maxDeficitDb: number): RoundtripJudgement {
  let worstDeficitDb = Number.NEGATIVE_INFINITY;
  let worstInput = ms[0]?.input ?? '';
  let nonFinite = 0;
  for (const m of ms) {
    nonFinite += m.nonFinite;
    if (m.sqnrReference === undefined) continue;
    const t = Number.isNaN(m.sqnrTarget) ? Number.NEGATIVE_INFINITY : Math.min(m.sqnrTarget, SQNR_CAP_DB);
    const deficit = Math.min(m.sqnrReference, SQNR_CAP_DB) - t;
    if (deficit > worstDeficitDb) {
      worstDeficitDb = deficit;
      worstInput = m.input;
    }
  }
  const fail = nonFinite > 0 || worstDeficitDb > maxDeficitDb;
  return { verdict: fail ? 'fail' : 'pass', worstDeficitDb, worstInput, nonFinite };
}

/** Every input where a codec can go wrong: the base four, two overall scales, one-sided activations, and empty/flat/tiny groups. */
function roundtripInputs(seed: number): ProbeInput[] {
  const a = activationNormal(seed);
  return [...baseInputs(seed), scaled(a, 1e-3), scaled(a, 1e3), ...oneSidedInputs(seed), weightZeroInit(seed), groupsMixed(seed)];
}

function nonFiniteFromFinite(x: Float32Array, y: Float32Array, ref: Float32Array | undefined): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i]!) && !Number.isFinite(y[i]!) && (ref === undefined || Number.isFinite(ref[i]!))) n++;
  }
  return n;
}

/**
 * Inputs judged on their SQNR: not the all-zero tensor (no signal), not those whose SQNR a few
 * values rule (`sqnrMeaningful: false`: the mixed-group tensor's eight constants, softmax
 * peaks), where a legitimate scale convention moves it by dB by luck. On those only NaN/Inf
 * outputs are judged.
 */
function sqnrJudged(input: ProbeInput): boolean {
  return input.sqnrMeaningful !== false && input.x.some((v) => v !== 0);
}

function measureRoundtrip(o: Observation): RoundtripMeasurement {
  const { input, y, ref } = o;
  const signal = sqnrJudged(input);
  const refUsable = ref !== undefined && signal && ref.every((v, i) => Number.isFinite(v) || !Number.isFinite(input.x[i]!));
  return {
    input: input.name,
    sqnrTarget: signal ? sqnrDb(input.x, y) : Number.NaN,
    sqnrReference: refUsable ? sqnrDb(input.x, ref) : undefined,
    nonFinite: nonFiniteFromFinite(input.x, y, ref),
    exactMatch: ref ? 1 - mismatchFraction(y, ref) : undefined,
  };
}

function judge(spec: FormatSpec, all: readonly Observation[], ctx: ProbeContext): ProbeOutcome {
  const maxDeficit = numberThreshold(ctx.thresholds, 'roundtrip.maxSqnrDeficitDb');
  const { usable: observations, notes: raised } = answered(all);
  const measured = observations.map(measureRoundtrip);
  const j = judgeRoundtrip(measured, maxDeficit);
  const hasReference = measured.some((m) => m.sqnrReference !== undefined);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic:
      hasReference && j.nonFinite === 0
        ? statistic(STAT, j.worstDeficitDb, maxDeficit, '>', 'dB')
        : statistic('non-finite outputs from finite inputs', j.nonFinite, 0, '>'),
    evidence: {
      measurements: {
        worstDeficitDb: cell(j.worstDeficitDb),
        worstInput: j.worstInput,
        nonFinite: j.nonFinite,
        referenceCodec: hasReference,
        minExactMatch: hasReference ? cell(Math.min(...measured.map((m) => m.exactMatch ?? 1))) : null,
      },
      tables: [
        {
          title: 'SQNR of the target and of the reference codec on the same inputs',
          headings: ['input', 'SQNR target (dB)', 'SQNR reference (dB)', 'exact match vs reference', 'NaN/Inf'],
          rows: measured.map((m) => [m.input, cell(m.sqnrTarget), cell(m.sqnrReference), cell(m.exactMatch), m.nonFinite]),
        },
      ],
      notes: [...(hasReference ? [] : [`format ${spec.name} has no reference codec: only NaN/Inf on finite input is judged`]), ...raised],
    },
  };
  if (outcome.evidence.notes!.length === 0) delete outcome.evidence.notes;
  if (j.verdict === 'pass' && raised.length > 0) {
    // every answered input is right, but the target could not quantize an edge input at all: not a pass
    outcome.verdict = 'inconclusive';
    outcome.reason = `${raised.join('; ')} — a tensor like it (all zeros: a zero-initialised weight) would stop training`;
  }
  if (j.verdict === 'fail') {
    const worstName = j.nonFinite > 0 ? measured.find((m) => m.nonFinite > 0)!.input : j.worstInput;
    const worst = observations.find((o) => o.input.name === worstName)!;
    const { x } = worst.input;
    const { y, ref } = worst;
    const idx = topIndices((i) => (Number.isFinite(y[i]!) ? Math.abs(y[i]! - (ref ? ref[i]! : x[i]!)) : Number.MAX_VALUE), x.length);
    outcome.witness = {
      summary:
        j.nonFinite > 0
          ? `${spec.name}: ${j.nonFinite} NaN/Inf outputs from finite inputs (first on ${worstName})`
          : `${spec.name}: SQNR on ${j.worstInput} is ${cell(j.worstDeficitDb)} dB below the reference codec (allowed ${maxDeficit} dB)`,
      samples: samplesAt(idx, x, y, ref),
      plot: transferPlot(worst, `${spec.name} on ${worstName}`),
      repro: ctx.reproCommand('roundtrip', spec.name),
    };
  }
  return outcome;
}

const inputs = roundtripInputs;

/** A site's roundtrip: judged where the float tensor is known; stored codes have none (skipped); a QOperator activation is not run. */
function judgeSite(f: SiteArtifact, ctx: SiteContext): ProbeOutcome | undefined {
  if (f.artifact === 'measured') return judgeMeasured(f, ctx);
  if (f.artifact === 'reader-lint') return undefined;
  return {
    verdict: 'skipped',
    reason: 'stored codes: no float original to compare with (pass --float-model ORIGINAL.onnx)',
    statistic: { name: STAT, value: null, threshold: null, comparator: '>', unit: 'dB' },
    evidence: { measurements: storedMeasurements(f) },
  };
}

/**
 * The roundtrip at a site of a model (probes/site.ts): DequantizeLinear(QuantizeLinear(x)) against x on the tensor the
 * site really sees (local SQNR), beside the reference quantizer of its code type and granularity on the same tensor,
 * judged by the same pure judgeRoundtrip as a format — with the site's own allowance (`onnx.maxSqnrDeficitDb` for
 * weights; `onnx.maxActivationSqnrDeficitDb` for activations, whose seeded inputs are not the calibration data).
 * Stored codes (no float original) and codes no DequantizeLinear reads are not judged here.
 */
function judgeMeasured(f: SiteFindings, ctx: SiteContext): ProbeOutcome {
  const s = f.stats;
  const maxDeficit = numberThreshold(ctx.thresholds, f.site.inputKind === 'weight' ? 'onnx.maxSqnrDeficitDb' : 'onnx.maxActivationSqnrDeficitDb');
  const measurements = { ...siteMeasurements(f), sqnrDeficitDb: maxDeficit };
  if (s.refSqnrDb === null || f.site.kind !== 'qdq' || f.site.dequantize.length === 0) {
    return {
      verdict: 'skipped',
      reason: f.site.kind === 'dq-only' ? 'stored codes: no float original to compare with' : 'no DequantizeLinear: see missing-dequant',
      statistic: { name: STAT, value: null, threshold: maxDeficit, comparator: '>', unit: 'dB' },
      evidence: { measurements: siteMeasurements(f) },
    };
  }
  const nonFinite = Math.max(0, s.nonFiniteOutput - s.nonFiniteInput);
  if (s.localSqnrDb === null && nonFinite === 0) {
    // A NaN statistic is no evidence either way (e.g. NaN inputs): inconclusive, never a fail.
    return {
      verdict: 'inconclusive',
      reason: `local SQNR is NaN (${s.nonFiniteInput} of ${s.elements} inputs are NaN/Inf, no more outputs than that): no evidence either way`,
      statistic: { name: STAT, value: null, threshold: maxDeficit, comparator: '>', unit: 'dB' },
      evidence: { measurements },
    };
  }
  const j = judgeRoundtrip([{ input: f.site.input, sqnrTarget: s.localSqnrDb ?? Number.NaN, sqnrReference: s.refSqnrDb, nonFinite, exactMatch: undefined }], maxDeficit);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic: j.nonFinite === 0 ? statistic(STAT, j.worstDeficitDb, maxDeficit, '>', 'dB') : statistic('non-finite outputs from finite inputs', j.nonFinite, 0, '>'),
    evidence: {
      measurements,
      notes: [
        `local SQNR compares the site's output with its own input; cumulative SQNR compares it with the float twin (every Q/DQ pair bypassed) at the same tensor, so it also carries upstream error.`,
        ...(f.site.foldedClamp ? [FOLDED_NOTE] : []),
        ...(s.localSqnrDb !== null && !Number.isFinite(s.localSqnrDb) ? ['local SQNR is +Inf: the roundtrip is exact on these inputs'] : []),
        ...(Number.isFinite(s.refSqnrDb) ? [] : [`the reference quantizer is exact on this tensor: both SQNRs are capped at ${SQNR_CAP_DB} dB (float32)`]),
      ],
    },
  };
  if (j.verdict === 'fail') {
    const why = j.nonFinite > 0
      ? `${s.nonFiniteOutput} of ${s.elements} outputs are NaN/Inf on ${s.nonFiniteInput === 0 ? 'finite' : 'partly non-finite'} input`
      : `local SQNR ${fmt(s.localSqnrDb)} dB, ${cell(j.worstDeficitDb)} dB below what a correctly scaled ${f.site.codeType?.name ?? ''} quantizer ${Number.isFinite(s.refSqnrDb) ? `reaches (${fmt(s.refSqnrDb)} dB)` : 'reaches (it reproduces the tensor exactly)'} on the same tensor (allowed ${maxDeficit} dB)`;
    outcome.witness = siteWitness(f, ctx, 'roundtrip', `${f.site.name}: ${why}; cumulative SQNR vs float twin ${fmt(s.cumulativeSqnrDb)} dB`);
  }
  return outcome;
}

export const roundtrip: ForwardProbe = {
  id: 'roundtrip',
  hypothesis: 'codec',
  title: 'dequant(quant(x)) matches the reference codec',
  claim: 'dequant(quant(x)) is wrong for this format',
  fix: 'The codec disagrees with the reference on the same inputs. Check the layout against the spec (bias, subnormals, specials, saturation) and the rounding mode (round half to even); `quant-audit quantize --format F VALUE…` prints code and value per input for a side-by-side check.',
  requires: ['forward'],
  inputs,
  judge,
  site: judgeSite,
  run: forwardRun({ inputs, judge }, STAT),
};
