/**
 * Tensors on the exec wire: base64 of little-endian IEEE-754 float32 bytes (DESIGN.md,
 * `exec:COMMAND`), or — with servers that announce `"tensors": "binary"` — the same bytes raw,
 * in a payload after the JSON line, named in the JSON by `{"offset", "bytes"}`
 * (docs/exec-protocol.md, "Binary tensor frames"). On little-endian hosts decoding is a
 * zero-copy view; big-endian hosts go through a DataView so the bytes on the wire are
 * little-endian either way.
 */
import { endianness } from 'node:os';
import { RawJsonString } from './reply.js';

const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/** base64 text of `x` as little-endian float32. */
export function encodeTensor(x: Float32Array, littleEndianHost = HOST_IS_LITTLE_ENDIAN): string {
  if (littleEndianHost) return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
  const bytes = Buffer.allocUnsafe(x.length * 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < x.length; i++) view.setFloat32(i * 4, x[i]!, true);
  return bytes.toString('base64');
}

/**
 * The little-endian float32 bytes of `x` in a Buffer of their own, for a binary frame. A copy,
 * not a view: a request is kept (and may be re-sent to a restarted server) while the caller
 * is free to reuse its array.
 */
export function binaryTensorBytes(x: Float32Array, littleEndianHost = HOST_IS_LITTLE_ENDIAN): Buffer {
  const bytes = Buffer.allocUnsafeSlow(x.byteLength);
  if (littleEndianHost) {
    bytes.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < x.length; i++) view.setFloat32(i * 4, x[i]!, true);
  }
  return bytes;
}

/** A tensor of a binary frame: `bytes` raw bytes at `offset` in the payload after the reply's line. */
export class BinaryTensor {
  constructor(
    readonly payload: Buffer,
    readonly offset: unknown,
    readonly bytes: unknown,
  ) {}
  /** In messages: a summary, not megabytes. */
  toJSON(): string {
    return `<binary tensor: ${String(this.bytes)} bytes at offset ${String(this.offset)}>`;
  }
}

/**
 * In a binary reply's result, replace each tensor descriptor `{"offset": O, "bytes": B}` (a
 * direct member of the result object) by a BinaryTensor on the payload; decodeTensor checks it.
 */
export function resolveBinaryTensors(result: unknown, payload: Buffer): unknown {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return result;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) {
    const isDescriptor = typeof value === 'object' && value !== null && !Array.isArray(value) && 'offset' in value && 'bytes' in value;
    out[key] = isDescriptor ? new BinaryTensor(payload, (value as { offset: unknown }).offset, (value as { bytes: unknown }).bytes) : value;
  }
  return out;
}

/** Length in characters of the padded base64 text of `count` float32 values. */
export function base64LengthFor(count: number): number {
  return 4 * Math.ceil((count * 4) / 3);
}

/**
 * Decode base64 little-endian float32 text into a fresh Float32Array of exactly `count`
 * values. Returns a string describing the problem instead when the text is not that.
 */
export function decodeTensor(value: unknown, count: number, littleEndianHost = HOST_IS_LITTLE_ENDIAN): Float32Array | string {
  if (value instanceof BinaryTensor) return decodeBinaryTensor(value, count, littleEndianHost);
  // Long strings arrive as raw byte pieces (see reply.ts); they are base64 text all the same.
  if (typeof value !== 'string' && !(value instanceof RawJsonString)) {
    const what = Array.isArray(value) ? 'a JSON array' : value === null ? 'null' : typeof value === 'object' ? `the object ${JSON.stringify(value).slice(0, 80)}` : typeof value;
    return `expected a base64 string of little-endian float32 (or {"offset", "bytes"} in a binary frame), got ${what}`;
  }
  // Node's base64 decoder skips characters it does not know, so check the length first:
  // it catches wrong element counts and most garbage before any bytes are decoded.
  const expectedChars = base64LengthFor(count);
  if (value.length !== expectedChars) {
    const approxValues = Math.floor((value.length * 3) / 4 / 4);
    return `got ${value.length} base64 characters (≈ ${approxValues} float32 values), expected ${expectedChars} characters = ${count} values`;
  }
  // Not zero-filled (every byte is written before it is returned), and its own memory, not a
  // slice of Node's shared pool. On little-endian hosts it is the result's memory: no second copy.
  const bytes = Buffer.allocUnsafeSlow(count * 4);
  const out = littleEndianHost ? new Float32Array(bytes.buffer, bytes.byteOffset, count) : new Float32Array(count);
  const written = typeof value === 'string' ? bytes.write(value, 'base64') : writeBase64Pieces(value.pieces, bytes);
  if (written !== count * 4) return badBase64(written, count);
  if (!littleEndianHost) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

function decodeBinaryTensor(t: BinaryTensor, count: number, littleEndianHost: boolean): Float32Array | string {
  const { offset, bytes, payload } = t;
  if (typeof offset !== 'number' || typeof bytes !== 'number' || !Number.isSafeInteger(offset) || !Number.isSafeInteger(bytes) || offset < 0 || bytes < 0) {
    return `the binary tensor descriptor {"offset": ${JSON.stringify(offset)}, "bytes": ${JSON.stringify(bytes)}} does not hold two non-negative integers`;
  }
  if (bytes !== count * 4) return `got ${bytes} bytes (${bytes / 4} float32 values) in the binary frame, expected ${count * 4} bytes = ${count} values`;
  if (offset + bytes > payload.length) return `the binary tensor ends at byte ${offset + bytes} of a ${payload.length}-byte payload`;
  const start = payload.byteOffset + offset;
  if (littleEndianHost && start % 4 === 0) return new Float32Array(payload.buffer, start, count);
  const out = new Float32Array(count);
  const view = new DataView(payload.buffer, start, bytes);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Decode base64 text held as byte pieces into `out`, piece by piece: each piece becomes a
 * string of at most one pipe chunk (64 KiB, cheap young-generation garbage) instead of one
 * multi-megabyte string. A 4-character group split between pieces is decoded on its own.
 * Returns the number of bytes written.
 */
function writeBase64Pieces(pieces: readonly Buffer[], out: Buffer): number {
  let written = 0;
  let partial = ''; // the start of a 4-character group cut by a piece boundary
  for (const piece of pieces) {
    let start = 0;
    if (partial !== '') {
      start = Math.min(4 - partial.length, piece.length);
      partial += piece.toString('latin1', 0, start);
      if (partial.length < 4) continue;
      written += out.write(partial, written, 'base64');
      partial = '';
    }
    const end = start + ((piece.length - start) & ~3);
    if (end > start) written += out.write(piece.toString('latin1', start, end), written, 'base64');
    partial = piece.toString('latin1', end);
  }
  if (partial !== '') written += out.write(partial, written, 'base64');
  return written;
}

function badBase64(bytes: number, count: number): string {
  return `the base64 text decodes to ${bytes} bytes, expected ${count * 4} (${count} float32 values); is it valid base64 (A–Z a–z 0–9 + /, = padding)?`;
}
