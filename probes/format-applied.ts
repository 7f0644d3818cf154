/**
 * format-applied — H5: "the named format is not actually applied" (a silent fp32 fallback for
 * an unknown name, another format's grid, the wrong codebook).
 *
 * Signs, on seeded weight- and activation-like tensors, in the order they are judged:
 * - unchanged: the share of x that the format cannot represent (the reference codec changes
 *   them) and that the target returns bit-for-bit unchanged (a silent fp32 fallback);
 * - off the grid: the share of outputs that are not the named format's values times one
 *   scale per group (src/formats/grid.ts; the scale is searched, so any scale convention
 *   passes). When they are off it, the registry formats whose grid they do fit are named:
 *   "outputs of nf4 lie on fp4-e2m1's grid, not nf4's";
 * - another format's grid: the outputs fit a coarser registry format's grid that the
 *   reference's outputs for the same input do not (e5m2 applied under the name e4m3);
 * - distinct output values per scale block against the format's code count: a 4-bit format
 *   cannot produce 40 values in one block.
 */
import { BUILTIN_FORMATS, codeCount, fakeQuant } from '../src/formats/index.js';
import { gridShare, gridSize, gridTestable } from '../src/formats/grid.js';
import { countNonFinite, distinctCount, sameValues } from '../src/stats.js';
import { numberThreshold } from '../src/thresholds.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { ProbeResult } from '../src/report/types.js';
import type { ForwardProbe, Observation, ProbeContext, ProbeOutcome } from './types.js';
import { baseInputs, type ProbeInput } from './inputs.js';
import { answered, cell, forwardRun, nonFiniteOutcome, samplesAt, scaleBlockLength, statistic, topIndices, transferPlot } from './common.js';

/** Fewer non-representable inputs than this: the unchanged share is not judged on that input. */
const MIN_NON_REPRESENTABLE = 16;
/** The input the "another format's grid" check runs on: the one with the most distinct values. */
const SUBGRID_INPUT = 'activation-normal';
const STAT = 'non-representable x returned unchanged';

export interface AppliedMeasurement {
  input: string;
  /** x the reference changes (undefined: no reference codec). */
  nonRepresentable: number | undefined;
  /** Share of those the target returns unchanged. */
  unchangedFraction: number | undefined;
  /** Share of finite outputs off the named format's grid (undefined: the grid cannot be tested, e.g. fp32, gf24). */
  offGrid: number | undefined;
  /** Largest number of distinct outputs in one scale block. */
  maxDistinctPerBlock: number;
  codes: number;
}

export type AppliedSign = 'unchanged' | 'off-grid' | 'other-grid' | 'distinct';

export interface AppliedJudgement {
  verdict: 'pass' | 'fail';
  failedOn: AppliedSign | null;
  worstUnchanged: number;
  worstOffGrid: number;
  worstDistinctRatio: number;
  input: string;
}

export interface AppliedThresholds {
  maxUnchanged: number;
  maxOffGrid: number;
  maxDistinctOverCodes: number;
}

/**
 * Pure judgement over the per-input measurements; `otherGrid` is the format whose grid the
 * outputs fit while the reference's do not (found by `otherGridOf`), if any.
 */
export function judgeFormatApplied(ms: readonly AppliedMeasurement[], t: AppliedThresholds, otherGrid?: string): AppliedJudgement {
  let worstUnchanged = 0;
  let worstOffGrid = 0;
  let worstDistinctRatio = 0;
  let unchangedInput = ms[0]?.input ?? '';
  let offGridInput = unchangedInput;
  let distinctInput = unchangedInput;
  for (const m of ms) {
    if (m.unchangedFraction !== undefined && (m.nonRepresentable ?? 0) >= MIN_NON_REPRESENTABLE && m.unchangedFraction > worstUnchanged) {
      worstUnchanged = m.unchangedFraction;
      unchangedInput = m.input;
    }
    if (m.offGrid !== undefined && m.offGrid > worstOffGrid) {
      worstOffGrid = m.offGrid;
      offGridInput = m.input;
    }
    const ratio = m.maxDistinctPerBlock / m.codes;
    if (ratio > worstDistinctRatio) {
      worstDistinctRatio = ratio;
      distinctInput = m.input;
    }
  }
  const base = { worstUnchanged, worstOffGrid, worstDistinctRatio };
  if (worstUnchanged > t.maxUnchanged) return { verdict: 'fail', failedOn: 'unchanged', ...base, input: unchangedInput };
  if (worstOffGrid > t.maxOffGrid) return { verdict: 'fail', failedOn: 'off-grid', ...base, input: offGridInput };
  if (otherGrid !== undefined) return { verdict: 'fail', failedOn: 'other-grid', ...base, input: SUBGRID_INPUT };
  if (worstDistinctRatio > t.maxDistinctOverCodes) return { verdict: 'fail', failedOn: 'distinct', ...base, input: distinctInput };
  return { verdict: 'pass', failedOn: null, ...base, input: unchangedInput };
}

