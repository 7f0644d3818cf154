/**
 * Judging a site: pure functions from measured numbers (site stats, lint findings, leaks) to
 * ProbeResults with a statistic, its threshold and a witness. One result per site and
 * hypothesis (`missing-dequant`, `scale-collapse`, `roundtrip`), plus one headline per model.
 */
import { numberThreshold, type Thresholds } from '../thresholds.js';
import type { EvidenceTable, ProbeResult, Witness } from '../report/types.js';
import { fmt, type LintFinding } from './lint.js';
import { scaleGroupName, type SiteStats } from './site-stats.js';
import type { QdqSite } from './sites.js';

export const HEADLINE_PROBE = 'qdq-audit';

export interface LeakStats {
  node: string;
  opType: string;
  tensor: string;
  consumers: string[];
  /** rms(tensor the float op reads) / rms(x): ≈ 1/scale when codes leak. */
  rmsRatio: number | null;
  integerFraction: number | null;
}

export interface SiteFindings {
  site: QdqSite;
  format: string;
  stats: SiteStats;
  lint: LintFinding[];
  leaks: LeakStats[];
}

export interface JudgeContext {
  thresholds: Thresholds;
  seed: number;
  reproCommand(probe: string, format: string, site?: string): string;
}

/** The same hypothesis labels the probes use (probes/*.ts), so reports group site rows with probe rows. */
const HYPOTHESES = {
  'missing-dequant': 'H1',
  'scale-collapse': 'H2',
  roundtrip: 'codec',
} as const;

/** SQNR for the report: +Inf (exact) is shown as null with a note, NaN as null. */
function db(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Number(v.toFixed(2));
}

function siteMeasurements(f: SiteFindings): Record<string, number | string | boolean | null> {
  const s = f.stats;
  return {
    node: f.site.name,
    kind: f.site.kind,
    input: f.site.input,
    inputKind: f.site.inputKind,
    codeType: f.site.codeType?.name ?? `type ${f.site.codeDataType ?? 'unknown'}`,
    granularity: s.groups > 1 ? (f.site.blockSize > 0 ? `per-block(${f.site.blockSize}) axis ${f.site.axis}` : `per-channel axis ${f.site.axis}`) : 'per-tensor',
    dequantizeLinear: f.site.dequantize.length > 0 ? f.site.dequantize.map((d) => d.name || '(unnamed)').join(', ') : 'none',
    consumers: f.site.consumers.join(', ') || 'none',
    elements: s.elements,
    scale: s.perGroup.length === 1 ? s.perGroup[0]!.scale : null,
    zeroPoint: s.perGroup.length === 1 ? s.perGroup[0]!.zeroPoint : null,
    zeroFraction: round(s.zeroFraction),
    refZeroFraction: round(s.refZeroFraction),
    signLoss: round(s.signLoss),
    refSignLoss: round(s.refSignLoss),
    levelsUsed: s.levelsUsed,
    levelsAvailable: s.levelsAvailable,
    effectiveBits: round(s.effectiveBits),
    refEffectiveBits: round(s.refEffectiveBits),
    localSqnrDb: db(s.localSqnrDb),
    refSqnrDb: db(s.refSqnrDb),
    cumulativeSqnrDb: db(s.cumulativeSqnrDb),
    nonFiniteOutput: s.nonFiniteOutput,
  };
}

function round(v: number): number {
  return Number(v.toFixed(4));
}

/** A scale group as a reader finds it (site-stats.ts `scaleGroupName`). */
export function groupName(f: SiteFindings, g: number): string {
  return scaleGroupName(f.stats.dims, f.site.axis, f.site.blockSize, g);
}

function groupTable(f: SiteFindings, dead: Set<number>): EvidenceTable | undefined {
  const g = f.stats.perGroup;
  if (g.length <= 1) return undefined;
  // Show the dead groups and the worst few by SQNR, not a dump of every channel.
  const pick = [...g].sort((a, b) => (dead.has(b.group) ? 1 : 0) - (dead.has(a.group) ? 1 : 0) || a.sqnrDb - b.sqnrDb).slice(0, 8);
  return {
    title: `${f.site.name}: scale groups (worst ${pick.length} of ${g.length})`,
    headings: ['group', 'scale', 'zero-point', '|x| max', 'coverage', 'zero fraction', 'ref zero fraction', 'SQNR dB', 'ref SQNR dB'],
    rows: pick.map((r) => [f.site.blockSize > 0 ? groupName(f, r.group) : r.group, fmt(r.scale), r.zeroPoint, fmt(r.absmax), fmt(r.coverage), round(r.zeroFraction), round(r.refZeroFraction), db(r.sqnrDb), db(r.refSqnrDb)]),
  };
}

