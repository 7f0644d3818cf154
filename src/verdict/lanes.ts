/**
 * Lane status: one pure rule shared by the learnability probe and the fleet witness.
 *   dead     best bpb >= log2(V) - deadMargin          (sits at the uniform baseline)
 *   clean    best bpb <= control + cleanMargin          (as good as the fp32/16-bit control)
 *   learns   best bpb <= control + learnsMargin         (or, with no control, <= log2(V) - learnsBelowBaseline)
 *   partial  anything in between
 * NaN bpb counts as dead (a lane that diverged did not learn).
 */
import type { LaneStatus } from '../report/types.js';
import { numberThreshold, type Thresholds } from '../thresholds.js';

export interface LaneMargins {
  deadMargin: number;
  cleanMargin: number;
  learnsMargin: number;
  learnsBelowBaseline: number;
}

export function laneMargins(t: Thresholds): LaneMargins {
  return {
    deadMargin: numberThreshold(t, 'learnability.deadMargin'),
    cleanMargin: numberThreshold(t, 'learnability.cleanMargin'),
    learnsMargin: numberThreshold(t, 'learnability.learnsMargin'),
    learnsBelowBaseline: numberThreshold(t, 'learnability.learnsBelowBaseline'),
  };
}

export function uniformBaselineBits(vocab: number): number {
  return Math.log2(vocab);
}

export function classifyLane(bestBpb: number, baseline: number, controlBpb: number | undefined, m: LaneMargins): Exclude<LaneStatus, 'inconclusive'> {
  if (!Number.isFinite(bestBpb) || bestBpb >= baseline - m.deadMargin) return 'dead';
  if (controlBpb !== undefined && Number.isFinite(controlBpb)) {
    if (bestBpb <= controlBpb + m.cleanMargin) return 'clean';
    if (bestBpb <= controlBpb + m.learnsMargin) return 'learns';
    return 'partial';
  }
  return bestBpb <= baseline - m.learnsBelowBaseline ? 'learns' : 'partial';
}

export const LANE_STATUS_ICON: Record<LaneStatus, string> = {
  dead: '💀',
  partial: '🔴',
  learns: '🟡',
  clean: '✅',
  inconclusive: '❔',
};

export function laneLegend(m: LaneMargins, baseline: number): Record<string, string> {
  return {
    dead: `💀 dead: best bpb >= ${(baseline - m.deadMargin).toFixed(2)} (uniform baseline log2(V) = ${baseline.toFixed(2)} minus ${m.deadMargin})`,
    partial: `🔴 partial: below dead but more than ${m.learnsMargin} bits above the control`,
    learns: `🟡 learns: within ${m.learnsMargin} bits of the control (or ${m.learnsBelowBaseline} bits below baseline when there is no control)`,
    clean: `✅ clean: within ${m.cleanMargin} bits of the control`,
    inconclusive: '❔ inconclusive: the control lane did not learn, so the format cannot be judged',
  };
}
