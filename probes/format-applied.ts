/**
 * format-applied — H5: "the named format is not actually applied" (silent fp32 fallback for
 * an unknown name, the wrong codebook).
 *
 * Two signs, on seeded weight- and activation-like tensors:
 * - the share of x that the format cannot represent (the reference codec changes them) and
 *   that the target returns bit-for-bit unchanged;
 * - distinct output values per scale block (per tensor, per channel, per block) against the
 *   format's code count: a 4-bit format cannot produce 40 values in one block.
 */
import { codeCount } from '../src/formats/index.js';
import { distinctCount } from '../src/stats.js';
import { numberThreshold } from '../src/thresholds.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { Target } from '../src/targets/types.js';
import type { Probe, ProbeContext, ProbeOutcome } from './types.js';
import { baseInputs, type ProbeInput } from './inputs.js';
import { cell, formatNotImplemented, referenceForward, samplesAt, scaleBlockLength, statistic, topIndices } from './common.js';

/** Fewer non-representable inputs than this: the unchanged share is not judged on that input. */
const MIN_NON_REPRESENTABLE = 16;

export interface AppliedMeasurement {
  input: string;
  /** x the reference changes (undefined: no reference codec). */
  nonRepresentable: number | undefined;
  /** Share of those the target returns unchanged. */
  unchangedFraction: number | undefined;
  /** Largest number of distinct outputs in one scale block. */
  maxDistinctPerBlock: number;
  codes: number;
}

export interface AppliedJudgement {
  verdict: 'pass' | 'fail';
  failedOn: 'unchanged' | 'distinct' | null;
  worstUnchanged: number;
  worstDistinctRatio: number;
  input: string;
}

export function judgeFormatApplied(ms: readonly AppliedMeasurement[], maxUnchanged: number, maxDistinctOverCodes: number): AppliedJudgement {
  let worstUnchanged = 0;
  let worstDistinctRatio = 0;
  let unchangedInput = ms[0]?.input ?? '';
  let distinctInput = unchangedInput;
  for (const m of ms) {
    if (m.unchangedFraction !== undefined && (m.nonRepresentable ?? 0) >= MIN_NON_REPRESENTABLE && m.unchangedFraction > worstUnchanged) {
      worstUnchanged = m.unchangedFraction;
      unchangedInput = m.input;
    }
    const ratio = m.maxDistinctPerBlock / m.codes;
    if (ratio > worstDistinctRatio) {
      worstDistinctRatio = ratio;
      distinctInput = m.input;
    }
  }
  if (worstUnchanged > maxUnchanged) return { verdict: 'fail', failedOn: 'unchanged', worstUnchanged, worstDistinctRatio, input: unchangedInput };
  if (worstDistinctRatio > maxDistinctOverCodes) return { verdict: 'fail', failedOn: 'distinct', worstUnchanged, worstDistinctRatio, input: distinctInput };
  return { verdict: 'pass', failedOn: null, worstUnchanged, worstDistinctRatio, input: unchangedInput };
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

async function run(target: Target, spec: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome> {
  const notImplemented = formatNotImplemented(target, spec, 'non-representable x returned unchanged');
  if (notImplemented) return notImplemented;
  const maxUnchanged = numberThreshold(ctx.thresholds, 'format-applied.maxUnchangedFraction');
  const maxDistinct = numberThreshold(ctx.thresholds, 'format-applied.maxDistinctOverCodes');
  const codes = codeCount(spec);
  const measured: AppliedMeasurement[] = [];
  const seen = new Map<string, { input: ProbeInput; y: Float32Array; ref: Float32Array | undefined }>();
  for (const input of baseInputs(ctx.seed)) {
    const y = await target.forward(spec.name, input.x, input.shape);
    const ref = referenceForward(spec, input);
    seen.set(input.name, { input, y, ref });
    const share = ref ? unchangedShare(input.x, y, ref) : undefined;
    measured.push({
      input: input.name,
      nonRepresentable: share?.nonRepresentable,
      unchangedFraction: share?.unchanged,
      maxDistinctPerBlock: maxDistinctPerBlock(y, scaleBlockLength(spec, input.shape)),
      codes,
    });
  }
  const j = judgeFormatApplied(measured, maxUnchanged, maxDistinct);
  const outcome: ProbeOutcome = {
    verdict: j.verdict,
    statistic:
      j.failedOn === 'distinct'
        ? statistic('distinct outputs per scale block / code count', j.worstDistinctRatio, maxDistinct, '>')
        : statistic('non-representable x returned unchanged', j.worstUnchanged, maxUnchanged, '>'),
    evidence: {
      measurements: { worstUnchanged: cell(j.worstUnchanged), worstDistinctOverCodes: cell(j.worstDistinctRatio), codes, scaleBlock: scaleBlockLength(spec, measured.length ? seen.get(measured[0]!.input)!.input.shape : [1]) },
      tables: [
        {
          title: `the format has ${codes} codes per scale block`,
          headings: ['input', 'non-representable x', 'returned unchanged', 'max distinct per block'],
          rows: measured.map((m) => [m.input, m.nonRepresentable ?? null, cell(m.unchangedFraction), m.maxDistinctPerBlock]),
        },
      ],
    },
  };
  if (j.verdict === 'fail') {
    const w = seen.get(j.input)!;
    const { x } = w.input;
    const idx = topIndices((i) => (w.ref && w.ref[i] !== x[i] && w.y[i] === x[i] ? Math.abs(x[i]! - w.ref[i]!) + 1e-30 : 0), x.length);
    outcome.witness = {
      summary:
        j.failedOn === 'unchanged'
          ? `${spec.name} on ${j.input}: ${cell(j.worstUnchanged)} of the values ${spec.name} cannot represent come back unchanged — the format is not applied (fp32 fallback?)`
          : `${spec.name} on ${j.input}: up to ${cell(j.worstDistinctRatio * codes)} distinct outputs in one scale block, but the format has ${codes} codes`,
      samples: samplesAt(idx.length > 0 ? idx : topIndices((i) => Math.abs(x[i]!), x.length), x, w.y, w.ref),
      repro: ctx.reproCommand('format-applied', spec.name),
    };
  }
  return outcome;
}

export const formatApplied: Probe = {
  id: 'format-applied',
  hypothesis: 'H5',
  title: 'the named format is really applied (no silent fp32 fallback)',
  requires: ['forward'],
  run,
};
