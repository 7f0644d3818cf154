/**
 * Judging a stored weight (QOperator, dynamic, MatMulNBits, GatherBlockQuantized, DequantizeLinear on an initializer)
 * from its codes alone: pure functions from measured numbers to ProbeResults, with the probe ids and hypotheses of the
 * QDQ path (`scale-collapse` H2, `roundtrip`), so reports group them with QDQ sites. With the float original
 * (`--float-model`) a weight is judged exactly like a QDQ weight site (src/onnx/judge.ts) on (float weight, stored codes).
 */
import { numberThreshold, rangeThreshold, type Thresholds } from '../../thresholds.js';
import type { ProbeResult } from '../../report/types.js';
import { fmt, lintSite, type LintFinding } from '../lint.js';
import { scaleGroupName } from '../site-stats.js';
import { groupAt, type CodeStats } from './code-stats.js';
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

/** float32's smallest normal number (lint.ts: a smaller nonzero scale is denormal). */
const FLT_MIN_NORMAL = 1.1754943508222875e-38;

/** Forms whose writers store negative scales on purpose (symmetric 4-bit: scale = signed absmax / −8). */
export const NEGATIVE_SCALE_FORMS: ReadonlySet<string> = new Set(['matmulnbits', 'gather-block-quantized']);

/** A group whose codes never leave the zero-point with a scale a quantizer gives real data (0 and 1.0 mark an all-zero group). */
export function isDeadGroup(s: CodeStats, g: number, deadAt: number): boolean {
  const n = s.count[g]!;
  const sc = s.scale[g]!;
  return n > 0 && s.atZeroPoint[g]! / n >= deadAt && Number.isFinite(sc) && sc !== 0 && sc !== 1;
}

/** Codes all on one side of the zero-point (none below, or none above) in a group with at least 8 codes, not all at it. */
export function isOneSided(s: CodeStats, g: number): boolean {
  return s.count[g]! >= 8 && s.atZeroPoint[g]! < s.count[g]! && (s.below[g] === 0 || s.above[g] === 0);
}

/**
 * Coverage of each group in code terms: the code range over the range of codes the group uses (a correct absmax or
 * min/max quantizer uses at least half of it). The `absurd-scale` finding of lint.ts, computed over the arrays.
 */
export function coverageFinding(site: WeightSite, s: CodeStats, thresholds: Thresholds): LintFinding | undefined {
  const [lo, hi] = rangeThreshold(thresholds, 'onnx.weightScaleCoverage');
  const full = site.codeType.qmax - site.codeType.qmin;
  let bad = 0;
  let worst = -1;
  let worstCov = 1;
  for (let g = 0; g < s.groups; g++) {
    const span = s.codeMax[g]! - s.codeMin[g]!;
    if (span <= 0 || !(s.scale[g]! !== 0 && Number.isFinite(s.scale[g]!))) continue;
    const cov = full / span;
    if (cov < lo || cov > hi) {
      bad++;
      if (Math.abs(Math.log(cov)) > Math.abs(Math.log(worstCov))) { worst = g; worstCov = cov; }
    }
  }
  if (bad === 0) return undefined;
  const name = scaleGroupName(site.dims, site.axis, site.blockSize, worst);
  return {
    rule: 'absurd-scale', group: s.groups > 1 ? worst : null, value: worstCov,
    message: `${bad} of ${s.groups} scale group(s) use a sliver of the code range: code range / codes used = ${fmt(worstCov)} (codes ${s.codeMin[worst]}…${s.codeMax[worst]}, scale ${fmt(s.scale[worst])}${s.groups > 1 ? `, group ${name}` : ''}; allowed [${lo}, ${hi}], key onnx.weightScaleCoverage)`,
  };
}

