/**
 * Seeded probe inputs that look like the tensors a quantizer really sees: weight-like
 * (N(0, 0.02) as GPT-style init, U(±1/√fan_in) as Kaiming/Glorot-uniform init) and
 * activation-like (N(0, 1), heavy-tailed with a few large outliers), each at several
 * overall scales. Same seed ⇒ the same numbers on every machine.
 */
import { Rng } from '../src/rng.js';

export type InputKind = 'weight' | 'activation';

export interface ProbeInput {
  /** e.g. `weight-normal×1e-3`: shown in evidence tables. */
  name: string;
  kind: InputKind;
  /** [rows, cols]: rows are channels (per-channel scaling uses axis 0). */
  shape: [number, number];
  x: Float32Array;
}

/** 32 channels × fan-in 64: 2048 values, whole blocks for block sizes 32 and 64. */
export const PROBE_SHAPE: [number, number] = [32, 64];
/** Overall scales tried where a probe asks "does the output follow the input's scale?". */
export const OVERALL_SCALES: readonly number[] = [1e-3, 1, 1e3];

function labelled(seed: number, label: string): Rng {
  return new Rng(seed).fork(label);
}

export function weightNormal(seed: number, shape = PROBE_SHAPE): ProbeInput {
  const n = shape[0] * shape[1];
  return { name: 'weight-normal', kind: 'weight', shape, x: labelled(seed, 'weight-normal').normalArray(n, 0.02) };
}

export function weightUniform(seed: number, shape = PROBE_SHAPE): ProbeInput {
  const n = shape[0] * shape[1];
  const bound = 1 / Math.sqrt(shape[1]);
  return { name: 'weight-uniform', kind: 'weight', shape, x: labelled(seed, 'weight-uniform').uniformArray(n, -bound, bound) };
}

export function activationNormal(seed: number, shape = PROBE_SHAPE): ProbeInput {
  const n = shape[0] * shape[1];
  return { name: 'activation-normal', kind: 'activation', shape, x: labelled(seed, 'activation-normal').normalArray(n, 1) };
}

/** N(0, 1) with 1 % of entries replaced by outliers of magnitude 8–40 (the LLM.int8() picture). */
export function activationHeavyTailed(seed: number, shape = PROBE_SHAPE): ProbeInput {
  const n = shape[0] * shape[1];
  const rng = labelled(seed, 'activation-heavy');
  const x = rng.normalArray(n, 1);
  const outliers = Math.max(1, Math.round(n / 100));
  for (let k = 0; k < outliers; k++) {
    const i = rng.int(n);
    x[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(8, 40);
  }
  return { name: 'activation-heavy', kind: 'activation', shape, x };
}

export function weightInputs(seed: number): ProbeInput[] {
  return [weightNormal(seed), weightUniform(seed)];
}

export function activationInputs(seed: number): ProbeInput[] {
  return [activationNormal(seed), activationHeavyTailed(seed)];
}

/** The four base inputs at scale 1. */
export function baseInputs(seed: number): ProbeInput[] {
  return [...weightInputs(seed), ...activationInputs(seed)];
}

export function scaled(input: ProbeInput, scale: number): ProbeInput {
  const x = new Float32Array(input.x.length);
  for (let i = 0; i < x.length; i++) x[i] = input.x[i]! * scale;
  return { ...input, name: `${input.name}×${formatScale(scale)}`, x };
}

export function formatScale(s: number): string {
  return s === 1 ? '1' : s.toExponential(0).replace('e+', 'e');
}
