/**
 * WebAssembly SIMD fake-quant kernels, generated from a row's fields (no format names): four
 * float32 lanes at a time, bit-identical to the scalar reference (tensor.ts `fakeQuantScalar`),
 * which test/formats-fastpath.test.ts checks over strided float32 patterns and every code
 * boundary.
 *
 * Every kernel has the shape fq(xPtr, outPtr, nBytes, recPtr, blockBytes): element i uses the
 * 16-byte record [scale, p1, p2, –] of its block (i·4 / blockBytes) and computes
 * t = x / scale (float32 division = fround of the float64 quotient), the element value v, and
 * y = v · scale (float32 product = fround of the exact float64 product). A block's last vector
 * may write up to 3 lanes past the block end; the next block (processed after it) overwrites
 * them, and the buffers are padded, so out and x must not overlap.
 */
import { op, splatF32, splatWord, wordOf, assemble, I32, V128, F32, type WasmFunction } from './wasm.js';
import type { MinifloatLayout } from './minifloat.js';

// function parameters and locals of every kernel
const X = 0;
const OUT = 1;
const N = 2;
const REC = 3;
const BLK = 4;
const I = 5;
const END = 6;
const S = 7;
const P1 = 8;
const P2 = 9;
const T = 10;
const A = 11; // |t| bits
const B = 12; // scratch

/** The element computation: reads locals T (= x/scale), S, P1, P2; leaves the output vector on the stack. */
export type ElementBody = number[][];

function fqFunction(element: ElementBody): WasmFunction {
  return {
    name: 'fq',
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, V128, V128, V128, V128, V128, V128],
    body: [
      op.block,
      op.loop,
      op.localGet(I), op.localGet(N), op.i32GeU, op.brIf(1),
      // END = min(I + BLK, N)
      op.localGet(I), op.localGet(BLK), op.i32Add, op.localTee(END), op.localGet(N),
      op.localGet(END), op.localGet(N), op.i32LtU, op.select, op.localSet(END),
      op.localGet(REC), op.v128Load32Splat(0), op.localSet(S),
      op.localGet(REC), op.v128Load32Splat(4), op.localSet(P1),
      op.localGet(REC), op.v128Load32Splat(8), op.localSet(P2),
      op.loop,
      op.localGet(OUT), op.localGet(I), op.i32Add,
      op.localGet(X), op.localGet(I), op.i32Add, op.v128Load(), op.localGet(S), op.f32x4Div, op.localSet(T),
      ...element,
      op.v128Store(),
      op.localGet(I), op.i32Const(16), op.i32Add, op.localTee(I), op.localGet(END), op.i32LtU, op.brIf(0),
      op.end,
      op.localGet(END), op.localSet(I),
      op.localGet(REC), op.i32Const(16), op.i32Add, op.localSet(REC),
      op.br(0),
      op.end,
      op.end,
    ],
  };
}

/**
 * Integer (ONNX QuantizeLinear then DequantizeLinear): p1 = qmin − zp, p2 = qmax − zp;
 * y = RNE(clamp(t, p1, p2)) · scale + 0 (the + 0 turns −0 into the reference's +0); NaN → +0.
 */
export function integerElement(): ElementBody {
  return [
    op.localGet(T), op.localGet(P1), op.f32x4Pmax, // t < p1 ? p1 : t
    op.localGet(P2), op.f32x4Pmin, // p2 < c ? p2 : c
    op.f32x4Nearest, op.localGet(S), op.f32x4Mul, splatWord(0), op.f32x4Add,
    op.localGet(T), op.localGet(T), op.f32x4Eq, op.v128And,
  ];
}

/** Whether the minifloat bit-level kernel is exact for this layout (its values and rounding fit float32). */
export function minifloatKernelFits(L: MinifloatLayout): boolean {
  return L.M >= 0 && L.M <= 23 && L.emin >= -126 && L.emin - L.M >= -149 && L.emax <= 127 && L.emax >= L.emin && L.maxFinite <= 3.4028234663852886e38;
}

