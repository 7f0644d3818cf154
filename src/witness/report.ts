/**
 * The witness Report (kind 'witness'): the same report.json the run command writes, so the same
 * renderers, JUnit and --fail-on gate apply. Lanes are the fleet's lanes; results hold one
 * `format-applied` (H5) witness per lane whose curve is bit-identical to another lane's; what
 * could not be read (rejected rows, unparsed names) is in run.targetInfo and the lane notes.
 */
import type { FailOn, Lane, ProbeResult, Report } from '../report/types.js';
import { SCHEMA_VERSION } from '../report/types.js';
import { judgeRun, withJudgement } from '../verdict/gate.js';
import { laneLegend, laneMargins } from '../verdict/lanes.js';
import type { Thresholds } from '../thresholds.js';
import { VERSION } from '../version.js';
import type { FleetSamples } from './aggregate.js';
import type { FleetClassification, FleetLane } from './classify.js';
import type { SourceInfo } from './source.js';
import { judgeIdenticalCurve } from '../../probes/format-applied.js';

const WITNESS_LANE_THRESHOLDS = [
  'learnability.deadMargin',
  'learnability.cleanMargin',
  'learnability.learnsMargin',
  'learnability.learnsBelowBaseline',
  'learnability.controlMinDrop',
] as const;

export interface WitnessReportInput {
  runId: string;
  command: string;
  source: SourceInfo;
  fleet: FleetSamples;
  classification: FleetClassification;
  thresholds: Thresholds;
  vocab: number;
  minSamples: number;
  namePattern: string;
  failOn: FailOn;
  startedAt: Date;
  finishedAt?: Date;
  versions?: Record<string, string>;
}

/** Dead first, then partial, learns, clean, inconclusive; worst bpb first within a status; then name. */
const STATUS_ORDER = { diverged: 0, dead: 1, partial: 2, learns: 3, clean: 4, inconclusive: 5 } as const;

export function buildWitnessReport(input: WitnessReportInput): Report {
  const { classification: c, fleet } = input;
  const lanes = [...c.lanes].sort(compareLanes).map(toLane);
  const results = identicalCurveResults(c, input.minSamples, input.command);
  const margins = laneMargins(input.thresholds);
  const thresholds: Record<string, number | number[]> = {};
  for (const key of WITNESS_LANE_THRESHOLDS) thresholds[key] = input.thresholds[key] as number;
  thresholds['witness.minSamples'] = input.minSamples;

  const targetInfo: Record<string, string> = {
    source: input.source.kind,
    columns: [input.source.columns.name, input.source.columns.bpb, input.source.columns.step ?? '(no step column: steps are sample ordinals)'].join(', '),
    'name pattern': input.namePattern,
    rows: String(fleet.rows),
    lanes: String(c.lanes.length),
    controls: c.controls.length ? c.controls.map((k) => `${k.optimizer}: ${k.lane} (${k.bestBpb.toFixed(4)}${k.learned ? '' : ', did not learn'})`).join('; ') : 'none',
  };
  if (c.uncontrolled.length) targetInfo['no control for'] = c.uncontrolled.join(', ');
  if (c.unparsed.length) targetInfo['unparsed names'] = `${c.unparsed.length}: ${c.unparsed.slice(0, 10).join(', ')}${c.unparsed.length > 10 ? ', …' : ''}`;
  if (fleet.rejectedCount > 0) {
    targetInfo['rejected rows'] = String(fleet.rejectedCount);
    fleet.rejected.forEach((r, i) => (targetInfo[`rejected ${i + 1}`] = `${r.where}: ${r.reason}`));
  }
  if (input.source.serverVersion) targetInfo['server version'] = input.source.serverVersion;

  const formats = [...new Set(c.lanes.filter((l) => l.fields !== null).map((l) => l.format))].sort();
  const seeds = [...new Set(c.lanes.map((l) => l.seed).filter((s) => s >= 0))].sort((a, b) => a - b);
  const judged = judgeRun(results, lanes, input.failOn, formats);
  const report: Report = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'quant-audit', version: VERSION },
    kind: 'witness',
    run: {
      id: input.runId,
      command: input.command,
      target: `fleet ${input.source.description}`,
      targetInfo,
      backend: 'none',
      ep: null,
      corpus: null,
      uniformBaselineBits: c.baseline,
      corpusInfo: { vocab: input.vocab },
      seeds,
      formats,
      probes: results.length > 0 ? ['format-applied'] : [],
      failOn: input.failOn,
      startedAt: input.startedAt.toISOString(),
      ...(input.finishedAt ? { finishedAt: input.finishedAt.toISOString(), durationMs: input.finishedAt.getTime() - input.startedAt.getTime() } : {}),
      versions: { 'quant-audit': VERSION, node: process.versions.node, ...(input.versions ?? {}) },
    },
    thresholds,
    legend: laneLegend(margins, c.baseline),
    results: judged.results,
    lanes: judged.lanes,
    diagnosis: judged.diagnosis,
    verdict: judged.verdict,
  };
  return withJudgement(report, judged);
}

function compareLanes(a: FleetLane, b: FleetLane): number {
  const s = STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
  if (s !== 0) return s;
  const av = Number.isFinite(a.bestBpb) ? a.bestBpb : Number.POSITIVE_INFINITY;
  const bv = Number.isFinite(b.bestBpb) ? b.bestBpb : Number.POSITIVE_INFINITY;
  if (av !== bv) return bv - av;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The report's Lane: the shared shape only (fleet-only facts are in the note). */
function toLane(l: FleetLane): Lane {
  const lane: Lane = {
    name: l.name,
    format: l.format,
    optimizer: l.optimizer,
    seed: l.seed,
    lr: l.lr,
    hidden: l.hidden,
    steps: l.steps,
    bpb: l.bpb,
    bestBpb: l.bestBpb,
    curve: l.curve,
    status: l.status,
  };
  if (l.control) lane.control = true;
  if (l.note) lane.note = `${l.samples} samples; ${l.note}`;
  return lane;
}

/**
 * H5 witnesses (judged by probes/format-applied.ts `judgeIdenticalCurve`): a lane whose whole curve equals another
 * lane's bit for bit did not apply its format. An fp32 lane in such a group is the thing the others fell back to, not
 * a failure itself.
 */
function identicalCurveResults(c: FleetClassification, minSamples: number, command: string): ProbeResult[] {
  const byName = new Map(c.lanes.map((l) => [l.name, l]));
  const results: ProbeResult[] = [];
  for (const group of c.identicalGroups) {
    const members = group.map((n) => byName.get(n)!);
    for (const lane of members) {
      if (lane.format === 'fp32' || lane.fields === null) continue;
      results.push(judgeIdenticalCurve(lane, members, minSamples, command));
    }
  }
  return results;
}
