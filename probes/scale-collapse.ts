/**
 * scale-collapse — H2: "the scale/zero-point init collapses values (all to zero, to one
 * level, or loses the sign)".
 *
 * On weight-like tensors (N(0, 0.02), U(±1/√fan_in)), one-sided activations (post-ReLU,
 * post-softmax, a shifted mean: groups that do not straddle 0, where a zero-point bug shows)
 * and a tensor of all-zero, constant, tiny and normal channels, measure per input:
 *  - zero fraction: nonzero inputs sent to exactly 0;
 *  - sign loss: negative inputs that come back non-negative;
 *  - sign flips: nonzero inputs that come back with the opposite sign, either way;
 *  - mode share: values sitting on their group's most common output level (a collapse to one
 *    level that is not 0, e.g. a saturating zero-point);
 *  - collapsed groups: groups (scale blocks, or channels when the scale is per tensor) whose
 *    outputs carry less than 1 bit while their inputs are not all equal;
 *  - effective bits: the entropy of the output values per scale block;
 * and compare each with the reference codec of the same format on the same tensor: a 3-bit
 * format legitimately zeroes many small weights, a correct int8 does not. Only formats
 * without a reference codec are held to an absolute zero-fraction limit. NaN/Inf outputs make
 * the probe inconclusive (the roundtrip probe judges those).
 */
import { allEqual, countNonFinite, distinctCount, groupLevels, sameValues, signFlipFraction, signLossFraction, zeroFraction } from '../src/stats.js';
import { fakeQuant } from '../src/formats/index.js';
import { roundHalfEven } from '../src/formats/element.js';
import { quantizeInteger } from '../src/formats/integer.js';
import { fittedScales } from '../src/formats/grid.js';
import { numberThreshold } from '../src/thresholds.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { Statistic } from '../src/report/types.js';
import type { ForwardProbe, Observation, ProbeContext, ProbeOutcome } from './types.js';
import { groupsMixed, oneSidedInputs, weightInputs, type ProbeInput } from './inputs.js';
import { answered, cell, forwardRun, nonFiniteOutcome, samplesAt, scaleBlockLength, statistic, topIndices, transferPlot } from './common.js';
import { judgeScaleCollapseSite } from './scale-collapse-site.js';

const STAT = 'collapse';

/** What one output tensor does to its input (the target's, or the reference codec's on the same input). */
export interface CollapseSigns {
  zeroFraction: number;
  signLoss: number;
  signFlip: number;
  modeShare: number;
  collapsedGroups: number;
  bits: number;
  levels: number;
}

export interface CollapseMeasurement extends CollapseSigns {
  input: string;
  /** The reference codec on the same input; undefined when there is none. */
  reference?: CollapseSigns;
}

export interface CollapseThresholds {
  maxZeroExcess: number;
  maxSignLossExcess: number;
  maxSignFlipExcess: number;
  maxModeExcess: number;
  maxCollapsedGroupExcess: number;
  minBitsRatio: number;
  maxZeroFraction: number;
}

