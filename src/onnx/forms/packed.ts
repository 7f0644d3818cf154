/**
 * Stored quantized weights as numbers: the bytes of an initializer read as codes (int8/uint8/int16/uint16, int4/uint4
 * packed two per byte low nibble first, 2/4/8-bit codes packed low bits first in uint8 blobs), and the packed layouts of
 * onnxruntime's weight-only contrib ops:
 * - com.microsoft MatMulNBits: B [N, ceil(K / block_size), block_size · bits / 8] uint8, codes along K low bits first;
 *   scales [N · n_blocks]; zero_points optional, uint8 packed per row ([N, ceil(n_blocks · bits / 8)], low bits first)
 *   or float like the scales; absent → 2^(bits − 1).
 * - com.microsoft GatherBlockQuantized: data int4/uint4 (zero-point default 0) or uint8 holding `bits`-bit codes packed
 *   along the last axis (default 2^(bits − 1)); zero_points of the data's type (uint8: packed the same way).
 * Checked against onnxruntime-node 1.30's own results on the same models (test/onnx-forms.test.ts). Pure decoding.
 */
import { DT, tensorDims, tensorValues, type TensorProto } from '../proto.js';

export type Codes = Uint8Array | Int8Array | Int16Array | Uint16Array;

/** The raw bytes of an initializer, or undefined when its values sit in the typed fields. */
function raw(t: TensorProto): Uint8Array | undefined {
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

/** `count` codes of `bits` bits packed low bits first into `bytes` (from byte `offset`), as unsigned values. */
export function unpackBits(bytes: Uint8Array, bits: number, count: number, out: Uint8Array = new Uint8Array(count), offset = 0, outOffset = 0): Uint8Array {
  if (bits === 8) {
    out.set(bytes.subarray(offset, offset + count), outOffset);
    return out;
  }
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < count; i++) out[outOffset + i] = (bytes[offset + Math.floor(i / per)]! >> ((i % per) * bits)) & mask;
  return out;
}

/** An initializer of an integer code type as a typed array of its codes (int4/uint4 unpacked, sign-extended). */
export function initializerCodes(t: TensorProto): Codes {
  const dt = t.dataType ?? 0;
  const n = tensorDims(t).reduce((a, b) => a * b, 1);
  const bytes = raw(t);
  if (bytes) {
    switch (dt) {
      case DT.UINT8: return bytes.subarray(0, n);
      case DT.INT8: return new Int8Array(bytes.buffer, bytes.byteOffset, n);
      case DT.UINT4: return unpackBits(bytes, 4, n);
      case DT.INT4: {
        const u = unpackBits(bytes, 4, n);
        return Int8Array.from(u, (v) => (v >= 8 ? v - 16 : v));
      }
      case DT.INT16: case DT.UINT16: {
        const copy = Uint8Array.prototype.slice.call(bytes, 0, 2 * n);
        return dt === DT.INT16 ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
      }
      default: break;
    }
  }
  const v = tensorValues(t);
  switch (dt) {
    case DT.INT8: case DT.INT4: return Int8Array.from(v);
    case DT.INT16: return Int16Array.from(v);
    case DT.UINT16: return Uint16Array.from(v);
    default: return Uint8Array.from(v);
  }
}

/** A float initializer (scales; float zero-points) as float64. */
export function initializerFloats(t: TensorProto): Float64Array {
  return tensorValues(t);
}

export interface NBitsLayout {
  /** Output features (rows of B) and reduction length. */
  n: number;
  k: number;
  bits: number;
  blockSize: number;
}