export function maxDistinctPerBlock(y: Float32Array, block: number): number {
  let max = 0;
  for (let b = 0; b < y.length; b += block) max = Math.max(max, distinctCount(y.subarray(b, Math.min(y.length, b + block))));
  return max;
}

function unchangedShare(x: Float32Array, y: Float32Array, ref: Float32Array): { nonRepresentable: number; unchanged: number } {
  let nonRepresentable = 0;
  let unchanged = 0;
  for (let i = 0; i < x.length; i++) {
    if (ref[i] === x[i]) continue;
    nonRepresentable++;
    if (y[i] === x[i]) unchanged++;
  }
  return { nonRepresentable, unchanged: nonRepresentable === 0 ? 0 : unchanged / nonRepresentable };
}

/**
 * Share of `y` on `spec`'s grid at the format's own grouping, or at a finer one (a channel, a
 * block of 32) when that fits better — a quantizer with finer scale groups than the registry
 * row (per-channel int8 under the per-tensor row) is more precise, not wrong — and the group
 * length that gave it.
 */
function bestGrid(spec: FormatSpec, y: Float32Array, shape: readonly number[], atLeast = 0): { share: number; group: number } {
  const own = scaleBlockLength(spec, shape);
  let best = { share: gridShare(spec, y, own, atLeast), group: own };
  const channel = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : y.length;
  for (const g of [channel, 32]) {
    if (best.share >= 1 || g >= own || (atLeast > 0 && best.share >= atLeast)) continue;
    const share = gridShare(spec, y, g, atLeast);
    if (share > best.share) best = { share, group: g };
  }
  return best;
}

/** Whether `y` fits `spec`'s grid with at most `maxOffGrid` of it off (at the format's grouping or a finer one). */
function fitsGrid(spec: FormatSpec, y: Float32Array, shape: readonly number[], maxOffGrid: number): boolean {
  return 1 - bestGrid(spec, y, shape, 1 - maxOffGrid).share <= maxOffGrid;
}

/**
 * Registry formats whose grid `y` fits (off-grid share within the threshold): the most specific
 * (fewest values) first, then those scaled like the named format (mxfp8-e5m2 before fp8-e5m2
 * for mxfp8), then by name.
 */
