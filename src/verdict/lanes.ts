/**
 * Lane status: one pure rule shared by the learnability probe and the fleet witness.
 *   dead     best bpb >= log2(V) - deadMargin          (sits at the uniform baseline)
 *   clean    best bpb <= control + cleanMargin          (as good as the fp32/16-bit control)
 *   learns   best bpb <= control + learnsMargin         (or, with no control, <= log2(V) - learnsBelowBaseline)
 *   partial  anything in between
 *   diverged the last loss is non-finite or above divergedRatio × log2(V): worse than not
 *            learning (confidently wrong predictions). A dead lane, shown as such, never as a
 *            bits-per-byte number (a diverged lane's loss says nothing about the format).
 */
import type { Lane, LaneStatus } from '../report/types.js';
import { numberThreshold, type Thresholds } from '../thresholds.js';

export interface LaneMargins {
  deadMargin: number;
  /** diverged when the last bpb is above this multiple of the uniform baseline */
  divergedRatio: number;
  cleanMargin: number;
  learnsMargin: number;
  learnsBelowBaseline: number;
}

export function laneMargins(t: Thresholds): LaneMargins {
  return {
    deadMargin: numberThreshold(t, 'learnability.deadMargin'),
    divergedRatio: numberThreshold(t, 'learnability.divergedRatio'),
    cleanMargin: numberThreshold(t, 'learnability.cleanMargin'),
    learnsMargin: numberThreshold(t, 'learnability.learnsMargin'),
    learnsBelowBaseline: numberThreshold(t, 'learnability.learnsBelowBaseline'),
  };
}

export function uniformBaselineBits(vocab: number): number {
  return Math.log2(vocab);
}

/** The loss blew up: the last bpb is non-finite or far above the uniform baseline. */
export function diverged(finalBpb: number, baseline: number, m: Pick<LaneMargins, 'divergedRatio'>): boolean {
  return !Number.isFinite(finalBpb) || finalBpb > baseline * m.divergedRatio;
}

/** Dead and diverged lanes: the lanes that did not learn (what --fail-on dead gates on). */
export const NOT_LEARNING: readonly LaneStatus[] = ['dead', 'diverged'];

export function classifyLane(bestBpb: number, baseline: number, controlBpb: number | undefined, m: LaneMargins, finalBpb = bestBpb): Exclude<LaneStatus, 'inconclusive'> {
  if (diverged(finalBpb, baseline, m) || !Number.isFinite(bestBpb)) return 'diverged';
  if (bestBpb >= baseline - m.deadMargin) return 'dead';
  if (controlBpb !== undefined && Number.isFinite(controlBpb)) {
    if (bestBpb <= controlBpb + m.cleanMargin) return 'clean';
    if (bestBpb <= controlBpb + m.learnsMargin) return 'learns';
    return 'partial';
  }
  return bestBpb <= baseline - m.learnsBelowBaseline ? 'learns' : 'partial';
}

export const LANE_STATUS_ICON: Record<LaneStatus, string> = {
  dead: '💀',
  diverged: '💥',
  partial: '🔴',
  learns: '🟡',
  clean: '✅',
  inconclusive: '❔',
};

export function laneLegend(m: LaneMargins, baseline: number): Record<string, string> {
  return {
    dead: `💀 dead: best bpb >= ${(baseline - m.deadMargin).toFixed(2)} (uniform baseline log2(V) = ${baseline.toFixed(2)} minus ${m.deadMargin})`,
    diverged: `💥 diverged: the loss went non-finite or above ${(baseline * m.divergedRatio).toFixed(2)} bits (${m.divergedRatio}× the uniform baseline); a dead lane whose bpb is not a measurement`,
    partial: `🔴 partial: below dead but more than ${m.learnsMargin} bits above the control`,
    learns: `🟡 learns: within ${m.learnsMargin} bits of the control (or ${m.learnsBelowBaseline} bits below baseline when there is no control)`,
    clean: `✅ clean: within ${m.cleanMargin} bits of the control`,
    inconclusive: '❔ inconclusive: the control lane did not learn, so the format cannot be judged',
  };
}

/** A control lane that did not learn makes every lane it controls unjudgeable (the gate exits 3; views say so). */
export function controlFailed(lane: Pick<Lane, 'control' | 'status'>): boolean {
  return lane.control === true && lane.status !== 'clean' && lane.status !== 'learns';
}
