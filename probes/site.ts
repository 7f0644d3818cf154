/**
 * A site: one place in a model where a tensor is quantized (an ONNX QuantizeLinear/DequantizeLinear pair, or a
 * DequantizeLinear of stored codes), as a gatherer measured it. Gatherers collect, probes judge (Lighthouse's
 * gatherers and audits): the ONNX target (src/onnx/audit.ts) runs the model and measures each site against the
 * reference quantizer of its code type and granularity (src/onnx/site-stats.ts), and each probe module that can judge
 * a site exports a `site` judge beside its format judge — missing-dequant (H1), scale-collapse (H2), roundtrip — with
 * its own id, hypothesis, claim and fix. probes/judge-site.ts runs them and the causal step (probes/causes.ts).
 *
 * This module is the artifact's contract and the evidence both site judges render (measurements, the scale-group
 * table, the witness). Pure: numbers in, report fields out.
 */
import type { EvidenceTable, ProbeResult, Witness } from '../src/report/types.js';
import type { Thresholds } from '../src/thresholds.js';
import type { LintFinding } from '../src/onnx/lint.js';
import { fmt } from '../src/onnx/lint.js';
import { scaleGroupName, type ChannelZeroing, type SiteStats } from '../src/onnx/site-stats.js';
import { groupAt, type CodeStats } from '../src/onnx/forms/code-stats.js';
import type { WeightSite } from '../src/onnx/forms/weights.js';
import type { CodeType } from '../src/onnx/proto.js';

/** What a site judge reads of the site itself (src/onnx/sites.ts `QdqSite` is one). */
export interface SiteDescription {
  /** Node name of the QuantizeLinear (or of the lone DequantizeLinear). */
  name: string;
  /** qdq: a float tensor quantized and dequantized in the graph; dq-only: stored codes dequantized. */
  kind: 'qdq' | 'dq-only';
  /** The float tensor quantized (dq-only: the stored codes). */
  input: string;
  inputKind: 'weight' | 'activation';
  bias?: boolean;
  foldedClamp?: boolean;
  codeType: { name: string } | undefined;
  codeDataType: number | undefined;
  axis: number;
  blockSize: number;
  /** The DequantizeLinear nodes that read the codes (none: only integer kernels do, or the codes leak). */
  dequantize: readonly { name?: string | null }[];
  /** Ops that read the dequantized tensor, as `OpType name`. */
  consumers: readonly string[];
  /** Position in the graph's topological order. */
  order: number;
}

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

/**
 * The artifacts a site judge reads, by what the gatherer could measure:
 *  - `measured`: the site's float tensor and what the site made of it, beside the reference quantizer (a QDQ site, or
 *    a stored weight paired with its float original by --float-model);
 *  - `stored-codes`: a stored weight's codes, scales and zero-points alone (QOperator, dynamic, MatMulNBits,
 *    GatherBlockQuantized, DequantizeLinear of an initializer) — no float original to compare with;
 *  - `reader-lint`: a QOperator activation: the parameters its writer and its readers declare, from the file.
 * A probe's site judge returns undefined for an artifact it has nothing to say about.
 */
export type SiteArtifact = SiteFindings | StoredCodesFindings | ReaderLintFindings;

/** A site measured against its float tensor. */
export interface SiteFindings<S extends SiteDescription = SiteDescription> {
  artifact: 'measured';
  site: S;
  /** The registry format the site's code type implies (or the code type's name). */
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

/** A stored weight known by its codes (src/onnx/forms). */
export interface StoredCodesFindings {
  artifact: 'stored-codes';
  site: WeightSite;
  format: string;
  codes: CodeStats;
  lint: LintFinding[];
  notes: string[];
}

/** A QOperator activation: its writer's output scale and zero-point, and the lint of its readers' against them. */
export interface ReaderLintFindings {
  artifact: 'reader-lint';
  /** The codes tensor, the QLinear* op that writes them, and the ops that read them (src/onnx/forms/activations.ts). */
  site: { name: string; producerName: string; readers: readonly { node: string }[] };
  format: string;
  codeType: CodeType | undefined;
  scale: number | null;
  zeroPoint: number | null;
  lint: LintFinding[];
}

export interface SiteContext {
  thresholds: Thresholds;
  seed: number;
  reproCommand(probe: string, format: string, site?: string): string;
}

/** The measurements every stored-weight result carries: the form, the codes' use of their range, the node's attributes. */
export function storedMeasurements(f: StoredCodesFindings): Record<string, number | string | boolean | null> {
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
    effectiveBits: round4(s.effectiveBits),
    atZeroPointFraction: round4(s.atZeroPointFraction),
    saturatedFraction: round4(s.saturatedFraction),
    ...Object.fromEntries(Object.entries(f.site.attrs).map(([k, v]) => [`attr.${k}`, v])),
  };
}

