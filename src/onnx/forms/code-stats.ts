/**
 * What stored codes say about the quantizer that wrote them, without the float weights: per scale group (tensor,
 * channel or block) how many codes sit at the zero-point, at the ends of the code range, on each side of the
 * zero-point, and the span of codes used; over the tensor the codes' histogram (levels used, entropy). A correct
 * absmax or min/max quantizer puts some code of every nonzero group at an end of the range; a group whose codes never
 * leave the zero-point is dead; codes all on one side of the zero-point are signed weights with a wrong zero-point
 * (or clamped at it). Pure: typed arrays in, numbers out, one pass.
 */
import type { CodeType } from '../proto.js';
import type { Codes } from './packed.js';

export interface CodeGroupStats {
  group: number;
  scale: number;
  zeroPoint: number;
  count: number;
  /** Codes equal to the zero-point (they dequantize to exactly 0). */
  atZeroPoint: number;
  /** Codes at qmin or qmax. */
  saturated: number;
  below: number;
  above: number;
  codeMin: number;
  codeMax: number;
}

export interface CodeStats {
  elements: number;
  groups: number;
  perGroup: CodeGroupStats[];
  levelsUsed: number;
  levelsAvailable: number;
  effectiveBits: number;
  /** Codes at the zero-point / at qmin or qmax, over the tensor. */
  atZeroPointFraction: number;
  saturatedFraction: number;
  /** How scale groups map onto the tensor ('per-tensor', 'per-channel axis A', 'per-block(B) axis A'), or why not. */
  granularity: string;
  /** The scale count does not fit the dims (then the tensor is one group with the first scale). */
  layoutMismatch: string | undefined;
}

/**
 * Scale groups of a [..dims] tensor: per tensor (1 scale), per index of `axis` (dims[axis] scales), or per block of
 * `blockSize` along `axis` (scales in the input's dims with dims[axis] counted in blocks, row-major).
 */
export function groupLayout(dims: readonly number[], axis: number, blockSize: number, scales: number): { outer: number; axisLen: number; inner: number; blocks: number; perAxis: boolean; mismatch?: string } {
  const rank = dims.length;
  const a = Math.min(Math.max(axis < 0 ? axis + rank : axis, 0), Math.max(rank - 1, 0));
  const axisLen = dims[a] ?? 1;
  let outer = 1;
  for (let k = 0; k < a; k++) outer *= dims[k]!;
  let inner = 1;
  for (let k = a + 1; k < rank; k++) inner *= dims[k]!;
  const total = outer * axisLen * inner;
  if (blockSize > 0) {
    const blocks = Math.ceil(axisLen / blockSize);
    if (outer * blocks * inner === scales) return { outer, axisLen, inner, blocks, perAxis: false };
    return { outer: 1, axisLen: total, inner: 1, blocks: 0, perAxis: false, mismatch: `${scales} scales for dims [${dims.join(', ')}] in blocks of ${blockSize} along axis ${a} (expected ${outer * blocks * inner})` };
  }
  if (scales <= 1) return { outer: 1, axisLen: total, inner: 1, blocks: 0, perAxis: false };
  if (scales === axisLen) return { outer, axisLen, inner, blocks: 0, perAxis: true };
  return { outer: 1, axisLen: total, inner: 1, blocks: 0, perAxis: false, mismatch: `${scales} scales for dims [${dims.join(', ')}] along axis ${a} (expected 1 or ${axisLen})` };
}

export function codeStats(codes: Codes, dims: readonly number[], axis: number, blockSize: number, scale: Float64Array, zeroPoint: Float64Array, type: CodeType): CodeStats {
  const layout = groupLayout(dims, axis, blockSize, scale.length);
  const groups = layout.mismatch ? 1 : Math.max(1, scale.length);
  const count = new Float64Array(groups);
  const atZp = new Float64Array(groups);
  const sat = new Float64Array(groups);
  const below = new Float64Array(groups);
  const above = new Float64Array(groups);
  const cmin = new Float64Array(groups).fill(Infinity);
  const cmax = new Float64Array(groups).fill(-Infinity);
  const span = type.qmax - type.qmin + 1;
  const hist = new Float64Array(span);
  const { qmin, qmax } = type;
  const { outer, axisLen, inner, blocks, perAxis } = layout;
  let i = 0;
  // Runs of one group: `inner` elements for blocks/axis (group changes along inner only for blocks), the whole tensor else.
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < axisLen; a++) {
      const base = blocks > 0 ? (o * blocks + Math.floor(a / blockSize)) * inner : perAxis ? a : 0;
      for (let k = 0; k < inner; k++) {
        const g = blocks > 0 ? base + k : base;
        const z = zeroPoint[g] ?? zeroPoint[0] ?? 0;
        const c = codes[i++]!;
        hist[c - qmin]++;
        count[g]++;
        if (c === z) atZp[g]++;
        else if (c < z) below[g]++;
        else above[g]++;
        if (c === qmin || c === qmax) sat[g]++;
        if (c < cmin[g]!) cmin[g] = c;
        if (c > cmax[g]!) cmax[g] = c;
      }
    }
  }
  const n = codes.length;
  let levels = 0;
  let bits = 0;
  for (const h of hist) {
    if (h === 0) continue;
    levels++;
    const p = h / n;
    bits -= p * Math.log2(p);
  }
  const perGroup: CodeGroupStats[] = [];
  let zpTotal = 0;
  let satTotal = 0;
  for (let g = 0; g < groups; g++) {
    perGroup.push({
      group: g, scale: scale[g] ?? scale[0] ?? Number.NaN, zeroPoint: zeroPoint[g] ?? zeroPoint[0] ?? 0, count: count[g]!,
      atZeroPoint: atZp[g]!, saturated: sat[g]!, below: below[g]!, above: above[g]!, codeMin: cmin[g]!, codeMax: cmax[g]!,
    });
    zpTotal += atZp[g]!;
    satTotal += sat[g]!;
  }
  const a = axis < 0 ? axis + dims.length : axis;
  return {
    elements: n, groups, perGroup, levelsUsed: levels, levelsAvailable: 2 ** type.bits, effectiveBits: bits,
    atZeroPointFraction: n ? zpTotal / n : 0, saturatedFraction: n ? satTotal / n : 0,
    granularity: layout.mismatch ? 'per-tensor (scale count does not fit)' : groups <= 1 ? 'per-tensor' : blockSize > 0 ? `per-block(${blockSize}) axis ${a}` : `per-channel axis ${a}`,
    layoutMismatch: layout.mismatch,
  };
}

/** codes → (code − zero-point) · scale per group, float32, in the codes' order (for comparison with a float original). */
export function dequantize(codes: Codes, dims: readonly number[], axis: number, blockSize: number, scale: Float64Array, zeroPoint: Float64Array): Float32Array {
  const layout = groupLayout(dims, axis, blockSize, scale.length);
  const { outer, axisLen, inner, blocks, perAxis } = layout;
  const out = new Float32Array(codes.length);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < axisLen; a++) {
      const base = layout.mismatch ? 0 : blocks > 0 ? (o * blocks + Math.floor(a / blockSize)) * inner : perAxis ? a : 0;
      for (let k = 0; k < inner; k++) {
        const g = blocks > 0 ? base + k : base;
        out[i] = (codes[i]! - (zeroPoint[g] ?? zeroPoint[0] ?? 0)) * (scale[g] ?? scale[0]!);
        i++;
      }
    }
  }
  return out;
}