/**
 * Minifloat / GoldenFloat, on the float32 pattern of |t| (A):
 *  - normal range (A ≥ min normal): round the mantissa to M bits, ties to even, by adding
 *    2^(22−M) − 1 + (the bit that stays last) and clearing the low 23 − M bits;
 *  - below: subnormals → RNE to multiples of 2^(emin−M) by adding and subtracting
 *    1.5·2^(23+emin−M) in float32; no subnormals → min normal when A > min normal / 2, else 0;
 *  - finite overflow saturates to max finite; ±Inf → Inf or max finite; the sign is or-ed back;
 *  - NaN → the float32 quiet NaN, or +0 where the format has no NaN.
 * Layouts with subnormals take `minifloatMagicElement`, the same rounding in fewer instructions.
 */
export function minifloatElement(L: MinifloatLayout): ElementBody {
  const magic = minifloatMagicElement(L);
  if (magic) return magic;
  const sh = 23 - L.M;
  const half = sh > 0 ? 2 ** (sh - 1) - 1 : 0;
  const lsb = sh > 0 ? 1 : 0;
  const keep = sh > 0 ? ~(2 ** sh - 1) >>> 0 : 0xffffffff;
  const minNormal = wordOf(L.minNormal);
  const maxBits = wordOf(L.maxFinite);
  const INF = 0x7f800000;
  const infOut = L.specials === 'ieee' && !L.saturateInfinity ? INF : maxBits;
  const nanOut = L.specials === 'none' ? 0 : 0x7fc00000;
  const below: number[][] = L.subnormals
    ? [op.localGet(A), splatF32(1.5 * 2 ** (23 + L.emin - L.M)), op.f32x4Add, splatF32(1.5 * 2 ** (23 + L.emin - L.M)), op.f32x4Sub]
    : [splatWord(minNormal), op.localGet(A), splatWord(wordOf(L.minNormal / 2)), op.i32x4GtS, op.v128And];
  return [
    op.localGet(T), splatWord(0x7fffffff), op.v128And, op.localSet(A),
    ...below,
    // normal-range rounding
    op.localGet(A), splatWord(half), op.i32x4Add,
    op.localGet(A), op.i32Const(sh), op.i32x4ShrU, splatWord(lsb), op.v128And, op.i32x4Add,
    splatWord(keep), op.v128And,
    op.localGet(A), splatWord(minNormal), op.i32x4LtS, op.v128Bitselect, // A < min normal ? below : normal
    splatWord(maxBits), op.i32x4MinS,
    // ±Inf: the rounding above leaves its pattern, so the min already gave max finite where that is the answer
    ...(infOut === maxBits ? [] : [op.localSet(B), splatWord(infOut), op.localGet(B), op.localGet(A), splatWord(INF), op.i32x4Eq, op.v128Bitselect]),
    op.localGet(T), splatWord(0x80000000), op.v128And, op.v128Or,
    op.localGet(S), op.f32x4Mul,
    // NaN (|t| pattern above Inf's) → nanOut
    ...(nanOut === 0
      ? [op.localGet(A), splatWord(INF), op.i32x4GtS, op.v128AndNot]
      : [op.localSet(B), splatWord(nanOut), op.localGet(B), op.localGet(A), splatWord(INF), op.i32x4GtS, op.v128Bitselect]),
  ];
}

/**
 * Minifloats with subnormals and 23 − M ≥ 1, emax + 23 − M ≤ 127: one rounding for every range.
 * A = min(|t| pattern, max finite) (Inf and NaN patterns too: rounding is monotone and keeps
 * max finite, so saturating first gives the same as saturating after). With
 * e = max(exponent of A, emin), A + 2^(e+23−M) lies in the binade of 2^(e+23−M), whose
 * spacing is 2^(e−M), so the float32 add rounds A to that grid, ties to even (2^(e+23−M) is
 * even and on the grid), and subtracting 2^(e+23−M) again is exact: RNE to M mantissa bits
 * above min normal, to multiples of 2^(emin−M) below it, as in `minifloatElement`.
 */
