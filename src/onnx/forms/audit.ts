/**
 * The audit of a model's stored weights (every form in weights.ts): decode each weight from the model's constants,
 * measure its codes (code-stats.ts), lint its scales and zero-points (judge.ts), and hand each to the probes' site
 * judges (probes/judge-site.ts). No session: the numbers are in the file. With the float original's weight beside it
 * (`--float-model`, float-model.ts pairs them), the weight is measured and judged exactly as a QDQ weight site, on
 * (float weight, dequantized codes).
 */
import type { ProbeResult } from '../../report/types.js';
import { sqnrDb } from '../../stats.js';
import type { GraphIndex } from '../graph.js';
import { judgeSite } from '../../../probes/judge-site.js';
import { storedMeasurements, type SiteContext, type SiteFindings } from '../../../probes/site.js';
import { lintSite } from '../lint.js';
import { scaleGroupName, siteStats } from '../site-stats.js';
import type { QdqSite } from '../sites.js';
import { codeStats, dequantize, packedNBits4CodeStats } from './code-stats.js';
import { NEGATIVE_SCALE_FORMS, judgeWeights, lintWeight, type WeightFindings, type WeightRow } from './judge.js';
import { readWeight, type WeightSite } from './weights.js';
import { lintActivation, type ActivationSite } from './activations.js';

export interface WeightAuditOptions extends SiteContext {
  model: string;
  /** Float weights paired with sites (float-model.ts), in each site's storage order and dims. */
  floatWeights?: Map<string, { tensor: string; how: string; values: Float32Array }>;
}

export interface WeightAuditOutcome {
  results: ProbeResult[];
  findings: WeightFindings[];
  /** SQNR of each stored weight against its float original (paired sites only). */
  sqnrDb: Map<string, { sqnrDb: number | null; refSqnrDb: number | null; tensor: string; how: string }>;
  statsMs: number;
}

export function weightFormat(s: WeightSite): string {
  return s.codeType.format ?? s.codeType.name;
}

/** The stored weight as a QDQ weight site whose quantizer is known only by its output: judged by the probes (probes/judge-site.ts). */
function asQdqSite(s: WeightSite, floatTensor: string): QdqSite {
  return {
    name: s.name, kind: 'qdq', quantize: undefined, dequantize: [s.node], input: floatTensor, inputKind: 'weight',
    scale: s.scale ?? '', zeroPoint: s.zeroPoint, codes: s.codes, output: undefined, codeType: s.codeType,
    codeDataType: s.codeType.dataType, axis: s.axis, blockSize: s.blockSize, leaks: [], consumers: [], order: s.order,
  };
}

