/**
 * report.json — the single source of truth. Renderers read only this.
 * Bump SCHEMA_VERSION on any breaking change and keep schema/report.schema.json in step.
 */
export const SCHEMA_VERSION = 1;

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'skipped';
export type Comparator = '<' | '<=' | '>' | '>=' | 'outside' | 'inside' | '==' | '!=';
export type LaneStatus = 'dead' | 'partial' | 'learns' | 'clean' | 'inconclusive';
export type FailOn = 'dead' | 'partial' | 'fail' | 'never';

/** The headline number of a probe and the rule that judged it ("fail when value <comparator> threshold"). */
export interface Statistic {
  name: string;
  value: number | null;
  /** A number, or [lo, hi] for 'outside' / 'inside'. */
  threshold: number | [number, number] | null;
  comparator: Comparator;
  unit?: string;
}

/** A small table: headings and rows of printable cells. */
export interface EvidenceTable {
  title?: string;
  headings: string[];
  rows: (string | number | null)[][];
}

export interface Evidence {
  /** Named measurements (all numbers the judgement used). */
  measurements: Record<string, number | string | boolean | null>;
  tables?: EvidenceTable[];
  notes?: string[];
}

/** A falsification witness: enough to believe the failure without rerunning anything. */
export interface Witness {
  summary: string;
  /** A handful of telling values: inputs and what the target returned (and what the reference returns). */
  samples?: { x: number; y: number; expected?: number; note?: string }[];
  /** What the sample columns are, when not "x / target / reference" (lost-updates: w, after the updates, fp32 master). */
  sampleLabels?: { x: string; y: string; expected?: string };
  repro: string;
  /** The picture that proves it (≤ 512 points): x → fq(x) for target and reference, gradient vs the STE's, weight trajectories… */
  plot?: WitnessPlot;
}

export interface WitnessPlot {
  kind: 'transfer' | 'gradient' | 'updates' | 'scale-sweep';
  xLabel: string;
  yLabel: string;
  x: number[];
  /** y[i] belongs to x[i]; null where the value is not finite. */
  series: { name: string; y: (number | null)[] }[];
}

export interface ProbeResult {
  probe: string;
  hypothesis: string;
  format: string;
  optimizer?: string;
  seed?: number;
  site?: string;
  verdict: Verdict;
  statistic: Statistic;
  evidence: Evidence;
  witness?: Witness;
  reason?: string;
  durationMs?: number;
}

export interface Lane {
  name: string;
  format: string;
  optimizer: string;
  seed: number;
  lr: number;
  hidden: number;
  steps: number;
  /** Steps actually run (early stopping may end a lane sooner). */
  stepsRun?: number;
  bpb: number;
  bestBpb: number;
  curve: { step: number; bpb: number }[];
  status: LaneStatus;
  control?: boolean;
  masterWeights?: boolean;
  note?: string;
  /** The target failed while training this lane (threw, wrong length…): the lane is inconclusive, not dead. */
  targetError?: string;
  durationMs?: number;
}

export interface RunInfo {
  id: string;
  command: string;
  target: string;
  targetInfo?: Record<string, string>;
  backend: string;
  ep: string | null;
  corpus: string | null;
  corpusInfo?: Record<string, string | number>;
  /** log2(V) of the learnability corpus (7 for V = 128); renderers assume 7 when absent. */
  uniformBaselineBits?: number;
  seeds: number[];
  formats: string[];
  probes: string[];
  failOn: FailOn;
  shard?: { index: number; count: number };
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  versions: Record<string, string>;
  /** Where it ran: os, cpu (model × cores). */
  machine?: Record<string, string>;
  /** For a report joined by `quant-audit merge`: that command line (run.command is then the unsharded run). */
  mergeCommand?: string;
}

export interface ReportVerdict {
  falsified: boolean;
  inconclusive: boolean;
  exitCode: 0 | 1 | 2 | 3;
  summary: string;
  /** hypothesis → formats for which it is supported (a probe failed). */
  supported: Record<string, string[]>;
  deadLanes: string[];
}

export interface Report {
  schemaVersion: number;
  tool: { name: 'quant-audit'; version: string };
  kind: 'run' | 'witness';
  run: RunInfo;
  thresholds: Record<string, number | number[]>;
  legend: Record<string, string>;
  results: ProbeResult[];
  lanes: Lane[];
  verdict: ReportVerdict;
}
