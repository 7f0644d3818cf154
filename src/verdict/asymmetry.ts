/**
 * Optimizer asymmetry: lanes of one format (and one weight-update mode) where some optimizers'
 * lanes are all dead and other optimizers' lanes all learn. The motivating bug report read
 * "AdamW dead, Muon partial" as proof of a broken straight-through estimator; this module says
 * which hypothesis the run's own measurements support, and never names one by default:
 *
 *   H4 (lost updates)  the dead lanes did not keep fp32 master weights and either the
 *                      diagnosis names lost-updates as what stopped them (lost-updates is a
 *                      primary cause on the format: src/verdict/diagnosis.ts), or the optimizer
 *                      proposed updates below half a quantization step (median update/step
 *                      < 0.5) while every learning lane's ratio is larger than every dead
 *                      lane's (the lanes' own in-place rounding lost them, whatever the
 *                      target's update does).
 *   other causes       every primary cause the diagnosis names for the dead lanes, by its
 *                      hypothesis: H3 when broken-ste is one (a failing broken-ste that
 *                      another failure explains is a consequence, not H3).
 *
 * Several may hold; none may (then the finding says so). `causes` is exactly what
 * report.diagnosis names for the dead lanes, so the two never disagree. Pure: a function of
 * report.json's lanes and results, computed by judgeRun (src/verdict/gate.ts) — the one
 * judging path of a run, a merge and a witness. Not a finding the gate counts: its dead
 * lanes are counted once, as lanes.
 */
import type { Asymmetry, Lane, ProbeResult } from '../report/types.js';
import { diagnose, isPrimaryCause } from './diagnosis.js';
import { PROBE_ORDER } from '../report/order.js';
import type { ProbeId } from '../../probes/ids.js';

/** Below this update/step ratio, round-to-nearest in place keeps a weight where it was. */
export const SURVIVAL_RATIO = 0.5;

type WeightUpdate = Asymmetry['weightUpdate'];

const DEAD = new Set(['dead', 'diverged']);
const LEARNING = new Set(['partial', 'learns', 'clean']);

const MODE_TEXT: Record<WeightUpdate, string> = {
  master: 'with fp32 master weights',
  'in-place': 'rounded in place, no fp32 master weights',
  'target-update': "updated by the target's own update step",
  unknown: 'kept or not kept in fp32 master weights (the report does not say)',
};

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** How a lane's weights followed the optimizer; 'unknown' for lanes a report does not say (fleet witnesses). */
function modeOf(l: Lane): WeightUpdate {
  return l.weightUpdate ?? (l.masterWeights === false ? 'in-place' : l.masterWeights === true ? 'master' : 'unknown');
}

const LOST_UPDATES = 'lost-updates' satisfies ProbeId;
const BROKEN_STE = 'broken-ste' satisfies ProbeId;
const rankOf = (p: string): number => {
  const i = PROBE_ORDER.indexOf(p);
  return i < 0 ? PROBE_ORDER.length : i;
};

function ratioOf(l: Lane): number | null {
  const r = l.updateToStep?.median;
  return r !== undefined && Number.isFinite(r) ? r : null;
}

function fmtRatio(r: number | null): string {
  if (r === null) return 'not measured';
  return r >= 100 ? r.toFixed(0) : Number(r.toPrecision(2)).toString();
}

/** "adamw 0.004" or "adamw 0.004–0.006" over an optimizer's lanes. */
function ratioRange(lanes: Lane[]): string {
  const rs = lanes.map(ratioOf);
  if (rs.some((r) => r === null)) return 'not measured';
  const nums = rs as number[];
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  return lo === hi ? fmtRatio(lo) : `${fmtRatio(lo)}–${fmtRatio(hi)}`;
}

/** "0 %" or "0–3 %": share of an optimizer's sampled updates at or above half a step. */
function survivalRange(lanes: Lane[]): string {
  const ss = lanes.map((l) => l.updateToStep?.survives);
  if (ss.some((x) => x === undefined)) return 'not measured';
  const pct = (ss as number[]).map((x) => Math.round(x * 100));
  const lo = Math.min(...pct);
  const hi = Math.max(...pct);
  return lo === hi ? `${lo} %` : `${lo}–${hi} %`;
}

function statusWord(lanes: Lane[]): string {
  const statuses = [...new Set(lanes.map((l) => l.status))];
  return statuses.length === 1 ? (statuses[0] === 'clean' ? 'learns' : statuses[0]!) : 'learns';
}

function fmtStat(r: ProbeResult): string {
  const v = r.statistic.value;
  return `${r.statistic.name} ${v === null ? 'n/a' : Number.isInteger(v) ? v : Number(v.toPrecision(4))}`;
}

