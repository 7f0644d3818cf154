/**
 * Judging a stored weight (QOperator, dynamic, MatMulNBits, GatherBlockQuantized, DequantizeLinear on an initializer)
 * from its codes alone: pure functions from measured numbers to ProbeResults, with the probe ids and hypotheses of the
 * QDQ path (`scale-collapse` H2, `roundtrip`), so reports group them with QDQ sites. With the float original
 * (`--float-model`) a weight is judged exactly like a QDQ weight site (src/onnx/judge.ts) on (float weight, stored codes).
 */
import { numberThreshold, type Thresholds } from '../../thresholds.js';
import type { ProbeResult } from '../../report/types.js';
import { fmt, lintSite, type LintFinding } from '../lint.js';
import type { GroupStats } from '../site-stats.js';
import { scaleGroupName } from '../site-stats.js';
import type { CodeGroupStats, CodeStats } from './code-stats.js';
import type { WeightSite } from './weights.js';

export const WEIGHT_HEADLINE_PROBE = 'weight-audit';

export interface WeightFindings {
  site: WeightSite;
  format: string;
  codes: CodeStats;
  lint: LintFinding[];
  notes: string[];
}

export interface WeightJudgeContext {
  thresholds: Thresholds;
  seed: number;
  reproCommand(probe: string, format: string, site?: string): string;
}

/** Forms whose writers store negative scales on purpose (symmetric 4-bit: scale = signed absmax / −8). */
export const NEGATIVE_SCALE_FORMS: ReadonlySet<string> = new Set(['matmulnbits', 'gather-block-quantized']);

/** A group whose codes never leave the zero-point with a scale a quantizer gives real data (0 and 1.0 mark an all-zero group). */
export function isDeadGroup(g: CodeGroupStats, deadAt: number): boolean {
  return g.count > 0 && g.atZeroPoint / g.count >= deadAt && Number.isFinite(g.scale) && g.scale !== 0 && g.scale !== 1;
}

/** Codes all on one side of the zero-point (none below, or none above) in a group with at least 8 codes that is not dead. */
export function isOneSided(g: CodeGroupStats): boolean {
  return g.count >= 8 && g.atZeroPoint < g.count && (g.below === 0 || g.above === 0);
}

/** Group statistics in the form the static lint reads: the dequantized range stands for the observed one. */
export function lintGroups(s: CodeStats, type: { qmin: number; qmax: number }): GroupStats[] {
  return s.perGroup.map((g) => {
    const lo = (g.codeMin - g.zeroPoint) * g.scale;
    const hi = (g.codeMax - g.zeroPoint) * g.scale;
    const span = g.codeMax - g.codeMin;
    return {
      group: g.group, scale: g.scale, zeroPoint: g.zeroPoint, absmax: Math.max(Math.abs(lo), Math.abs(hi)), min: Math.min(lo, hi), max: Math.max(lo, hi),
      // representable range / range the codes use: a correct quantizer uses at least half of it in every group
      coverage: span > 0 ? (type.qmax - type.qmin) / span : null,
      zeroFraction: g.count ? g.atZeroPoint / g.count : 0, refZeroFraction: 0, sqnrDb: Number.NaN, refSqnrDb: Number.NaN,
    };
  });
}

/** Static lint of a stored weight: lintSite on its scales and zero-points, less the zero scales of all-zero groups. */
export function lintWeight(site: WeightSite, s: CodeStats, scale: Float64Array, zeroPoint: Float64Array, thresholds: Thresholds): LintFinding[] {
  const name = (g: number): string => scaleGroupName(site.dims, site.axis, site.blockSize, g);
  // onnxruntime's symmetric block quantizers (MatMulNBits, GatherBlockQuantized) store scale = signed absmax / −8:
  // negative scales are their convention there, so those are linted by magnitude.
  const signedScales = NEGATIVE_SCALE_FORMS.has(site.form);
  const groups = lintGroups(s, site.codeType).filter((g) => g.coverage !== null).map((g) => (signedScales ? { ...g, scale: Math.abs(g.scale) } : g));
  const findings = lintSite(
    { scale: signedScales ? scale.map(Math.abs) : scale, zeroPoint, zeroPointSource: undefined, codeType: site.codeType, inputKind: 'weight', groups, groupName: name },
    thresholds,
  );
  // A zero scale on a group whose codes are all at the zero-point is how quantizers store an all-zero block.
  const prunedOnly = s.perGroup.every((g) => g.scale !== 0 || g.atZeroPoint === g.count);
  return findings.filter((f) => !(f.rule === 'zero-scale' && prunedOnly));
}

function round(v: number): number {
  return Number(v.toFixed(4));
}

