/**
 * Optimizer asymmetry: lanes of one format (and one weight-update mode) where some optimizers'
 * lanes are all dead and other optimizers' lanes all learn. The motivating bug report read
 * "AdamW dead, Muon partial" as proof of a broken straight-through estimator; this module says
 * which hypothesis the run's own measurements support, and never names one by default:
 *
 *   H4 (lost updates)  the dead lanes rounded their weights in place (no fp32 master weights)
 *                      and the optimizer proposed updates below half a quantization step
 *                      (median update/step < 0.5), while every learning lane's ratio is larger
 *                      than every dead lane's. Backed, when present, by lost-updates failing on
 *                      the format and by the master-weight lanes of the dead optimizer learning.
 *   H3 (the STE)       broken-ste failed on the format.
 *
 * Both may hold; neither may (then the finding says so). Pure: a function of report.json's
 * lanes and results, so a merge of shards recomputes it.
 */
import type { Asymmetry, Lane, ProbeResult } from '../report/types.js';

/** Below this update/step ratio, round-to-nearest in place keeps a weight where it was. */
export const SURVIVAL_RATIO = 0.5;

type WeightUpdate = Asymmetry['weightUpdate'];

const DEAD = new Set(['dead', 'diverged']);
const LEARNING = new Set(['partial', 'learns', 'clean']);

const MODE_TEXT: Record<WeightUpdate, string> = {
  master: 'with fp32 master weights',
  'in-place': 'rounded in place, no fp32 master weights',
  'target-update': "updated by the target's own update step",
};

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function modeOf(l: Lane): WeightUpdate {
  return l.weightUpdate ?? (l.masterWeights === false ? 'in-place' : 'master');
}

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
export function findAsymmetries(lanes: readonly Lane[], results: readonly ProbeResult[], formats: readonly string[] = []): Asymmetry[] {
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
  const modeRank: Record<WeightUpdate, number> = { master: 0, 'in-place': 1, 'target-update': 2 };
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

  // H4: updates proposed below half a step, rounded away because nothing keeps them.
  const deadRatios = dead.map(ratioOf);
  const learningRatios = learning.map(ratioOf);
  const measured = [...deadRatios, ...learningRatios].every((r) => r !== null);
  const maxDead = Math.max(...(deadRatios.filter((r) => r !== null) as number[]));
  const minLearning = Math.min(...(learningRatios.filter((r) => r !== null) as number[]));
  const inPlace = mode !== 'master';
  const h4 = measured && inPlace && maxDead < SURVIVAL_RATIO && minLearning > maxDead;
  const side = (opts: string[], f: (ls: Lane[]) => string): string => opts.map((o) => f(byOptimizer.get(o)!)).join(', ');
  const ratioText =
    `update/step ${side(deadOpts, ratioRange)} vs ${side(learningOpts, ratioRange)}` +
    (measured ? `; ${side(deadOpts, survivalRange)} vs ${side(learningOpts, survivalRange)} of updates at or above ½ step` : '');
  evidence.push(
    `median proposed update / quantization step: ${[...deadOpts, ...learningOpts].map((o) => `${o} ${ratioRange(byOptimizer.get(o)!)}`).join(', ')} ` +
      `(below ${SURVIVAL_RATIO} an update rounds back to the same grid point)`,
  );
  evidence.push(inPlace ? `the lanes' weights were ${MODE_TEXT[mode]}: nothing keeps a sub-half-step update` : 'the lanes kept fp32 master weights: small updates accumulate, so lost updates cannot explain a dead lane');
  const lostUpdates = results.find((r) => r.probe === 'lost-updates' && r.format === format && (r.verdict === 'fail' || r.verdict === 'pass'));
  if (lostUpdates) evidence.push(`lost-updates ${lostUpdates.verdict === 'fail' ? 'fails' : 'passes'} on ${format} (${fmtStat(lostUpdates)})`);
  // The same optimizer with master weights on this format, or its fp32 control: the set-up learns at that lr.
  for (const l of dead) {
    const master = allLanes.find((m) => m.control !== true && m.format === format && modeOf(m) === 'master' && m.optimizer === l.optimizer && m.seed === l.seed && m.lr === l.lr);
    const control = allLanes.find((c) => c.control === true && c.optimizer === l.optimizer && c.seed === l.seed && c.lr === l.lr);
    if (inPlace && master) evidence.push(`with fp32 master weights ${l.optimizer} at lr ${l.lr} ${LEARNING.has(master.status) ? 'learns' : 'is ' + master.status} on ${format} (${master.name}: best bpb ${master.bestBpb})`);
    else if (control) evidence.push(`the fp32 control of ${l.optimizer} at lr ${l.lr} ${LEARNING.has(control.status) ? 'learns' : 'is ' + control.status} (${control.name}: best bpb ${control.bestBpb})`);
  }

  // H3: the STE probe, only when it failed.
  const ste = results.find((r) => r.probe === 'broken-ste' && r.format === format && r.verdict !== 'skipped');
  const h3 = ste?.verdict === 'fail';
  evidence.push(ste ? `broken-ste ${ste.verdict === 'fail' ? 'fails' : ste.verdict === 'pass' ? 'passes' : 'is ' + ste.verdict} on ${format} (${fmtStat(ste)})` : `broken-ste was not run on ${format}`);

  const explainedBy = [...(h4 ? ['H4'] : []), ...(h3 ? ['H3'] : [])];
  const what = `${deadOpts.join(', ')} dead / ${learningOpts.map((o) => `${o} ${statusWord(byOptimizer.get(o)!)}`).join(', ')} on ${format}${inPlace ? ` (weights ${MODE_TEXT[mode]})` : ''}`;
  const steText = ste ? `the STE (${fmtStat(ste)})` : 'the STE (broken-ste not run)';
  const summary =
    h4 && h3 ? `${what} is explained by lost updates (${ratioText}); the STE fails too (${ste ? fmtStat(ste) : ''})`
    : h4 ? `${what} is explained by lost updates (${ratioText}), not by ${steText}`
    : h3 ? `${what} is explained by a broken STE (${ste ? fmtStat(ste) : ''}), not by lost updates (${ratioText}${inPlace ? '' : ', fp32 master weights'})`
    : `${what} is explained neither by lost updates (${ratioText}${inPlace ? '' : ', fp32 master weights'}) nor by ${steText}`;
  return {
    format,
    weightUpdate: mode,
    deadOptimizers: deadOpts,
    learningOptimizers: learningOpts,
    dead: dead.map((l) => l.name),
    learning: learning.map((l) => l.name),
    explainedBy,
    ratios,
    evidence,
    summary,
  };
}
