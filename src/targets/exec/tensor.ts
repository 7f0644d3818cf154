/**
 * Tensors on the exec wire: base64 of little-endian IEEE-754 float32 bytes (DESIGN.md,
 * `exec:COMMAND`). On little-endian hosts this is a zero-copy view; big-endian hosts
 * go through a DataView so the bytes on the wire are little-endian either way.
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

/** Length in characters of the padded base64 text of `count` float32 values. */
export function base64LengthFor(count: number): number {
  return 4 * Math.ceil((count * 4) / 3);
}

/**
 * Decode base64 little-endian float32 text into a fresh Float32Array of exactly `count`
 * values. Returns a string describing the problem instead when the text is not that.
 */
export function decodeTensor(value: unknown, count: number, littleEndianHost = HOST_IS_LITTLE_ENDIAN): Float32Array | string {
  // Long strings arrive as raw bytes (see reply.ts); they are base64 text all the same.
  const text = value instanceof RawJsonString ? value.toString() : value;
  if (typeof text !== 'string') {
    return `expected a base64 string of little-endian float32, got ${Array.isArray(text) ? 'a JSON array' : text === null ? 'null' : typeof text}`;
  }
  // Node's base64 decoder skips characters it does not know, so check the length first:
  // it catches wrong element counts and most garbage before any bytes are decoded.
  const expectedChars = base64LengthFor(count);
  if (text.length !== expectedChars) {
    const approxValues = Math.floor((text.length * 3) / 4 / 4);
    return `got ${text.length} base64 characters (≈ ${approxValues} float32 values), expected ${expectedChars} characters = ${count} values`;
  }
  const out = new Float32Array(count);
  if (littleEndianHost) {
    // Decode straight into the result's memory: no intermediate Buffer, no second copy.
    const written = Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(text, 'base64');
    if (written !== count * 4) return badBase64(written, count);
    return out;
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== count * 4) return badBase64(bytes.length, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function badBase64(bytes: number, count: number): string {
  return `the base64 text decodes to ${bytes} bytes, expected ${count * 4} (${count} float32 values); is it valid base64 (A–Z a–z 0–9 + /, = padding)?`;
}

/**
 * JSON text pieces joined into one Buffer: `utf8` for ordinary JSON, `latin1` for base64
 * text (ASCII, so latin1 is the same bytes and a plain copy, where utf8 would be re-encoded).
 */
export function joinJsonText(pieces: readonly (readonly [text: string, encoding: 'utf8' | 'latin1'])[]): Buffer {
  let size = 0;
  for (const [text, encoding] of pieces) size += encoding === 'latin1' ? text.length : Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const [text, encoding] of pieces) offset += out.write(text, offset, encoding);
  return out;
}