function minifloatMagicElement(L: MinifloatLayout): ElementBody | undefined {
  const sh = 23 - L.M;
  if (!L.subnormals || sh < 1 || L.emax + sh > 127) return undefined;
  const maxBits = wordOf(L.maxFinite);
  const INF = 0x7f800000;
  const infOut = L.specials === 'ieee' && !L.saturateInfinity ? INF : maxBits;
  const nanOut = L.specials === 'none' ? 0 : 0x7fc00000;
  return [
    op.localGet(T), splatWord(0x7fffffff), op.v128And, splatWord(maxBits), op.i32x4MinS, op.localTee(A),
    splatWord(INF), op.v128And, splatWord(wordOf(L.minNormal)), op.i32x4MaxS, splatWord(sh << 23), op.i32x4Add, op.localSet(B),
    op.localGet(A), op.localGet(B), op.f32x4Add, op.localGet(B), op.f32x4Sub,
    // ±Inf: saturated above, so only a format that keeps Inf needs it back
    ...(infOut === maxBits ? [] : [op.localSet(B), splatWord(infOut), op.localGet(B), op.localGet(T), op.f32x4Abs, splatF32(Infinity), op.f32x4Eq, op.v128Bitselect]),
    op.localGet(T), splatWord(0x80000000), op.v128And, op.v128Or,
    op.localGet(S), op.f32x4Mul,
    // NaN → nanOut
    ...(nanOut === 0
      ? [op.localGet(T), op.localGet(T), op.f32x4Eq, op.v128And]
      : [op.localSet(B), splatWord(nanOut), op.localGet(B), op.localGet(T), op.localGet(T), op.f32x4Ne, op.v128Bitselect]),
  ];
}

/**
 * Codebook: the output is book[k], k = the number of midpoints below t, a tie at midpoint j
 * going up when j is odd (to the even index). The float64 midpoints become float32 tests:
 * t > m when m is a float32, else t ≥ (the next float32 above m). NaN → book[nanIndex].
 */
export function codebookElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody {
  return codebookBucketElement(book, mids, nanIndex) ?? codebookChainElement(book, mids, nanIndex);
}

/** The float32 test for midpoint j: t > f (strict) or t ≥ f, as in `codebookChainElement`. */
function midpointTest(mids: Float64Array, j: number): { f: number; strict: boolean } {
  const m = mids[j]!;
  const f = Math.fround(m);
  if (f === m) return { f, strict: j % 2 === 0 };
  return { f: f > m ? f : nextUp(f), strict: false };
}

/**
 * Codebooks of ≤ 16 entries whose tests are monotone (test j passes from the float32 lowest[j]
 * on, lowest never decreasing, so the passing tests are a prefix and k = their number), padded
 * to 16 entries with the last one (the padding's tests pass only at +Inf and add nothing).
 * Two levels of four, 6 tests instead of 15: tests 3, 7, 11 give the bucket b = ⌊k / 4⌋; the
 * bucket's tests 4b, 4b + 1, 4b + 2 (thresholds fetched by i8x16.swizzle) give c = k − 4b; the
 * output pattern is bits(book[4b]) + Σ over passing c of bits(book[4b + c + 1]) − bits(book[4b + c])
 * (wrapping int32, so the sum telescopes to bits(book[k]) exactly).
 * A swizzled table holds one float32 per bucket, byte-planar (byte p of bucket b's value at
 * 4p + b), so its index is 4p + b: the bucket count added to 0x0c080400.
 * NaN fails every t ≥ l test; a test written ¬(t < l) is the same test for every other t but
 * passes NaN, so writing the tests below nanIndex that way walks NaN to book[nanIndex].
 */
function codebookBucketElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody | undefined {
  if (book.length > 16) return undefined;
  const lowest: number[] = [];
  for (let j = 0; j < mids.length; j++) {
    const { f, strict } = midpointTest(mids, j);
    const l = strict ? nextUp(f) : f;
    if (!(l >= (lowest[j - 1] ?? -Infinity))) return undefined;
    lowest.push(l);
  }
  const last = book.length - 1;
  const threshold = (j: number): number => (j < last ? lowest[j]! : Infinity);
  const bits = new Uint32Array(Float32Array.from({ length: 16 }, (_, k) => book[Math.min(k, last)]!).buffer);
  const words = new Uint32Array(4);
  const f32 = new Float32Array(words.buffer);
  /** the byte-planar table of four 32-bit values, one per bucket */
  const table = (value: (b: number) => void): number[] => {
    for (let b = 0; b < 4; b++) value(b);
    const bytes = new Uint8Array(16);
    for (let b = 0; b < 4; b++) for (let p = 0; p < 4; p++) bytes[4 * p + b] = (words[b]! >>> (8 * p)) & 0xff;
    const w = new Uint32Array(bytes.buffer);
    return op.v128ConstI32x4(w[0]!, w[1]!, w[2]!, w[3]!);
  };
  const nanBucket = nanIndex >> 2;
  const IDX = B;
  const coarse = [3, 7, 11];
  // a coarse test written ¬(t < l) steps the index by 1 + (−1 where t < l): the 1s go in the start
  const written = coarse.filter((j) => j < nanIndex).length;
  const body: number[][] = [splatWord((0x0c080400 + 0x01010101 * written) >>> 0)];
  for (const j of coarse) {
    body.push(op.localGet(T), splatF32(threshold(j)), ...(j < nanIndex ? [op.f32x4Lt, op.i8x16Add] : [op.f32x4Ge, op.i8x16Sub]));
  }
  body.push(op.localSet(IDX), table((b) => (words[b] = bits[4 * b]!)), op.localGet(IDX), op.i8x16Swizzle);
  for (let c = 0; c < 3; c++) {
    const passesNaN = 4 * nanBucket + c < nanIndex; // NaN only ever reaches nanBucket's tests
    body.push(
      table((b) => (words[b] = (bits[4 * b + c + 1]! - bits[4 * b + c]!) >>> 0)), op.localGet(IDX), op.i8x16Swizzle,
      op.localGet(T), table((b) => (f32[b] = threshold(4 * b + c))), op.localGet(IDX), op.i8x16Swizzle,
      ...(passesNaN ? [op.f32x4Lt, op.v128AndNot] : [op.f32x4Ge, op.v128And]),
      op.i32x4Add,
    );
  }
  body.push(op.localGet(S), op.f32x4Mul);
  return body;
}

/** Any ascending codebook: a chain of compare-and-select, one per midpoint. */
function codebookChainElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody {
  const body: number[][] = [splatF32(book[0]!)];
  for (let j = 0; j < mids.length; j++) {
    const m = mids[j]!;
    const f = Math.fround(m);
    let test: number[][];
    if (f === m) test = [op.localGet(T), splatF32(f), j % 2 === 1 ? op.f32x4Ge : op.f32x4Gt];
    else test = [op.localGet(T), splatF32(f > m ? f : nextUp(f)), op.f32x4Ge];
    body.push(op.localSet(B), splatF32(book[j + 1]!), op.localGet(B), ...test, op.v128Bitselect);
  }
  body.push(op.localSet(B), splatF32(book[nanIndex]!), op.localGet(B), op.localGet(T), op.localGet(T), op.f32x4Ne, op.v128Bitselect);
  body.push(op.localGet(S), op.f32x4Mul);
  return body;
}

const up = new Float32Array(1);
const upBits = new Int32Array(up.buffer);
function nextUp(f: number): number {
  if (f === 0) return 2 ** -149;
  up[0] = f;
  upBits[0] = upBits[0]! + (f > 0 ? 1 : -1);
  return up[0]!;
}

/**
 * How a fused block kernel computes the scale of a block from its absmax (the rules of
 * groups.ts `scaleFromStats`, generated as wasm):
 *  - absmax: scale = amax / divisor in float32 (= fround of the float64 quotient); scale 0 →
 *    outputs 0 (NaN inputs → zeroNanOut), an infinite scale → NaN;
 *  - e8m0: NaN in the block → NaN; amax 0 → 2^−127; else 2^(clamp(floor(log2 amax) − emax,
 *    −127, 127) + elementScaleExp), which must stay a float32 (elementScaleExp in [−22, 0]).
 */
export type BlockScaleRule =
  | { kind: 'absmax'; divisor: number; zeroNanOut: number }
  | { kind: 'e8m0'; emax: number; elementScaleExp: number };

/**
 * One pass per block of blockBytes (a multiple of 16; the chunk is zero-padded to a whole
 * vector): the absmax / NaN statistics, the block's scale by `rule`, then the element body
 * with S = scale, P1/P2 = the element range. Replaces the stats kernel + per-group JS scale
 * + fq kernel for per-block and MX rows. x and out may be the same (no lane crosses a block).
 */
