/**
 * Early stopping: a lane ends before its last step only when its status can no longer change.
 * The full rule, and why each branch is safe, is in docs/learnability.md. In short, checked
 * at every evaluation (every `evalEvery` steps):
 *   diverged  the validation bpb is NaN/Inf. Non-finite weights or outputs stay non-finite
 *             under both optimizers, and a diverged lane is dead by the shared rule.
 *   clean     best bpb ≤ control's final best bpb + cleanMargin. Best bpb never rises and the
 *             control is finished before its lanes start, so the status stays clean.
 *   frozen    still at the dead line, and for the last `patience` steps every gradient element
 *             was exactly 0 while the optimizer state is exactly 0: the optimizer has never
 *             received a signal and no update but weight decay's uniform shrink is applied.
 * Decisions read only this lane's numbers and its control's final result, so they are the same
 * in every run with the same seed, whatever the worker count or scheduling.
 */
export type StopReason = 'steps' | 'clean' | 'frozen' | 'diverged';

export interface EarlyStopState {
  lastBpb: number;
  bestBpb: number;
  /** baseline − deadMargin: at or above it the lane is dead. */
  deadLine: number;
  /** The control's final best bpb; undefined for the control itself or when unknown. */
  controlBestBpb: number | undefined;
  cleanMargin: number;
  /** Consecutive steps (up to now) on which every gradient element was exactly zero. */
  zeroGradientStreak: number;
  optimizerStateZero: boolean;
  patience: number;
}

export function earlyStopReason(s: EarlyStopState): StopReason | undefined {
  if (!Number.isFinite(s.lastBpb)) return 'diverged';
  if (s.controlBestBpb !== undefined && Number.isFinite(s.controlBestBpb) && s.bestBpb <= s.controlBestBpb + s.cleanMargin) return 'clean';
  if (s.bestBpb >= s.deadLine && s.zeroGradientStreak >= s.patience && s.optimizerStateZero) return 'frozen';
  return undefined;
}
