/**
 * The CI gate: from probe results and lanes to one verdict and exit code.
 *
 * What each --fail-on level gates on (non-control lanes only; a control lane is the yardstick),
 * from the most lenient to the strictest:
 *   never    nothing: findings never fail the job
 *   dead     a lane that did not learn (dead or diverged)
 *   fail     a primary cause (a probe `fail` that no other failure explains), or a dead lane   (default)
 *   partial  everything `fail` gates on, and partial lanes too
 * A failure that follows from another (`explainedBy`, src/verdict/diagnosis.ts) is shown but
 * not counted: the gate counts causes, not their symptoms. The gate is the one owner of these
 * decisions: it marks every result and lane it counts with `gated: true`, and the views read
 * that mark instead of re-deriving the rule.
 * An optimizer asymmetry (src/verdict/asymmetry.ts: one optimizer's lanes dead, another's
 * learning, on one format) is judged here too, from the same diagnosis, but it is an
 * explanation, not a finding of its own: its dead lanes are counted once, as lanes.
 * A partial lane learned (it is below the dead line) but stayed more than learnsMargin above
 * its control: on a correct codec that is the format's own coarseness (int2 has three
 * levels), so only the strictest level gates on it.
 *
 * Exit codes (DESIGN.md): 0 nothing at or above --fail-on; 1 falsified (a witness at or
 * above it); 2 usage/config/input error (thrown as UsageError, never produced here);
 * 3 inconclusive: what the gate looks at could not be judged — a control lane failed to
 * learn (or a lane is `inconclusive` because of it), or, at --fail-on fail or partial, a probe ended
 * `inconclusive` (the target or the environment failed).
 * Precedence: 1 beats 3. A witness is a concrete, reproducible failure whatever else went
 * wrong, and the CI user must fix it either way; lanes whose control failed are already
 * `inconclusive`, never `dead`, so nothing counted as a witness rests on a broken control.
 * `never` still exits 3 when a control lane failed: that is a broken run, not a finding
 * (like exit 2 for a bad flag); use `continue-on-error` to ignore even that.
 *
 * Pure and order-independent: the same multiset of results and lanes gives the same verdict.
 */
import type { Asymmetry, Diagnosis, FailOn, Lane, LaneStatus, ProbeResult, Report, ReportVerdict } from '../report/types.js';
import { EXIT } from '../errors.js';
import { diagnose, isConsequence, isPrimaryCause } from './diagnosis.js';
import { controlFailed, NOT_LEARNING } from './lanes.js';
import { byCodeUnits } from '../report/order.js';
import { findAsymmetries } from './asymmetry.js';

/** Lane statuses each --fail-on level counts: the lanes that do not learn (verdict/lanes.ts owns which), plus partial at 'partial'. */
const GATED_LANE_STATUSES: Record<FailOn, readonly LaneStatus[]> = {
  dead: NOT_LEARNING,
  partial: [...NOT_LEARNING, 'partial'],
  fail: NOT_LEARNING,
  never: [],
};

/** Whether the gate at `failOn` counts this result (a primary cause, at the levels that gate on probe witnesses). */
export function resultGated(r: ProbeResult, failOn: FailOn): boolean {
  return (failOn === 'fail' || failOn === 'partial') && isPrimaryCause(r);
}

/** Whether the gate at `failOn` counts this lane. */
export function laneGated(l: Lane, failOn: FailOn): boolean {
  return l.control !== true && GATED_LANE_STATUSES[failOn].includes(l.status);
}

export interface Judged {
  results: ProbeResult[];
  lanes: Lane[];
  diagnosis: Diagnosis[];
  /** Optimizer asymmetries, in `formats` order ([] = none). */
  asymmetries: Asymmetry[];
  verdict: ReportVerdict;
}

/**
 * Diagnosis, then the gate: the one path from results and lanes to what a report says. Every
 * result and lane comes back with its `gated` mark; derived fields from an earlier pass are
 * recomputed, so judging a merged report again gives the same answer.
 */
export function judgeRun(results: readonly ProbeResult[], lanes: readonly Lane[], failOn: FailOn, formats: readonly string[] = []): Judged {
  const d = diagnose(results, lanes);
  const gatedResults = d.results.map((r): ProbeResult => ({ ...r, gated: resultGated(r, failOn) }));
  const gatedLanes = d.lanes.map((l): Lane => ({ ...l, gated: laneGated(l, failOn) }));
  const asymmetries = findAsymmetries(d.lanes, d.results, formats);
  return { results: gatedResults, lanes: gatedLanes, diagnosis: d.diagnosis, asymmetries, verdict: buildVerdict(gatedResults, gatedLanes, failOn) };
}

/** A result or lane without what judgeRun derives (gate marks, lane and learnability explanations): what a shard measured. */
export function measuredOnly<T extends ProbeResult | Lane>(item: T): T {
  const out = { ...item };
  delete out.gated;
  if ('curve' in out) delete (out as Lane).explainedBy;
  else if ((out as ProbeResult).probe === 'learnability') {
    delete (out as ProbeResult).explainedBy;
    delete (out as ProbeResult).explanation;
  }
  return out;
}

