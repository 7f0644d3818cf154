/**
 * Update-to-step ratio: how far the optimizer proposes to move a weight in one step, in units
 * of the format's quantization step at that weight. It predicts what survives rounding in
 * place (no fp32 master weights): a movement below half a step rounds back to the same grid
 * point and is lost, every step. With master weights it costs nothing — the fp32 copy keeps it.
 *
 * The step comes from the registry codec, the same way for every family: encode w (its
 * group's scale and zero-point), take the code of fq(w_i) and its two neighbouring codes,
 * decode all three at that same scale, and keep the gap to the neighbour on the side the
 * update moves towards (the other side where there is none: the top of the range, ±0).
 * Codes are compared by value, never by layout, so sign-magnitude minifloats, two's
 * complement integers and posits, codebooks and unsigned zero-points all work alike.
 *
 * Measured cheaply: a fixed, seeded sample of weights per matrix at a handful of steps.
 */
import { decode, elementCodec, encode, type FormatSpec } from '../formats/index.js';
import { Rng } from '../rng.js';
import type { UpdateToStep } from '../report/types.js';

export type { UpdateToStep } from '../report/types.js';

import { SURVIVAL_RATIO } from '../verdict/asymmetry.js';

export { SURVIVAL_RATIO } from '../verdict/asymmetry.js';
/** Weights sampled per matrix. */
export const SAMPLED_WEIGHTS = 128;


/**
 * Gap from fq(w_i) to the next representable value towards sign(direction_i), at w_i's own
 * scale (per tensor, channel or block, as the format scales), for each index. NaN where the
 * grid has no finite neighbour at all.
 */
export function gridSpacing(spec: FormatSpec, w: Float32Array, shape: readonly number[], indices: ArrayLike<number>, direction: ArrayLike<number>): Float64Array {
  const enc = encode(spec, w, { shape });
  const here = decode(spec, enc);
  const codeSpace = 2 ** elementCodec(spec).bits;
  const up = enc.codes.slice();
  const down = enc.codes.slice();
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const c = enc.codes[i]!;
    if (c + 1 < codeSpace) up[i] = c + 1;
    if (c > 0) down[i] = c - 1;
  }
  const vUp = decode(spec, { ...enc, codes: up });
  const vDown = decode(spec, { ...enc, codes: down });
  const out = new Float64Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const q = here[i]!;
    let above = Infinity;
    let below = Infinity;
    for (const v of [vUp[i]!, vDown[i]!]) {
      if (!Number.isFinite(v) || v === q) continue;
      if (v > q) above = Math.min(above, v - q);
      else below = Math.min(below, q - v);
    }
    const d = direction[k]!;
    const toward = d > 0 ? above : d < 0 ? below : Math.min(above, below);
    const gap = Number.isFinite(toward) ? toward : Math.min(above, below);
    out[k] = Number.isFinite(gap) && Number.isFinite(q) ? gap : Number.NaN;
  }
  return out;
}

/** The steps a lane samples: the first, and the quarter points up to its last. */
export function sampledSteps(steps: number): number[] {
  return [...new Set([1, ...[1, 2, 3, 4].map((k) => Math.ceil((k * steps) / 4))])].filter((s) => s >= 1 && s <= steps).sort((a, b) => a - b);
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Four significant digits: the ratio spans decades (0.004 vs 2.7), so digits, not decimals. */
function significant(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}

/**
 * Collects the ratio over a lane: `wants(step)` says whether the update of that step is
 * sampled; `record(step, before, after)` takes the weights before and after the optimizer's
 * step (before any rounding in place). Its own random stream: the lane's numbers do not change.
 */
export class UpdateRatioSampler {
  private readonly steps: Set<number>;
  private readonly indices: Int32Array[];
  private readonly ratios: number[][];
  private readonly taken: number[] = [];

  constructor(
    private readonly spec: FormatSpec,
    private readonly matrices: readonly { name: string; shape: readonly number[] }[],
    totalSteps: number,
    seed: number,
  ) {
    this.steps = new Set(sampledSteps(totalSteps));
    const rng = new Rng(seed).fork('update-to-step');
    this.indices = matrices.map((m) => {
      const n = m.shape.reduce((a, b) => a * b, 1);
      if (n <= SAMPLED_WEIGHTS) return Int32Array.from({ length: n }, (_, i) => i);
      const picked = new Set<number>();
      while (picked.size < SAMPLED_WEIGHTS) picked.add(rng.int(n));
      return Int32Array.from([...picked].sort((a, b) => a - b));
    });
    this.ratios = matrices.map(() => []);
  }

  wants(step: number): boolean {
    return this.steps.has(step);
  }

  record(step: number, before: readonly Float32Array[], after: readonly Float32Array[]): void {
    this.taken.push(step);
    this.matrices.forEach((m, j) => {
      const idx = this.indices[j]!;
      const w = before[j]!;
      const delta = Float64Array.from(idx, (i) => after[j]![i]! - w[i]!);
      const gap = gridSpacing(this.spec, w, m.shape, idx, delta);
      for (let k = 0; k < idx.length; k++) {
        const r = Math.abs(delta[k]!) / gap[k]!;
        if (Number.isFinite(r)) this.ratios[j]!.push(r);
      }
    });
  }

  summary(): UpdateToStep | undefined {
    const all = this.ratios.flat();
    if (all.length === 0) return undefined;
    return {
      median: significant(median(all)),
      survives: Math.round((all.filter((r) => r >= SURVIVAL_RATIO).length / all.length) * 1e4) / 1e4,
      byMatrix: Object.fromEntries(this.matrices.flatMap((m, j) => (this.ratios[j]!.length > 0 ? [[m.name, significant(median(this.ratios[j]!))]] : []))),
      steps: [...this.taken],
      samples: all.length,
    };
  }
}
