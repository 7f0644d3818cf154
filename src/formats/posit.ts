/**
 * Posits (2022 Posit Standard; `es` from the row, so legacy es=0/1 conventions too).
 * Zero = 0…0, NaR = 10…0, negation = two's complement of the pattern. Rounding is to nearest
 * on the bit pattern, ties to the even pattern: the boundary between adjacent n-bit codes c and
 * c+1 is the value of the (n+1)-bit posit 2c+1. Nonzero values never round to 0 or NaR:
 * below minpos → minpos, above maxpos → maxpos. ±Inf and NaN → NaR.
 * Tables are exhaustive, so n ≤ 16.
 */
import type { FormatSpec } from './types.js';
import { type ElementCodec, buildKeyTable, fakeQuantWithKeyTable, type KeyTable } from './element.js';

/** Value of an n-bit posit pattern (n ≤ 32). */
export function positDecode(pattern: number, n: number, es: number): number {
  const size = 2 ** n;
  const p = pattern % size;
  if (p === 0) return 0;
  const nar = 2 ** (n - 1);
  if (p === nar) return NaN;
  const neg = p > nar;
  const mag = neg ? size - p : p;
  // bits after the sign, most significant first
  let i = n - 2;
  const bit = (k: number): number => Math.floor(mag / 2 ** k) % 2;
  const r0 = bit(i);
  let run = 0;
  while (i >= 0 && bit(i) === r0) {
    run++;
    i--;
  }
  i--; // skip the terminating bit (may be past the end)
  const k = r0 === 1 ? run - 1 : -run;
  let exp = 0;
  for (let j = 0; j < es; j++) {
    exp = exp * 2 + (i >= 0 ? bit(i) : 0);
    i--;
  }
  let frac = 1;
  let w = 0.5;
  for (; i >= 0; i--, w /= 2) frac += bit(i) * w;
  const v = 2 ** (k * 2 ** es + exp) * frac;
  return neg ? -v : v;
}

interface PositTables {
  n: number;
  maxCode: number; // maxpos pattern 01…1
  /** value[c] for c = 0..maxCode (positive patterns ascending) */
  value: Float64Array;
  /** boundary[c] between c and c+1 */
  boundary: Float64Array;
}

function positTables(n: number, es: number): PositTables {
  const maxCode = 2 ** (n - 1) - 1;
  const value = new Float64Array(maxCode + 1);
  const boundary = new Float64Array(maxCode + 1);
  for (let c = 0; c <= maxCode; c++) {
    value[c] = positDecode(c, n, es);
    boundary[c] = positDecode(2 * c + 1, n + 1, es);
  }
  return { n, maxCode, value, boundary };
}

/** Positive code for a finite magnitude a > 0, searching only codes in [lo, hi] (which must bracket it). */
function magnitudeCode(T: PositTables, a: number, lo: number, hi: number): number {
  const { value, boundary, maxCode } = T;
  let c: number;
  if (a >= value[maxCode]!) c = maxCode;
  else if (a <= value[1]!) c = 1;
  else {
    // largest c with value[c] <= a
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (value[mid]! <= a) lo = mid;
      else hi = mid;
    }
    c = lo;
    if (a !== value[c]) {
      const b = boundary[c]!;
      if (a > b || (a === b && c % 2 === 1)) c++;
    }
  }
  return c;
}

function positEncodeWith(T: PositTables, t: number): number {
  const size = 2 ** T.n;
  if (!Number.isFinite(t)) return size / 2; // NaR
  if (t === 0) return 0;
  const c = magnitudeCode(T, Math.abs(t), 1, T.maxCode);
  return t < 0 ? (size - c) % size : c;
}

/**
 * For every float32 key (top 16 bits of |t|) the range of positive codes it can round to, so
 * that a key the key table cannot decide costs a few binary-search steps instead of n.
 */
function keyCodeRanges(T: PositTables): { lo: Uint16Array; hi: Uint16Array } {
  const lo = new Uint16Array(32768);
  const hi = new Uint16Array(32768);
  const f = new Float32Array(2);
  const u = new Uint32Array(f.buffer);
  for (let k = 0; k < 32768; k++) {
    u[0] = (k << 16) >>> 0;
    u[1] = ((k << 16) | 0xffff) >>> 0;
    const a = f[0]!;
    const b = f[1]!;
    lo[k] = Number.isFinite(a) && a > 0 ? Math.max(magnitudeCode(T, a, 1, T.maxCode) - 1, 1) : 1;
    hi[k] = Number.isFinite(b) && b > 0 ? Math.min(magnitudeCode(T, b, 1, T.maxCode) + 1, T.maxCode) : T.maxCode;
  }
  return { lo, hi };
}

const cache = new Map<string, PositTables>();
const keyTables = new Map<string, KeyTable>();

export function positCodec(spec: FormatSpec): ElementCodec {
  const n = spec.bits;
  const es = spec.es ?? 2;
  const id = `${n}/${es}`;
  let T = cache.get(id);
  if (!T) cache.set(id, (T = positTables(n, es)));
  const tables = T;
  const decodeTable = new Float64Array(2 ** n);
  for (let c = 0; c < 2 ** n; c++) decodeTable[c] = c <= tables.maxCode ? tables.value[c]! : c === 2 ** (n - 1) ? NaN : -tables.value[2 ** n - c]!;
  const encode = (t: number): number => positEncodeWith(tables, t);
  const decode = (c: number): number => decodeTable[c]!;
  const fqSlow = (t: number): number => Math.fround(decodeTable[encode(t)]!);
  let ranges: { lo: Uint16Array; hi: Uint16Array } | undefined;
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  // flag-2 keys (dense posit16 regions): a binary search narrowed to the key's code range
  const fqNarrow = (t: number): number => {
    if (!Number.isFinite(t) || t === 0) return fqSlow(t);
    ranges ??= keyCodeRanges(tables);
    const a = Math.abs(t);
    scratch[0] = a;
    const k = scratchBits[0]! >>> 16;
    const v = tables.value[magnitudeCode(tables, a, ranges.lo[k]!, ranges.hi[k]!)]!;
    return t < 0 ? -v : v;
  };
  let values: Float32Array | undefined;
  const keyTable = (): KeyTable => {
    let table = keyTables.get(id);
    if (!table) keyTables.set(id, (table = buildKeyTable(fqSlow)));
    return table;
  };
  return {
    bits: n,
    maxFinite: tables.value[tables.maxCode]!,
    minFinite: -tables.value[tables.maxCode]!,
    minPositive: tables.value[1]!,
    codeCount: 2 ** n - 1,
    encode,
    decode,
    values() {
      if (!values) {
        values = new Float32Array(2 * tables.maxCode + 1);
        for (let c = 0; c <= tables.maxCode; c++) {
          values[tables.maxCode + c] = tables.value[c]!;
          values[tables.maxCode - c] = -tables.value[c]!;
        }
      }
      return values;
    },
    keyTable,
    fakeQuantRange(x, out, lo, hi, scale) {
      fakeQuantWithKeyTable(keyTable(), fqNarrow, x, out, lo, hi, scale);
    },
  };
}
