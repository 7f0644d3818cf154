/**
 * Every threshold a judgement uses, in one table. Overridable from quant-audit.yaml
 * (`thresholds:`), and printed in every report next to the measured value.
 * Keys are `<probe>.<name>`; a pair [lo, hi] is an allowed interval.
 * Probes add their own keys here (and only here).
 */
export type ThresholdValue = number | readonly [number, number];
export type Thresholds = Readonly<Record<string, ThresholdValue>>;

export const DEFAULT_THRESHOLDS: Thresholds = {
  // roundtrip: dequant(quant(x)) against the reference codec on the same x (docs/probes.md)
  'roundtrip.maxSqnrDeficitDb': 1, // fail when SQNR(target) < SQNR(reference) - this
  // missing-dequant (H1): rms(fq(x))/rms(x), relative to the reference, at several input scales
  'missing-dequant.rmsRatio': [0.5, 2], // fail outside this, while the outputs are codes (below)
  'missing-dequant.integerFraction': 0.99, // "integer-valued": at least this share of nonzero outputs are integers, at every scale
  'missing-dequant.maxRmsSpread': 10, // "scale-independent": output rms varies by less than this factor while the input spans 1e6x
  // scale-collapse (H2): weight-like inputs, target minus reference on the same inputs
  'scale-collapse.maxZeroExcess': 0.25, // share of nonzero inputs sent to 0, above the reference's share
  'scale-collapse.maxSignLossExcess': 0.25, // share of negative inputs that lose their sign, above the reference's share
  'scale-collapse.maxSignFlipExcess': 0.05, // share of nonzero inputs returned with the opposite sign (either way), above the reference's
  'scale-collapse.maxModeExcess': 0.25, // share of values on their group's most common level, above the reference's share
  'scale-collapse.maxCollapsedGroupExcess': 0.1, // share of groups (blocks, or channels) collapsed to one level, above the reference's
  'scale-collapse.minBitsRatio': 0.5, // effective bits (entropy of outputs) as a share of the reference's
  'scale-collapse.maxZeroFraction': 0.9, // absolute limit, only for formats without a reference codec
  // broken-ste (H3): d/dx sum(fq(x)*g) against g*1[x in range]
  'broken-ste.minCosine': 0.9,
  'broken-ste.magnitudeRatio': [0.5, 2],
  // lost-updates (H4): many tiny same-sign updates through the target's own update step
  'lost-updates.minRetained': 0.5, // where the target's result sits between rounding in place (0) and fp32 master weights (1)
  // format-applied (H5)
  'format-applied.maxUnchangedFraction': 0.5, // share of non-representable x returned bit-for-bit unchanged
  'format-applied.maxDistinctOverCodes': 1, // distinct outputs per scale block / the format's code count
  'format-applied.maxOffGridFraction': 0.01, // share of outputs not on the format's grid at any one scale per group
  // learnability lane statuses (bits per byte); see src/verdict/lanes.ts
  'learnability.deadMargin': 0.1, // dead when best bpb >= log2(V) - deadMargin
  'learnability.divergedRatio': 1.25, // diverged when the last bpb is non-finite or > this × log2(V)
  'learnability.cleanMargin': 0.05, // clean when best bpb <= control + cleanMargin
  'learnability.learnsMargin': 0.5, // learns when best bpb <= control + learnsMargin
  'learnability.learnsBelowBaseline': 1.0, // without a control: learns when bpb <= log2(V) - this
  'learnability.controlMinDrop': 0.3, // the control must drop >= this below baseline or the run is inconclusive
  // onnx: QDQ site audit (docs/onnx.md); each site is judged against a reference quantizer of the
  // same code type and granularity with a correct scale, on the very tensor the site sees
  'onnx.weightScaleCoverage': [0.1, 10], // representable range / observed range of a weight's scale group
  'onnx.activationScaleCoverage': [0.01, 100], // same for activations (seeded inputs are not the calibration data)
  'onnx.float8ScaleCoverage': [0.1, 4096], // float8: max finite * scale / absmax (fp8 has dynamic range of its own)
  'onnx.maxZeroExcess': 0.25, // share of nonzero inputs the site sends to 0, above the reference's share
  'onnx.maxSignLossExcess': 0.1, // share of negative inputs that lose their sign, above the reference's share
  'onnx.maxBitsDeficit': 2, // effective bits (entropy of the codes) below the reference's
  'onnx.deadGroupZeroFraction': 0.99, // a channel/block is dead when at least this share of its nonzero inputs comes out 0
  'onnx.maxSqnrDeficitDb': 10, // roundtrip (weights): local SQNR below the reference quantizer's by more than this
  'onnx.maxActivationSqnrDeficitDb': 20, // roundtrip (activations): wider, seeded inputs are not the calibration data
  // onnx: stored codes without their float weights (QOperator, dynamic, MatMulNBits, …; src/onnx/forms/)
  'onnx.maxOneSidedGroupFraction': 0.5, // share of a weight's scale groups whose codes all sit on one side of the zero-point
  'onnx.maxSaturatedFraction': 0.25, // share of codes (≥ 4 bits) at qmin or qmax: the scale clips the weights
  'onnx.partSqnrDb': 20, // --float-model: the first tensor whose SQNR against the float model falls below this is where they part
  'onnx.crossCheckSqnrDb': 20, // audit session vs onnxruntime's optimised session, same inputs: below this they disagree
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

/** Defaults with user overrides applied. Unknown keys and wrong types are config errors (the schema in src/config.ts is derived from this table). */
export function mergeThresholds(overrides: Readonly<Record<string, ThresholdValue | undefined>> | undefined): Thresholds {
  const given = Object.entries(overrides ?? {}).filter((e): e is [string, ThresholdValue] => e[1] !== undefined);
  return { ...DEFAULT_THRESHOLDS, ...Object.fromEntries(given) };
}
