/**
 * Seeded probe inputs that look like the tensors a quantizer really sees: weight-like
 * (N(0, 0.02) as GPT-style init, U(±1/√fan_in) as Kaiming/Glorot-uniform init, all-zero as a
 * zero-initialised LoRA B matrix), activation-like (N(0, 1), heavy-tailed with a few large
 * outliers), one-sided tensors (post-ReLU, post-softmax, norm gains near 1, log-probabilities:
 * groups that do not straddle 0), and a mixed tensor whose channels are all-zero, constant, tiny or normal (the
 * groups a per-channel or per-block scale has to survive), each at several overall scales.
 * Same seed ⇒ the same numbers on every machine. docs/probes.md lists which probe uses which.
 */
import { Rng } from '../src/rng.js';

export type InputKind = 'weight' | 'activation' | 'one-sided' | 'groups';

export interface ProbeInput {
  /** e.g. `weight-normal×1e-3`: shown in evidence tables. */
  name: string;
  kind: InputKind;
  /** [rows, cols]: rows are channels (per-channel scaling uses axis 0). */
  shape: [number, number];
  x: Float32Array;
  /** For an input made by `scaled`: the base input's name and the overall scale applied to it. */
  base?: string;
  overallScale?: number;
  /**
   * false: this tensor's SQNR is ruled by a handful of values (eight constant channels, one
   * peak per softmax row), so a legitimate change of scale convention moves it by dB by luck;
   * the roundtrip probe judges only NaN/Inf on it.
   */
  sqnrMeaningful?: false;
  /**
   * An edge case a quantizer may fail on without failing on real tensors (all zeros: a scale
   * without a floor divides 0 by 0, a pure-Python server raises). Observed after every other
   * input of the format, and a target error on it is recorded, not fatal (probes/common.ts).
   */
  edge?: true;
}

/** 32 channels × fan-in 64: 2048 values, whole blocks for block sizes 32 and 64. */
const PROBE_SHAPE: [number, number] = [32, 64];
/** Overall scales tried where a probe asks "does the output follow the input's scale?". */
export const OVERALL_SCALES: readonly number[] = [1e-3, 1, 1e3];

/**
 * Inputs are pure functions of (seed, shape) and every probe of every format asks for them
 * again: each is generated once per process and handed out as a copy (a caller may scale or
 * overwrite its x).
 */
const generated = new Map<string, ProbeInput>();
function memo(label: string, make: (seed: number, shape: [number, number]) => ProbeInput): (seed: number, shape?: [number, number]) => ProbeInput {
  return (seed, shape = PROBE_SHAPE) => {
    const key = `${label}|${seed}|${shape.join('x')}`;
    let input = generated.get(key);
    if (!input) {
      if (generated.size >= 256) generated.clear();
      generated.set(key, (input = make(seed, shape)));
    }
    return { ...input, shape: [...input.shape], x: input.x.slice() };
  };
}

function labelled(seed: number, label: string): Rng {
  return new Rng(seed).fork(label);
}

export const weightNormal = memo('weightNormal', (seed: number, shape: [number, number]): ProbeInput => {
  const n = shape[0] * shape[1];
  return { name: 'weight-normal', kind: 'weight', shape, x: labelled(seed, 'weight-normal').normalArray(n, 0.02) };
});

const weightUniform = memo('weightUniform', (seed: number, shape: [number, number]): ProbeInput => {
  const n = shape[0] * shape[1];
  const bound = 1 / Math.sqrt(shape[1]);
  return { name: 'weight-uniform', kind: 'weight', shape, x: labelled(seed, 'weight-uniform').uniformArray(n, -bound, bound) };
});

export const activationNormal = memo('activationNormal', (seed: number, shape: [number, number]): ProbeInput => {
  const n = shape[0] * shape[1];
  return { name: 'activation-normal', kind: 'activation', shape, x: labelled(seed, 'activation-normal').normalArray(n, 1) };
});

