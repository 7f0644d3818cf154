/**
 * An element codec maps one already-scaled float32 value t to a code and back. The scaling
 * wrapper (scaled.ts) chooses the scale per tensor/channel/block; the generic codecs
 * (integer, minifloat, posit, codebook) only see t = fround(x / scale).
 */
export interface ElementCodec {
  readonly bits: number;
  /** Largest finite element value (before scaling). Integer: qmax. */
  readonly maxFinite: number;
  /** Smallest positive element value (before scaling). */
  readonly minPositive: number;
  /** Smallest element value (integer: qmin, which may be −qmax−1; others: −maxFinite). */
  readonly minFinite: number;
  /** Distinct finite element values (±0 counted once). */
  readonly codeCount: number;
  /** Code for t. `zeroPoint` is only read by the asymmetric integer codec. */
  encode(t: number, zeroPoint?: number): number;
  /** Element value for a code (before scaling). */
  decode(code: number, zeroPoint?: number): number;
  /**
   * out[i] = fround(decode(encode(fround(x[i] / scale))) · scale) for i in [lo, hi).
   * scale > 0 and finite; scale = 1 means raw values. `out` may be `x`.
   */
  fakeQuantRange(x: Float32Array, out: Float32Array, lo: number, hi: number, scale: number, zeroPoint: number): void;
  /** All finite element values ascending (±0 once), or undefined when there are too many (> 2^16 codes). */
  values(): Float32Array | undefined;
  /** The key table of `fakeQuantRange` at scale 1, where the codec uses one (posits). */
  keyTable?(): KeyTable;
}

/** Round half to even for |v| < 2^51 (float64 magic-number trick); larger values are integral already. */
export const RNE_MAGIC = 6755399441055744; // 1.5 · 2^52
export function roundHalfEven(v: number): number {
  return Math.abs(v) < 2 ** 51 ? v + RNE_MAGIC - RNE_MAGIC : v;
}

/** Sorted distinct finite values of `decode` over every code in [0, 2^bits). */
export function enumerateValues(bits: number, decode: (code: number) => number): Float32Array {
  const seen = new Set<number>();
  for (let c = 0; c < 2 ** bits; c++) {
    const v = decode(c);
    if (Number.isFinite(v)) seen.add(v === 0 ? 0 : v);
  }
  return Float32Array.from([...seen].sort((a, b) => a - b));
}

/**
 * A 65 536-entry table over the top 16 bits of a float32 (sign, exponent, 7 mantissa bits).
 * For every such key the slow reference `fq` is evaluated at both ends of the key's range:
 * equal ends → one value for the whole range (flag 0); a code boundary exactly at the lower
 * end (RNE tie there, everything above goes up) → flag 1 with both values; anything else → flag
 * 2 (call the slow path). Exact by construction for any monotone rounding, fast when the
 * format's rounding boundaries have ≤ 7 fraction bits (all ≤ 8-bit formats).
 */
export interface KeyTable {
  /** 2 where the key's range needs the slow path, else 0 */
  flag: Uint8Array;
  /** [2k] = value at the key's exact lower end, [2k + 1] = value for the rest of the range */
  pair: Float32Array;
}

export function buildKeyTable(fq: (t: number) => number): KeyTable {
  const flag = new Uint8Array(65536);
  const pair = new Float32Array(131072);
  const f = new Float32Array(3);
  const u = new Uint32Array(f.buffer);
  for (let k = 0; k < 65536; k++) {
    u[0] = (k << 16) >>> 0;
    u[1] = ((k << 16) | 0xffff) >>> 0;
    u[2] = ((k << 16) | 1) >>> 0;
    const lo = fq(f[0]!);
    const hi = fq(f[1]!);
    pair[2 * k] = lo;
    if (Object.is(lo, hi) || (Number.isNaN(lo) && Number.isNaN(hi))) pair[2 * k + 1] = lo;
    else if (Object.is(fq(f[2]!), hi)) pair[2 * k + 1] = hi; // the boundary is exactly the lower end
    else flag[k] = 2;
  }
  return { flag, pair };
}

// One scratch float32 and its bit view: reading the bits of a freshly stored value through a
// second view of the output array defeats V8's optimiser (measured ~4× slower).
const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** Fake-quantize through a key table; `slow(t)` handles flag-2 keys. */
export function fakeQuantWithKeyTable(
  table: KeyTable,
  slow: (t: number) => number,
  x: Float32Array,
  out: Float32Array,
  lo: number,
  hi: number,
  scale: number,
): void {
  const { flag, pair } = table;
  const sc = scratch;
  const bits = scratchBits;
  if (scale === 1) {
    // raw values: the key comes straight from the input's bit pattern (no float round trip)
    const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
    for (let i = lo; i < hi; i++) {
      const u = xb[i]!;
      const k = u >>> 16;
      out[i] = flag[k] === 2 ? slow(x[i]!) : pair[(k << 1) | ((u & 0xffff) !== 0 ? 1 : 0)]!;
    }
    return;
  }
  for (let i = lo; i < hi; i++) {
    sc[0] = x[i]! / scale;
    const u = bits[0]!;
    const k = u >>> 16;
    out[i] = (flag[k] === 2 ? slow(sc[0]!) : pair[(k << 1) | ((u & 0xffff) !== 0 ? 1 : 0)]!) * scale;
  }
}

export { scratch, scratchBits };
