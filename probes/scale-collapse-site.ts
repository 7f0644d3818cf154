/**
 * scale-collapse (H2) at a site of a model: the judges of the three site artifacts (probes/site.ts). The probe's
 * metadata, claim and fix are probes/scale-collapse.ts; thresholds are the `onnx.*` keys (docs/onnx.md).
 */
import { numberThreshold } from '../src/thresholds.js';
import type { Thresholds } from '../src/thresholds.js';
import type { ProbeResult } from '../src/report/types.js';
import { fmt } from '../src/onnx/lint.js';
import { scaleGroupName } from '../src/onnx/site-stats.js';
import type { CodeStats } from '../src/onnx/forms/code-stats.js';
import type { ProbeOutcome } from './types.js';
import { statistic } from './common.js';
import {
  FOLDED_NOTE, groupName, groupTable, round4, siteMeasurements, siteWitness, storedMeasurements,
  type ReaderLintFindings, type SiteArtifact, type SiteContext, type SiteFindings, type StoredCodesFindings,
} from './site.js';

/** One check of a site: its value against its threshold, and in words why it failed. */
interface Check {
  name: string;
  value: number;
  threshold: number;
  failed: boolean;
  why: string;
}

/**
 * H2 at a site of a model (probes/site.ts), against the reference quantizer of the site's code type and granularity
 * on the tensor the site really sees: static lint of the scale and zero-point (zero, denormal, negative, absurd
 * coverage, zero-point outside the codes, Q and DQ disagreeing), scale groups (channels, blocks) sent to 0, output
 * channels of a weight sent to 0 whatever the granularity, and the zero share, sign loss and effective bits beside
 * the reference's. Dead groups and the excess measures are judged only where the site quantizes a float tensor (qdq);
 * stored codes (dq-only) are judged on their lint. Thresholds: the `onnx.*` keys (docs/onnx.md).
 */
function judgeMeasured(f: SiteFindings, ctx: SiteContext): ProbeOutcome {
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
  const maxZero = numberThreshold(t, 'onnx.maxZeroExcess');
  const maxSign = numberThreshold(t, 'onnx.maxSignLossExcess');
  const maxBits = numberThreshold(t, 'onnx.maxBitsDeficit');
  const checks: Check[] = [
    { name: 'static lint findings (scale / zero-point)', value: f.lint.length, threshold: 0, failed: f.lint.length > 0, why: f.lint.map((l) => l.message).join('; ') },
    { name: 'dead scale groups (channels/blocks sent to 0)', value: dead.size, threshold: 0, failed: observed && dead.size > 0, why: `${dead.size} of ${s.perGroup.length} scale groups send ≥ ${deadAt * 100} % of their nonzero inputs to 0 (groups ${[...dead].slice(0, 8).map((g) => groupName(f, g)).join(', ')})` },
    ...(f.channels ? [{
      name: 'dead output channels (every weight sent to 0)', value: deadChannels.length, threshold: 0, failed: observed && deadChannels.length > 0,
      why: `${deadChannels.length} of ${f.channels.count} output channels (axis ${f.channels.axis}) send ≥ ${deadAt * 100} % of their nonzero weights to 0 under ${s.groups > 1 ? 'its scales' : 'one scale for the tensor'} ` +
        `(channel ${deadChannels.slice(0, 8).map((c) => `${c.channel}: |w| max ${fmt(c.absmax)}`).join(', ')}; the tensor's |w| max ${fmt(tensorMax)}, scale ${fmt(s.perGroup[0]?.scale)}): that channel's output is its bias alone`,
    }] : []),
    { name: 'zero fraction above reference', value: round4(zeroExcess), threshold: maxZero, failed: observed && zeroExcess > maxZero, why: `${fmt(s.zeroFraction * 100)} % of nonzero inputs become 0 (reference ${fmt(s.refZeroFraction * 100)} %)` },
    { name: 'sign loss above reference', value: round4(signExcess), threshold: maxSign, failed: observed && signExcess > maxSign, why: `${fmt(s.signLoss * 100)} % of negative inputs lose their sign (reference ${fmt(s.refSignLoss * 100)} %)` },
    { name: 'effective bits below reference', value: round4(bitsDeficit), threshold: maxBits, failed: observed && bitsDeficit > maxBits, why: `codes carry ${fmt(s.effectiveBits)} bits, ${s.levelsUsed} of ${s.levelsAvailable} levels (reference ${fmt(s.refEffectiveBits)} bits)` },
  ];
  const failed = checks.filter((c) => c.failed);
  const head = failed[0] ?? checks[2]!;
  const table = groupTable(f, dead);
  const outcome: ProbeOutcome = {
    verdict: failed.length > 0 ? 'fail' : 'pass',
    statistic: statistic(head.name, head.value, head.threshold, '>'),
    evidence: {
      measurements: { ...siteMeasurements(f), ...Object.fromEntries(f.lint.map((l) => [`lint.${l.rule}`, l.value])) },
      tables: [
        { title: `${f.site.name}: scale-collapse checks`, headings: ['check', 'value', 'fail when >', 'verdict'], rows: checks.map((c) => [c.name, c.value, c.threshold, c.failed ? 'fail' : 'pass']) },
        ...(table ? [table] : []),
      ],
      notes: [...f.lint.map((l) => `${l.rule}: ${l.message}`), ...(f.site.foldedClamp ? [FOLDED_NOTE] : [])],
    },
  };
  if (failed.length > 0) outcome.witness = siteWitness(f, ctx, 'scale-collapse', `${f.site.name}: ${failed.map((c) => c.why).join('; ')}`);
  return outcome;
}