export function auditWeights(index: GraphIndex, sites: readonly WeightSite[], opts: WeightAuditOptions, activations: readonly ActivationSite[] = []): WeightAuditOutcome {
  const t0 = performance.now();
  const ctx = { thresholds: opts.thresholds, seed: opts.seed, reproCommand: opts.reproCommand };
  const results: ProbeResult[] = [];
  const findings: WeightFindings[] = [];
  const rows: WeightRow[] = [];
  const sqnr = new Map<string, { sqnrDb: number | null; refSqnrDb: number | null; tensor: string; how: string }>();
  for (const s of sites) {
    const w = readWeight(index, s);
    const paired = opts.floatWeights?.get(s.name);
    // 4-bit MatMulNBits weights are counted in their packed bytes (100M weights: 50 MB, no unpacked copy).
    const codes = w.packed && s.codeType.bits === 4 && s.blockSize % 2 === 0 && !paired && w.scale.length === s.dims[0]! * Math.ceil(s.dims[1]! / s.blockSize)
      ? packedNBits4CodeStats(w.packed, s.dims[0]!, s.dims[1]!, s.blockSize, w.scale, w.zeroPoint, s.codeType)
      : codeStats(w.codes, w.dims, s.axis, s.blockSize, w.scale, w.zeroPoint, s.codeType);
    const lint = lintWeight(s, codes, w.scale, w.zeroPoint, opts.thresholds);
    const notes = [...w.notes, ...(codes.layoutMismatch ? [`scale layout: ${codes.layoutMismatch}`] : [])];
    const f: WeightFindings = { artifact: 'stored-codes', site: s, format: weightFormat(s), codes, lint, notes };
    findings.push(f);
    const mine: ProbeResult[] = [];
    let rowSqnr: number | null = null;
    if (paired && paired.values.length === w.codes.length && !codes.layoutMismatch) {
      // Judged as a QDQ weight site: x = the float original's weight, dq = the stored weight dequantized.
      const dq = dequantize(w.codes, w.dims, s.axis, s.blockSize, w.scale, w.zeroPoint);
      const scale = NEGATIVE_SCALE_FORMS.has(s.form) ? w.scale.map(Math.abs) : w.scale;
      const stats = siteStats({ x: paired.values, dims: w.dims, codes: w.codes, dq, twin: paired.values, scale, zeroPoint: w.zeroPoint, axis: s.axis, blockSize: s.blockSize }, s.codeType);
      const qdqLint = lintSite({ scale, zeroPoint: w.zeroPoint, zeroPointSource: undefined, codeType: s.codeType, inputKind: 'weight', groups: stats.perGroup, groupName: (g) => scaleGroupName(w.dims, s.axis, s.blockSize, g) }, opts.thresholds);
      const sf: SiteFindings = { artifact: 'measured', site: asQdqSite(s, paired.tensor), format: f.format, stats, lint: qdqLint, leaks: [] };
      const extra = { ...storedMeasurements(f), floatTensor: paired.tensor, pairedBy: paired.how };
      // H1 is the graph's question (does float maths read the codes?), answered on the stored codes' own artifact:
      // a stored form's codes are read by the runtime's kernel, or by a DequantizeLinear.
      mine.push(...judgeSite(f, ctx, ['missing-dequant']));
      for (const r of judgeSite(sf, ctx, ['roundtrip', 'scale-collapse'])) {
        r.evidence.measurements = { ...r.evidence.measurements, ...extra };
        mine.push(r);
      }
      rowSqnr = stats.localSqnrDb === null || !Number.isFinite(stats.localSqnrDb) ? null : Number(stats.localSqnrDb.toFixed(2));
      sqnr.set(s.name, { sqnrDb: stats.localSqnrDb, refSqnrDb: stats.refSqnrDb, tensor: paired.tensor, how: paired.how });
    } else {
      mine.push(...judgeSite(f, ctx));
      if (paired) {
        const dq = dequantize(w.codes, w.dims, s.axis, s.blockSize, w.scale, w.zeroPoint);
        sqnr.set(s.name, { sqnrDb: paired.values.length === dq.length ? sqnrDb(paired.values, dq) : null, refSqnrDb: null, tensor: paired.tensor, how: paired.how });
      }
    }
    results.push(...mine);
    rows.push({ site: s.name, order: s.order, results: mine, form: s.form, opType: s.opType, codeType: s.codeType.name, sqnrDb: rowSqnr });
  }
  for (const a of activations) {
    const r = judgeSite(lintActivation(index, a, opts.thresholds), ctx, ['scale-collapse'])[0]!;
    results.push(r);
    rows.push({ site: a.name, order: a.order, results: [r], form: 'qoperator activation', opType: a.producer.opType ?? '', codeType: String(r.evidence.measurements.codeType), sqnrDb: null });
  }
  const formats = [...new Set(findings.map((f) => f.format))];
  const headline = rows.length > 0 ? [judgeWeights(rows, ctx, formats.join('+') || 'unknown', opts.model)] : [];
  return { results: [...headline, ...results], findings, sqnrDb: sqnr, statsMs: performance.now() - t0 };
}
