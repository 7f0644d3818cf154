/**
 * Small pieces every probe shares: the reference codec on the same inputs (so a format's
 * own coarseness is never mistaken for a bug), skipped outcomes, witness samples.
 */
import { fakeQuant, steMask } from '../src/formats/index.js';
import { countNonFinite } from '../src/stats.js';
import { TargetError } from '../src/errors.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { Target } from '../src/targets/types.js';
import { WITNESS_PLOT_MAX_POINTS, type Statistic, type WitnessPlot } from '../src/report/types.js';
import type { ForwardProbe, Observation, ProbeContext, ProbeOutcome } from './types.js';
import type { ProbeInput } from './inputs.js';

/** fq_ref(x) from the registry's codec, or undefined when the format has no working reference. */
function referenceForward(spec: FormatSpec, input: ProbeInput): Float32Array | undefined {
  try {
    return fakeQuant(spec, input.x, { shape: input.shape });
  } catch {
    return undefined;
  }
}

/** 1 where the clipped STE passes the gradient (x inside the representable range), or undefined. */
export function referenceSteMask(spec: FormatSpec, input: ProbeInput): Uint8Array | undefined {
  try {
    return steMask(spec, input.x, { shape: input.shape });
  } catch {
    return undefined;
  }
}

/** fq(x) by the target and the reference on one input, from the format's observation cache when it has it. */
export async function observe(target: Target, spec: FormatSpec, input: ProbeInput, ctx: Pick<ProbeContext, 'observations'>): Promise<Observation> {
  const key = observationKey(input);
  const cached = ctx.observations?.get(key);
  if (cached) return cached;
  let o: Observation;
  try {
    o = { input, y: await target.forward(spec.name, input.x, input.shape), ref: referenceForward(spec, input) };
  } catch (e) {
    // An edge input the target chokes on is a fact about the target, recorded for the judges;
    // on any other input a target error makes the probe inconclusive (probes/run.ts).
    if (!input.edge || !(e instanceof TargetError)) throw e;
    o = { input, y: new Float32Array(0), ref: referenceForward(spec, input), error: e.message };
  }
  ctx.observations?.set(key, o);
  return o;
}

export function observationKey(input: ProbeInput): string {
  return `${input.name}@${input.shape.join('x')}`;
}

/** The observations a judge can measure (the target answered), and a note per edge input it raised on. */
export function answered(observations: readonly Observation[]): { usable: Observation[]; notes: string[] } {
  return {
    usable: observations.filter((o) => o.error === undefined),
    notes: observations.filter((o) => o.error !== undefined).map((o) => `the target raised on ${o.input.name} (left out of this judgement): ${o.error}`),
  };
}

export async function observeAll(target: Target, spec: FormatSpec, inputs: readonly ProbeInput[], ctx: Pick<ProbeContext, 'observations'>): Promise<Observation[]> {
  const out: Observation[] = [];
  for (const input of inputs) out.push(await observe(target, spec, input, ctx));
  return out;
}

