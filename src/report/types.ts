/**
 * report.json — the single source of truth. Renderers read only this.
 * Bump SCHEMA_VERSION on any breaking change and keep schema/report.schema.json in step.
 */
export const SCHEMA_VERSION = 1;

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'skipped';
export type Comparator = '<' | '<=' | '>' | '>=' | 'outside' | 'inside' | '==' | '!=';
/**
 * `diverged`: the loss went non-finite or far above the uniform baseline — a dead lane that did
 * worse than not learning; its bpb is not a meaningful number and is never printed as one.
 */
export type LaneStatus = 'dead' | 'diverged' | 'partial' | 'learns' | 'clean' | 'inconclusive';
/** The --fail-on levels (flag choices, config schema, the gate): the one list of them. */
export const FAIL_ON_LEVELS = ['dead', 'partial', 'fail', 'never'] as const;
export type FailOn = (typeof FAIL_ON_LEVELS)[number];

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
  /** The picture that proves it (≤ WITNESS_PLOT_MAX_POINTS points): x → fq(x) for target and reference, gradient vs the STE's, weight trajectories… */
  plot?: WitnessPlot;
}

export const WITNESS_PLOT_MAX_POINTS = 512;

/**
 * Data for a witness's chart, kept in report.json so every view can draw it:
 * `transfer` x against fq(x) (target and reference), `gradient` x against dx (target and the
 * STE's expectation), `updates` weight index against weights (start, target, fp32 master),
 * `scale-sweep` input scale against rms ratio.
 */
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
  /**
   * A failure that follows from another failing hypothesis on the same format (or, for an ONNX
   * site, from an upstream site): the probe id of that cause. A consequence, not a cause: it is
   * shown as such and not counted by the gate. Decided by an experiment (`explanation`).
   */
  explainedBy?: string;
  /** ONNX: the upstream site whose failure explains this one. */
  explainedBySite?: string;
  /** One line: the measurement that showed this failure follows from `explainedBy`. */
  explanation?: string;
  /** The gate's decision at the run's --fail-on: this result counts towards exit 1 (set by src/verdict/gate.ts only). */
  gated?: boolean;
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
  /** Dead or diverged lanes: the primary causes on this format that explain it ([] = no probe explains it). */
  explainedBy?: string[];
  /** The gate's decision at the run's --fail-on (set by src/verdict/gate.ts only). */
  gated?: boolean;
  durationMs?: number;
  /** Optimizer settings the run changed (momentum, nsSteps, weightDecay). */
  optimizerSettings?: Record<string, number>;
  /**
   * How the stored weights followed each optimizer step: `master` fp32 master weights;
   * `in-place` w = fq(w) (--no-master-weights); `target-update` w = the target's update(w, Δ, 1).
   */
  weightUpdate?: 'master' | 'in-place' | 'target-update';
  /** Proposed update / quantization step at the weight (sampled; quantized lanes only). */
  updateToStep?: UpdateToStep;
}

export interface UpdateToStep {
  /** Median of |proposed update| / quantization step over the sampled weights and steps. */
  median: number;
  /** Share of sampled updates at or above half a step (they survive rounding in place). */
  survives: number;
  /** The median per weight matrix. */
  byMatrix: Record<string, number>;
  /** Steps sampled (1-based). */
  steps: number[];
  samples: number;
}

/**
 * Lanes of one format and weight update that differ by optimizer — some optimizers' lanes all
 * dead, others' all learning — and which measured hypothesis explains the difference.
 */
export interface Asymmetry {
  format: string;
  /** 'unknown': the lanes do not say whether they kept fp32 master weights (fleet witnesses). */
  weightUpdate: 'master' | 'in-place' | 'target-update' | 'unknown';
  deadOptimizers: string[];
  learningOptimizers: string[];
  /** Lane names. */
  dead: string[];
  learning: string[];
  /** Hypotheses whose measurements explain it: 'H4' (lost updates), 'H3' (the STE), any other primary cause's; [] = none. */
  explainedBy: string[];
  /** Probe ids report.diagnosis names for the dead lanes (their lanes[].explainedBy): primary causes on this format. */
  causes: string[];
  /** Lane name → median update/step (null: not measured). */
  ratios: Record<string, number | null>;
  /** One line per measured fact the decision used. */
  evidence: string[];
  /** The headline sentence. */
  summary: string;
}

/** One format's (or ONNX site's) differential diagnosis: causes first, what follows from them second. */
export interface Diagnosis {
  format: string;
  site?: string;
  /** Primary causes: failing results that no other failing hypothesis explains. */
  causes: { probe: string; hypothesis: string; summary: string }[];
  /** Failing results that follow from a cause (results[].explainedBy). */
  consequences: { probe: string; hypothesis: string; explainedBy: string; explainedBySite?: string; explanation?: string }[];
  /** Dead or diverged lanes of this format and the causes that explain them ([] = no probe explains it: a finding too). */
  deadLanes: { lane: string; status: LaneStatus; explainedBy: string[] }[];
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
  /** Per format (and ONNX site) with any failing result or dead lane; absent in reports written before 0.2. */
  diagnosis?: Diagnosis[];
  /** Optimizer asymmetries between lanes of one format (src/verdict/asymmetry.ts). */
  asymmetries?: Asymmetry[];
  verdict: ReportVerdict;
}
