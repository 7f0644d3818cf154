/**
 * A probe is one minimal, seeded experiment for one hypothesis. Experiment (run),
 * judgement (a pure function of measured numbers) and rendering (src/report) live apart.
 */
import type { FormatSpec } from '../src/formats/types.js';
import type { Capability, Target } from '../src/targets/types.js';
import type { Thresholds } from '../src/thresholds.js';
import type { Evidence, Statistic, Verdict, Witness } from '../src/report/types.js';

export type ProbeId = 'roundtrip' | 'missing-dequant' | 'scale-collapse' | 'broken-ste' | 'lost-updates' | 'format-applied' | 'learnability';

export interface ProbeContext {
  seed: number;
  thresholds: Thresholds;
  /** Learning rates for lost-updates (and lanes). */
  lrs: number[];
  /** Lookup of any registry format (for reference comparisons). */
  resolveFormat(name: string): FormatSpec;
  /** The command line that reproduces this probe for this format (used in witnesses). */
  reproCommand(probe: ProbeId, format: string): string;
  log(message: string): void;
}

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
  requires: readonly Capability[];
  run(target: Target, format: FormatSpec, ctx: ProbeContext): Promise<ProbeOutcome>;
}
