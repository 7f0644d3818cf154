/**
 * Parsing one stdout line of an exec server. Small lines go through JSON.parse. A reply
 * carrying a large tensor is mostly one base64 string; turning megabytes of it into a JS
 * string, scanning it in JSON.parse and then decoding it again costs more than the rest of
 * the round trip, so long string values are cut out of the line first (found with native
 * indexOf, kept as byte slices) and JSON.parse sees only the small skeleton around them.
 */
import { isAscii } from 'node:buffer';
import { randomBytes } from 'node:crypto';

/** A JSON string value left as its raw bytes (between the quotes, no escapes inside). */
export class RawJsonString {
  constructor(readonly bytes: Buffer) {}
  get length(): number {
    return this.bytes.length;
  }
  toString(): string {
    return this.bytes.toString('latin1');
  }
  /** In messages: a summary, not megabytes. */
  toJSON(): string {
    return `<${this.bytes.length} characters>`;
  }
}

/** Strings at least this long (bytes) are cut out; shorter lines are parsed as they are. */
export const RAW_STRING_MIN_BYTES = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
// A per-process nonce, so a server cannot forge a placeholder by accident.
const PLACEHOLDER = `\u0000qa-raw-${randomBytes(6).toString('hex')}-`;
const PLACEHOLDER_IN_JSON = JSON.stringify(PLACEHOLDER).slice(1, -1);

export type ParsedLine = { ok: true; value: unknown } | { ok: false; text: string };

/** JSON.parse of one line, with long escape-free strings returned as RawJsonString. */
export function parseLine(line: Buffer): ParsedLine {
  if (line.length < RAW_STRING_MIN_BYTES) return parseText(line.toString('utf8'));
  const raws: RawJsonString[] = [];
  const pieces: string[] = [];
  let copiedUpTo = 0;
  let pos = 0;
  // Walk string tokens: outside a string, the next quote opens one; inside, the next
  // unescaped quote closes it. Native indexOf skips megabytes of base64 in one call.
  for (;;) {
    const open = line.indexOf(QUOTE, pos);
    if (open < 0) break;
    let close = line.indexOf(QUOTE, open + 1);
    while (close > 0 && isEscaped(line, close)) close = line.indexOf(QUOTE, close + 1);
    if (close < 0) break; // unterminated: let JSON.parse report it
    const body = line.subarray(open + 1, close);
    if (body.length >= RAW_STRING_MIN_BYTES && body.indexOf(BACKSLASH) < 0) {
      pieces.push(decodeText(line.subarray(copiedUpTo, open)), JSON.stringify(`${PLACEHOLDER}${raws.length}`));
      raws.push(new RawJsonString(body));
      copiedUpTo = close + 1;
    }
    pos = close + 1;
  }
  if (raws.length === 0) return parseText(decodeText(line));
  pieces.push(decodeText(line.subarray(copiedUpTo)));
  const skeleton = pieces.join('');
  try {
    return { ok: true, value: JSON.parse(skeleton, (_key, v: unknown) => (typeof v === 'string' && v.startsWith(PLACEHOLDER) ? raws[Number(v.slice(PLACEHOLDER.length))] : v)) };
  } catch {
    return { ok: false, text: skeleton.split(PLACEHOLDER_IN_JSON).map((part, i) => (i === 0 ? part : part.replace(/^\d+/, '…'))).join('') };
  }
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
function isEscaped(line: Buffer, i: number): boolean {
  let n = 0;
  while (i - 1 - n >= 0 && line[i - 1 - n] === BACKSLASH) n++;
  return n % 2 === 1;
}
