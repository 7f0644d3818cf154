/**
 * Update-to-step ratio: how far the optimizer proposes to move a weight in one step, in units
 * of the format's quantization step at that weight. It predicts what survives rounding in
 * place (no fp32 master weights): a movement below half a step rounds back to the same grid
 * point and is lost, every step. With master weights it costs nothing — the fp32 copy keeps it.
 *
 * The step comes from the registry codec, the same way for every family: encode w (its
 * group's scale and zero-point), take fq(w_i) in element units, and find the next value the
 * element codec can represent on the side the update moves towards — the smallest move whose
 * rounding changes it (nextElementValue) — then scale the gap back. Only the codec's own
 * encode/decode are used, never a code layout, so sign-magnitude minifloats, flush-to-zero
 * goldenfloats, two's complement integers and posits, codebooks, MX elements and unsigned
 * zero-points all work alike.
 *
 * Measured cheaply: a fixed, seeded sample of weights per matrix at a handful of steps.
 */
import { elementCodec, encode, type FormatSpec } from '../formats/index.js';
import { groupsOf } from '../formats/groups.js';
import type { ElementCodec } from '../formats/element.js';
import { Rng } from '../rng.js';
import type { UpdateToStep } from '../report/types.js';

export type { UpdateToStep } from '../report/types.js';

import { SURVIVAL_RATIO } from '../verdict/asymmetry.js';

export { SURVIVAL_RATIO } from '../verdict/asymmetry.js';
/** Weights sampled per matrix. */
export const SAMPLED_WEIGHTS = 128;


/**
 * The next element value from `t` towards `dir` (±1) at zero-point `zp`: the smallest move
 * whose rounding leaves t, found by doubling a tiny move and then bisecting the rounding
 * boundary, so grids with repeated values (flush-to-zero), sign-magnitude jumps at ±0 and
 * uneven codebooks are handled alike. NaN when no finite value lies that way (saturated).
 */
export function nextElementValue(codec: ElementCodec, t: number, zp: number, dir: 1 | -1): number {
  const rounded = (x: number): number => codec.decode(codec.encode(Math.fround(x), zp), zp);
  const same = (x: number): boolean => rounded(x) === t;
  const limit = 4 * Math.max(Math.abs(codec.maxFinite), Math.abs(codec.minFinite), Math.abs(t));
  // float32 resolves |t|·2^-24: any grid of the registry is coarser than that
  let hi = Math.max(Math.abs(t) * 2 ** -24, codec.minPositive * 2 ** -8, Number.MIN_VALUE);
  let lo = 0;
  while (same(t + dir * hi)) {
    lo = hi;
    hi *= 2;
    if (hi > limit) return Number.NaN;
  }
  // The boundary to 1/1024 of the move: rounded(t + dir·hi) is then the neighbour itself unless
  // the grid's next gap is under 0.2 % of this one (no registry grid is that uneven; the tests
  // check moves of 0.49 and 0.51 of every format's gap). Finer costs codec calls, not accuracy.
  for (let k = 0; k < 64 && hi - lo > hi * 2 ** -10; k++) {
    const mid = (lo + hi) / 2;
    if (same(t + dir * mid)) lo = mid;
    else hi = mid;
  }
  const v = rounded(t + dir * hi);
  return Number.isFinite(v) && (v - t) * dir > 0 ? v : Number.NaN;
}

/**
 * Gap from fq(w_i) to the next representable value towards sign(direction_i), at w_i's own
 * scale and zero-point (per tensor, channel or block, as the format scales), for each index;
 * the gap the other way where none lies that way (the top of the range). NaN where the grid
 * has no finite neighbour at all, or the group has no usable scale.
 */
export function gridSpacing(spec: FormatSpec, w: Float32Array, shape: readonly number[], indices: ArrayLike<number>, direction: ArrayLike<number>): Float64Array {
  const codec = elementCodec(spec);
  // Unscaled formats (fp16, bf16, posits…): each value is its own code, so only the sampled
  // ones are encoded; scaled formats need the whole matrix for their groups' scales.
  const unscaled = spec.scaling === 'none';
  const values = unscaled ? Float32Array.from(indices, (i) => w[i]!) : w;
  const enc = encode(spec, values, { shape: unscaled ? [values.length] : shape });
  const groups = groupsOf(spec, values.length, enc.shape);
  const out = new Float64Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = unscaled ? k : indices[k]!;
    const gi = Math.floor(i / groups.size);
    const scale = enc.scales.length > 0 ? enc.scales[Math.min(gi, enc.scales.length - 1)]! : 1;
    const zp = enc.zeroPoints ? enc.zeroPoints[gi]! : 0;
    const t = codec.decode(enc.codes[i]!, zp);
    if (!(scale > 0) || !Number.isFinite(scale) || !Number.isFinite(t)) {
      out[k] = Number.NaN;
      continue;
    }
    const d = direction[k]! < 0 ? -1 : 1;
    let next = nextElementValue(codec, t, zp, d);
    if (Number.isNaN(next)) next = nextElementValue(codec, t, zp, d === 1 ? -1 : 1);
    out[k] = Number.isNaN(next) ? Number.NaN : Math.abs(next - t) * scale;
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