/** MatMulNBits B [N, n_blocks, blob] → codes [N, K] (the padding at the end of each row's last block dropped). */
export function unpackMatMulNBits(b: Uint8Array, l: NBitsLayout): Uint8Array {
  const nb = Math.ceil(l.k / l.blockSize);
  const blob = (l.blockSize * l.bits) / 8;
  const out = new Uint8Array(l.n * l.k);
  if (l.bits === 4 && l.blockSize % 2 === 0) {
    // The common case, unrolled: two codes per byte.
    let o = 0;
    for (let row = 0; row < l.n; row++) {
      for (let blk = 0; blk < nb; blk++) {
        const start = (row * nb + blk) * blob;
        const len = Math.min(l.blockSize, l.k - blk * l.blockSize);
        const pairs = len >> 1;
        for (let j = 0; j < pairs; j++) {
          const byte = b[start + j]!;
          out[o++] = byte & 15;
          out[o++] = byte >> 4;
        }
        if (len & 1) out[o++] = b[start + pairs]! & 15;
      }
    }
    return out;
  }
  for (let row = 0; row < l.n; row++) {
    for (let blk = 0; blk < nb; blk++) {
      const len = Math.min(l.blockSize, l.k - blk * l.blockSize);
      unpackBits(b, l.bits, len, out, (row * nb + blk) * blob, row * l.k + blk * l.blockSize);
    }
  }
  return out;
}

/** MatMulNBits zero_points: uint8 packed per row, or float like the scales; absent → 2^(bits − 1) for every block. */
export function matMulNBitsZeroPoints(zp: TensorProto | undefined, l: NBitsLayout): Float64Array {
  const nb = Math.ceil(l.k / l.blockSize);
  const out = new Float64Array(l.n * nb);
  if (!zp) return out.fill(2 ** (l.bits - 1));
  if (zp.dataType !== DT.UINT8) return Float64Array.from(tensorValues(zp));
  const bytes = raw(zp) ?? Uint8Array.from(tensorValues(zp));
  const perRow = Math.ceil((nb * l.bits) / 8);
  const row = new Uint8Array(nb);
  for (let r = 0; r < l.n; r++) {
    unpackBits(bytes, l.bits, nb, row, r * perRow);
    for (let b = 0; b < nb; b++) out[r * nb + b] = row[b]!;
  }
  return out;
}

/**
 * GatherBlockQuantized data → codes in the data's logical dims (uint8 with bits < 8: the last axis holds 8 / bits codes per
 * byte). Returns the codes, their dims, and the default zero-point.
 */
export function gatherBlockQuantizedCodes(data: TensorProto, bits: number): { codes: Codes; dims: number[]; defaultZeroPoint: number } {
  const dims = tensorDims(data);
  if (data.dataType === DT.UINT8 && bits < 8) {
    const per = 8 / bits;
    const logical = [...dims.slice(0, -1), (dims[dims.length - 1] ?? 1) * per];
    const count = logical.reduce((a, b) => a * b, 1);
    const bytes = raw(data) ?? Uint8Array.from(tensorValues(data));
    return { codes: unpackBits(bytes, bits, count), dims: logical, defaultZeroPoint: 2 ** (bits - 1) };
  }
  return { codes: initializerCodes(data), dims, defaultZeroPoint: data.dataType === DT.UINT8 ? 2 ** (bits - 1) : 0 };
}

/** GatherBlockQuantized zero_points (scale dims): int4/uint4 unpacked, uint8 unpacked by `bits` when bits < 8. */
export function gatherBlockQuantizedZeroPoints(zp: TensorProto, groups: number, bits: number): Float64Array {
  if (zp.dataType === DT.UINT8 && bits < 8) {
    const bytes = raw(zp) ?? Uint8Array.from(tensorValues(zp));
    // Packed along the last axis of the scale dims, each row padded to whole bytes.
    const dims = tensorDims(zp);
    const rowBytes = dims[dims.length - 1] ?? 1;
    const rows = Math.max(1, dims.slice(0, -1).reduce((a, b) => a * b, 1));
    const perRow = Math.ceil(groups / rows);
    const out = new Float64Array(groups);
    const row = new Uint8Array(perRow);
    for (let r = 0; r < rows; r++) {
      unpackBits(bytes, bits, perRow, row, r * rowBytes);
      for (let i = 0; i < perRow; i++) out[r * perRow + i] = row[i]!;
    }
    return out;
  }
  return Float64Array.from(initializerCodes(zp));
}
