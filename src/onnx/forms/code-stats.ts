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
import { entropyOfCounts } from '../../stats.js';

/** One scale group's numbers (materialized on demand from CodeStats' arrays). */
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

/** Per-group counters as arrays (a 100M-weight model has 3M blocks: no object per group). */
export interface CodeStats {
  elements: number;
  groups: number;
  scale: Float64Array;
  zeroPoint: Float64Array;
  count: Int32Array;
  atZeroPoint: Int32Array;
  saturated: Int32Array;
  below: Int32Array;
  above: Int32Array;
  codeMin: Int32Array;
  codeMax: Int32Array;
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

export function groupAt(s: CodeStats, g: number): CodeGroupStats {
  return {
    group: g, scale: s.scale[g] ?? s.scale[0] ?? Number.NaN, zeroPoint: s.zeroPoint[g] ?? s.zeroPoint[0] ?? 0, count: s.count[g]!,
    atZeroPoint: s.atZeroPoint[g]!, saturated: s.saturated[g]!, below: s.below[g]!, above: s.above[g]!, codeMin: s.codeMin[g]!, codeMax: s.codeMax[g]!,
  };
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

function counters(groups: number, scale: Float64Array, zeroPoint: Float64Array): Omit<CodeStats, 'elements' | 'levelsUsed' | 'levelsAvailable' | 'effectiveBits' | 'atZeroPointFraction' | 'saturatedFraction' | 'granularity' | 'layoutMismatch'> {
  const zp = new Float64Array(groups);
  for (let g = 0; g < groups; g++) zp[g] = zeroPoint[g] ?? zeroPoint[0] ?? 0;
  const sc = new Float64Array(groups);
  for (let g = 0; g < groups; g++) sc[g] = scale[g] ?? scale[0] ?? Number.NaN;
  return {
    groups, scale: sc, zeroPoint: zp, count: new Int32Array(groups), atZeroPoint: new Int32Array(groups), saturated: new Int32Array(groups),
    below: new Int32Array(groups), above: new Int32Array(groups), codeMin: new Int32Array(groups), codeMax: new Int32Array(groups),
  };
}

function finish(c: ReturnType<typeof counters>, hist: Float64Array, n: number, type: CodeType, granularity: string, mismatch: string | undefined): CodeStats {
  const { levels, bits } = entropyOfCounts(hist, n);
  let zpTotal = 0;
  let satTotal = 0;
  for (let g = 0; g < c.groups; g++) {
    zpTotal += c.atZeroPoint[g]!;
    satTotal += c.saturated[g]!;
  }
  return {
    ...c, elements: n, levelsUsed: levels, levelsAvailable: 2 ** type.bits, effectiveBits: bits,
    atZeroPointFraction: n ? zpTotal / n : 0, saturatedFraction: n ? satTotal / n : 0, granularity, layoutMismatch: mismatch,
  };
}

/**
 * Counts one run of codes[start, end) of group g into the counters and the histogram. Runs are whole blocks, channel
 * rows or the whole tensor, so the counters live in locals inside the loop.
 */
function countRun(codes: ArrayLike<number>, start: number, end: number, g: number, c: ReturnType<typeof counters>, hist: Float64Array, qmin: number, qmax: number): void {
  const z = c.zeroPoint[g]!;
  let atZ = 0, sat = 0, below = 0, above = 0, mn = c.count[g] ? c.codeMin[g]! : qmax, mx = c.count[g] ? c.codeMax[g]! : qmin;
  for (let i = start; i < end; i++) {
    const v = codes[i]!;
    hist[v - qmin]++;
    if (v === z) atZ++;
    else if (v < z) below++;
    else above++;
    if (v === qmin || v === qmax) sat++;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  c.count[g] += end - start;
  c.atZeroPoint[g] += atZ;
  c.saturated[g] += sat;
  c.below[g] += below;
  c.above[g] += above;
  c.codeMin[g] = mn;
  c.codeMax[g] = mx;
}

export function codeStats(codes: Codes, dims: readonly number[], axis: number, blockSize: number, scale: Float64Array, zeroPoint: Float64Array, type: CodeType): CodeStats {
  const layout = groupLayout(dims, axis, blockSize, scale.length);
  const groups = layout.mismatch ? 1 : Math.max(1, scale.length);
  const c = counters(groups, scale, zeroPoint);
  const hist = new Float64Array(type.qmax - type.qmin + 1);
  const { qmin, qmax } = type;
  const { outer, axisLen, inner, blocks, perAxis } = layout;
  if (blocks > 0 && inner === 1) {
    // Blocks along the last axis (MatMulNBits [N, K], GatherBlockQuantized): contiguous runs of blockSize.
    let i = 0;
    for (let o = 0; o < outer; o++) {
      for (let b = 0; b < blocks; b++) {
        const len = Math.min(blockSize, axisLen - b * blockSize);
        countRun(codes, i, i + len, o * blocks + b, c, hist, qmin, qmax);
        i += len;
      }
    }
  } else if (blocks > 0) {
    // Blocks along an inner axis: group (o, block, k) for each element; runs of one element.
    let i = 0;
    for (let o = 0; o < outer; o++) for (let a = 0; a < axisLen; a++) {
      const base = (o * blocks + Math.floor(a / blockSize)) * inner;
      for (let k = 0; k < inner; k++, i++) countRun(codes, i, i + 1, base + k, c, hist, qmin, qmax);
    }
  } else if (perAxis && inner > 1) {
    let i = 0;
    for (let o = 0; o < outer; o++) for (let a = 0; a < axisLen; a++, i += inner) countRun(codes, i, i + inner, a, c, hist, qmin, qmax);
  } else if (perAxis) {
    // Per channel along the last axis ([K, N] per column): group = i mod N.
    for (let i = 0; i < codes.length; i++) countRun(codes, i, i + 1, i % axisLen, c, hist, qmin, qmax);
  } else {
    countRun(codes, 0, codes.length, 0, c, hist, qmin, qmax);
  }
  const a = axis < 0 ? axis + dims.length : axis;
  const granularity = layout.mismatch ? 'per-tensor (scale count does not fit)' : groups <= 1 ? 'per-tensor' : blockSize > 0 ? `per-block(${blockSize}) axis ${a}` : `per-channel axis ${a}`;
  return finish(c, hist, codes.length, type, granularity, layout.mismatch);
}

/** Per zero-point z, per byte b (two 4-bit codes): (# below z) + (# at z) << 10 + (# at 0 or 15) << 20. */
let nibbleTables: Int32Array | undefined;
function nibbleCounts(): Int32Array {
  if (nibbleTables) return nibbleTables;
  const t = new Int32Array(16 * 256);
  for (let z = 0; z < 16; z++) for (let b = 0; b < 256; b++) {
    let v = 0;
    for (const c of [b & 15, b >> 4]) v += (c < z ? 1 : 0) + (c === z ? 1 << 10 : 0) + (c === 0 || c === 15 ? 1 << 20 : 0);
    t[z * 256 + b] = v;
  }
  nibbleTables = t;
  return t;
}
/** The set of the byte's two codes as a 16-bit mask: a block's codes min/max come from the OR of its bytes' masks. */
const NIBBLE_SET = Uint16Array.from({ length: 256 }, (_, b) => (1 << (b & 15)) | (1 << (b >> 4)));

/**
 * codeStats of MatMulNBits' packed 4-bit B [N, blocks, blob] read in place (no unpacked copy: 100M weights are 50 MB
 * packed), a byte (two codes) at a time through per-zero-point count tables: the same numbers as codeStats on
 * unpackMatMulNBits' codes.
 */
export function packedNBits4CodeStats(b: Uint8Array, n: number, k: number, blockSize: number, scale: Float64Array, zeroPoint: Float64Array, type: CodeType): CodeStats {
  const nb = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const groups = n * nb;
  const c = counters(groups, scale, zeroPoint);
  const tables = nibbleCounts();
  const bytes = new Float64Array(256);
  const hist = new Float64Array(16);
  const lastLen = k - (nb - 1) * blockSize;
  for (let g = 0; g < groups; g++) {
    const z = c.zeroPoint[g]!;
    const len = g % nb === nb - 1 ? lastLen : blockSize;
    const start = g * blob;
    const whole = len >> 1;
    let counts = 0;
    let set = 0;
    if (z >= 0 && z <= 15 && Number.isInteger(z) && len < 1024) {
      const t = z * 256;
      for (let j = start, end = start + whole; j < end; j++) {
        const byte = b[j]!;
        counts += tables[t + byte]!;
        bytes[byte]++;
        set |= NIBBLE_SET[byte]!;
      }
    } else {
      for (let j = start, end = start + whole; j < end; j++) {
        const byte = b[j]!;
        bytes[byte]++;
        for (const v of [byte & 15, byte >> 4]) counts += (v < z ? 1 : 0) + (v === z ? 1 << 10 : 0) + (v === 0 || v === 15 ? 1 << 20 : 0);
        set |= NIBBLE_SET[byte]!;
      }
    }
    let mn = set ? 31 - Math.clz32(set & -set) : 15;
    let mx = set ? 31 - Math.clz32(set) : 0;
    let below = counts & 1023;
    let atZ = (counts >> 10) & 1023;
    let sat = counts >> 20;
    if (len & 1) {
      // The odd last code of a short block: its low nibble only.
      const v = b[start + whole]! & 15;
      hist[v]++;
      if (v < z) below++;
      else if (v === z) atZ++;
      if (v === 0 || v === 15) sat++;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    c.count[g] = len;
    c.atZeroPoint[g] = atZ;
    c.saturated[g] = sat;
    c.below[g] = below;
    c.above[g] = len - atZ - below;
    c.codeMin[g] = mn;
    c.codeMax[g] = mx;
  }
  for (let byte = 0; byte < 256; byte++) {
    hist[byte & 15] += bytes[byte]!;
    hist[byte >> 4] += bytes[byte]!;
  }
  return finish(c, hist, n * k, type, `per-block(${blockSize}) axis 1`, undefined);
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