function formatsFitting(named: FormatSpec, candidates: readonly FormatSpec[], y: Float32Array, shape: readonly number[], maxOffGrid: number): FormatSpec[] {
  const unlike = (f: FormatSpec): number => Number(f.scaling !== named.scaling);
  return candidates
    .filter(gridTestable)
    .filter((f) => fitsGrid(f, y, shape, maxOffGrid))
    .sort((a, b) => gridSize(a) - gridSize(b) || unlike(a) - unlike(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The identified format applied the way the named one groups its scales (fp4's grid in nf4's blocks of 64). */
function appliedAs(named: FormatSpec, other: FormatSpec): FormatSpec {
  if (other.family === 'mx' || named.family === 'mx' || named.scaling === 'none' || other.scaling === 'none') return other;
  if (other.family === 'integer' && other.signed !== named.signed) return other;
  return { ...other, scaling: named.scaling, ...(named.blockSize !== undefined ? { blockSize: named.blockSize } : {}) };
}

/** The coarsest format whose grid the target's outputs fit and the reference's outputs do not; undefined when none. */
function otherGridOf(spec: FormatSpec, candidates: readonly FormatSpec[], o: Observation, maxOffGrid: number): FormatSpec | undefined {
  if (!o.ref || !gridTestable(spec) || sameValues(o.y, o.ref)) return undefined; // the reference's own outputs fit every grid they fit
  const coarser = candidates.filter((f) => f.name !== spec.name && gridTestable(f) && gridSize(f) < gridSize(spec));
  for (const f of formatsFitting(spec, coarser, o.y, o.input.shape, maxOffGrid)) {
    if (!fitsGrid(f, o.ref, o.input.shape, maxOffGrid)) return f;
  }
  return undefined;
}

function measure(spec: FormatSpec, o: Observation): AppliedMeasurement {
  const { input, y, ref } = o;
  const share = ref ? unchangedShare(input.x, y, ref) : undefined;
  const grid = gridTestable(spec) ? bestGrid(spec, y, input.shape) : undefined;
  return {
    input: input.name,
    nonRepresentable: share?.nonRepresentable,
    unchangedFraction: share?.unchanged,
    offGrid: grid ? 1 - grid.share : undefined,
    // counted in the groups the outputs really have (a channel, when the grid fits per channel)
    maxDistinctPerBlock: maxDistinctPerBlock(y, grid && grid.share >= 1 ? grid.group : scaleBlockLength(spec, input.shape)),
    codes: codeCount(spec),
  };
}

function appliedThresholds(ctx: Pick<ProbeContext, 'thresholds'>): AppliedThresholds {
  return {
    maxUnchanged: numberThreshold(ctx.thresholds, 'format-applied.maxUnchangedFraction'),
    maxOffGrid: numberThreshold(ctx.thresholds, 'format-applied.maxOffGridFraction'),
    maxDistinctOverCodes: numberThreshold(ctx.thresholds, 'format-applied.maxDistinctOverCodes'),
  };
}

/** What the outputs are, in words, for the witness: "fp4-e2m1's grid (also mxfp4)". */
function gridNames(fits: readonly FormatSpec[]): string {
  if (fits.length === 0) return 'no registry format’s grid';
  const size = gridSize(fits[0]!);
  const same = fits.filter((f) => gridSize(f) === size).map((f) => f.name);
  return `${same[0]}'s grid${same.length > 1 ? ` (also ${same.slice(1).join(', ')})` : ''}`;
}

function inputs(seed: number): ProbeInput[] {
  return baseInputs(seed);
}

function judge(spec: FormatSpec, all: readonly Observation[], ctx: ProbeContext): ProbeOutcome {
  const { usable: observations, notes: raised } = answered(all);
  const t = appliedThresholds(ctx);
  const broken = observations.find((o) => countNonFinite(o.y) > countNonFinite(o.input.x));
  if (broken) return nonFiniteOutcome(STAT, spec, broken);
  const candidates = ctx.registryFormats?.() ?? BUILTIN_FORMATS;
  const codes = codeCount(spec);
  const measured = observations.map((o) => measure(spec, o));
  const onNamedGrid = measured.every((m) => m.offGrid === undefined || m.offGrid <= t.maxOffGrid);
  const sub = observations.find((o) => o.input.name === SUBGRID_INPUT);
  const other = onNamedGrid && measured.every((m) => !((m.unchangedFraction ?? 0) > t.maxUnchanged)) && sub ? otherGridOf(spec, candidates, sub, t.maxOffGrid) : undefined;
  const j = judgeFormatApplied(measured, t, other?.name);
  const w = observations.find((o) => o.input.name === j.input) ?? observations[0]!;
  const fits = j.failedOn === 'off-grid' ? formatsFitting(spec, candidates.filter((f) => f.name !== spec.name), w.y, w.input.shape, t.maxOffGrid) : other ? [other] : [];
  const appliedInstead = j.failedOn === 'unchanged' ? 'fp32' : fits[0]?.name ?? null;
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic:
      j.failedOn === 'distinct' ? statistic('distinct outputs per scale block / code count', j.worstDistinctRatio, t.maxDistinctOverCodes, '>')
      : j.failedOn === 'off-grid' ? statistic(`outputs off ${spec.name}'s grid`, j.worstOffGrid, t.maxOffGrid, '>')
      : j.failedOn === 'other-grid' ? statistic(`outputs on ${other!.name}'s grid, which ${spec.name}'s reference outputs are not on`, 1, 0, '>')
      : statistic(STAT, j.worstUnchanged, t.maxUnchanged, '>'),
    evidence: {
      measurements: {
        worstUnchanged: cell(j.worstUnchanged),
        worstOffGrid: cell(j.worstOffGrid),
        worstDistinctOverCodes: cell(j.worstDistinctRatio),
        codes,
        scaleBlock: scaleBlockLength(spec, w.input.shape),
        appliedInstead,
      },
      tables: [
        {
          title: `the format has ${codes} codes per scale block`,
          headings: ['input', 'non-representable x', 'returned unchanged', `off ${spec.name}'s grid`, 'max distinct per block'],
          rows: measured.map((m) => [m.input, m.nonRepresentable ?? null, cell(m.unchangedFraction), cell(m.offGrid), m.maxDistinctPerBlock]),
        },
      ],
    },
  };
  if (raised.length > 0) outcome.evidence.notes = [...(outcome.evidence.notes ?? []), ...raised];
  if (j.verdict === 'fail') {
    const { x } = w.input;
    const unchanged = topIndices((i) => (w.ref && w.ref[i] !== x[i] && w.y[i] === x[i] ? Math.abs(x[i]! - w.ref[i]!) + 1e-30 : 0), x.length);
    const differs = topIndices((i) => (w.ref ? Math.abs(w.y[i]! - w.ref[i]!) : 0), x.length);
    const idx = j.failedOn === 'unchanged' && unchanged.length > 0 ? unchanged : differs.length > 0 ? differs : topIndices((i) => Math.abs(x[i]!), x.length);
    const summary =
      j.failedOn === 'unchanged' ? `${spec.name} on ${j.input}: ${cell(j.worstUnchanged)} of the values ${spec.name} cannot represent come back unchanged — the format is not applied (fp32 fallback?)`
      : j.failedOn === 'off-grid' ? `${spec.name} on ${j.input}: ${cell(j.worstOffGrid)} of the outputs are off ${spec.name}'s grid at any scale; they lie on ${gridNames(fits)}${fits.length ? ` — ${fits[0]!.name} applied instead of ${spec.name}` : ''}`
      : j.failedOn === 'other-grid' ? `${spec.name} on ${j.input}: the outputs use only ${other!.name}'s grid, which ${spec.name}'s correct outputs on the same input do not fit — ${other!.name} applied instead of ${spec.name}`
      : `${spec.name} on ${j.input}: up to ${cell(j.worstDistinctRatio * codes)} distinct outputs in one scale block, but the format has ${codes} codes`;
    outcome.witness = {
      summary,
      samples: samplesAt(idx, x, w.y, w.ref),
      plot: transferPlot(w, `${spec.name} on ${j.input}`),
      repro: ctx.reproCommand('format-applied', spec.name),
    };
  }
  return outcome;
}

/** The reference outputs of the format a failed H5 result says was applied instead, grouped like the named format (the causal experiments compare against it). */
export function appliedInsteadReference(named: FormatSpec, result: { evidence: { measurements: Record<string, unknown> } }, candidates: readonly FormatSpec[], input: ProbeInput): Float32Array | undefined {
  const name = result.evidence.measurements.appliedInstead;
  if (typeof name !== 'string') return undefined;
  if (name === 'fp32') return Float32Array.from(input.x);
  const f = candidates.find((c) => c.name === name);
  return f ? fakeQuant(appliedAs(named, f), input.x, { shape: input.shape }) : undefined;
}

/** A training lane as a fleet records it (src/witness/classify.ts `FleetLane`): enough to tell two curves apart. */
export interface RecordedLane {
  name: string;
  format: string;
  optimizer: string;
  seed: number;
  samples: number;
  bestBpb: number;
}

/**
 * H5 from recorded training curves (the fleet witness): a lane whose every (step, bpb) sample equals another lane's did
 * not apply its format — two formats cannot round the same weights to the same losses at every step. `members` are the
 * lanes with that curve, the lane among them; an fp32 lane among the others is what the lane fell back to.
 */
export function judgeIdenticalCurve(lane: RecordedLane, members: readonly RecordedLane[], minSamples: number, repro: string): ProbeResult {
  const others = members.filter((m) => m !== lane);
  const fp32 = others.find((o) => o.format === 'fp32');
  return {
    probe: formatApplied.id,
    hypothesis: formatApplied.hypothesis,
    format: lane.format,
    optimizer: lane.optimizer,
    ...(lane.seed >= 0 ? { seed: lane.seed } : {}),
    verdict: 'fail',
    statistic: { name: 'samples bit-identical to another lane', value: lane.samples, threshold: Math.max(2, minSamples), comparator: '>=' },
    evidence: {
      measurements: { samples: lane.samples, bestBpb: lane.bestBpb, identicalLanes: others.length },
      tables: [
        {
          title: 'Lanes with the same curve (every (step, bpb) sample equal)',
          headings: ['lane', 'format', 'optimizer', 'samples', 'best bpb'],
          rows: members.map((m) => [m.name, m.format, m.optimizer, m.samples, Number.isFinite(m.bestBpb) ? m.bestBpb : null]),
        },
      ],
    },
    witness: {
      summary:
        `${lane.name} logged exactly the same ${lane.samples} (step, bpb) samples as ${others.map((o) => o.name).join(', ')}` +
        (fp32 ? `: ${lane.format} trained as fp32 (the format was not applied).` : ': the format cannot have been applied to all of them.'),
      repro,
    },
  };
}

export const formatApplied: ForwardProbe = {
  id: 'format-applied',
  hypothesis: 'H5',
  title: 'the named format is really applied (no silent fp32 fallback, no other grid)',
  claim: 'the named format is not actually applied (silent fp32 fallback or wrong codebook)',
  fix: 'Make an unknown format name an error that lists the known ones instead of falling back to fp32, and check the codebook the name maps to: distinct outputs per scale block must not exceed the format’s code count.',
  requires: ['forward'],
  inputs,
  judge,
  run: forwardRun({ inputs, judge }, STAT),
};