/** A probe's judgement of one site (probes/types.ts `ProbeOutcome`): judgeSite adds the probe's id and hypothesis, the format and the site. */
export type SiteOutcome = Pick<ProbeResult, 'verdict' | 'statistic' | 'evidence' | 'witness' | 'reason'>;

/** SQNR for the report: +Inf (exact) is shown as null with a note, NaN as null. */
export function db(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Number(v.toFixed(2));
}

export function round4(v: number): number {
  return Number(v.toFixed(4));
}

/** A scale group as a reader finds it (site-stats.ts `scaleGroupName`). */
export function groupName(f: SiteFindings, g: number): string {
  return scaleGroupName(f.stats.dims, f.site.axis, f.site.blockSize, g);
}

/** The measurements every site result carries: what the site is and what it does to its tensor, beside the reference. */
export function siteMeasurements(f: SiteFindings): Record<string, number | string | boolean | null> {
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
    zeroFraction: round4(s.zeroFraction),
    refZeroFraction: round4(s.refZeroFraction),
    signLoss: round4(s.signLoss),
    refSignLoss: round4(s.refSignLoss),
    levelsUsed: s.levelsUsed,
    levelsAvailable: s.levelsAvailable,
    effectiveBits: round4(s.effectiveBits),
    refEffectiveBits: round4(s.refEffectiveBits),
    localSqnrDb: db(s.localSqnrDb),
    refSqnrDb: db(s.refSqnrDb),
    cumulativeSqnrDb: db(s.cumulativeSqnrDb),
    nonFiniteOutput: s.nonFiniteOutput,
  };
}

/** The scale groups worth showing: the dead ones first, then the worst few by SQNR — not a dump of every channel. */
export function groupTable(f: SiteFindings, dead: ReadonlySet<number>): EvidenceTable | undefined {
  const g = f.stats.perGroup;
  if (g.length <= 1) return undefined;
  const pick = [...g].sort((a, b) => (dead.has(b.group) ? 1 : 0) - (dead.has(a.group) ? 1 : 0) || a.sqnrDb - b.sqnrDb).slice(0, 8);
  return {
    title: `${f.site.name}: scale groups (worst ${pick.length} of ${g.length})`,
    headings: ['group', 'scale', 'zero-point', '|x| max', 'coverage', 'zero fraction', 'ref zero fraction', 'SQNR dB', 'ref SQNR dB'],
    rows: pick.map((r) => [f.site.blockSize > 0 ? groupName(f, r.group) : r.group, fmt(r.scale), r.zeroPoint, fmt(r.absmax), fmt(r.coverage), round4(r.zeroFraction), round4(r.refZeroFraction), db(r.sqnrDb), db(r.refSqnrDb)]),
  };
}

/** A site witness: the summary, the largest |x − DQ(Q(x))| elements, and the command that re-runs this probe on this site. */
export function siteWitness(f: SiteFindings, ctx: SiteContext, probe: string, summary: string): Witness {
  return {
    summary,
    samples: f.stats.worst.map((w) => ({ x: w.x, y: w.y, expected: w.expected, note: `element ${w.index}` })),
    repro: ctx.reproCommand(probe, f.format, f.site.name),
  };
}

export const FOLDED_NOTE =
  'zero-point = the code minimum on an activation: the quantizer clamps at 0, the form in which onnxruntime\'s quantizer folds a Relu (or Clip) into the ' +
  'QuantizeLinear; the site is judged against max(x, 0), its float function, and the float twin keeps that clamp';

/** A site result with the probe's identity: what judgeSite returns per probe. */
export function siteResult(probe: { id: string; hypothesis: string }, f: SiteArtifact, ctx: SiteContext, outcome: SiteOutcome): ProbeResult {
  return { probe: probe.id, hypothesis: probe.hypothesis, format: f.format, seed: ctx.seed, site: f.site.name, ...outcome };
}