/** N(0, 1) with 1 % of entries replaced by outliers of magnitude 8–40 (the LLM.int8() picture). */
const activationHeavyTailed = memo('activationHeavyTailed', (seed: number, shape: [number, number]): ProbeInput => {
  const n = shape[0] * shape[1];
  const rng = labelled(seed, 'activation-heavy');
  const x = rng.normalArray(n, 1);
  const outliers = Math.max(1, Math.round(n / 100));
  for (let k = 0; k < outliers; k++) {
    const i = rng.int(n);
    x[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(8, 40);
  }
  return { name: 'activation-heavy', kind: 'activation', shape, x };
});

/** max(0, N(0, 1)): half the values exactly 0, the rest one-sided (post-ReLU). */
const activationRelu = memo('activationRelu', (seed: number, shape: [number, number]): ProbeInput => {
  const x = labelled(seed, 'activation-relu').normalArray(shape[0] * shape[1], 1);
  for (let i = 0; i < x.length; i++) if (x[i]! < 0) x[i] = 0;
  return { name: 'activation-relu', kind: 'one-sided', shape, x };
});

/** Each row softmax(N(0, 2) logits): positive, summing to 1 per row, most values small (post-softmax attention). */
const activationSoftmax = memo('activationSoftmax', (seed: number, shape: [number, number]): ProbeInput => {
  const [rows, cols] = shape;
  const x = labelled(seed, 'activation-softmax').normalArray(rows * cols, 2);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (let i = 0; i < cols; i++) sum += row[i] = Math.exp(row[i]! - max);
    for (let i = 0; i < cols; i++) row[i] = row[i]! / sum;
  }
  return { name: 'activation-softmax', kind: 'one-sided', shape, x, sqnrMeaningful: false };
});

/**
 * N(1, 0.1²): LayerNorm/RMSNorm gains (and any shifted mean): every value near 1, no group
 * straddles 0 and min is far from 0 — where a min/max observer that forgets to include 0 in
 * its range saturates half the tensor.
 */
const normGain = memo('normGain', (seed: number, shape: [number, number]): ProbeInput => {
  const x = labelled(seed, 'norm-gain').normalArray(shape[0] * shape[1], 0.1, 1);
  return { name: 'norm-gain', kind: 'one-sided', shape, x };
});

/** All zeros: a zero-initialised weight (LoRA's B matrix, a fresh bias); a scale computed without a floor divides 0 by 0 here. */
export const weightZeroInit = memo('weightZeroInit', (_seed: number, shape: [number, number]): ProbeInput => {
  return { name: 'weight-zero-init', kind: 'weight', shape, x: new Float32Array(shape[0] * shape[1]), edge: true };
});

/**
 * Channels of four kinds, cycling by row: all-zero, constant (one value per row), tiny
 * (N(0, 1)·1e-7) and normal N(0, 0.02). Per-channel and per-block scales meet empty, flat and
 * near-underflow groups here; a per-tensor scale sees them as one tensor.
 */
export const groupsMixed = memo('groupsMixed', (seed: number, shape: [number, number]): ProbeInput => {
  const [rows, cols] = shape;
  const rng = labelled(seed, 'groups-mixed');
  const x = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    switch (r % 4) {
      case 0:
        break; // all zero
      case 1:
        row.fill(Math.fround(rng.uniform(-0.05, 0.05)));
        break;
      case 2:
        row.set(rng.normalArray(cols, 1e-7));
        break;
      default:
        row.set(rng.normalArray(cols, 0.02));
    }
  }
  return { name: 'groups-mixed', kind: 'groups', shape, x, sqnrMeaningful: false, edge: true };
});

/** Each row log_softmax(N(0, 2) logits): log-probabilities, every value ≤ 0 (a group whose max is not its absmax). */
const activationLogprob = memo('activationLogprob', (seed: number, shape: [number, number]): ProbeInput => {
  const p = activationSoftmax(seed, shape);
  const x = Float32Array.from(p.x, (v) => Math.max(Math.log(v), -30));
  return { name: 'activation-logprob', kind: 'one-sided', shape, x };
});

/** One-sided inputs: a bug that needs a group not straddling 0 (or a max that is not the absmax) shows on these only. */
export function oneSidedInputs(seed: number): ProbeInput[] {
  return [activationRelu(seed), activationSoftmax(seed), normGain(seed), activationLogprob(seed)];
}

export function weightInputs(seed: number): ProbeInput[] {
  return [weightNormal(seed), weightUniform(seed)];
}

function activationInputs(seed: number): ProbeInput[] {
  return [activationNormal(seed), activationHeavyTailed(seed)];
}

/** The four base inputs at scale 1. */
export function baseInputs(seed: number): ProbeInput[] {
  return [...weightInputs(seed), ...activationInputs(seed)];
}

/** The input times an overall scale; at scale 1 it keeps its name (the same tensor, observed once). */
export function scaled(input: ProbeInput, scale: number): ProbeInput {
  if (scale === 1) return { ...input, base: input.name, overallScale: 1 };
  const x = new Float32Array(input.x.length);
  for (let i = 0; i < x.length; i++) x[i] = input.x[i]! * scale;
  return { ...input, name: `${input.name}×${formatScale(scale)}`, x, base: input.name, overallScale: scale };
}

export function formatScale(s: number): string {
  return s === 1 ? '1' : s.toExponential(0).replace('e+', 'e');
}