/** A group whose codes never leave the zero-point with a scale a quantizer gives real data (0 and 1.0 mark an all-zero group). */
function isDeadGroup(s: CodeStats, g: number, deadAt: number): boolean {
  const n = s.count[g]!;
  const sc = s.scale[g]!;
  return n > 0 && s.atZeroPoint[g]! / n >= deadAt && Number.isFinite(sc) && sc !== 0 && sc !== 1;
}

/** Codes all on one side of the zero-point (none below, or none above) in a group with at least 8 codes, not all at it. */
function isOneSided(s: CodeStats, g: number): boolean {
  return s.count[g]! >= 8 && s.atZeroPoint[g]! < s.count[g]! && (s.below[g] === 0 || s.above[g] === 0);
}

/** The scale-collapse checks of a stored weight, from its codes: lint, dead groups, one-sided groups, saturation. */
function storedChecks(f: StoredCodesFindings, t: Thresholds): { checks: Check[]; dead: number[]; oneSided: number[] } {
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
      name: 'scale groups with every code on one side of the zero-point', value: round4(oneSidedShare), threshold: maxOneSided, failed: oneSidedShare > maxOneSided,
      why: o === undefined ? '' : `${oneSided.length} of ${eligible} scale groups have no code ${s.below[o] === 0 ? 'below' : 'above'} their zero-point (first: group ${name(o)}, zero-point ${s.zeroPoint[o]}, codes ${s.codeMin[o]}…${s.codeMax[o]}): every dequantized weight there has one sign — a wrong zero-point, or signed weights clamped at it`,
    },
    {
      name: 'codes at qmin or qmax (clipping)', value: round4(s.saturatedFraction), threshold: satApplies ? maxSat : 1, failed: satApplies && s.saturatedFraction > maxSat,
      why: `${fmt(s.saturatedFraction * 100)} % of the codes sit at ${f.site.codeType.qmin} or ${f.site.codeType.qmax}: the scale is too small for the weights, which are clipped`,
    },
  ];
  return { checks, dead, oneSided };
}

function storedGroupTable(f: StoredCodesFindings, dead: number[], oneSided: number[]): NonNullable<ProbeResult['evidence']['tables']> {
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
    rows: pick.map((g) => [name(g), fmt(s.scale[g]), s.zeroPoint[g]!, s.count[g]!, `${s.codeMin[g]}…${s.codeMax[g]}`, round4(zeroShare(g)), `${s.below[g]} / ${s.above[g]}`, s.saturated[g]!]),
  }];
}

/** H2 from a stored weight's codes alone: lint, dead groups (every code at the zero-point), one-sided groups, clipping. */
function judgeStored(f: StoredCodesFindings, ctx: SiteContext): ProbeOutcome {
  const { checks, dead, oneSided } = storedChecks(f, ctx.thresholds);
  const failed = checks.filter((c) => c.failed);
  const head = failed[0] ?? checks[1]!;
  const result: ProbeOutcome = {
    verdict: failed.length > 0 ? 'fail' : 'pass',
    statistic: statistic(head.name, head.value, head.threshold, '>'),
    evidence: {
      measurements: { ...storedMeasurements(f), ...Object.fromEntries(f.lint.map((l) => [`lint.${l.rule}`, l.value])) },
      tables: [
        { title: `${f.site.name}: scale-collapse checks on the stored codes`, headings: ['check', 'value', 'fail when >', 'verdict'], rows: checks.map((c) => [c.name, c.value, c.threshold, c.failed ? 'fail' : 'pass']) },
        ...storedGroupTable(f, dead, oneSided),
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

/** H2 at a QOperator activation: the static lint of its writer's parameters and of its readers' against them. */
function judgeReaderLint(f: ReaderLintFindings, ctx: SiteContext): ProbeOutcome {
  const failed = f.lint.length > 0;
  const outcome: ProbeOutcome = {
    verdict: failed ? 'fail' : 'pass',
    statistic: statistic('static lint findings (scale / zero-point, readers vs writer)', f.lint.length, 0, '>'),
    evidence: {
      measurements: {
        node: f.site.producerName, kind: 'qoperator-activation', inputKind: 'activation', codeType: f.codeType?.name ?? 'unknown',
        scale: f.scale, zeroPoint: f.zeroPoint, readers: f.site.readers.map((r) => r.node).join(', ') || 'none',
        ...Object.fromEntries(f.lint.map((l) => [`lint.${l.rule}`, l.value])),
      },
      notes: [...f.lint.map((l) => `${l.rule}: ${l.message}`), 'the codes are not run here; with --float-model their error against the float model is measured (float-model)'],
    },
  };
  if (failed) outcome.witness = { summary: `${f.site.name} (written by ${f.site.producerName}): ${f.lint.map((l) => l.message).join('; ')}`, repro: ctx.reproCommand('scale-collapse', f.format, f.site.name) };
  return outcome;
}

export function judgeScaleCollapseSite(f: SiteArtifact, ctx: SiteContext): ProbeOutcome {
  switch (f.artifact) {
    case 'measured': return judgeMeasured(f, ctx);
    case 'stored-codes': return judgeStored(f, ctx);
    case 'reader-lint': return judgeReaderLint(f, ctx);
  }
}