export type CollapseSign = 'zero-excess' | 'sign-loss-excess' | 'sign-flip-excess' | 'mode-excess' | 'collapsed-groups' | 'bits-ratio' | 'zero-fraction';

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
  const excess = (sign: CollapseSign, value: number, threshold: number): Candidate => ({ sign, value, severity: value / threshold, input: m.input });
  const out: Candidate[] = [
    excess('zero-excess', m.zeroFraction - r.zeroFraction, t.maxZeroExcess),
    excess('sign-loss-excess', m.signLoss - r.signLoss, t.maxSignLossExcess),
    excess('sign-flip-excess', m.signFlip - r.signFlip, t.maxSignFlipExcess),
    excess('mode-excess', m.modeShare - r.modeShare, t.maxModeExcess),
    excess('collapsed-groups', m.collapsedGroups - r.collapsedGroups, t.maxCollapsedGroupExcess),
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
  'sign-flip-excess': (t) => ({ name: 'sign-flip fraction above reference', threshold: t.maxSignFlipExcess, comparator: '>' }),
  'mode-excess': (t) => ({ name: 'share on one level above reference', threshold: t.maxModeExcess, comparator: '>' }),
  'collapsed-groups': (t) => ({ name: 'groups collapsed to one level above reference', threshold: t.maxCollapsedGroupExcess, comparator: '>' }),
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

/** The most common output value of each group (ties: the smallest). */
function groupModes(y: Float32Array, group: number): Float32Array {
  return Float32Array.from(groupLevels(y, group).mode);
}

/**
 * Share of groups (whose inputs are not all equal) that collapsed: their outputs carry less
 * than 1 bit (one level, or nearly every value on one level). A channel 1e5 below the
 * tensor's max that keeps a few subnormals is no more alive than one that keeps none.
 */
function collapsedGroupShare(x: Float32Array, entropy: Float64Array, group: number): number {
  let groups = 0;
  let collapsed = 0;
  for (let g = 0, b = 0; b < x.length; g++, b += group) {
    if (allEqual(x.subarray(b, Math.min(x.length, b + group)))) continue;
    groups++;
    if (entropy[g]! < 1) collapsed++;
  }
  return groups === 0 ? 0 : collapsed / groups;
}

/**
 * The unit a collapse is counted in: the format's scale block when it is shorter than a
 * channel, else a channel (a per-tensor scale that zeroes a whole channel is a collapse too).
 */
function collapseGroupLength(spec: FormatSpec, shape: readonly number[]): number {
  const channel = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : shape[0] ?? 1;
  return Math.min(scaleBlockLength(spec, shape), channel);
}

function signs(spec: FormatSpec, input: ProbeInput, y: Float32Array): CollapseSigns {
  const group = collapseGroupLength(spec, input.shape);
  const block = scaleBlockLength(spec, input.shape);
  const levels = groupLevels(y, group);
  let onMode = 0;
  for (let g = 0; g < levels.modeCount.length; g++) onMode += levels.modeCount[g]!;
  const blockEntropy = block === group ? levels.entropy : groupLevels(y, block).entropy;
  return {
    zeroFraction: zeroFraction(input.x, y),
    signLoss: signLossFraction(input.x, y),
    signFlip: signFlipFraction(input.x, y),
    modeShare: y.length === 0 ? 0 : onMode / y.length,
    collapsedGroups: collapsedGroupShare(input.x, levels.entropy, group),
    bits: blockEntropy.length === 0 ? 0 : blockEntropy.reduce((a, b) => a + b, 0) / blockEntropy.length,
    levels: distinctCount(y),
  };
}

function measureCollapse(spec: FormatSpec, o: Observation): CollapseMeasurement {
  const own = signs(spec, o.input, o.y);
  const m: CollapseMeasurement = { input: o.input.name, ...own };
  // a target that returns exactly the reference's values has exactly its statistics
  if (o.ref) m.reference = sameValues(o.y, o.ref) ? { ...own } : signs(spec, o.input, o.ref);
  return m;
}

/**
 * Where the target collapsed what the reference kept apart: zeroed, sign-flipped, sent to its
 * group's most common level, or clipped at the group's extreme level while the reference goes
 * further. The causal experiments repair exactly these elements (probes/causes.ts).
 */
export function collapsedElements(spec: FormatSpec, o: Observation): Uint8Array {
  const { x } = o.input;
  const mask = new Uint8Array(x.length);
  if (!o.ref) return mask;
  const group = collapseGroupLength(spec, o.input.shape);
  const modes = groupModes(o.y, group);
  const tops: number[] = [];
  const bottoms: number[] = [];
  for (let b = 0; b < o.y.length; b += group) {
    let top = -Infinity;
    let bottom = Infinity;
    for (let i = b; i < Math.min(o.y.length, b + group); i++) {
      if (!Number.isFinite(o.y[i]!)) continue;
      top = Math.max(top, o.y[i]!);
      bottom = Math.min(bottom, o.y[i]!);
    }
    tops.push(top);
    bottoms.push(bottom);
  }
  for (let i = 0; i < x.length; i++) {
    const y = o.y[i]!;
    const r = o.ref[i]!;
    if (y === r) continue;
    const g = Math.floor(i / group);
    const clipped = (y === tops[g] || y === bottoms[g]) && Math.abs(r) > Math.abs(y);
    if ((y === 0 && r !== 0) || y * r < 0 || (x[i]! < 0 && !(y < 0) && r < 0) || y === modes[g] || clipped) mask[i] = 1;
  }
  return mask;
}

/**
 * The least-squares scale for outputs that are codes times s0: s = Σ y·k / Σ k² with k the code
 * of each output at s0. A scale read off one gap between float32 outputs is off by ~1e-6
 * relative, which is a whole ulp at code 255; the fit over every output is not.
 */
function refinedScale(spec: FormatSpec, unscaled: FormatSpec, y: Float32Array, lo: number, hi: number, s0: number): number {
  const t = new Float32Array(hi - lo);
  for (let i = lo; i < hi; i++) t[i - lo] = y[i]! / s0;
  const k = spec.family === 'integer' ? t.map((v) => Math.round(v)) : fakeQuant(unscaled, t);
  let yk = 0;
  let kk = 0;
  for (let i = lo; i < hi; i++) {
    const c = k[i - lo]!;
    if (!Number.isFinite(y[i]!) || !Number.isFinite(c)) continue;
    yk += y[i]! * c;
    kk += c * c;
  }
  return kk > 0 ? yk / kk : s0;
}

/**
 * 1 where y = s·codec(x/s) on [lo, hi). Integers may carry a zero-point of their own: the
 * most common offset between the output codes and RNE(x/s) is allowed (a zero-point added
 * with the wrong sign shifts every code by 2·zp), and the codes clamp to the range the outputs
 * span (a zero-point shifts it; saturation clamps to it).
 */
function consistentAt(spec: FormatSpec, unscaled: FormatSpec, x: Float32Array, y: Float32Array, lo: number, hi: number, s0: number): Uint8Array {
  const s = refinedScale(spec, unscaled, y, lo, hi, s0);
  const t = new Float32Array(hi - lo);
  for (let i = lo; i < hi; i++) t[i - lo] = x[i]! / s;
  let e: Float32Array;
  if (spec.family === 'integer') {
    let qlo = Infinity;
    let qhi = -Infinity;
    const offsets = new Map<number, number>();
    for (let i = lo; i < hi; i++) {
      if (!Number.isFinite(y[i]!)) continue;
      const q = Math.round(y[i]! / s);
      qlo = Math.min(qlo, q);
      qhi = Math.max(qhi, q);
      const d = q - roundHalfEven(t[i - lo]!);
      offsets.set(d, (offsets.get(d) ?? 0) + 1);
    }
    let offset = 0;
    let most = -1;
    for (const [d, n] of offsets) if (n > most || (n === most && Math.abs(d) < Math.abs(offset))) [offset, most] = [d, n];
    e = t.map((v) => quantizeInteger(v, offset, qlo, qhi));
  } else e = fakeQuant(unscaled, t);
  const m = new Uint8Array(hi - lo);
  for (let i = lo; i < hi; i++) {
    const expected = e[i - lo]! * s;
    if (Math.abs(expected - y[i]!) <= 1e-5 * Math.max(Math.abs(expected), s)) m[i - lo] = 1;
  }
  return m;
}

/**
 * Where the target's output is exactly what the format's codec gives at the target's own
 * scale (read off its outputs per scale group, src/formats/grid.ts): the codec is right and
 * only the scale differs from the reference's. Integers round half to even and clamp to the
 * code range the outputs themselves span (any zero-point); other families use the element
 * codec at scale 1.
 */
export function scaleOnlyElements(spec: FormatSpec, o: Observation): Uint8Array {
  const { x } = o.input;
  const mask = new Uint8Array(x.length);
  const group = scaleBlockLength(spec, o.input.shape);
  const scales = fittedScales(spec, o.y, group);
  const unscaled: FormatSpec = { ...spec, scaling: 'none' };
  for (let g = 0; g < scales.length; g++) {
    const lo = g * group;
    const hi = Math.min(x.length, lo + group);
    // several scales may fit a group with few levels: keep the one under which the codec explains the most values
    let best: Uint8Array | undefined;
    let bestCount = -1;
    for (const s of scales[g]!) {
      const m = consistentAt(spec, unscaled, x, o.y, lo, hi, s);
      const c = m.reduce((a, b) => a + b, 0);
      if (c > bestCount) {
        best = m;
        bestCount = c;
      }
    }
    if (best) mask.set(best, lo);
  }
  return mask;
}

function collapseThresholds(ctx: Pick<ProbeContext, 'thresholds'>): CollapseThresholds {
  return {
    maxZeroExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxZeroExcess'),
    maxSignLossExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxSignLossExcess'),
    maxSignFlipExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxSignFlipExcess'),
    maxModeExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxModeExcess'),
    maxCollapsedGroupExcess: numberThreshold(ctx.thresholds, 'scale-collapse.maxCollapsedGroupExcess'),
    minBitsRatio: numberThreshold(ctx.thresholds, 'scale-collapse.minBitsRatio'),
    maxZeroFraction: numberThreshold(ctx.thresholds, 'scale-collapse.maxZeroFraction'),
  };
}

function inputs(seed: number): ProbeInput[] {
  return [...weightInputs(seed), ...oneSidedInputs(seed), groupsMixed(seed)];
}

function judge(spec: FormatSpec, all: readonly Observation[], ctx: ProbeContext): ProbeOutcome {
  const { usable: observations, notes: raised } = answered(all);
  const t = collapseThresholds(ctx);
  const broken = observations.find((o) => countNonFinite(o.y) > countNonFinite(o.input.x));
  if (broken) return nonFiniteOutcome(STAT, spec, broken);
  const measured = observations.map((o) => measureCollapse(spec, o));
  const j = judgeScaleCollapse(measured, t);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic: j.statistic,
    evidence: {
      measurements: { sign: j.sign, value: cell(j.value), input: j.input },
      tables: [
        {
          title: 'target vs reference codec on the same inputs',
          headings: ['input', 'zero fraction', 'ref', 'sign loss', 'ref', 'sign flips', 'ref', 'on one level', 'ref', 'collapsed groups', 'ref', 'effective bits per scale block', 'ref', 'levels', 'ref'],
          rows: measured.map((m) => [
            m.input,
            cell(m.zeroFraction), cell(m.reference?.zeroFraction),
            cell(m.signLoss), cell(m.reference?.signLoss),
            cell(m.signFlip), cell(m.reference?.signFlip),
            cell(m.modeShare), cell(m.reference?.modeShare),
            cell(m.collapsedGroups), cell(m.reference?.collapsedGroups),
            cell(m.bits), cell(m.reference?.bits),
            m.levels, m.reference?.levels ?? null,
          ]),
        },
      ],
    },
  };
  if (raised.length > 0) outcome.evidence.notes = [...(outcome.evidence.notes ?? []), ...raised];
  if (j.verdict === 'fail') {
    const w = observations.find((o) => o.input.name === j.input)!;
    const m = measured.find((mm) => mm.input === j.input)!;
    const { x } = w.input;
    const collapsed = collapsedElements(spec, w);
    const flipped = (i: number) => x[i]! * w.y[i]! < 0;
    const score =
      j.sign === 'sign-flip-excess' ? (i: number) => (flipped(i) ? Math.abs(x[i]!) : 0)
      : w.ref ? (i: number) => (collapsed[i] ? Math.abs(x[i]! - w.y[i]!) + 1e-30 : 0)
      : (i: number) => (x[i] !== 0 && w.y[i] === 0 ? Math.abs(x[i]!) : 0);
    outcome.witness = {
      summary: `${spec.name} on ${j.input}: ${j.statistic.name} = ${cell(j.value)} (threshold ${j.statistic.threshold}); zero fraction ${cell(m.zeroFraction)} vs ${cell(m.reference?.zeroFraction)}, sign flips ${cell(m.signFlip)} vs ${cell(m.reference?.signFlip)}, ${cell(m.modeShare)} on one level vs ${cell(m.reference?.modeShare)}, ${m.levels} levels vs ${m.reference?.levels ?? '?'} in the reference`,
      samples: samplesAt(topIndices(score, x.length), x, w.y, w.ref),
      plot: transferPlot(w, `${spec.name} on ${j.input}`),
      repro: ctx.reproCommand('scale-collapse', spec.name),
    };
  }
  return outcome;
}

export const scaleCollapse: ForwardProbe = {
  id: 'scale-collapse',
  hypothesis: 'H2',
  title: 'the scale keeps values apart (no collapse to zero, one level, or lost sign)',
  claim: 'the scale/zero-point initialisation collapses values (to zero, one level, or no sign)',
  fix: 'Initialise the scale from the data (absmax / qmax per tensor, channel or block), never from a constant; keep it > 0 (clamp to an epsilon); use zero-point 0 with a symmetric scale for signed data.',
  requires: ['forward'],
  inputs,
  judge,
  site: judgeScaleCollapseSite,
  run: forwardRun({ inputs, judge }, STAT),
};
