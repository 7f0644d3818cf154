/**
 * WebAssembly SIMD fake-quant kernels, generated from a row's fields (no format names): four
 * float32 lanes at a time, bit-identical to the scalar reference (index.ts `fakeQuantScalar`),
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
import { op, splatF32, splatWord, wordOf, assemble, I32, V128, type WasmFunction } from './wasm.js';
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
type ElementBody = number[][];

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
 */
export function minifloatElement(L: MinifloatLayout): ElementBody {
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
    : [splatWord(minNormal), splatWord(0), op.localGet(A), splatWord(wordOf(L.minNormal / 2)), op.i32x4GtS, op.v128Bitselect];
  return [
    op.localGet(T), splatWord(0x7fffffff), op.v128And, op.localSet(A),
    ...below,
    // normal-range rounding
    op.localGet(A), splatWord(half), op.i32x4Add,
    op.localGet(A), op.i32Const(sh), op.i32x4ShrU, splatWord(lsb), op.v128And, op.i32x4Add,
    splatWord(keep), op.v128And,
    op.localGet(A), splatWord(minNormal), op.i32x4LtS, op.v128Bitselect, // A < min normal ? below : normal
    splatWord(maxBits), op.i32x4MinS,
    op.localSet(B),
    splatWord(infOut), op.localGet(B), op.localGet(A), splatWord(INF), op.i32x4Eq, op.v128Bitselect,
    op.localGet(T), splatWord(0x80000000), op.v128And, op.v128Or,
    op.localGet(S), op.f32x4Mul, op.localSet(B),
    splatWord(nanOut), op.localGet(B), op.localGet(A), splatWord(INF), op.i32x4GtS, op.v128Bitselect,
  ];
}

/**
 * Codebook: the output is book[k], k = the number of midpoints below t, a tie at midpoint j
 * going up when j is odd (to the even index). The float64 midpoints become float32 tests:
 * t > m when m is a float32, else t ≥ (the next float32 above m). NaN → book[nanIndex].
 */
export function codebookElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody {
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
 * Group statistics: for each block of blockBytes, the record [absmax over finite values,
 * any NaN (i32), min over finite values and 0, max over finite values and 0] — what the scale
 * rules of groups.ts read. Lanes past the block end are masked out.
 */
function statsFunction(): WasmFunction {
  // params xPtr, nBytes, blockBytes, outPtr; locals i, end, amax, mn, mx, nan, v, fin
  const [x, n, blk, out, i, end, amax, mn, mx, nan, v, fin] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const horizontal = (acc: number, pick: number[]): number[][] => [
    op.localGet(acc), op.localGet(acc), op.localGet(acc), op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]), pick, op.localSet(acc),
    op.localGet(acc), op.localGet(acc), op.localGet(acc), op.i8x16Shuffle([4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]), pick, op.localSet(acc),
  ];
  return {
    name: 'stats',
    params: [I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, V128, V128, V128, V128, V128, V128],
    body: [
      op.block,
      op.loop,
      op.localGet(i), op.localGet(n), op.i32GeU, op.brIf(1),
      op.localGet(i), op.localGet(blk), op.i32Add, op.localTee(end), op.localGet(n),
      op.localGet(end), op.localGet(n), op.i32LtU, op.select, op.localSet(end),
      splatWord(0), op.localSet(amax), splatWord(0), op.localSet(mn), splatWord(0), op.localSet(mx), splatWord(0), op.localSet(nan),
      op.loop,
      op.localGet(x), op.localGet(i), op.i32Add, op.v128Load(), op.localSet(v),
      // lanes inside the block: i + 4·lane < end
      op.localGet(i), op.i32x4Splat, op.v128ConstI32x4(0, 4, 8, 12), op.i32x4Add, op.localGet(end), op.i32x4Splat, op.i32x4LtU, op.localSet(fin),
      op.localGet(nan), op.localGet(v), op.localGet(v), op.f32x4Ne, op.localGet(fin), op.v128And, op.v128Or, op.localSet(nan),
      op.localGet(v), op.f32x4Abs, splatF32(Infinity), op.f32x4Lt, op.localGet(fin), op.v128And, op.localGet(v), op.v128And, op.localSet(v),
      op.localGet(amax), op.localGet(v), op.f32x4Abs, op.f32x4Pmax, op.localSet(amax), // amax < |v| ? |v| : amax
      op.localGet(mn), op.localGet(v), op.f32x4Pmin, op.localSet(mn), // v < mn ? v : mn
      op.localGet(mx), op.localGet(v), op.f32x4Pmax, op.localSet(mx),
      op.localGet(i), op.i32Const(16), op.i32Add, op.localTee(i), op.localGet(end), op.i32LtU, op.brIf(0),
      op.end,
      op.localGet(end), op.localSet(i),
      ...horizontal(amax, op.f32x4Pmax),
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

/** Elements per chunk; buffers: x chunk, out chunk, records (one per element at most). */
export const CHUNK = 65536;
export const X_PTR = 0;
export const OUT_PTR = CHUNK * 4 + 64;
export const REC_PTR = 2 * (CHUNK * 4 + 64);
const PAGES = Math.ceil((REC_PTR + CHUNK * 16 + 64) / 65536);

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
}

let shared: Kernels | null | undefined;

/** The shared memory and the stats kernel, or null where WebAssembly SIMD is unavailable. */
export function kernels(): Kernels | null {
  if (shared !== undefined) return shared;
  try {
    if (!wasm) throw new Error('no WebAssembly');
    const memory = new wasm.Memory({ initial: PAGES, maximum: PAGES });
    const stats = instantiate(memory, statsFunction()) as Kernels['stats'];
    shared = { memory, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer), stats };
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