function fqBlocksFunction(element: ElementBody, rule: BlockScaleRule, p1: number, p2: number): WasmFunction {
  const [AMAX, NANV, V, SC, J, E, MODE, RC, R] = [13, 14, 15, 16, 17, 18, 19, 20, 21];
  const horizontal = (acc: number, pick: number[]): number[][] => [
    op.localGet(acc), op.localGet(acc), op.localGet(acc), op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]), pick, op.localSet(acc),
    op.localGet(acc), op.localGet(acc), op.localGet(acc), op.i8x16Shuffle([4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]), pick, op.localSet(acc),
  ];
  /** a loop over the block's vectors: J from I to END; `body` leaves nothing on the stack */
  const eachVector = (body: number[][]): number[][] => [
    op.localGet(I), op.localSet(J),
    op.loop,
    ...body,
    op.localGet(J), op.i32Const(16), op.i32Add, op.localTee(J), op.localGet(END), op.i32LtU, op.brIf(0),
    op.end,
  ];
  /** the float32 pattern of 2^E, E (local) in [−149, 127]: normal (E + 127) << 23, subnormal 1 << (E + 149) */
  const pow2 = (): number[][] => [
    op.localGet(E), op.i32Const(127), op.i32Add, op.i32Const(23), op.i32Shl,
    op.i32Const(1), op.localGet(E), op.i32Const(149), op.i32Add, op.i32Shl,
    op.localGet(E), op.i32Const(-127), op.i32GtS, op.select,
  ];
  // with elementScaleExp 0 every E8M0 scale is 2^E, E in [−127, 127], whose reciprocal 2^−E is a
  // float32: x · 2^−E and x / 2^E are the same real number rounded once, so t = x · R, a multiply
  // instead of a divide (measured 6–13 % of the kernel)
  const reciprocal = rule.kind === 'e8m0' && rule.elementScaleExp === 0;
  // MODE: 0 = element body, 1 = NaN, 2 = zeros (NaN inputs → zeroNanOut)
  let scaleRule: number[][];
  let zeroNanOut = 0;
  if (rule.kind === 'absmax') {
    zeroNanOut = rule.zeroNanOut;
    scaleRule = [
      op.localGet(SC), op.f32Const(rule.divisor), op.f32Div, op.localTee(SC), op.i32ReinterpretF32, op.localSet(E),
      // E = bits of the scale: 0 → zeros, 0x7f800000 (Inf) → NaN
      op.i32Const(0), op.i32Const(2), op.localGet(E), op.select,
      op.i32Const(1), op.localGet(E), op.i32Const(0x7f800000), op.i32Ne, op.select,
      op.localSet(MODE),
    ];
  } else {
    scaleRule = [
      op.localGet(SC), op.i32ReinterpretF32, op.localTee(E),
      op.if,
      // floor(log2 amax) from the bit pattern (normal: field − 127; subnormal: from the leading one)
      op.localGet(E), op.i32Const(23), op.i32ShrU, op.i32Const(127), op.i32Sub,
      op.i32Const(31 - 149), op.localGet(E), op.i32Clz, op.i32Sub,
      op.localGet(E), op.i32Const(23), op.i32ShrU,
      op.select,
      op.i32Const(rule.emax), op.i32Sub, op.localTee(E),
      op.i32Const(-127), op.localGet(E), op.i32Const(-127), op.i32GtS, op.select, op.localTee(E),
      op.i32Const(127), op.localGet(E), op.i32Const(127), op.i32LtS, op.select,
      op.i32Const(rule.elementScaleExp), op.i32Add, op.localSet(E),
      op.else,
      op.i32Const(-127), op.localSet(E),
      op.end,
      ...pow2(), op.f32ReinterpretI32, op.localSet(SC),
      ...(reciprocal ? [op.i32Const(0), op.localGet(E), op.i32Sub, op.localSet(E), ...pow2(), op.f32ReinterpretI32, op.localSet(RC)] : []),
      op.i32Const(0), op.localSet(MODE),
      op.localGet(NANV), op.v128AnyTrue, op.if, op.i32Const(1), op.localSet(MODE), op.end,
    ];
  }
  return {
    name: 'fqBlocks',
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, F32, I32, I32, I32, F32, V128],
    body: [
      splatF32(p1), op.localSet(P1), splatF32(p2), op.localSet(P2),
      op.block,
      op.loop,
      op.localGet(I), op.localGet(N), op.i32GeU, op.brIf(1),
      op.localGet(I), op.localGet(BLK), op.i32Add, op.localTee(END), op.localGet(N),
      op.localGet(END), op.localGet(N), op.i32LtU, op.select, op.localSet(END),
      // statistics: the largest |x| pattern as an integer (3 instructions a vector; patterns order
      // like |x|, and one ≥ Inf's means an Inf or a NaN) ...
      splatWord(0), op.localSet(AMAX), splatWord(0), op.localSet(NANV),
      ...eachVector([
        op.localGet(AMAX), op.localGet(X), op.localGet(J), op.i32Add, op.v128Load(), splatWord(0x7fffffff), op.v128And, op.i32x4MaxS, op.localSet(AMAX),
      ]),
      ...horizontal(AMAX, op.i32x4MaxS),
      // ... and only in a block holding Inf or NaN, absmax over the finite lanes and the NaN flag
      op.localGet(AMAX), op.i32x4ExtractLane(0), op.i32Const(0x7f800000), op.i32GeU,
      op.if,
      splatWord(0), op.localSet(AMAX),
      ...eachVector([
        op.localGet(X), op.localGet(J), op.i32Add, op.v128Load(), op.localSet(V),
        op.localGet(NANV), op.localGet(V), op.localGet(V), op.f32x4Ne, op.v128Or, op.localSet(NANV),
        op.localGet(AMAX), op.localGet(V), op.f32x4Abs, op.localTee(V), op.localGet(V), splatF32(Infinity), op.f32x4Lt, op.v128And, op.f32x4Pmax, op.localSet(AMAX),
      ]),
      ...horizontal(AMAX, op.f32x4Pmax),
      op.end,
      op.localGet(AMAX), op.f32x4ExtractLane(0), op.localSet(SC),
      ...scaleRule,
      op.localGet(SC), op.f32x4Splat, op.localSet(S),
      ...(reciprocal ? [op.localGet(RC), op.f32x4Splat, op.localSet(R)] : []),
      op.localGet(MODE), op.i32Eqz,
      op.if,
      ...eachVector([
        op.localGet(OUT), op.localGet(J), op.i32Add,
        op.localGet(X), op.localGet(J), op.i32Add, op.v128Load(), ...(reciprocal ? [op.localGet(R), op.f32x4Mul] : [op.localGet(S), op.f32x4Div]), op.localSet(T),
        ...element,
        op.v128Store(),
      ]),
      op.else,
      op.localGet(MODE), op.i32Const(1), op.i32Eq,
      op.if,
      ...eachVector([op.localGet(OUT), op.localGet(J), op.i32Add, splatWord(0x7fc00000), op.v128Store()]),
      op.else,
      ...eachVector([
        op.localGet(OUT), op.localGet(J), op.i32Add,
        splatWord(floatWord(zeroNanOut)), splatWord(0),
        op.localGet(X), op.localGet(J), op.i32Add, op.v128Load(), op.localTee(V), op.localGet(V), op.f32x4Ne, op.v128Bitselect,
        op.v128Store(),
      ]),
      op.end,
      op.end,
      op.localGet(END), op.localSet(I),
      op.br(0),
      op.end,
      op.end,
    ],
  };
}

