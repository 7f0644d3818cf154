/**
 * What each probe's hypothesis means and what to do when it is supported. Shown in the
 * report next to the witnesses; keyed by probe id (stable API). Unknown ids fall back to
 * the hypothesis label the result carries.
 */
export interface ProbeInfo {
  claim: string;
  fix: string;
}

export const PROBE_INFO: Readonly<Record<string, ProbeInfo>> = {
  roundtrip: {
    claim: 'dequant(quant(x)) is wrong for this format',
    fix: 'The codec disagrees with the reference on the same inputs. Check the layout against the spec (bias, subnormals, specials, saturation) and the rounding mode (round half to even); `quant-audit quantize --format F VALUE…` prints code and value per input for a side-by-side check.',
  },
  'missing-dequant': {
    claim: 'the output stays in the integer/code domain (never dequantized)',
    fix: 'Dequantize after rounding: return `(q - zeroPoint) * scale`, not `q`. The fake-quant output must be in the units of its input.',
  },
  'scale-collapse': {
    claim: 'the scale/zero-point initialisation collapses values (to zero, one level, or no sign)',
    fix: 'Initialise the scale from the data (absmax / qmax per tensor, channel or block), never from a constant; keep it > 0 (clamp to an epsilon); use zero-point 0 with a symmetric scale for signed data.',
  },
  'broken-ste': {
    claim: 'the gradient through the quantizer is zero, vanishing or wrong (broken STE)',
    fix: 'Wrap the rounding in a custom gradient that passes `dy` through inside the representable range and zeroes it outside — tfjs: `tf.customGrad((x, save) => ({ value: fq(x), gradFunc: (dy) => dy.mul(inRange(x)) }))`; PyTorch: `x + (fq(x) - x).detach()`.',
  },
  'lost-updates': {
    claim: 'updates smaller than half a quantization step vanish (no fp32 master weights)',
    fix: 'Keep fp32 master weights: the optimizer updates the full-precision copy and fake-quant is applied in the forward pass only. Never write rounded weights back into the parameter after a step.',
  },
  'format-applied': {
    claim: 'the named format is not actually applied (silent fp32 fallback or wrong codebook)',
    fix: 'Make an unknown format name an error that lists the known ones instead of falling back to fp32, and check the codebook the name maps to: distinct outputs per scale block must not exceed the format’s code count.',
  },
  'qdq-audit': {
    claim: 'a QuantizeLinear/DequantizeLinear site of the ONNX model is broken (the per-site rows say which node and why)',
    fix: 'Fix the first broken node (the sites after it may fail only because their input is already wrong), then re-run: the per-site rows give the hypothesis and the numbers for each node.',
  },
  learnability: {
    claim: 'the format cannot train at all',
    fix: 'Read the other witnesses first: a dead lane usually has one of H1–H5 behind it. If none is supported, try per-block scaling or keep the sensitive layers (embeddings, output head) in a wider format.',
  },
};

export function probeClaim(probe: string, hypothesis: string): string {
  return PROBE_INFO[probe]?.claim ?? hypothesis;
}
