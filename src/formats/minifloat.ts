/**
 * Generic sign/exponent/mantissa codec (minifloat and GoldenFloat rows). Round to nearest
 * even, saturate finite overflow to ±max finite; ±Inf input → ±Inf where the format has Inf
 * (`ieee`) unless the row says `saturateInfinity` (fp8-e5m2, as ONNX saturate=1), else ±max; NaN → the all-ones magnitude pattern where the format has NaN, else 0.
 * `nan-at-negative-zero` (the fnuz float8 types): every exponent field is finite, the −0 pattern
 * (sign bit alone) is the one NaN, and a negative value that rounds to zero encodes as +0.
 * `castCode` is the conversion of a value to the row's type as ONNX Cast and numpy make it: the
 * same rounding, but a finite overflow goes where ±Inf goes (±Inf on `ieee` rows).
 * `subnormals: false` (GoldenFloat) flushes: exponent field 0 encodes ±0 only, and values below
 * the smallest normal round to 0 or to it (a tie at half of it goes to 0).
 */
import type { FormatSpec, Specials } from './types.js';
import { type ElementCodec, roundHalfEven, enumerateValues, buildKeyTable, fakeQuantWithKeyTable, scratch, scratchBits, type KeyTable } from './element.js';

export interface MinifloatLayout {
  E: number;
  M: number;
  bias: number;
  subnormals: boolean;
  specials: Specials;
  saturateInfinity: boolean;
  /** Largest exponent field holding finite values, and its largest finite mantissa. */
  topField: number;
  topMantissa: number;
  emin: number; // unbiased exponent of the smallest normal
  emax: number; // unbiased exponent of the largest finite binade
  maxFinite: number;
  minNormal: number;
  minPositive: number;
}

export function minifloatLayout(spec: FormatSpec): MinifloatLayout {
  const E = spec.exponentBits!;
  const M = spec.mantissaBits!;
  const bias = spec.bias!;
  const specials = spec.specials ?? 'ieee';
  const subnormals = spec.subnormals ?? true;
  const allOnes = 2 ** E - 1;
  const topField = specials === 'ieee' ? allOnes - 1 : allOnes;
  const topMantissa = specials === 'nan-only-at-all-ones' ? 2 ** M - 2 : 2 ** M - 1;
  const emin = 1 - bias;
  const emax = topField - bias;
  const maxFinite = 2 ** emax * (1 + topMantissa / 2 ** M);
  const minNormal = 2 ** emin;
  const minPositive = subnormals ? 2 ** (emin - M) : minNormal;
  const saturateInfinity = spec.saturateInfinity ?? false;
  return { E, M, bias, subnormals, specials, saturateInfinity, topField, topMantissa, emin, emax, maxFinite, minNormal, minPositive };
}

/** floor(log2(a)) for finite a > 0, exact. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** `overflowToInfinity`: a finite value past ±max goes where ±Inf goes (castCode), instead of saturating. */
function minifloatEncode(L: MinifloatLayout, t: number, overflowToInfinity = false): number {
  const { E, M, bias } = L;
  const signBit = 2 ** (E + M);
  const fnuz = L.specials === 'nan-at-negative-zero';
  if (Number.isNaN(t)) return L.specials === 'none' ? 0 : fnuz ? signBit : signBit - 1;
  const sign = t < 0 || Object.is(t, -0) ? signBit : 0;
  const zero = fnuz ? 0 : sign; // fnuz has no −0: that pattern is its NaN
  const a = Math.abs(t);
  const maxCode = sign + L.topField * 2 ** M + L.topMantissa;
  const infCode = L.specials === 'ieee' && !L.saturateInfinity ? sign + (L.topField + 1) * 2 ** M : maxCode;
  const overflow = overflowToInfinity ? infCode : maxCode;
  if (a === Infinity) return infCode;
  if (a === 0) return zero;
  let e = exponentOf(a);
  if (e < L.emin) {
    if (!L.subnormals) return a > L.minNormal / 2 ? sign + 2 ** M : zero;
    const r = roundHalfEven(a / 2 ** (L.emin - M));
    return r === 0 ? zero : sign + r; // r = 2^M lands exactly on the smallest normal's pattern
  }
  if (e > L.emax) return overflow;
  let r = roundHalfEven(a / 2 ** (e - M));
  if (r === 2 ** (M + 1)) {
    e++;
    r = 2 ** M;
  }
  const field = e + bias;
  const mant = r - 2 ** M;
  if (field > L.topField || (field === L.topField && mant > L.topMantissa)) return overflow;
  return sign + field * 2 ** M + mant;
}