/** Static lint of a stored weight: lintSite on its scales and zero-points, less the zero scales of all-zero groups, plus coverage. */
export function lintWeight(site: WeightSite, s: CodeStats, scale: Float64Array, zeroPoint: Float64Array, thresholds: Thresholds): LintFinding[] {
  const name = (g: number): string => scaleGroupName(site.dims, site.axis, site.blockSize, g);
  // onnxruntime's symmetric block quantizers (MatMulNBits, GatherBlockQuantized) store scale = signed absmax / −8:
  // negative scales are their convention there, so those are linted by magnitude.
  const signedScales = NEGATIVE_SCALE_FORMS.has(site.form);
  // Millions of block scales: when every one is a normal positive number (by magnitude where signs are a convention),
  // the scale rules have nothing to say and one representative is linted (the zero-point rules still see them all).
  let clean = scale.length > 0;
  for (let g = 0; g < scale.length && clean; g++) {
    const v = signedScales ? Math.abs(scale[g]!) : scale[g]!;
    clean = v >= FLT_MIN_NORMAL && v < Infinity;
  }
  const scales = clean ? scale.subarray(0, 1).map(Math.abs) : signedScales ? scale.map(Math.abs) : scale;
  const findings = lintSite(
    { scale: scales, zeroPoint, zeroPointSource: undefined, codeType: site.codeType, inputKind: 'weight', groups: [], groupName: name },
    thresholds,
  );
  const coverage = coverageFinding(site, s, thresholds);
  if (coverage) findings.push(coverage);
  // A zero scale on a group whose codes are all at the zero-point is how quantizers store an all-zero block.
  let prunedOnly = true;
  for (let g = 0; g < s.groups && prunedOnly; g++) if (s.scale[g] === 0 && s.atZeroPoint[g] !== s.count[g]) prunedOnly = false;
  return findings.filter((f) => !(f.rule === 'zero-scale' && prunedOnly));
}

function round(v: number): number {
  return Number(v.toFixed(4));
}

