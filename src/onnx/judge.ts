/**
 * Judging a site: pure functions from measured numbers (site stats, lint findings, leaks) to
 * ProbeResults with a statistic, its threshold and a witness. One result per site and
 * hypothesis (`missing-dequant`, `scale-collapse`, `roundtrip`), plus one headline per model.
 * At one site, a roundtrip failure follows from a failing scale-collapse (the same code type and
 * granularity with a scale fitted to the data — the reference — reaches the reference SQNR); links
 * between sites come from repair experiments (causal.ts).
 */
import { numberThreshold, type Thresholds } from '../thresholds.js';
import type { EvidenceTable, ProbeResult, Witness } from '../report/types.js';
import { fmt, type LintFinding } from './lint.js';
import { scaleGroupName, type ChannelZeroing, type SiteStats } from './site-stats.js';
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

/** An order-only reader of codes (ArgMax, ArgMin, TopK) run on the codes and on the dequantized codes. */
export interface OrderCheck {
  node: string;
  opType: string;
  /** Indices compared, and how many differ; null when the experiment could not be built (see `why`). */
  compared: number;
  mismatched: number | null;
  why?: string;
}

export interface SiteFindings {
  site: QdqSite;
  format: string;
  stats: SiteStats;
  lint: LintFinding[];
  leaks: LeakStats[];
  /** Order-only readers whose result on the codes equals their result on the dequantized values (not leaks). */
  orderChecks?: OrderCheck[];
  /** Output channels of a weight whose every nonzero value comes out 0, judged against the float weight (any granularity). */
  deadChannels?: ChannelZeroing[];
  /** The output-channel axis deadChannels was measured on, and how many channels it has. */
  channels?: { axis: number; count: number };
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
    ...(f.site.bias ? { bias: true } : {}),
    ...(f.site.foldedClamp ? { foldedClamp: true } : {}),
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
    const notes = [
      ...(f.site.kind === 'qdq' && f.site.dequantize.length === 0 ? ['the codes are read only by integer kernels (QLinear*, MatMulInteger, …): no DequantizeLinear needed'] : []),
      ...(f.orderChecks ?? []).map((c) => `${c.opType} ${c.node} reads the codes: run on the dequantized codes it gives the same ${c.compared} indices (order-preserving, not a leak)`),
    ];
    return { ...base, verdict: 'pass', statistic, evidence: { measurements, ...(notes.length > 0 ? { notes } : {}) } };
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
  const deadChannels = (f.deadChannels ?? []).filter((c) => c.nonzero > 0 && c.zeroed / c.nonzero >= deadAt);
  const tensorMax = (f.deadChannels ?? []).reduce((m, c) => Math.max(m, c.absmax), 0);
  const checks: { name: string; value: number; threshold: number; failed: boolean; why: string }[] = [
    { name: 'static lint findings (scale / zero-point)', value: f.lint.length, threshold: 0, failed: f.lint.length > 0, why: f.lint.map((l) => l.message).join('; ') },
    { name: 'dead scale groups (channels/blocks sent to 0)', value: dead.size, threshold: 0, failed: observed && dead.size > 0, why: `${dead.size} of ${s.perGroup.length} scale groups send ≥ ${deadAt * 100} % of their nonzero inputs to 0 (groups ${[...dead].slice(0, 8).map((g) => groupName(f, g)).join(', ')})` },
    ...(f.channels ? [{
      name: 'dead output channels (every weight sent to 0)', value: deadChannels.length, threshold: 0, failed: observed && deadChannels.length > 0,
      why: `${deadChannels.length} of ${f.channels.count} output channels (axis ${f.channels.axis}) send ≥ ${deadAt * 100} % of their nonzero weights to 0 under ${s.groups > 1 ? 'its scales' : 'one scale for the tensor'} ` +
        `(channel ${deadChannels.slice(0, 8).map((c) => `${c.channel}: |w| max ${fmt(c.absmax)}`).join(', ')}; the tensor's |w| max ${fmt(tensorMax)}, scale ${fmt(s.perGroup[0]?.scale)}): that channel's output is its bias alone`,
    }] : []),
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
      notes: [...f.lint.map((l) => `${l.rule}: ${l.message}`), ...(f.site.foldedClamp ? [FOLDED_NOTE] : [])],
    },
  };
  if (failed.length > 0) result.witness = witness(f, ctx, 'scale-collapse', `${f.site.name}: ${failed.map((c) => c.why).join('; ')}`);
  return result;
}