function witness(f: SiteFindings, ctx: JudgeContext, probe: string, summary: string): Witness {
  return {
    summary,
    samples: f.stats.worst.map((w) => ({ x: w.x, y: w.y, expected: w.expected, note: `element ${w.index}` })),
    repro: ctx.reproCommand(probe, f.format, f.site.name),
  };
}

export function judgeMissingDequant(f: SiteFindings, ctx: JudgeContext): ProbeResult {
  const leaks = f.leaks;
  const base = {
    probe: 'missing-dequant', hypothesis: HYPOTHESES['missing-dequant'], format: f.format, seed: ctx.seed, site: f.site.name,
  };
  const measurements = {
    ...siteMeasurements(f),
    leaks: leaks.length,
    rmsRatio: leaks[0]?.rmsRatio ?? f.stats.rmsRatio,
    integerFraction: leaks[0]?.integerFraction ?? null,
  };
  const statistic = { name: 'float ops reading codes without DequantizeLinear', value: leaks.length, threshold: 0, comparator: '>' as const };
  if (leaks.length === 0) {
    const notes = f.site.kind === 'qdq' && f.site.dequantize.length === 0 ? ['the codes are read only by integer kernels (QLinear*, MatMulInteger, …): no DequantizeLinear needed'] : undefined;
    return { ...base, verdict: 'pass', statistic, evidence: { measurements, ...(notes ? { notes } : {}) } };
  }
  const l = leaks[0]!;
  const summary =
    `${f.site.name}: the ${f.site.codeType?.name ?? ''} codes reach ${l.consumers.join(', ')} through ${l.opType} ${l.node} without DequantizeLinear; ` +
    `rms(${l.tensor}) / rms(${f.site.input}) = ${fmt(l.rmsRatio)} (a dequantized tensor has ≈ 1), ${fmt(l.integerFraction === null ? null : l.integerFraction * 100)} % integer-valued`;
  return {
    ...base,
    verdict: 'fail',
    statistic,
    evidence: {
      measurements,
      tables: [{ title: `${f.site.name}: codes leaking into float maths`, headings: ['via', 'tensor', 'read by', 'rms ratio', 'integer share'], rows: leaks.map((x) => [`${x.opType} ${x.node}`, x.tensor, x.consumers.join(', '), fmt(x.rmsRatio), x.integerFraction === null ? null : round(x.integerFraction)]) }],
    },
    witness: witness(f, ctx, 'missing-dequant', summary),
  };
}