function minifloatDecode(L: MinifloatLayout, code: number): number {
  const { E, M, bias } = L;
  const signBit = 2 ** (E + M);
  const neg = code >= signBit;
  const mag = neg ? code - signBit : code;
  const field = Math.floor(mag / 2 ** M);
  const mant = mag % 2 ** M;
  let v: number;
  if (L.specials === 'nan-at-negative-zero' && code === signBit) return NaN;
  if (field === 2 ** E - 1 && L.specials === 'ieee') v = mant === 0 ? Infinity : NaN;
  else if (field === 2 ** E - 1 && L.specials === 'nan-only-at-all-ones' && mant === 2 ** M - 1) v = NaN;
  else if (field === 0) v = L.subnormals ? mant * 2 ** (L.emin - M) : 0;
  else v = 2 ** (field - bias) * (1 + mant / 2 ** M);
  return neg ? -v : v;
}

const keyTables = new WeakMap<MinifloatLayout, KeyTable>();
const layouts = new WeakMap<FormatSpec, MinifloatLayout>();

/**
 * The code of t in a minifloat row's type as a type conversion makes it (ONNX Cast to float16/bfloat16, numpy
 * `astype`, torch `.half()`): the codec's rounding, but a finite value that rounds past ±max becomes ±Inf on rows
 * where ±Inf input gives ±Inf (`ieee` without `saturateInfinity`); other rows saturate, as encode does.
 */
export function castCode(spec: FormatSpec, t: number): number {
  let L = layouts.get(spec);
  if (!L) layouts.set(spec, (L = minifloatLayout(spec)));
  return minifloatEncode(L, t, true);
}

export function minifloatCodec(spec: FormatSpec): ElementCodec {
  const L = minifloatLayout(spec);
  const fqSlow = (t: number): number => Math.fround(minifloatDecode(L, minifloatEncode(L, t)));
  const useKeyTable = spec.bits <= 8;
  // Bit-trick window: float32 exponents whose rounding stays inside the normal range.
  const sh = 23 - L.M;
  const expLo = L.emin + 127;
  const expHi = Math.min(L.emax - 1, 127) + 127;
  const half = sh > 0 ? 2 ** (sh - 1) - 1 : 0;
  const keep = sh > 0 ? ~(2 ** sh - 1) >>> 0 : 0xffffffff;
  // Below the normal range: RNE to multiples of the subnormal quantum via a float64 magic add.
  const subMagic = RNE_MAGIC_FOR(L.emin - L.M);
  const subFast = L.subnormals && L.emin >= -126;
  const fnuz = L.specials === 'nan-at-negative-zero';
  let values: Float32Array | undefined;
  return {
    bits: spec.bits,
    maxFinite: L.maxFinite,
    minFinite: -L.maxFinite,
    minPositive: L.minPositive,
    codeCount: minifloatCodeCount(L),
    encode: (t) => minifloatEncode(L, t),
    decode: (c) => minifloatDecode(L, c),
    values() {
      if (spec.bits > 16) return undefined;
      return (values ??= enumerateValues(spec.bits, (c) => minifloatDecode(L, c)));
    },
    fakeQuantRange(x, out, lo, hi, scale) {
      if (useKeyTable) {
        let table = keyTables.get(L);
        if (!table) keyTables.set(L, (table = buildKeyTable(fqSlow)));
        fakeQuantWithKeyTable(table, fqSlow, x, out, lo, hi, scale);
        return;
      }
      const sc = scratch;
      const bits = scratchBits;
      const unit = scale === 1;
      for (let i = lo; i < hi; i++) {
        sc[0] = unit ? x[i]! : x[i]! / scale;
        let u = bits[0]!;
        const ex = (u >>> 23) & 0xff;
        let r: number;
        if (ex >= expLo && ex <= expHi) {
          if (sh > 0) u = ((u + half + ((u >>> sh) & 1)) & keep) >>> 0;
          bits[0] = u;
          r = sc[0]!;
        } else if (ex < expLo && subFast) {
          const t = sc[0]!;
          r = t + subMagic - subMagic;
          if (r === 0) r = fnuz ? 0 : t * 0; // keep the sign of zero (fnuz has no −0)
        } else r = fqSlow(sc[0]!);
        out[i] = unit ? r : r * scale;
      }
    },
  };
}

/** 1.5 · 2^52 · 2^q: adding and subtracting it rounds a float64 to a multiple of 2^q, ties to even. */
function RNE_MAGIC_FOR(q: number): number {
  return 1.5 * 2 ** 52 * 2 ** q;
}

/** Distinct finite values, ±0 once: 2 · (positive finite codes) + 1. */
function minifloatCodeCount(L: MinifloatLayout): number {
  const positives = L.subnormals
    ? L.topField * 2 ** L.M + L.topMantissa // every pattern from 0x..01 up to max
    : (L.topField - 1) * 2 ** L.M + L.topMantissa + 1; // exponent field 0 is only zero
  return 2 * positives + 1;
}
