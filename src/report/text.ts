/**
 * Number and statistic formatting shared by every view, so markdown, JUnit and terminal
 * print the same value the same way. Non-finite values (and null, which is what a
 * non-finite number becomes in foreign JSON) are printed, never hidden.
 */
import type { LaneStatus, Lane, ProbeResult, Report, ReportVerdict, Statistic, Verdict } from './types.js';
import { LANE_STATUS_ICON, NOT_LEARNING } from '../verdict/lanes.js';
import { laneGated, resultGated } from '../verdict/gate.js';

/** What a run's verdict amounts to, in words: one owner for the headline state every view shows. */
export interface RunState {
  kind: 'falsified' | 'inconclusive' | 'usage-error' | 'below-gate' | 'no-witness';
  word: string;
  /** Why, when the word needs it. */
  note?: string;
}

export function runState(v: Pick<ReportVerdict, 'exitCode' | 'falsified'>): RunState {
  if (v.exitCode === 1) return { kind: 'falsified', word: 'Falsified' };
  if (v.exitCode === 3) return { kind: 'inconclusive', word: 'Inconclusive', note: 'the control or the environment failed, so not everything could be judged' };
  if (v.exitCode === 2) return { kind: 'usage-error', word: 'Usage error' };
  if (v.falsified) return { kind: 'below-gate', word: 'Witnesses found, below the gate' };
  return { kind: 'no-witness', word: 'No witness' };
}

export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'n/a';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '∞';
  if (v === -Infinity) return '-∞';
  if (v === 0) return '0';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

export function fmtBpb(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return fmtNum(v);
  return v.toFixed(3);
}

/** A lane's bpb for a table: a diverged lane's loss is not a measurement, so it is named, never printed as a number. */
export function fmtLaneBpb(l: Lane, which: 'best' | 'final'): string {
  if (l.status === 'diverged') return which === 'final' ? 'diverged' : '—';
  return fmtBpb(which === 'best' ? l.bestBpb : l.bpb);
}

/** The gate's decision for a result: its mark, or (reports written before the mark existed) the gate's own rule. */
export function isGated(r: ProbeResult, report: Report): boolean {
  return r.gated ?? resultGated(r, report.run.failOn);
}

export function isLaneGated(l: Lane, report: Report): boolean {
  return l.gated ?? laneGated(l, report.run.failOn);
}

/** Lanes that did not learn: dead and diverged. */
export function notLearning(lanes: Lane[]): Lane[] {
  return lanes.filter((l) => l.control !== true && NOT_LEARNING.includes(l.status));
}

/** A failing result nothing else explains: a cause. */
export function isCause(r: ProbeResult): boolean {
  return r.verdict === 'fail' && r.explainedBy === undefined;
}

/** "H1 · missing-dequant" for a probe id, from the hypothesis label the report's results carry. */
export function hypothesisOf(probe: string, results: ProbeResult[]): string {
  const h = results.find((r) => r.probe === probe)?.hypothesis;
  return h && h !== probe ? h : probe;
}

/** A lane's median proposed update in quantization steps ("0.058"), or "" (control, not measured). */
export function fmtUpdateToStep(l: Pick<Lane, 'updateToStep'>): string {
  const r = l.updateToStep?.median;
  if (r === undefined || r === null || !Number.isFinite(r)) return '';
  return r >= 100 ? r.toFixed(0) : Number(r.toPrecision(2)).toString();
}

/** "< 0.9", "outside [0.5, 2]", or "" when the statistic has no threshold. */
export function fmtRule(s: Statistic): string {
  if (s.threshold === null) return '';
  if (Array.isArray(s.threshold)) return `${s.comparator} [${fmtNum(s.threshold[0])}, ${fmtNum(s.threshold[1])}]`;
  return `${s.comparator} ${fmtNum(s.threshold as number)}`;
}

export function fmtValue(s: Statistic): string {
  return `${fmtNum(s.value)}${s.unit && s.value !== null ? ` ${s.unit}` : ''}`;
}

/** `cosine = 0.000 (fails when < 0.9)`. */
export function fmtStatistic(s: Statistic): string {
  const rule = fmtRule(s);
  return `${s.name} = ${fmtValue(s)}${rule ? ` (fails when ${rule})` : ''}`;
}

