/**
 * A probe is one minimal, seeded experiment for one hypothesis. Experiment (run),
 * judgement (a pure function of measured numbers) and rendering (src/report) live apart.
 */
import type { FormatSpec } from '../src/formats/types.js';
import type { Capability, Target } from '../src/targets/types.js';
import type { Thresholds } from '../src/thresholds.js';
import type { Evidence, Statistic, Verdict, Witness } from '../src/report/types.js';
import type { ProbeInput } from './inputs.js';
import type { SiteArtifact, SiteContext } from './site.js';

import type { ProbeId } from './ids.js';

export type { ProbeId } from './ids.js';

export interface ProbeContext {
  seed: number;
  thresholds: Thresholds;
  /** Learning rates for lost-updates (and lanes). */
  lrs: number[];
  /** Lookup of any registry format (for reference comparisons). */
  resolveFormat(name: string): FormatSpec;
  /** Every format of the registry (built-in and config rows), for telling which format was applied instead. Default: the built-in rows. */
  registryFormats?(): readonly FormatSpec[];
  /** The command line that reproduces this probe for this format (used in witnesses). */
  reproCommand(probe: ProbeId, format: string): string;
  log(message: string): void;
  /**
   * Forward outputs already observed for this target and format (keyed by input name), shared
   * by the probes of one format and by the causal experiments after them (probes/causes.ts).
   * Absent: every probe calls the target itself.
   */
  observations?: ObservationCache;
}

/** One input, what the target made of it, and what the reference codec makes of it. */
export interface Observation {
  input: ProbeInput;
  /** The target's fq(x). */
  y: Float32Array;
  /** The reference codec's fq(x) on the same x; undefined when the format has no working reference. */
  ref: Float32Array | undefined;
  /** An edge input the target raised on (its message); `y` is then empty and judges leave the input out. */
  error?: string;
}

export type ObservationCache = Map<string, Observation>;

export interface ProbeOutcome {
  verdict: Verdict;
  statistic: Statistic;
  evidence: Evidence;
  witness?: Witness;
  /** Why a probe was skipped or inconclusive. */
  reason?: string;
}

export interface Probe {
  id: ProbeId;
  /** H1…H5 or a short label; shown in the hypothesis matrix. */
  hypothesis: string;
  title: string;
  /** What a failure supports, in one line (the report's hypothesis label and headline). */
  claim: string;
  /** What to change when the claim is supported (markdown; shown for primary causes only). */
  fix: string;
  requires: readonly Capability[];
  run(target: Target, format: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome>;
  /**
   * The same hypothesis judged at one site of a model, from what a gatherer measured there (probes/site.ts): present
   * on the probes that can judge a site (missing-dequant, scale-collapse, roundtrip); probes/judge-site.ts runs them.
   * Undefined: the probe has nothing to say about this kind of artifact.
   */
  site?(f: SiteArtifact, ctx: SiteContext): ProbeOutcome | undefined;
}

/**
 * A probe whose experiment is forward calls only: it names its inputs and judges the
 * observations in a pure function, so a causal experiment can re-judge it on outputs with
 * another hypothesis' symptom undone (probes/causes.ts).
 */
export interface ForwardProbe extends Probe {
  inputs(seed: number): ProbeInput[];
  judge(spec: FormatSpec, observations: readonly Observation[], ctx: ProbeContext): ProbeOutcome;
}

export function isForwardProbe(p: Probe): p is ForwardProbe {
  return typeof (p as Partial<ForwardProbe>).judge === 'function' && typeof (p as Partial<ForwardProbe>).inputs === 'function';
}