const wordScratch = new Float32Array(1);
/** The float32 bit pattern of fround(v) (NaN → the canonical quiet NaN). */
function floatWord(v: number): number {
  wordScratch[0] = v;
  return new Uint32Array(wordScratch.buffer)[0]!;
}

export type FqBlocksKernel = (xPtr: number, outPtr: number, nBytes: number, unused: number, blockBytes: number) => void;

/** Compile a fused block kernel (stats + scale rule + element body) on the shared memory. */
export function fqBlocksKernel(element: ElementBody, rule: BlockScaleRule, p1: number, p2: number): FqBlocksKernel | undefined {
  const k = kernels();
  if (!k) return undefined;
  return instantiate(k.memory, fqBlocksFunction(element, rule, p1, p2)) as FqBlocksKernel;
}

/**
 * Key-table lookup (element.ts `KeyTable` without slow keys, at TABLE_PTR): out = pair[2k + (low
 * 16 bits ≠ 0)], k = the top 16 bits of x's pattern. Scalar wasm loads (SIMD has no gather).
 */
function keyTableFunction(): WasmFunction {
  const [x, out, n, table, i, v] = [0, 1, 2, 3, 4, 5];
  // the byte offset of each lane's pair entry: table + 8k + 4·(low bits ≠ 0)
  const lane = (l: number): number[][] => [
    op.localGet(out), op.localGet(i), op.i32Add,
    op.localGet(v), op.i32x4ExtractLane(l), op.f32Load(),
    op.f32Store(4 * l),
  ];
  return {
    name: 'keyTable',
    params: [I32, I32, I32, I32],
    results: [],
    locals: [I32, V128],
    body: [
      op.block,
      op.localGet(i), op.localGet(n), op.i32GeU, op.brIf(0),
      op.loop,
      op.localGet(x), op.localGet(i), op.i32Add, op.v128Load(), op.localTee(v),
      op.i32Const(16), op.i32x4ShrU, op.i32Const(3), op.i32x4Shl,
      op.localGet(v), splatWord(0xffff), op.v128And, splatWord(0), op.i32x4Ne, splatWord(4), op.v128And, op.v128Or,
      op.localGet(table), op.i32x4Splat, op.i32x4Add, op.localSet(v),
      ...lane(0), ...lane(1), ...lane(2), ...lane(3),
      op.localGet(i), op.i32Const(16), op.i32Add, op.localTee(i), op.localGet(n), op.i32LtU, op.brIf(0),
      op.end,
      op.end,
    ],
  };
}