/** The ONNX `--float-model` comparison's probe id (src/onnx/forms/float-model.ts): its tables are shown pass or fail. */
export const FLOAT_MODEL_PROBE = 'float-model';

export const VERDICT_WORD: Record<Verdict, string> = {
  fail: 'supported',
  pass: 'refuted',
  skipped: 'skipped',
  inconclusive: 'inconclusive',
};

export const VERDICT_ICON: Record<Verdict, string> = {
  fail: '❌',
  pass: '✅',
  skipped: '➖',
  inconclusive: '❔',
};

/** Worst first: one verdict per matrix cell when several results (optimizers, seeds) share it. */
const VERDICT_RANK: Record<Verdict, number> = { fail: 0, inconclusive: 1, pass: 2, skipped: 3 };

export function worstResult(results: ProbeResult[]): ProbeResult | undefined {
  let worst: ProbeResult | undefined;
  for (const r of results) if (worst === undefined || VERDICT_RANK[r.verdict] < VERDICT_RANK[worst.verdict]) worst = r;
  return worst;
}

export function laneStatusLabel(status: LaneStatus): string {
  return `${LANE_STATUS_ICON[status]} ${status}`;
}

/** log2(V) of the corpus: run.uniformBaselineBits, else log2(corpusInfo.vocab), else 7 (V = 128). */
export function uniformBaseline(report: Report): number {
  if (typeof report.run.uniformBaselineBits === 'number') return report.run.uniformBaselineBits;
  const vocab = report.run.corpusInfo?.vocab;
  if (typeof vocab === 'number' && vocab > 1) return Math.log2(vocab);
  return 7;
}

/** "int8 · adamw · seed 1597 · site conv1" — the coordinates of one result. */
export function resultCoordinates(r: ProbeResult): string {
  return [r.format, r.optimizer, r.seed !== undefined ? `seed ${r.seed}` : undefined, r.site !== undefined ? `site ${r.site}` : undefined]
    .filter((x): x is string => x !== undefined && x !== '')
    .join(' · ');
}

/** Probe ids in the order their columns appear: the run's list, then any others in results. */
export function probeColumns(report: Report, results: ProbeResult[]): string[] {
  const present = new Set(results.map((r) => r.probe));
  const ordered = report.run.probes.filter((p) => present.has(p));
  for (const r of results) if (!ordered.includes(r.probe)) ordered.push(r.probe);
  return ordered;
}

export function hypothesisLabel(probe: string, results: ProbeResult[]): string {
  const h = results.find((r) => r.probe === probe)?.hypothesis;
  return h && h !== probe ? `${h} · ${probe}` : probe;
}

export function judgedLanes(lanes: Lane[]): Lane[] {
  return lanes.filter((l) => l.control !== true);
}

/**
 * The results worth a matrix cell: rows (formats or sites) and columns (probes) in which every
 * result was skipped are left out — an ONNX model gets no row of `skip` under the format probes.
 */
export function judgedOnly(results: ProbeResult[], rowKey: (r: ProbeResult) => string = (r) => r.format): ProbeResult[] {
  const judgedRows = new Set(results.filter((r) => r.verdict !== 'skipped').map(rowKey));
  const judgedColumns = new Set(results.filter((r) => r.verdict !== 'skipped').map((r) => r.probe));
  return results.filter((r) => judgedRows.has(rowKey(r)) && judgedColumns.has(r.probe));
}

/**
 * A sites-table column names the statistic its cells show, and which way is good
 * ("roundtrip: local SQNR (dB), higher is better"), when every site in it measures the same one.
 */
export function siteColumnLabel(probe: string, results: ProbeResult[]): string {
  const label = hypothesisLabel(probe, results);
  const stats = results.filter((r) => r.probe === probe && r.verdict !== 'skipped').map((r) => r.statistic);
  const names = new Set(stats.map((s) => s.name));
  if (stats.length === 0 || names.size !== 1) return label;
  const s = stats[0]!;
  const short = s.name.split(/ of | vs /)[0]!;
  const way = s.comparator === '<' ? 'higher is better' : s.comparator === '>' ? 'lower is better' : 'inside the range is good';
  return `${label}: ${short}, ${way}`;
}