const FOLDED_NOTE =
  'zero-point = the code minimum on an activation: the quantizer clamps at 0, the form in which onnxruntime\'s quantizer folds a Relu (or Clip) into the ' +
  'QuantizeLinear; the site is judged against max(x, 0), its float function, and the float twin keeps that clamp';

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
  const nonFiniteExcess = s.nonFiniteOutput > s.nonFiniteInput;
  if (value === null && !nonFiniteExcess) {
    // A NaN statistic is no evidence either way (e.g. NaN inputs): inconclusive, never a fail.
    return {
      ...base, verdict: 'inconclusive',
      reason: `local SQNR is NaN (${s.nonFiniteInput} of ${s.elements} inputs are NaN/Inf, no more outputs than that): no evidence either way`,
      statistic: { name: 'local SQNR (dB) of DequantizeLinear(QuantizeLinear(x)) vs x', value: null, threshold, comparator: '<', unit: 'dB' },
      evidence: { measurements: siteMeasurements(f) },
    };
  }
  const broken = value === null || nonFiniteExcess || value < threshold;
  const result: ProbeResult = {
    ...base,
    verdict: broken ? 'fail' : 'pass',
    statistic: { name: 'local SQNR (dB) of DequantizeLinear(QuantizeLinear(x)) vs x', value: db(value), threshold, comparator: '<', unit: 'dB' },
    evidence: {
      measurements: { ...siteMeasurements(f), sqnrDeficitDb: deficit },
      notes: [
        `local SQNR compares the site's output with its own input; cumulative SQNR compares it with the float twin (every Q/DQ pair bypassed) at the same tensor, so it also carries upstream error.`,
        ...(f.site.foldedClamp ? [FOLDED_NOTE] : []),
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
  const results = [judgeMissingDequant(f, ctx), judgeScaleCollapse(f, ctx), judgeRoundtrip(f, ctx)];
  const [, scale, roundtrip] = results as [ProbeResult, ProbeResult, ProbeResult];
  if (scale.verdict === 'fail' && roundtrip.verdict === 'fail') {
    // Q/DQ arithmetic is onnxruntime's: a roundtrip deficit comes from the site's parameters, which scale-collapse found
    // wrong. The repaired site — the same code type and granularity with a scale fitted to the data (the reference) —
    // reaches the reference SQNR on the same tensor.
    roundtrip.explainedBy = 'scale-collapse';
    roundtrip.explanation =
      `with its scale fitted to the data (the reference quantizer: same code type and granularity) ${f.site.name} reaches ${fmt(f.stats.refSqnrDb)} dB on the same tensor, ` +
      `against ${fmt(f.stats.localSqnrDb)} dB${f.stats.nonFiniteOutput > f.stats.nonFiniteInput ? ` and ${f.stats.nonFiniteOutput} NaN/Inf outputs` : ''}: the loss follows from the scale-collapse finding`;
  }
  return results;
}

export interface ModelSummary {
  path: string;
  opset: number;
  sites: SiteFindings[];
  /** SQNR of each model output against the float twin. */
  outputSqnrDb: Record<string, number | null>;
  inputsFrom: string;
}

/**
 * One verdict per model: how many sites have a failure of their own (a primary cause: not explained by an upstream
 * site), and the first one in graph order. Sites that fail only because an upstream one does are listed as explained.
 */
export function judgeModel(summary: ModelSummary, siteResults: ProbeResult[], ctx: JudgeContext, format: string): ProbeResult {
  const failing = siteResults.filter((r) => r.verdict === 'fail');
  const order = new Map(summary.sites.map((s) => [s.site.name, s.site.order]));
  const byOrder = (a: string, b: string): number => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const brokenSites = [...new Set(failing.map((r) => r.site!))].sort(byOrder);
  // A site is a cause when one of its failures is explained by nothing (not by an upstream site, nor by its own scale).
  const primarySites = brokenSites.filter((site) => failing.some((r) => r.site === site && !r.explainedBy));
  const first = primarySites[0];
  const firstWhy = first ? failing.filter((r) => r.site === first).map((r) => r.probe) : [];
  const rows = summary.sites.map((f) => {
    const mine = siteResults.filter((r) => r.site === f.site.name);
    const v = (p: string): string => mine.find((r) => r.probe === p)?.verdict ?? '';
    const failed = mine.some((r) => r.verdict === 'fail');
    const explainedBy = [...new Set(mine.filter((r) => r.verdict === 'fail' && r.explainedBySite).map((r) => r.explainedBySite!))];
    const own = primarySites.includes(f.site.name);
    // A site after the first broken one that no repair cleared may still fail only because its input is already wrong.
    const note = !failed ? '' : f.site.name === first ? 'first broken node'
      : !own ? `explained by ${explainedBy.join(', ')}`
        : first && f.site.order > (order.get(first) ?? 0) ? `downstream of ${first}${explainedBy.length > 0 ? `; partly explained by ${explainedBy.join(', ')}` : ''}` : '';
    return [f.site.name, f.site.inputKind, f.site.codeType?.name ?? '?', db(f.stats.localSqnrDb), db(f.stats.cumulativeSqnrDb), v('missing-dequant'), v('scale-collapse'), v('roundtrip'), note];
  });
  const result: ProbeResult = {
    probe: HEADLINE_PROBE,
    hypothesis: 'qdq',
    format,
    seed: ctx.seed,
    verdict: failing.length > 0 ? 'fail' : 'pass',
    statistic: { name: 'QDQ sites with a failure of their own', value: primarySites.length, threshold: 0, comparator: '>' },
    evidence: {
      measurements: {
        model: summary.path,
        opset: summary.opset,
        sites: summary.sites.length,
        brokenSites: brokenSites.length,
        primaryBrokenSites: primarySites.length,
        firstBrokenNode: first ?? null,
        firstBrokenBecause: firstWhy.join(', ') || null,
        inputs: summary.inputsFrom,
        ...Object.fromEntries(Object.entries(summary.outputSqnrDb).map(([k, v]) => [`outputSqnrDb.${k}`, db(v)])),
      },
      tables: [{ title: 'QDQ sites in graph order', headings: ['node', 'input', 'codes', 'local SQNR dB', 'cumulative SQNR dB', 'missing-dequant', 'scale-collapse', 'roundtrip', 'note'], rows }],
    },
  };
  if (first) {
    const firstFailure = failing.find((r) => r.site === first && !r.explainedBy) ?? failing.find((r) => r.site === first)!;
    // The headline restates its sites' findings: it follows from the first site's own failure (not a cause of its own).
    result.explainedBy = firstFailure.probe;
    result.explainedBySite = first;
    result.explanation = `the model verdict summarises its sites: ${primarySites.length} with a failure of their own (${primarySites.slice(0, 4).join(', ')}${primarySites.length > 4 ? ', …' : ''})`;
    result.witness = {
      summary: `${brokenSites.length} of ${summary.sites.length} QDQ sites fail${primarySites.length < brokenSites.length ? ` (${brokenSites.length - primarySites.length} only because of an upstream site)` : ''}; first broken node in graph order: ${first} (${firstWhy.join(', ')}). ${firstFailure.witness?.summary ?? ''}`.trim(),
      samples: firstFailure.witness?.samples,
      repro: ctx.reproCommand(HEADLINE_PROBE, format),
    };
  }
  return result;
}