/** judgeRun applied to a whole report (merge, re-gating). */
export function judgeReport(report: Report, failOn: FailOn = report.run.failOn): Report {
  const j = judgeRun(report.results, report.lanes, failOn, report.run.formats);
  return withJudgement({ ...report }, j);
}

/** A report's judged fields from judgeRun (report.asymmetries only when there is one). */
export function withJudgement(report: Report, j: Judged): Report {
  const out: Report = { ...report, results: j.results, lanes: j.lanes, diagnosis: j.diagnosis, verdict: j.verdict };
  delete out.asymmetries;
  if (j.asymmetries.length > 0) out.asymmetries = j.asymmetries;
  return out;
}


const unique = (xs: string[]): string[] => [...new Set(xs)].sort(byCodeUnits);

function resultLabel(r: ProbeResult): string {
  return [r.probe, r.format, r.optimizer, r.site].filter((x) => x !== undefined && x !== '').join(' ');
}

/**
 * The verdict from results and lanes. `supported` lists primary causes only (hypothesis →
 * formats); a failure explained by another is a consequence and is not a supported hypothesis
 * of its own. An inconclusive result that a cause explains (a lost-updates test that could
 * not observe anything because the forward pass is collapsed) does not make the run
 * inconclusive: the cause is the finding.
 */
export function buildVerdict(results: ProbeResult[], lanes: Lane[], failOn: FailOn): ReportVerdict {
  const judged = lanes.filter((l) => l.control !== true);
  const failedResults = results.filter((r) => r.verdict === 'fail');
  const causes = failedResults.filter(isPrimaryCause);
  const deadLanes = unique(judged.filter((l) => GATED_LANE_STATUSES.dead.includes(l.status)).map((l) => l.name));

  const supported: Record<string, string[]> = {};
  for (const r of causes) (supported[r.hypothesis] ??= []).push(r.format);
  for (const h of Object.keys(supported)) supported[h] = unique(supported[h]!);
  const supportedSorted = Object.fromEntries(Object.keys(supported).sort(byCodeUnits).map((h) => [h, supported[h]!]));

  const gatedLanes = judged.filter((l) => laneGated(l, failOn));
  const resultsGated = failOn === 'fail' || failOn === 'partial';
  const gatedResults = results.filter((r) => resultGated(r, failOn));
  const gated = gatedLanes.length + gatedResults.length;

  const failedControls = unique(lanes.filter(controlFailed).map((l) => l.name));
  const unjudgedLanes = unique(judged.filter((l) => l.status === 'inconclusive').map((l) => l.name));
  const unjudgedResults = resultsGated ? unique(results.filter((r) => r.verdict === 'inconclusive' && !isConsequence(r)).map(resultLabel)) : [];
  const inconclusive = failedControls.length + unjudgedLanes.length + unjudgedResults.length > 0;

  const falsified = causes.length + deadLanes.length > 0;
  const exitCode = gated > 0 ? EXIT.falsified : inconclusive ? EXIT.inconclusive : EXIT.ok;

  const parts: string[] = [];
  const hyps = Object.entries(supportedSorted).map(([h, fs]) => `${h} for ${fs.join(', ')}`);
  if (hyps.length > 0) parts.push(`supported: ${hyps.join('; ')}`);
  const consequences = failedResults.length - causes.length;
  if (consequences > 0) parts.push(`${consequences} ${consequences === 1 ? 'failure follows' : 'failures follow'} from ${consequences === 1 ? 'it' : 'them'}`);
  if (judged.length > 0) {
    const count = (s: LaneStatus): number => judged.filter((l) => l.status === s).length;
    const laneParts = (['dead', 'diverged', 'partial', 'learns', 'clean', 'inconclusive'] as const).filter((s) => count(s) > 0).map((s) => `${count(s)} ${s}`);
    parts.push(`lanes: ${laneParts.join(', ')} of ${judged.length}`);
  }
  if (failedControls.length > 0) parts.push(`control did not learn: ${failedControls.join(', ')}`);
  if (unjudgedResults.length > 0) parts.push(`inconclusive: ${unjudgedResults.join(', ')}`);
  if (parts.length === 0) parts.push(results.length + lanes.length === 0 ? 'nothing was run' : `${results.filter((r) => r.verdict === 'pass').length} passed, ${results.filter((r) => r.verdict === 'skipped').length} skipped`);
  const head =
    exitCode === EXIT.falsified ? 'FALSIFIED'
    : exitCode === EXIT.inconclusive ? 'INCONCLUSIVE'
    : !falsified ? 'NO WITNESS'
    : failOn === 'never' ? 'WITNESSES FOUND, NOT GATED'
    : 'WITNESSES BELOW THE GATE';
  const summary = `${head} — ${parts.join(' · ')} (--fail-on ${failOn} → exit ${exitCode})`;

  return { falsified, inconclusive, exitCode, summary, supported: supportedSorted, deadLanes };
}