export function weightMeasurements(f: WeightFindings): Record<string, number | string | boolean | null> {
  const s = f.codes;
  const one = s.groups === 1 ? groupAt(s, 0) : undefined;
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
export function weightChecks(f: WeightFindings, t: Thresholds): { checks: Check[]; dead: number[]; oneSided: number[] } {
  const s = f.codes;
  const deadAt = numberThreshold(t, 'onnx.deadGroupZeroFraction');
  const dead: number[] = [];
  const oneSided: number[] = [];
  let eligible = 0;
  for (let g = 0; g < s.groups; g++) {
    if (isDeadGroup(s, g, deadAt)) { dead.push(g); continue; }
    if (s.count[g]! < 8 || s.atZeroPoint[g] === s.count[g]) continue;
    eligible++;
    if (isOneSided(s, g)) oneSided.push(g);
  }
  const oneSidedShare = eligible > 0 ? oneSided.length / eligible : 0;
  const maxOneSided = numberThreshold(t, 'onnx.maxOneSidedGroupFraction');
  const maxSat = numberThreshold(t, 'onnx.maxSaturatedFraction');
  const satApplies = f.site.codeType.bits >= 4;
  const name = (g: number): string => scaleGroupName(f.site.dims, f.site.axis, f.site.blockSize, g);
  const o = oneSided[0];
  const checks: Check[] = [
    { name: 'static lint findings (scale / zero-point)', value: f.lint.length, threshold: 0, failed: f.lint.length > 0, why: f.lint.map((l) => l.message).join('; ') },
    {
      name: 'dead scale groups (every code at the zero-point)', value: dead.length, threshold: 0, failed: dead.length > 0,
      why: `${dead.length} of ${s.groups} scale groups have every code at the zero-point: their weights are all 0 although their scale (${fmt(s.scale[dead[0] ?? 0])}) is not the 0 or 1.0 a quantizer stores for an all-zero group — the scale was too large for the data (groups ${dead.slice(0, 8).map(name).join(', ')})`,
    },
    {
      name: 'scale groups with every code on one side of the zero-point', value: round(oneSidedShare), threshold: maxOneSided, failed: oneSidedShare > maxOneSided,
      why: o === undefined ? '' : `${oneSided.length} of ${eligible} scale groups have no code ${s.below[o] === 0 ? 'below' : 'above'} their zero-point (first: group ${name(o)}, zero-point ${s.zeroPoint[o]}, codes ${s.codeMin[o]}…${s.codeMax[o]}): every dequantized weight there has one sign — a wrong zero-point, or signed weights clamped at it`,
    },
    {
      name: 'codes at qmin or qmax (clipping)', value: round(s.saturatedFraction), threshold: satApplies ? maxSat : 1, failed: satApplies && s.saturatedFraction > maxSat,
      why: `${fmt(s.saturatedFraction * 100)} % of the codes sit at ${f.site.codeType.qmin} or ${f.site.codeType.qmax}: the scale is too small for the weights, which are clipped`,
    },
  ];
  return { checks, dead, oneSided };
}

function groupTable(f: WeightFindings, dead: number[], oneSided: number[]): NonNullable<ProbeResult['evidence']['tables']> {
  const s = f.codes;
  if (s.groups <= 1) return [];
  // Flagged groups first, then the groups with most codes at the zero-point: one linear pass, no sort of every group.
  const pick = [...new Set([...dead, ...oneSided])].slice(0, 8);
  const zeroShare = (g: number): number => s.atZeroPoint[g]! / Math.max(1, s.count[g]!);
  // The rest: the groups with the largest share of codes at the zero-point (one pass keeping the top few).
  const top: number[] = [];
  const want = Math.min(8, s.groups) - pick.length;
  const chosen = new Set(pick);
  for (let g = 0; g < s.groups && want > 0; g++) {
    if (chosen.has(g)) continue;
    if (top.length === want && zeroShare(g) <= zeroShare(top[top.length - 1]!)) continue;
    top.push(g);
    top.sort((a, b) => zeroShare(b) - zeroShare(a) || a - b);
    if (top.length > want) top.pop();
  }
  pick.push(...top);
  const name = (g: number): string | number => (f.site.blockSize > 0 ? scaleGroupName(f.site.dims, f.site.axis, f.site.blockSize, g) : g);
  return [{
    title: `${f.site.name}: scale groups (flagged first, ${pick.length} of ${s.groups})`,
    headings: ['group', 'scale', 'zero-point', 'codes', 'code range', 'at zero-point', 'below / above zero-point', 'at qmin/qmax'],
    rows: pick.map((g) => [name(g), fmt(s.scale[g]), s.zeroPoint[g]!, s.count[g]!, `${s.codeMin[g]}…${s.codeMax[g]}`, round(zeroShare(g)), `${s.below[g]} / ${s.above[g]}`, s.saturated[g]!]),
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
        ...groupTable(f, dead, oneSided),
      ],
      notes: [...f.lint.map((l) => `${l.rule}: ${l.message}`), ...f.notes],
    },
  };
  if (failed.length > 0) {
    const g = dead[0] ?? oneSided[0];
    const s = f.codes;
    result.witness = {
      summary: `${f.site.name} (${f.site.opType}, ${f.site.form}): ${failed.map((c) => c.why).join('; ')}`,
      samples: g !== undefined ? [{ x: g, y: s.atZeroPoint[g]!, expected: s.count[g]!, note: `group ${scaleGroupName(f.site.dims, f.site.axis, f.site.blockSize, g)}: codes at the zero-point (y) of codes (expected), scale ${fmt(s.scale[g])}, zero-point ${s.zeroPoint[g]}` }] : undefined,
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
    statistic: { name: 'broken stored weights (and QOperator activations)', value: broken.length, threshold: 0, comparator: '>' },
    evidence: {
      measurements: {
        model, weights: rows.length, brokenWeights: broken.length, firstBrokenWeight: first?.site ?? null,
        firstBrokenBecause: first ? first.results.filter((x) => x.verdict === 'fail').map((x) => x.probe).join(', ') : null,
      },
      tables: [{
        title: 'stored weights (and QOperator activations) in graph order',
        headings: ['site', 'form', 'op', 'codes', 'SQNR vs float dB', 'scale-collapse', 'roundtrip', 'note'],
        rows: [...rows].sort((a, b) => a.order - b.order).map((r) => [r.site, r.form, r.opType, r.codeType, r.sqnrDb, v(r, 'scale-collapse'), v(r, 'roundtrip'), r === first ? 'first broken weight' : '']),
      }],
    },
  };
  if (first) {
    const w = first.results.find((x) => x.verdict === 'fail')!;
    // a roll-up of the site results, not a finding of its own: it follows from the first broken site
    result.explainedBySite = first.site;
    result.explanation = `${broken.length} of ${rows.length} stored weights fail; the first in graph order is ${first.site} (${w.probe}), reported there`;
    result.witness = {
      summary: `${broken.length} of ${rows.length} stored weights fail; first in graph order: ${first.site} (${w.probe}). ${w.witness?.summary ?? ''}`.trim(),
      samples: w.witness?.samples,
      repro: ctx.reproCommand(WEIGHT_HEADLINE_PROBE, format),
    };
  }
  return result;
}