/**
 * Group statistics: for each block of blockBytes, the record [absmax over finite values,
 * any NaN (i32), min over finite values and 0, max over finite values and 0] — what the scale
 * rules of groups.ts read. Lanes past the block end are masked out. A first loop takes the
 * largest |x| pattern as an integer and min / max as they come; only a block whose largest
 * pattern is Inf's or above (an Inf or NaN in it) runs the second loop, which leaves those out.
 */
function statsFunction(): WasmFunction {
  // params xPtr, nBytes, blockBytes, outPtr; locals i, end, amax, mn, mx, nan, v, fin, start
  const [x, n, blk, out, i, end, amax, mn, mx, nan, v, fin, start] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const horizontal = (acc: number, pick: number[]): number[][] => [
    op.localGet(acc), op.localGet(acc), op.localGet(acc), op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]), pick, op.localSet(acc),
    op.localGet(acc), op.localGet(acc), op.localGet(acc), op.i8x16Shuffle([4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]), pick, op.localSet(acc),
  ];
  const load = (masked: boolean): number[][] => [
    op.localGet(x), op.localGet(i), op.i32Add, op.v128Load(), op.localSet(v),
    // lanes inside the block: i + 4·lane < end
    ...(masked ? [op.localGet(i), op.i32x4Splat, op.v128ConstI32x4(0, 4, 8, 12), op.i32x4Add, op.localGet(end), op.i32x4Splat, op.i32x4LtU, op.localSet(fin)] : []),
  ];
  const patterns = (masked: boolean): number[][] => [
    ...load(masked),
    ...(masked ? [op.localGet(v), op.localGet(fin), op.v128And, op.localSet(v)] : []),
    op.localGet(amax), op.localGet(v), splatWord(0x7fffffff), op.v128And, op.i32x4MaxS, op.localSet(amax),
    op.localGet(mn), op.localGet(v), op.f32x4Pmin, op.localSet(mn), // v < mn ? v : mn
    op.localGet(mx), op.localGet(v), op.f32x4Pmax, op.localSet(mx),
  ];
  const finite = (masked: boolean): number[][] => [
    ...load(masked),
    op.localGet(nan), op.localGet(v), op.localGet(v), op.f32x4Ne, ...(masked ? [op.localGet(fin), op.v128And] : []), op.v128Or, op.localSet(nan),
    op.localGet(v), op.f32x4Abs, splatF32(Infinity), op.f32x4Lt, ...(masked ? [op.localGet(fin), op.v128And] : []), op.localGet(v), op.v128And, op.localSet(v),
    op.localGet(amax), op.localGet(v), op.f32x4Abs, op.f32x4Pmax, op.localSet(amax), // amax < |v| ? |v| : amax
    op.localGet(mn), op.localGet(v), op.f32x4Pmin, op.localSet(mn),
    op.localGet(mx), op.localGet(v), op.f32x4Pmax, op.localSet(mx),
  ];
  /** whole vectors (i + 16 ≤ end) unmasked, then at most one vector with the lanes past the end masked out */
  const block = (accumulate: (masked: boolean) => number[][]): number[][] => [
    op.localGet(start), op.localSet(i),
    splatWord(0), op.localSet(amax), splatWord(0), op.localSet(mn), splatWord(0), op.localSet(mx), splatWord(0), op.localSet(nan),
    op.block,
    op.loop,
    op.localGet(end), op.localGet(i), op.i32Const(16), op.i32Add, op.i32LtU, op.brIf(1),
    ...accumulate(false),
    op.localGet(i), op.i32Const(16), op.i32Add, op.localSet(i),
    op.br(0),
    op.end,
    op.end,
    op.localGet(i), op.localGet(end), op.i32LtU,
    op.if,
    ...accumulate(true),
    op.end,
  ];
  return {
    name: 'stats',
    params: [I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, V128, V128, V128, V128, V128, V128, I32],
    body: [
      op.block,
      op.loop,
      op.localGet(i), op.localGet(n), op.i32GeU, op.brIf(1),
      op.localGet(i), op.localSet(start),
      op.localGet(i), op.localGet(blk), op.i32Add, op.localTee(end), op.localGet(n),
      op.localGet(end), op.localGet(n), op.i32LtU, op.select, op.localSet(end),
      ...block(patterns),
      ...horizontal(amax, op.i32x4MaxS),
      op.localGet(amax), op.i32x4ExtractLane(0), op.i32Const(0x7f800000), op.i32GeU,
      op.if,
      ...block(finite),
      ...horizontal(amax, op.f32x4Pmax),
      op.end,
      op.localGet(end), op.localSet(i),
      ...horizontal(mn, op.f32x4Pmin),
      ...horizontal(mx, op.f32x4Pmax),
      op.localGet(out), op.localGet(amax), op.f32x4ExtractLane(0), op.f32Store(0),
      op.localGet(out), op.localGet(nan), op.v128AnyTrue, op.i32Store(4),
      op.localGet(out), op.localGet(mn), op.f32x4ExtractLane(0), op.f32Store(8),
      op.localGet(out), op.localGet(mx), op.f32x4ExtractLane(0), op.f32Store(12),
      op.localGet(out), op.i32Const(16), op.i32Add, op.localSet(out),
      op.br(0),
      op.end,
      op.end,
    ],
  };
}