export function judgeScaleCollapse(f: SiteFindings, ctx: JudgeContext): ProbeResult {
  const t = ctx.thresholds;
  const s = f.stats;
  const zeroExcess = s.zeroFraction - s.refZeroFraction;
  const signExcess = s.signLoss - s.refSignLoss;
  const bitsDeficit = s.refEffectiveBits - s.effectiveBits;
  const deadAt = numberThreshold(t, 'onnx.deadGroupZeroFraction');
  const dead = new Set(s.perGroup.filter((g) => g.zeroFraction >= deadAt && g.refZeroFraction < deadAt / 2 && g.absmax > 0).map((g) => g.group));
  const observed = f.site.kind === 'qdq';
  const checks: { name: string; value: number; threshold: number; failed: boolean; why: string }[] = [
    { name: 'static lint findings (scale / zero-point)', value: f.lint.length, threshold: 0, failed: f.lint.length > 0, why: f.lint.map((l) => l.message).join('; ') },
    { name: 'dead scale groups (channels/blocks sent to 0)', value: dead.size, threshold: 0, failed: observed && dead.size > 0, why: `${dead.size} of ${s.perGroup.length} scale groups send ≥ ${deadAt * 100} % of their nonzero inputs to 0 (groups ${[...dead].slice(0, 8).map((g) => groupName(f, g)).join(', ')})` },
    { name: 'zero fraction above reference', value: round(zeroExcess), threshold: numberThreshold(t, 'onnx.maxZeroExcess'), failed: observed && zeroExcess > numberThreshold(t, 'onnx.maxZeroExcess'), why: `${fmt(s.zeroFraction * 100)} % of nonzero inputs become 0 (reference ${fmt(s.refZeroFraction * 100)} %)` },
    { name: 'sign loss above reference', value: round(signExcess), threshold: numberThreshold(t, 'onnx.maxSignLossExcess'), failed: observed && signExcess > numberThreshold(t, 'onnx.maxSignLossExcess'), why: `${fmt(s.signLoss * 100)} % of negative inputs lose their sign (reference ${fmt(s.refSignLoss * 100)} %)` },
    { name: 'effective bits below reference', value: round(bitsDeficit), threshold: numberThreshold(t, 'onnx.maxBitsDeficit'), failed: observed && bitsDeficit > numberThreshold(t, 'onnx.maxBitsDeficit'), why: `codes carry ${fmt(s.effectiveBits)} bits, ${s.levelsUsed} of ${s.levelsAvailable} levels (reference ${fmt(s.refEffectiveBits)} bits)` },
  ];
  const failed = checks.filter((c) => c.failed);
  const head = failed[0] ?? checks[2]!;
  const result: ProbeResult = {
    probe: 'scale-collapse', hypothesis: HYPOTHESES['scale-collapse'], format: f.format, seed: ctx.seed, site: f.site.name,
    verdict: failed.length > 0 ? 'fail' : 'pass',
    statistic: { name: head.name, value: head.value, threshold: head.threshold, comparator: '>' },
    evidence: {
      measurements: { ...siteMeasurements(f), ...Object.fromEntries(f.lint.map((l) => [`lint.${l.rule}`, l.value])) },
      tables: [
        { title: `${f.site.name}: scale-collapse checks`, headings: ['check', 'value', 'fail when >', 'verdict'], rows: checks.map((c) => [c.name, c.value, c.threshold, c.failed ? 'fail' : 'pass']) },
        ...(groupTable(f, dead) ? [groupTable(f, dead)!] : []),
      ],
      notes: f.lint.map((l) => `${l.rule}: ${l.message}`),
    },
  };
  if (failed.length > 0) result.witness = witness(f, ctx, 'scale-collapse', `${f.site.name}: ${failed.map((c) => c.why).join('; ')}`);
  return result;
}

export function judgeRoundtrip(f: SiteFindings, ctx: JudgeContext): ProbeResult {
  const s = f.stats;
  const base = { probe: 'roundtrip', hypothesis: HYPOTHESES.roundtrip, format: f.format, seed: ctx.seed, site: f.site.name };
  const deficit = numberThreshold(ctx.thresholds, f.site.inputKind === 'weight' ? 'onnx.maxSqnrDeficitDb' : 'onnx.maxActivationSqnrDeficitDb');
  if (s.refSqnrDb === null || f.site.kind !== 'qdq' || f.site.dequantize.length === 0) {
    return {
      ...base, verdict: 'skipped',
      reason: f.site.kind === 'dq-only' ? 'stored codes: no float original to compare with' : 'no DequantizeLinear: see missing-dequant',
      statistic: { name: 'local SQNR (dB)', value: null, threshold: null, comparator: '<', unit: 'dB' },
      evidence: { measurements: siteMeasurements(f) },
    };
  }
  const threshold = Number.isFinite(s.refSqnrDb) ? Number((s.refSqnrDb - deficit).toFixed(2)) : 100;
  const value = s.localSqnrDb;
  const broken = value === null || s.nonFiniteOutput > s.nonFiniteInput || value < threshold;
  const result: ProbeResult = {
    ...base,
    verdict: broken ? 'fail' : 'pass',
    statistic: { name: 'local SQNR (dB) of DequantizeLinear(QuantizeLinear(x)) vs x', value: db(value), threshold, comparator: '<', unit: 'dB' },
    evidence: {
      measurements: { ...siteMeasurements(f), sqnrDeficitDb: deficit },
      notes: [
        `local SQNR compares the site's output with its own input; cumulative SQNR compares it with the float twin (every Q/DQ pair bypassed) at the same tensor, so it also carries upstream error.`,
        ...(value !== null && !Number.isFinite(value) ? ['local SQNR is +Inf: the roundtrip is exact on these inputs'] : []),
      ],
    },
  };
  if (broken) {
    const why = value === null || s.nonFiniteOutput > s.nonFiniteInput
      ? `${s.nonFiniteOutput} of ${s.elements} outputs are NaN/Inf on ${s.nonFiniteInput === 0 ? 'finite' : 'partly non-finite'} input`
      : `local SQNR ${fmt(value)} dB < ${threshold} dB (a correctly scaled ${f.site.codeType?.name ?? ''} quantizer ${Number.isFinite(s.refSqnrDb) ? `reaches ${fmt(s.refSqnrDb)} dB` : 'reproduces it exactly (no error: SQNR without bound)'} on the same tensor)`;
    result.witness = witness(f, ctx, 'roundtrip', `${f.site.name}: ${why}; cumulative SQNR vs float twin ${fmt(s.cumulativeSqnrDb)} dB`);
  }
  return result;
}