export function weightMeasurements(f: WeightFindings): Record<string, number | string | boolean | null> {
  const s = f.codes;
  const one = s.perGroup.length === 1 ? s.perGroup[0]! : undefined;
  return {
    node: f.site.name,
    kind: f.site.form === 'dq-weight' ? 'dq-only' : f.site.form,
    form: f.site.form,
    opType: f.site.opType,
    input: f.site.codes,
    inputKind: 'weight',
    codeType: f.site.codeType.name,
    granularity: s.granularity,
    dims: `[${f.site.dims.join(', ')}]`,
    elements: s.elements,
    scale: one ? one.scale : null,
    zeroPoint: one ? one.zeroPoint : null,
    levelsUsed: s.levelsUsed,
    levelsAvailable: s.levelsAvailable,
    effectiveBits: round(s.effectiveBits),
    atZeroPointFraction: round(s.atZeroPointFraction),
    saturatedFraction: round(s.saturatedFraction),
    ...Object.fromEntries(Object.entries(f.site.attrs).map(([k, v]) => [`attr.${k}`, v])),
  };
}

interface Check {
  name: string;
  value: number;
  threshold: number;
  failed: boolean;
  why: string;
}

/** The scale-collapse checks of a stored weight, from its codes: lint, dead groups, one-sided groups, saturation. */
export function weightChecks(f: WeightFindings, t: Thresholds): { checks: Check[]; dead: CodeGroupStats[]; oneSided: CodeGroupStats[] } {
  const s = f.codes;
  const deadAt = numberThreshold(t, 'onnx.deadGroupZeroFraction');
  const dead = s.perGroup.filter((g) => isDeadGroup(g, deadAt));
  const eligible = s.perGroup.filter((g) => g.count >= 8 && !isDeadGroup(g, deadAt) && g.atZeroPoint < g.count);
  const oneSided = eligible.filter(isOneSided);
  const oneSidedShare = eligible.length > 0 ? oneSided.length / eligible.length : 0;
  const maxOneSided = numberThreshold(t, 'onnx.maxOneSidedGroupFraction');
  const maxSat = numberThreshold(t, 'onnx.maxSaturatedFraction');
  const satApplies = f.site.codeType.bits >= 4;
  const name = (g: CodeGroupStats): string => scaleGroupName(f.site.dims, f.site.axis, f.site.blockSize, g.group);
  const checks: Check[] = [
    { name: 'static lint findings (scale / zero-point)', value: f.lint.length, threshold: 0, failed: f.lint.length > 0, why: f.lint.map((l) => l.message).join('; ') },
    {
      name: 'dead scale groups (every code at the zero-point)', value: dead.length, threshold: 0, failed: dead.length > 0,
      why: `${dead.length} of ${s.groups} scale groups have every code at the zero-point: their weights are all 0 although their scale (${fmt(dead[0]?.scale)}) is not the 0 or 1.0 a quantizer stores for an all-zero group — the scale was too large for the data (groups ${dead.slice(0, 8).map(name).join(', ')})`,
    },
    {
      name: 'scale groups with every code on one side of the zero-point', value: round(oneSidedShare), threshold: maxOneSided, failed: oneSidedShare > maxOneSided,
      why: `${oneSided.length} of ${eligible.length} scale groups have no code ${oneSided[0] && oneSided[0].below === 0 ? 'below' : 'above'} their zero-point (first: group ${oneSided[0] ? name(oneSided[0]) : '-'}, zero-point ${oneSided[0]?.zeroPoint}, codes ${oneSided[0]?.codeMin}…${oneSided[0]?.codeMax}): every dequantized weight there has one sign — a wrong zero-point, or signed weights clamped at it`,
    },
    {
      name: 'codes at qmin or qmax (clipping)', value: round(s.saturatedFraction), threshold: satApplies ? maxSat : 1, failed: satApplies && s.saturatedFraction > maxSat,
      why: `${fmt(s.saturatedFraction * 100)} % of the codes sit at ${f.site.codeType.qmin} or ${f.site.codeType.qmax}: the scale is too small for the weights, which are clipped`,
    },
  ];
  return { checks, dead, oneSided };
}

function groupTable(f: WeightFindings, dead: CodeGroupStats[], oneSided: CodeGroupStats[]): ProbeResult['evidence']['tables'] {
  const s = f.codes;
  if (s.perGroup.length <= 1) return [];
  const flagged = new Set([...dead, ...oneSided]);
  const pick = [...s.perGroup].sort((a, b) => Number(flagged.has(b)) - Number(flagged.has(a)) || b.atZeroPoint / Math.max(1, b.count) - a.atZeroPoint / Math.max(1, a.count)).slice(0, 8);
  const name = (g: number): string | number => (f.site.blockSize > 0 ? scaleGroupName(f.site.dims, f.site.axis, f.site.blockSize, g) : g);
  return [{
    title: `${f.site.name}: scale groups (flagged first, ${pick.length} of ${s.perGroup.length})`,
    headings: ['group', 'scale', 'zero-point', 'codes', 'code range', 'at zero-point', 'below / above zero-point', 'at qmin/qmax'],
    rows: pick.map((g) => [name(g.group), fmt(g.scale), g.zeroPoint, g.count, `${g.codeMin}…${g.codeMax}`, round(g.atZeroPoint / Math.max(1, g.count)), `${g.below} / ${g.above}`, g.saturated]),
  }];
}

