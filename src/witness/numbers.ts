/**
 * Decimal text → number, the same double from every source (CSV bytes, JSONL, PostgreSQL text),
 * so one fleet read three ways gives the identical report.
 *
 * Fast path (Clinger): at most 15 significant digits and no exponent, so the digits form an
 * integer m < 2^53 and the value is m / 10^k with k ≤ 22; both are exact doubles and one IEEE
 * division rounds correctly, giving exactly what parseFloat gives. Everything else goes through
 * Number() after a strict shape check (Number('') is 0 and Number('0x1') is 1: both refused).
 *
 * Returns null for text that is not a number; 'NaN' / 'nan' and '±Infinity' / '±inf' are numbers
 * (a diverged lane logs NaN, and that is a sample, not a malformed row).
 */

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseDecimalBytes(buf: Uint8Array, start: number, end: number): number | null {
  // trim spaces and tabs (hand-written CSVs align columns)
  while (start < end && (buf[start] === 0x20 || buf[start] === 0x09)) start++;
  while (end > start && (buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
  if (start === end) return null;
  let i = start;
  let negative = false;
  const c0 = buf[i]!;
  if (c0 === 0x2d || c0 === 0x2b) {
    negative = c0 === 0x2d;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = -1; // digits after the point, -1 = no point yet
  let leading = true;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x30 && c <= 0x39) {
      if (leading && c === 0x30) {
        if (fraction >= 0) fraction++;
        continue; // leading zeros are not significant
      }
      leading = false;
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
      if (fraction >= 0) fraction++;
    } else if (c === 0x2e && fraction < 0) {
      fraction = 0;
    } else {
      break;
    }
  }
  const sawDigit = digits > 0 || hasZeroDigit(buf, start, i);
  if (i === end && sawDigit && digits <= 15 && fraction <= 22) {
    const v = fraction > 0 ? mantissa / POW10[fraction]! : mantissa;
    return negative ? -v : v;
  }
  return parseDecimalSlow(latin1(buf, start, end));
}

function hasZeroDigit(buf: Uint8Array, start: number, end: number): boolean {
  for (let j = start; j < end; j++) if (buf[j] === 0x30) return true;
  return false;
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let j = start; j < end; j++) s += String.fromCharCode(buf[j]!);
  return s;
}

export function parseDecimalString(text: string): number | null {
  // fast path, as for bytes: plain decimals of at most 15 significant digits (what fleets log)
  const len = text.length;
  let i = 0;
  let negative = false;
  if (len > 0 && (text.charCodeAt(0) === 0x2d || text.charCodeAt(0) === 0x2b)) {
    negative = text.charCodeAt(0) === 0x2d;
    i = 1;
  }
  let mantissa = 0;
  let digits = 0;
  let sawDigit = false;
  let fraction = -1;
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      sawDigit = true;
      if (fraction >= 0) fraction++;
      if (digits === 0 && c === 0x30) continue;
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
    } else if (c === 0x2e && fraction < 0) {
      fraction = 0;
    } else {
      break;
    }
  }
  if (i === len && sawDigit && digits <= 15 && fraction <= 22) {
    const v = fraction > 0 ? mantissa / POW10[fraction]! : mantissa;
    return negative ? -v : v;
  }
  return parseDecimalSlow(text);
}

function parseDecimalSlow(text: string): number | null {
  const s = text.trim();
  if (DECIMAL.test(s)) return Number(s);
  const lower = s.toLowerCase();
  if (lower === 'nan' || lower === '+nan' || lower === '-nan') return Number.NaN;
  if (lower === 'inf' || lower === 'infinity' || lower === '+inf' || lower === '+infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  return null;
}