export function judgeSite(f: SiteFindings, ctx: JudgeContext): ProbeResult[] {
  return [judgeMissingDequant(f, ctx), judgeScaleCollapse(f, ctx), judgeRoundtrip(f, ctx)];
}

export interface ModelSummary {
  path: string;
  opset: number;
  sites: SiteFindings[];
  /** SQNR of each model output against the float twin. */
  outputSqnrDb: Record<string, number | null>;
  inputsFrom: string;
}

/** One verdict per model: how many sites are broken, and the first one in graph order. */
export function judgeModel(summary: ModelSummary, siteResults: ProbeResult[], ctx: JudgeContext, format: string): ProbeResult {
  const failing = siteResults.filter((r) => r.verdict === 'fail');
  const brokenSites = [...new Set(failing.map((r) => r.site!))];
  const order = new Map(summary.sites.map((s) => [s.site.name, s.site.order]));
  brokenSites.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  const first = brokenSites[0];
  const firstWhy = first ? failing.filter((r) => r.site === first).map((r) => r.probe) : [];
  const rows = summary.sites.map((f) => {
    const mine = siteResults.filter((r) => r.site === f.site.name);
    const v = (p: string): string => mine.find((r) => r.probe === p)?.verdict ?? '';
    const failed = mine.some((r) => r.verdict === 'fail');
    // A site after the first broken one may fail only because its input is already wrong.
    const note = !failed ? '' : f.site.name === first ? 'first broken node' : first && f.site.order > (order.get(first) ?? 0) ? `downstream of ${first}` : '';
    return [f.site.name, f.site.inputKind, f.site.codeType?.name ?? '?', db(f.stats.localSqnrDb), db(f.stats.cumulativeSqnrDb), v('missing-dequant'), v('scale-collapse'), v('roundtrip'), note];
  });
  const result: ProbeResult = {
    probe: HEADLINE_PROBE,
    hypothesis: 'qdq',
    format,
    seed: ctx.seed,
    verdict: failing.length > 0 ? 'fail' : 'pass',
    statistic: { name: 'broken QDQ sites', value: brokenSites.length, threshold: 0, comparator: '>' },
    evidence: {
      measurements: {
        model: summary.path,
        opset: summary.opset,
        sites: summary.sites.length,
        brokenSites: brokenSites.length,
        firstBrokenNode: first ?? null,
        firstBrokenBecause: firstWhy.join(', ') || null,
        inputs: summary.inputsFrom,
        ...Object.fromEntries(Object.entries(summary.outputSqnrDb).map(([k, v]) => [`outputSqnrDb.${k}`, db(v)])),
      },
      tables: [{ title: 'QDQ sites in graph order', headings: ['node', 'input', 'codes', 'local SQNR dB', 'cumulative SQNR dB', 'missing-dequant', 'scale-collapse', 'roundtrip', 'note'], rows }],
    },
  };
  if (first) {
    const firstFailure = failing.find((r) => r.site === first)!;
    result.witness = {
      summary: `${brokenSites.length} of ${summary.sites.length} QDQ sites fail; first broken node in graph order: ${first} (${firstWhy.join(', ')}). ${firstFailure.witness?.summary ?? ''}`.trim(),
      samples: firstFailure.witness?.samples,
      repro: ctx.reproCommand(HEADLINE_PROBE, format),
    };
  }
  return result;
}