export function judgeWeightScale(f: WeightFindings, ctx: WeightJudgeContext): ProbeResult {
  const { checks, dead, oneSided } = weightChecks(f, ctx.thresholds);
  const failed = checks.filter((c) => c.failed);
  const head = failed[0] ?? checks[1]!;
  const result: ProbeResult = {
    probe: 'scale-collapse', hypothesis: 'H2', format: f.format, seed: ctx.seed, site: f.site.name,
    verdict: failed.length > 0 ? 'fail' : 'pass',
    statistic: { name: head.name, value: head.value, threshold: head.threshold, comparator: '>' },
    evidence: {
      measurements: { ...weightMeasurements(f), ...Object.fromEntries(f.lint.map((l) => [`lint.${l.rule}`, l.value])) },
      tables: [
        { title: `${f.site.name}: scale-collapse checks on the stored codes`, headings: ['check', 'value', 'fail when >', 'verdict'], rows: checks.map((c) => [c.name, c.value, c.threshold, c.failed ? 'fail' : 'pass']) },
        ...(groupTable(f, dead, oneSided) ?? []),
      ],
      notes: [...f.lint.map((l) => `${l.rule}: ${l.message}`), ...f.notes],
    },
  };
  if (failed.length > 0) {
    const g = dead[0] ?? oneSided[0];
    result.witness = {
      summary: `${f.site.name} (${f.site.opType}, ${f.site.form}): ${failed.map((c) => c.why).join('; ')}`,
      samples: g ? [{ x: g.group, y: g.atZeroPoint, expected: g.count, note: `group ${scaleGroupName(f.site.dims, f.site.axis, f.site.blockSize, g.group)}: codes at the zero-point (y) of codes (expected), scale ${fmt(g.scale)}, zero-point ${g.zeroPoint}` }] : undefined,
      repro: ctx.reproCommand('scale-collapse', f.format, f.site.name),
    };
  }
  return result;
}

/** Without the float weights there is nothing to compare the dequantized weight with. */
export function judgeWeightRoundtrip(f: WeightFindings, ctx: WeightJudgeContext): ProbeResult {
  return {
    probe: 'roundtrip', hypothesis: 'codec', format: f.format, seed: ctx.seed, site: f.site.name, verdict: 'skipped',
    reason: 'stored codes: no float original to compare with (pass --float-model ORIGINAL.onnx)',
    statistic: { name: 'local SQNR (dB)', value: null, threshold: null, comparator: '<', unit: 'dB' },
    evidence: { measurements: weightMeasurements(f) },
  };
}

export interface WeightRow {
  site: string;
  order: number;
  results: ProbeResult[];
  form: string;
  opType: string;
  codeType: string;
  sqnrDb: number | null;
}

/** One verdict over the stored weights: how many are broken, the first in graph order, and each one's row. */
export function judgeWeights(rows: readonly WeightRow[], ctx: WeightJudgeContext, format: string, model: string): ProbeResult {
  const broken = rows.filter((r) => r.results.some((x) => x.verdict === 'fail')).sort((a, b) => a.order - b.order);
  const first = broken[0];
  const v = (r: WeightRow, p: string): string => r.results.find((x) => x.probe === p)?.verdict ?? '';
  const result: ProbeResult = {
    probe: WEIGHT_HEADLINE_PROBE, hypothesis: 'weights', format, seed: ctx.seed,
    verdict: broken.length > 0 ? 'fail' : 'pass',
    statistic: { name: 'broken stored weights', value: broken.length, threshold: 0, comparator: '>' },
    evidence: {
      measurements: {
        model, weights: rows.length, brokenWeights: broken.length, firstBrokenWeight: first?.site ?? null,
        firstBrokenBecause: first ? first.results.filter((x) => x.verdict === 'fail').map((x) => x.probe).join(', ') : null,
      },
      tables: [{
        title: 'stored weights in graph order',
        headings: ['site', 'form', 'op', 'codes', 'SQNR vs float dB', 'scale-collapse', 'roundtrip', 'note'],
        rows: [...rows].sort((a, b) => a.order - b.order).map((r) => [r.site, r.form, r.opType, r.codeType, r.sqnrDb, v(r, 'scale-collapse'), v(r, 'roundtrip'), r === first ? 'first broken weight' : '']),
      }],
    },
  };
  if (first) {
    const w = first.results.find((x) => x.verdict === 'fail')!;
    result.witness = {
      summary: `${broken.length} of ${rows.length} stored weights fail; first in graph order: ${first.site} (${w.probe}). ${w.witness?.summary ?? ''}`.trim(),
      samples: w.witness?.samples,
      repro: ctx.reproCommand(WEIGHT_HEADLINE_PROBE, format),
    };
  }
  return result;
}
