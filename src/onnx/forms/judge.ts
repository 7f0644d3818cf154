/**
 * Stored weights (QOperator, dynamic, MatMulNBits, GatherBlockQuantized, DequantizeLinear on an initializer): the lint
 * of their scales and zero-points from the file (gathering), and the 'weight-audit' headline that rolls their results
 * up. The weights themselves are judged by the probes' site judges (probes/judge-site.ts) on the `stored-codes`
 * artifact, or with the float original (`--float-model`) on the `measured` one, exactly like a QDQ weight site.
 */
import { rangeThreshold, type Thresholds } from '../../thresholds.js';
import type { ProbeResult } from '../../report/types.js';
import { fmt, lintSite, type LintFinding } from '../lint.js';
import { scaleGroupName } from '../site-stats.js';
import type { CodeStats } from './code-stats.js';
import type { SiteContext, StoredCodesFindings } from '../../../probes/site.js';
import type { WeightSite } from './weights.js';

export const WEIGHT_HEADLINE_PROBE = 'weight-audit';

export type WeightFindings = StoredCodesFindings;

/** float32's smallest normal number (lint.ts: a smaller nonzero scale is denormal). */
const FLT_MIN_NORMAL = 1.1754943508222875e-38;

/** Forms whose writers store negative scales on purpose (symmetric 4-bit: scale = signed absmax / −8). */
export const NEGATIVE_SCALE_FORMS: ReadonlySet<string> = new Set(['matmulnbits', 'gather-block-quantized']);

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
export function judgeWeights(rows: readonly WeightRow[], ctx: SiteContext, format: string, model: string): ProbeResult {
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