// ---------------------------------------------------------------- memory and instances

/**
 * Elements per chunk; buffers: x chunk, out chunk, records (one per element at most). The chunk
 * buffers start half a page off the 4 KiB grid: copying out of a buffer at the same offset modulo
 * 4096 as a page-aligned destination (any large Float32Array) runs into 4K aliasing, measured
 * 5× slower than with the half-page gap.
 */
export const CHUNK = 65536;
export const X_PTR = 2048;
export const OUT_PTR = X_PTR + CHUNK * 4 + 4096;
export const REC_PTR = OUT_PTR + CHUNK * 4 + 2048;
/** A key table (2 float32 per 16-bit key) for the keyTable kernel. */
export const TABLE_PTR = REC_PTR + CHUNK * 16 + 64;
const PAGES = Math.ceil((TABLE_PTR + 131072 * 4) / 65536);

/** The slice of the WebAssembly JS API used here (lib ES2022 and @types/node do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  }
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export interface Kernels {
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  stats: (xPtr: number, nBytes: number, blockBytes: number, outPtr: number) => void;
  keyTable: (xPtr: number, outPtr: number, nBytes: number, tablePtr: number) => void;
}

let shared: Kernels | null | undefined;

/** The shared memory and the stats kernel, or null where WebAssembly SIMD is unavailable. */
export function kernels(): Kernels | null {
  if (shared !== undefined) return shared;
  try {
    if (!wasm) throw new Error('no WebAssembly');
    const memory = new wasm.Memory({ initial: PAGES, maximum: PAGES });
    const stats = instantiate(memory, statsFunction()) as Kernels['stats'];
    const keyTable = instantiate(memory, keyTableFunction()) as Kernels['keyTable'];
    shared = { memory, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer), stats, keyTable };
  } catch {
    shared = null; // no WebAssembly SIMD here: the scalar reference path runs instead
  }
  return shared;
}

export type FqKernel = (xPtr: number, outPtr: number, nBytes: number, recPtr: number, blockBytes: number) => void;

/** Compile one element body into an fq kernel on the shared memory. */
export function fqKernel(element: ElementBody): FqKernel | undefined {
  const k = kernels();
  if (!k) return undefined;
  return instantiate(k.memory, fqFunction(element)) as FqKernel;
}

function instantiate(memory: WasmMemory, fn: WasmFunction): (...args: number[]) => void {
  const module = new wasm!.Module(assemble([fn], PAGES));
  const instance = new wasm!.Instance(module, { env: { mem: memory } });
  return instance.exports[fn.name] as (...args: number[]) => void;
}
