/**
 * Every threshold a judgement uses, in one table. Overridable from quant-audit.yaml
 * (`thresholds:`), and printed in every report next to the measured value.
 * Keys are `<probe>.<name>`; a pair [lo, hi] is an allowed interval.
 * Probes add their own keys here (and only here).
 */
export type ThresholdValue = number | readonly [number, number];
export type Thresholds = Readonly<Record<string, ThresholdValue>>;

export const DEFAULT_THRESHOLDS: Thresholds = {
  // learnability lane statuses (bits per byte); see src/verdict/lanes.ts
  'learnability.deadMargin': 0.1, // dead when best bpb >= log2(V) - deadMargin
  'learnability.cleanMargin': 0.05, // clean when best bpb <= control + cleanMargin
  'learnability.learnsMargin': 0.5, // learns when best bpb <= control + learnsMargin
  'learnability.learnsBelowBaseline': 1.0, // without a control: learns when bpb <= log2(V) - this
  'learnability.controlMinDrop': 0.3, // the control must drop >= this below baseline or the run is inconclusive
};

export function numberThreshold(t: Thresholds, key: string): number {
  const v = t[key];
  if (typeof v !== 'number') throw new Error(`threshold ${key} is missing or not a number`);
  return v;
}

export function rangeThreshold(t: Thresholds, key: string): readonly [number, number] {
  const v = t[key];
  if (!Array.isArray(v) || v.length !== 2) throw new Error(`threshold ${key} is missing or not a [lo, hi] pair`);
  return v as readonly [number, number];
}

/** Defaults with user overrides applied. Unknown keys are a config error (caught by src/config.ts). */
export function mergeThresholds(overrides: Record<string, ThresholdValue> | undefined): Thresholds {
  return { ...DEFAULT_THRESHOLDS, ...(overrides ?? {}) };
}