/** Every asymmetry in a run's lanes, in format order then weight-update mode. */
export function findAsymmetries(rawLanes: readonly Lane[], rawResults: readonly ProbeResult[], formats: readonly string[] = []): Asymmetry[] {
  // The diagnosis is idempotent: lanes already diagnosed get the same explanations again.
  const { lanes, results } = diagnose(rawResults, rawLanes);
  const judged = lanes.filter((l) => l.control !== true);
  const groups = new Map<string, Lane[]>();
  for (const l of judged) {
    const key = JSON.stringify([l.format, modeOf(l)]);
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  const out: Asymmetry[] = [];
  for (const [key, group] of groups) {
    const [format, mode] = JSON.parse(key) as [string, WeightUpdate];
    const byOptimizer = new Map<string, Lane[]>();
    for (const l of group) byOptimizer.set(l.optimizer, [...(byOptimizer.get(l.optimizer) ?? []), l]);
    const deadOpts = [...byOptimizer].filter(([, ls]) => ls.every((l) => DEAD.has(l.status))).map(([o]) => o).sort(byCodeUnits);
    const learningOpts = [...byOptimizer].filter(([, ls]) => ls.every((l) => LEARNING.has(l.status))).map(([o]) => o).sort(byCodeUnits);
    if (deadOpts.length === 0 || learningOpts.length === 0) continue;
    out.push(explain(format, mode, deadOpts, learningOpts, byOptimizer, lanes, results));
  }
  const rank = new Map(formats.map((f, i) => [f, i]));
  const modeRank: Record<WeightUpdate, number> = { master: 0, 'in-place': 1, 'target-update': 2, unknown: 3 };
  return out.sort((a, b) => (rank.get(a.format) ?? 1e9) - (rank.get(b.format) ?? 1e9) || byCodeUnits(a.format, b.format) || modeRank[a.weightUpdate] - modeRank[b.weightUpdate]);
}

function explain(
  format: string,
  mode: WeightUpdate,
  deadOpts: string[],
  learningOpts: string[],
  byOptimizer: Map<string, Lane[]>,
  allLanes: readonly Lane[],
  results: readonly ProbeResult[],
): Asymmetry {
  const dead = deadOpts.flatMap((o) => byOptimizer.get(o)!);
  const learning = learningOpts.flatMap((o) => byOptimizer.get(o)!);
  const ratios = Object.fromEntries([...dead, ...learning].map((l) => [l.name, ratioOf(l)]));
  const evidence: string[] = [];

  // What the diagnosis names for the dead lanes (primary causes on this format that stop a lane).
  const causes = [...new Set(dead.flatMap((l) => l.explainedBy ?? []))].sort((a, b) => rankOf(a) - rankOf(b) || byCodeUnits(a, b));
  const causeResult = (probe: string): ProbeResult | undefined => results.find((r) => r.probe === probe && r.format === format && isPrimaryCause(r));

  // H4: updates proposed below half a step, rounded away because nothing keeps them.
  const deadRatios = dead.map(ratioOf);
  const learningRatios = learning.map(ratioOf);
  const measured = [...deadRatios, ...learningRatios].every((r) => r !== null);
  const maxDead = Math.max(...(deadRatios.filter((r) => r !== null) as number[]));
  const minLearning = Math.min(...(learningRatios.filter((r) => r !== null) as number[]));
  const inPlace = mode === 'in-place' || mode === 'target-update';
  const ratiosSeparate = measured && maxDead < SURVIVAL_RATIO && minLearning > maxDead;
  const h4 = inPlace && (causes.includes(LOST_UPDATES) || ratiosSeparate);
  const side = (opts: string[], f: (ls: Lane[]) => string): string => opts.map((o) => f(byOptimizer.get(o)!)).join(', ');
  const noneMeasured = [...deadRatios, ...learningRatios].every((r) => r === null);
  const ratioText =
    (noneMeasured ? 'update/step not measured' : `update/step ${side(deadOpts, ratioRange)} vs ${side(learningOpts, ratioRange)}`) +
    (measured ? `; ${side(deadOpts, survivalRange)} vs ${side(learningOpts, survivalRange)} of updates at or above ½ step` : '');
  evidence.push(
    `median proposed update / quantization step: ${[...deadOpts, ...learningOpts].map((o) => `${o} ${ratioRange(byOptimizer.get(o)!)}`).join(', ')} ` +
      `(below ${SURVIVAL_RATIO} an update rounds back to the same grid point)`,
  );
  evidence.push(
    inPlace ? `the lanes' weights were ${MODE_TEXT[mode]}: nothing keeps a sub-half-step update`
    : mode === 'master' ? 'the lanes kept fp32 master weights: small updates accumulate, so lost updates cannot explain a dead lane'
    : 'the report does not say whether the lanes kept fp32 master weights: lost updates cannot be judged',
  );
  const lostUpdates = results.find((r) => r.probe === LOST_UPDATES && r.format === format && (r.verdict === 'fail' || r.verdict === 'pass'));
  if (lostUpdates) {
    const how = lostUpdates.verdict === 'pass' ? 'passes' : isPrimaryCause(lostUpdates) ? 'fails' : `fails, explained by ${lostUpdates.explainedBy}`;
    evidence.push(`lost-updates ${how} on ${format} (${fmtStat(lostUpdates)})`);
    if (h4 && lostUpdates.verdict === 'pass' && mode === 'in-place') evidence.push(`the target's own update keeps small steps; these lanes lost them to the in-place rounding this run chose (--no-master-weights)`);
  }
  // The same optimizer with master weights on this format, or its fp32 control: the set-up learns at that lr.
  for (const l of dead) {
    const master = allLanes.find((m) => m.control !== true && m.format === format && modeOf(m) === 'master' && m.optimizer === l.optimizer && m.seed === l.seed && m.lr === l.lr);
    const control = allLanes.find((c) => c.control === true && c.optimizer === l.optimizer && c.seed === l.seed && c.lr === l.lr);
    if (inPlace && master) evidence.push(`with fp32 master weights ${l.optimizer} at lr ${l.lr} ${LEARNING.has(master.status) ? 'learns' : 'is ' + master.status} on ${format} (${master.name}: best bpb ${master.bestBpb})`);
    else if (control) evidence.push(`the fp32 control of ${l.optimizer} at lr ${l.lr} ${LEARNING.has(control.status) ? 'learns' : 'is ' + control.status} (${control.name}: best bpb ${control.bestBpb})`);
  }

  // H3 and any other primary cause the diagnosis names for the dead lanes.
  const ste = results.find((r) => r.probe === BROKEN_STE && r.format === format && r.verdict !== 'skipped');
  evidence.push(ste ? `broken-ste ${ste.verdict === 'fail' ? (isPrimaryCause(ste) ? 'fails' : `fails, explained by ${ste.explainedBy}`) : ste.verdict === 'pass' ? 'passes' : 'is ' + ste.verdict} on ${format} (${fmtStat(ste)})` : `broken-ste was not run on ${format}`);
  const others = causes.filter((p) => p !== LOST_UPDATES).map((p) => causeResult(p)).filter((r): r is ProbeResult => r !== undefined);
  if (causes.length > 0) evidence.push(`the diagnosis names ${causes.join(' and ')} for the dead lane${dead.length > 1 ? 's' : ''}`);

  const explainedBy = [...new Set([...(h4 ? ['H4'] : []), ...others.map((r) => r.hypothesis)])];
  const what = `${deadOpts.join(', ')} dead / ${learningOpts.map((o) => `${o} ${statusWord(byOptimizer.get(o)!)}`).join(', ')} on ${format}${mode !== 'master' && mode !== 'unknown' ? ` (weights ${MODE_TEXT[mode]})` : ''}`;
  const steText = ste ? `the STE (${fmtStat(ste)})` : 'the STE (broken-ste not run)';
  const phrase = (r: ProbeResult): string => (r.probe === BROKEN_STE ? `a broken STE (${fmtStat(r)})` : `${r.hypothesis !== r.probe ? `${r.hypothesis} ` : ''}${r.probe} (${fmtStat(r)})`);
  const named = [...(h4 ? [`lost updates (${ratioText})`] : []), ...others.map(phrase)];
  const steNamed = others.some((r) => r.probe === BROKEN_STE);
  const masterNote = mode === 'master' ? ', fp32 master weights' : mode === 'unknown' ? ', master weights unknown' : '';
  const summary =
    named.length === 0 ? `${what} is explained neither by lost updates (${ratioText}${masterNote}) nor by ${steText}`
    : `${what} is explained by ${named.join(' and ')}` +
      (h4 ? '' : `, not by lost updates (${ratioText}${masterNote})`) +
      (steNamed ? '' : h4 && others.length === 0 ? `, not by ${steText}` : `; not by ${steText}`);
  return {
    format,
    weightUpdate: mode,
    deadOptimizers: deadOpts,
    learningOptimizers: learningOpts,
    dead: dead.map((l) => l.name),
    learning: learning.map((l) => l.name),
    explainedBy,
    causes,
    ratios,
    evidence,
    summary,
  };
}
