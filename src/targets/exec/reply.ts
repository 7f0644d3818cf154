/**
 * Parsing one stdout line of an exec server. Small lines go through JSON.parse. A reply
 * carrying a large tensor is mostly one base64 string, and it arrives as ~90 pipe chunks of
 * 64 KiB. Joining them, turning the megabytes into a JS string, scanning it in JSON.parse and
 * decoding it again cost more than the rest of the round trip, so the line stays in the
 * chunks it came in, long string values are cut out of it (found with native indexOf, kept
 * as byte pieces for tensor.ts to decode piece by piece) and JSON.parse sees only the small
 * skeleton around them.
 */
import { isAscii } from 'node:buffer';
import { randomBytes } from 'node:crypto';

/** A JSON string value left as its raw bytes (between the quotes, no escapes inside), in pieces. */
export class RawJsonString {
  readonly length: number;
  constructor(readonly pieces: readonly Buffer[]) {
    this.length = pieces.reduce((n, p) => n + p.length, 0);
  }
  toString(): string {
    return joined(this.pieces).toString('latin1');
  }
  /** In messages: a summary, not megabytes. */
  toJSON(): string {
    return `<${this.length} characters>`;
  }
}

/** Strings at least this long (bytes) are cut out; shorter lines are parsed as they are. */
const RAW_STRING_MIN_BYTES = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
// A per-process nonce, so a server cannot forge a placeholder by accident.
const PLACEHOLDER = `\u0000qa-raw-${randomBytes(6).toString('hex')}-`;
const PLACEHOLDER_IN_JSON = JSON.stringify(PLACEHOLDER).slice(1, -1);

export type ParsedLine = { ok: true; value: unknown } | { ok: false; text: string };

/**
 * JSON.parse of one line — one Buffer, or the chunks it arrived in (views, not copied) — with
 * long escape-free strings returned as RawJsonString.
 */
export function parseLine(line: Buffer | readonly Buffer[]): ParsedLine {
  const bytes = new PieceBytes(Buffer.isBuffer(line) ? [line] : line);
  if (bytes.length < RAW_STRING_MIN_BYTES) return parseText(decodeText(joined(bytes.pieces)));
  const raws: RawJsonString[] = [];
  const pieces: string[] = [];
  let copiedUpTo = 0;
  let pos = 0;
  // The first backslash at or after the current string's opening quote (-1: none left), kept
  // across strings so the line is scanned for backslashes once, not once per string.
  let backslash = bytes.indexOf(BACKSLASH, 0);
  // Walk string tokens: outside a string, the next quote opens one; inside, the next
  // unescaped quote closes it. Native indexOf skips megabytes of base64 in one call per chunk.
  for (;;) {
    const open = bytes.indexOf(QUOTE, pos);
    if (open < 0) break;
    let close = bytes.indexOf(QUOTE, open + 1);
    if (backslash >= 0 && backslash < open) backslash = bytes.indexOf(BACKSLASH, open);
    const escaped = backslash >= 0 && close > backslash;
    if (escaped) while (close > 0 && isEscaped(bytes, close)) close = bytes.indexOf(QUOTE, close + 1);
    if (close < 0) break; // unterminated: let JSON.parse report it
    if (!escaped && close - open - 1 >= RAW_STRING_MIN_BYTES) {
      pieces.push(bytes.text(copiedUpTo, open), JSON.stringify(`${PLACEHOLDER}${raws.length}`));
      raws.push(new RawJsonString(bytes.slice(open + 1, close)));
      copiedUpTo = close + 1;
    }
    pos = close + 1;
  }
  if (raws.length === 0) return parseText(bytes.text(0, bytes.length));
  pieces.push(bytes.text(copiedUpTo, bytes.length));
  const skeleton = pieces.join('');
  try {
    return { ok: true, value: JSON.parse(skeleton, (_key, v: unknown) => (typeof v === 'string' && v.startsWith(PLACEHOLDER) ? raws[Number(v.slice(PLACEHOLDER.length))] : v)) };
  } catch {
    return { ok: false, text: skeleton.split(PLACEHOLDER_IN_JSON).map((part, i) => (i === 0 ? part : part.replace(/^\d+/, '…'))).join('') };
  }
}

/** The first `maxBytes` of a line as text, for messages. */
export function lineText(line: readonly Buffer[], maxBytes: number): string {
  const bytes = new PieceBytes(line);
  return bytes.text(0, Math.min(maxBytes, bytes.length));
}

/** Byte pieces read as one sequence, without joining them. */
class PieceBytes {
  readonly length: number;
  /** Offset of each piece's first byte in the sequence. */
  private readonly starts: number[] = [];

  constructor(readonly pieces: readonly Buffer[]) {
    let offset = 0;
    for (const p of pieces) {
      this.starts.push(offset);
      offset += p.length;
    }
    this.length = offset;
  }

  indexOf(byte: number, from: number): number {
    for (let k = this.pieceAt(from); k < this.pieces.length; k++) {
      const i = this.pieces[k]!.indexOf(byte, Math.max(0, from - this.starts[k]!));
      if (i >= 0) return this.starts[k]! + i;
    }
    return -1;
  }

  at(i: number): number {
    const k = this.pieceAt(i);
    return this.pieces[k]![i - this.starts[k]!]!;
  }

  /** Views of bytes [start, end). */
  slice(start: number, end: number): Buffer[] {
    const out: Buffer[] = [];
    for (let k = this.pieceAt(start); k < this.pieces.length && this.starts[k]! < end; k++) {
      const s = this.starts[k]!;
      out.push(this.pieces[k]!.subarray(Math.max(0, start - s), end - s));
    }
    return out;
  }

  text(start: number, end: number): string {
    return decodeText(joined(this.slice(start, end)));
  }

  /** Index of the piece holding byte `i` (binary search: a huge line has thousands of pieces). */
  private pieceAt(i: number): number {
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function joined(pieces: readonly Buffer[]): Buffer {
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

function parseText(text: string): ParsedLine {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, text };
  }
}

function decodeText(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/** Whether the quote at `i` is preceded by an odd number of backslashes. */
function isEscaped(bytes: PieceBytes, i: number): boolean {
  let n = 0;
  while (i - 1 - n >= 0 && bytes.at(i - 1 - n) === BACKSLASH) n++;
  return n % 2 === 1;
}