/** The run of a forward probe: observe its inputs, then judge (the same judge the causal experiments re-run). */
export function forwardRun(probe: Pick<ForwardProbe, 'inputs' | 'judge'>, statisticName: string) {
  return async (target: Target, spec: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome> => {
    const notImplemented = formatNotImplemented(target, spec, statisticName);
    if (notImplemented) return notImplemented;
    return probe.judge(spec, await observeAll(target, spec, probe.inputs(ctx.seed), ctx), ctx);
  };
}

/** A probe that could not run says why; it never passes silently. */
export function skippedOutcome(statisticName: string, reason: string, extra?: Partial<ProbeOutcome>): ProbeOutcome {
  return {
    verdict: 'skipped',
    statistic: { name: statisticName, value: null, threshold: null, comparator: '==' },
    evidence: { measurements: {}, notes: [reason] },
    reason,
    ...extra,
  };
}

/** Skip when the target says it does not implement this format. */
export function formatNotImplemented(target: Target, spec: FormatSpec, statisticName: string): ProbeOutcome | undefined {
  if (target.formats && !target.formats.includes(spec.name)) {
    return skippedOutcome(statisticName, `target ${target.spec} does not implement format ${spec.name} (it implements: ${target.formats.join(', ')})`);
  }
  return undefined;
}

/** Indices of the `n` largest scores (ties: lowest index first), for witness samples. */
export function topIndices(score: (i: number) => number, length: number, n = 5): number[] {
  const idx: number[] = [];
  for (let i = 0; i < length; i++) {
    const s = score(i);
    if (Number.isNaN(s) || s <= 0) continue;
    idx.push(i);
  }
  idx.sort((a, b) => score(b) - score(a) || a - b);
  return idx.slice(0, n);
}

export interface Sample {
  x: number;
  y: number;
  expected?: number;
  note?: string;
}

export function samplesAt(indices: number[], x: ArrayLike<number>, y: ArrayLike<number>, expected?: ArrayLike<number>, note?: string): Sample[] {
  return indices.map((i) => {
    const s: Sample = { x: round6(x[i]!), y: round6(y[i]!) };
    if (expected) s.expected = round6(expected[i]!);
    if (note) s.note = note;
    return s;
  });
}

/** Evidence numbers rounded to 6 significant digits: readable, and stable across platforms. */
export function round6(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  return Number(v.toPrecision(6));
}

/** Printable number for evidence tables (Infinity and NaN as words, JSON-safe). */
export function cell(v: number | undefined | null): number | string | null {
  if (v === undefined || v === null) return null;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return round6(v);
}

/** A JSON-safe statistic value (report.json has no Infinity). */
function statValue(v: number): number | null {
  return Number.isFinite(v) ? round6(v) : null;
}

export function statistic(name: string, value: number, threshold: Statistic['threshold'], comparator: Statistic['comparator'], unit?: string): Statistic {
  const s: Statistic = { name, value: statValue(value), threshold, comparator };
  if (unit) s.unit = unit;
  return s;
}

export function isOutside(v: number, [lo, hi]: readonly [number, number]): boolean {
  return !(v >= lo && v <= hi);
}

/** Consecutive elements that share one scale under this format's scaling policy. */
export function scaleBlockLength(spec: FormatSpec, shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (spec.scaling) {
    case 'per-channel-absmax':
      return n / (shape[0] ?? 1);
    case 'per-block-absmax':
    case 'mx-e8m0':
      return spec.blockSize ?? n;
    default:
      return n;
  }
}

/** Indices of at most `max` points spread evenly over the elements sorted by `key` (ties by index): a deterministic subsample for plots. */
function plotIndices(length: number, key: (i: number) => number, max = WITNESS_PLOT_MAX_POINTS): number[] {
  const order = Array.from({ length }, (_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
  if (order.length <= max) return order;
  const picked: number[] = [];
  for (let k = 0; k < max; k++) picked.push(order[Math.round((k * (order.length - 1)) / (max - 1))]!);
  return picked;
}

/** Plot value: rounded to 6 digits, non-finite as null (the samples table says NaN/Inf in words). */
function plotValue(v: number): number | null {
  return Number.isFinite(v) ? round6(v) : null;
}

/** x against fq(x) for the target and the reference: a staircase, codes, zeros or a sign flip are visible at a glance. */
export function transferPlot(o: Observation, title: string): WitnessPlot {
  const { x } = o.input;
  const idx = plotIndices(x.length, (i) => x[i]!);
  return {
    kind: 'transfer',
    xLabel: `x (${title})`,
    yLabel: 'fq(x)',
    x: idx.map((i) => round6(x[i]!)),
    series: [
      { name: 'target', y: idx.map((i) => plotValue(o.y[i]!)) },
      ...(o.ref ? [{ name: 'reference', y: idx.map((i) => plotValue(o.ref![i]!)) }] : []),
    ],
  };
}

/**
 * A probe whose statistic would be computed from NaN/Inf outputs: inconclusive, never a fail
 * (a NaN statistic is evidence for nothing). The roundtrip probe is the one that judges
 * non-finite outputs; a causal experiment links this result to it (probes/causes.ts).
 */
export function nonFiniteOutcome(statisticName: string, spec: FormatSpec, o: Observation): ProbeOutcome {
  const bad = countNonFinite(o.y) - countNonFinite(o.input.x);
  const reason = `${spec.name} returned ${bad} NaN/Inf value${bad === 1 ? '' : 's'} for finite input on ${o.input.name}: this hypothesis cannot be judged on outputs that are not numbers`;
  return {
    verdict: 'inconclusive',
    statistic: { name: statisticName, value: null, threshold: null, comparator: '==' },
    evidence: { measurements: { nonFiniteOutputs: bad, input: o.input.name }, notes: [reason] },
    reason,
  };
}
