/**
 * The hot passes of the ONNX site statistics (site-stats.ts `rangePass`, `fusedPass`, the codes'
 * histogram) as WebAssembly SIMD, for the common case: integer codes, finite inputs, one scale per
 * tensor or per axis (groups as runs of `inner` elements). The range runs four float32 lanes at a
 * time (pmin/pmax keep the scalar `v < l` rule, so the same minima and maxima); the fused pass runs
 * the same float64 operations as the JavaScript on two lanes at a time, with the odd element of a
 * run in scalar code: counts, histograms and witnesses come out identical, sums differ only in the
 * order of additions (1e-9 relative; test/onnx-stats.test.ts compares both paths). JS ≈ 50
 * ns/element, this ≈ 12 for all three passes (bench/results/onnx.md).
 *
 * The tensors are streamed through fixed chunk buffers (CHUNK elements) so the memory stays
 * small and in cache; a scale group's run may span chunks, so the run accumulators live in
 * memory between calls. Group arrays grow the memory on demand. */
import { op, assemble, I32, F64, V128, type WasmFunction } from '../formats/wasm.js';

export const CHUNK = 4096;
/** State slots: f64 at 0… (gSig, gNoise, gRefNoise, sumY2, twinSig, twinNoise, chunkMax), i32 at 64… */
const F_STATE = 0;
const I_STATE = 64;
const S_SIG = 0, S_NOISE = 8, S_REF = 16, S_Y2 = 24, S_TSIG = 32, S_TNOISE = 40, S_MAX = 48;
/** v128 state slots (f64x2 / i64x2 lane accumulators of the pair loop), 16 bytes each from V_STATE. */
const V_STATE = 128;
const V_SLOTS = 14;
/** Slots of V_ACC read by JavaScript: y² (then twin sig, twin noise), the max, negatives (then lost, refLost, nfy). */
const VY2 = 3, VMAX = 6, VNEG = 10;
const S_NZ = 0, S_Z = 4, S_RZ = 8, S_NEG = 12, S_LOST = 16, S_RLOST = 20, S_NFY = 24, S_G = 28, S_END = 32, S_NFX = 36;
/** The reference codes' histograms: four of up to 2^17 + 1 bins (site-stats' inline condition), summed at the end. */
const HIST = 512;
const HIST_BINS = (1 << 17) + 1;
// Chunk buffers, half a page off the 4 KiB grid (see formats/kernels.ts on 4K aliasing).
const X_BUF = HIST + 4 * HIST_BINS * 4 + 2048;
const DQ_BUF = X_BUF + CHUNK * 4 + 2048;
const TW_BUF = DQ_BUF + CHUNK * 4 + 2048;
/** Ten float64 arrays of `groups` each: lo, hi, refScale, refZp, sig, noise, refNoise, nonzero, zeroed, refZeroed. */
const GROUPS = Math.ceil((TW_BUF + CHUNK * 4) / 4096) * 4096;
const ARRAYS = 10;
const PAGE = 65536;

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

// ---- range(i0, i1, inner, channels): per-group min/max into lo/hi, non-finite count into state ----
const R = { i0: 0, i1: 1, inner: 2, channels: 3, i: 4, g: 5, end: 6, p: 7, nf: 8, q: 9, l: 10, h: 11, v: 12 };

/** Push the byte address of group array `k`, element g (local): GROUPS + (k·G + g)·8, with G in local `cap`. */
function groupAddr(k: number, g: number, cap: number): number[][] {
  return [op.localGet(cap), op.i32Const(k), op.i32Mul, op.localGet(g), op.i32Add, op.i32Const(8), op.i32Mul, op.i32Const(GROUPS), op.i32Add];
}

function rangeFunction(): WasmFunction {
  const L = { ...R, cap: 13, L4: 14, H4: 15, NF4: 16, X4: 17, ZERO4: 18 };
  /** l = lane < l ? lane : l (or > for h), for each lane of a f32x4 local: the scalar rule, so the same result. */
  const fold = (acc: number, vec: number, cmp: number[]): number[][] => [0, 1, 2, 3].flatMap((k) => [
    op.localGet(vec), op.f32x4ExtractLane(k), op.f64PromoteF32, op.localGet(acc),
    op.localGet(vec), op.f32x4ExtractLane(k), op.f64PromoteF32, op.localGet(acc), cmp, op.select, op.localSet(acc),
  ]);
  return {
    name: 'range',
    params: [I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, F64, F64, F64, I32, V128, V128, V128, V128, V128],
    body: [
      op.f32Const(0), op.f32x4Splat, op.localSet(L.ZERO4),
      // cap (group capacity) is stored at I_STATE + 40
      op.i32Const(I_STATE), op.i32Load(40), op.localSet(L.cap),
      op.i32Const(I_STATE), op.i32Load(S_NFX), op.localSet(L.nf),
      op.localGet(L.i0), op.localSet(L.i),
      op.block, op.loop,
      op.localGet(L.i), op.localGet(L.i1), op.i32GeU, op.brIf(1),
      // q = i / inner; g = q % channels; end = min((q + 1) · inner, i1)
      op.localGet(L.i), op.localGet(L.inner), op.i32DivU, op.localTee(L.q), op.localGet(L.channels), op.i32RemU, op.localSet(L.g),
      op.localGet(L.q), op.i32Const(1), op.i32Add, op.localGet(L.inner), op.i32Mul, op.localTee(L.end),
      op.localGet(L.i1), op.localGet(L.end), op.localGet(L.i1), op.i32LtU, op.select, op.localSet(L.end),
      ...groupAddr(0, L.g, L.cap), op.f64Load(), op.localSet(L.l),
      ...groupAddr(1, L.g, L.cap), op.f64Load(), op.localSet(L.h),
      op.localGet(L.i), op.localGet(L.i0), op.i32Sub, op.i32Const(4), op.i32Mul, op.i32Const(X_BUF), op.i32Add, op.localSet(L.p),
      // four lanes at a time (each lane starts at l / h and keeps the scalar rule; folded below): pmin(l, v) = v < l ? v : l
      op.localGet(L.l), op.f32DemoteF64, op.f32x4Splat, op.localSet(L.L4),
      op.localGet(L.h), op.f32DemoteF64, op.f32x4Splat, op.localSet(L.H4),
      op.localGet(L.ZERO4), op.localSet(L.NF4),
      op.block, op.loop,
      op.localGet(L.i), op.i32Const(3), op.i32Add, op.localGet(L.end), op.i32GeU, op.brIf(1),
      op.localGet(L.p), op.v128Load(), op.localSet(L.X4),
      op.localGet(L.L4), op.localGet(L.X4), op.f32x4Pmin, op.localSet(L.L4),
      op.localGet(L.H4), op.localGet(L.X4), op.f32x4Pmax, op.localSet(L.H4),
      op.localGet(L.NF4), op.localGet(L.X4), op.localGet(L.X4), op.f32x4Sub, op.localGet(L.ZERO4), op.f32x4Ne, op.i32x4Sub, op.localSet(L.NF4),
      op.localGet(L.p), op.i32Const(16), op.i32Add, op.localSet(L.p),
      op.localGet(L.i), op.i32Const(4), op.i32Add, op.localSet(L.i),
      op.br(0),
      op.end, op.end,
      ...fold(L.l, L.L4, op.f64Lt),
      ...fold(L.h, L.H4, op.f64Gt),
      ...[0, 1, 2, 3].flatMap((k) => [op.localGet(L.nf), op.localGet(L.NF4), op.i32x4ExtractLane(k), op.i32Add, op.localSet(L.nf)]),
      op.localGet(L.i), op.localGet(L.end), op.i32LtU, op.if,
      op.loop,
      op.localGet(L.p), op.f32Load(), op.f64PromoteF32, op.localSet(L.v),
      // l = v < l ? v : l; h = v > h ? v : h
      op.localGet(L.v), op.localGet(L.l), op.localGet(L.v), op.localGet(L.l), op.f64Lt, op.select, op.localSet(L.l),
      op.localGet(L.v), op.localGet(L.h), op.localGet(L.v), op.localGet(L.h), op.f64Gt, op.select, op.localSet(L.h),
      // nf += (v − v) ≠ 0
      op.localGet(L.nf), op.localGet(L.v), op.localGet(L.v), op.f64Sub, op.f64Const(0), op.f64Ne, op.i32Add, op.localSet(L.nf),
      op.localGet(L.p), op.i32Const(4), op.i32Add, op.localSet(L.p),
      op.localGet(L.i), op.i32Const(1), op.i32Add, op.localTee(L.i), op.localGet(L.end), op.i32LtU, op.brIf(0),
      op.end,
      op.end,
      ...groupAddr(0, L.g, L.cap), op.localGet(L.l), op.f64Store(),
      ...groupAddr(1, L.g, L.cap), op.localGet(L.h), op.f64Store(),
      op.br(0),
      op.end, op.end,
      op.i32Const(I_STATE), op.localGet(L.nf), op.i32Store(S_NFX),
    ],
  };
}

// ---- fused(i0, i1, inner, channels, qmin, qmax, hasTwin) ----
const F = {
  i0: 0, i1: 1, inner: 2, channels: 3, qmin: 4, qmax: 5, hasTwin: 6,
  // i32 locals
  i: 7, g: 8, runEnd: 9, stop: 10, q: 11, px: 12, cap: 13, nz: 14, zd: 15, rz: 16, neg: 17, lost: 18, rlost: 19, nfy: 20, isNz: 21, isNeg: 22, idx: 23,
  // f64 locals
  sig: 24, noise: 25, ref: 26, y2: 27, tsig: 28, tnoise: 29, max: 30, s: 31, z: 32, v: 33, y: 34, c: 35, r: 36, d: 37, e: 38, w: 39, a: 40,
  // i32, after the f64 locals
  bins: 41,
  // v128: lane accumulators (f64x2 sums, i64x2 counts), then per-element vectors and splatted constants
  vsig: 42, vnoise: 43, vref: 44, vy2: 45, vtsig: 46, vtnoise: 47, vmax: 48, vnz: 49, vzd: 50, vrz: 51, vneg: 52, vlost: 53, vrlost: 54, vnfy: 55,
  V: 56, Y: 57, C: 58, R: 59, D: 60, E: 61, W: 62, NZ: 63, NEG: 64, S2: 65, Z2: 66, QMIN2: 67, QMAX2: 68, ZERO2: 69, INF2: 70, K: 71,
};
/** The v128 accumulators in V_STATE slot order. */
const V_ACC = [F.vsig, F.vnoise, F.vref, F.vy2, F.vtsig, F.vtnoise, F.vmax, F.vnz, F.vzd, F.vrz, F.vneg, F.vlost, F.vrlost, F.vnfy];

/** acc += val² on f64x2 lanes. */
const vAddSq = (acc: number, val: number[][]): number[][] => [op.localGet(acc), ...val, op.localTee(F.K), op.localGet(F.K), op.f64x2Mul, op.f64x2Add, op.localSet(acc)];
/** acc −= mask (all-ones lanes count 1) on i64x2 lanes. */
const vCount = (acc: number, mask: number[][]): number[][] => [op.localGet(acc), ...mask, op.i64x2Sub, op.localSet(acc)];
/** Sum of the two lanes of a v128 local, as f64 (f64x2 sums) or as f64 of the i64 sum (i64x2 counts). */
const lanesF64 = (v: number): number[][] => [op.localGet(v), op.f64x2ExtractLane(0), op.localGet(v), op.f64x2ExtractLane(1), op.f64Add];
const lanesI64 = (v: number): number[][] => [op.localGet(v), op.i64x2ExtractLane(0), op.localGet(v), op.i64x2ExtractLane(1), op.i64Add, op.f64ConvertI64S];

const inc = (acc: number, cond: number[][]): number[][] => [op.localGet(acc), ...cond, op.i32Add, op.localSet(acc)];
const addSq = (acc: number, val: number[][]): number[][] => [op.localGet(acc), ...val, op.localTee(F.a), op.localGet(F.a), op.f64Mul, op.f64Add, op.localSet(acc)];

function fusedFunction(): WasmFunction {
  const f64State = [[F.sig, S_SIG], [F.noise, S_NOISE], [F.ref, S_REF], [F.y2, S_Y2], [F.tsig, S_TSIG], [F.tnoise, S_TNOISE]] as const;
  const i32State = [[F.nz, S_NZ], [F.zd, S_Z], [F.rz, S_RZ], [F.neg, S_NEG], [F.lost, S_LOST], [F.rlost, S_RLOST], [F.nfy, S_NFY], [F.g, S_G], [F.runEnd, S_END]] as const;
  // element offset of the chunk buffers relative to X_BUF (same index, other buffer)
  const load = (buf: number): number[][] => [op.localGet(F.px), op.f32Load(buf - X_BUF), op.f64PromoteF32];
  const vload = (buf: number): number[][] => [op.localGet(F.px), op.v128Load64Zero(buf - X_BUF), op.f64x2PromoteLowF32x4];
  // group[g] += (lane 0 + lane 1) + scalar
  const flush = (k: number, vector: number, local: number, count: boolean): number[][] => [
    ...groupAddr(k, F.g, F.cap), ...groupAddr(k, F.g, F.cap), op.f64Load(),
    ...(count ? lanesI64(vector) : lanesF64(vector)), op.localGet(local), ...(count ? [op.f64ConvertI32U] : []), op.f64Add,
    op.f64Add, op.f64Store(),
  ];
  return {
    name: 'fused',
    params: [I32, I32, I32, I32, F64, F64, I32],
    results: [],
    locals: [...new Array(17).fill(I32), ...new Array(17).fill(F64), I32, ...new Array(30).fill(V128)],
    body: [
      op.i32Const(I_STATE), op.i32Load(40), op.localSet(F.cap),
      op.localGet(F.qmax), op.localGet(F.qmin), op.f64Sub, op.i32TruncF64S, op.i32Const(1), op.i32Add, op.localSet(F.bins),
      ...f64State.flatMap(([l, o]) => [op.i32Const(F_STATE), op.f64Load(o), op.localSet(l)]),
      ...i32State.flatMap(([l, o]) => [op.i32Const(I_STATE), op.i32Load(o), op.localSet(l)]),
      ...V_ACC.flatMap((l, k) => [op.i32Const(V_STATE + 16 * k), op.v128Load(), op.localSet(l)]),
      op.localGet(F.qmin), op.f64x2Splat, op.localSet(F.QMIN2),
      op.localGet(F.qmax), op.f64x2Splat, op.localSet(F.QMAX2),
      op.f64Const(0), op.f64x2Splat, op.localSet(F.ZERO2),
      op.f64Const(Infinity), op.f64x2Splat, op.localSet(F.INF2),
      op.localGet(F.i0), op.localSet(F.i),
      op.block, op.loop,
      op.localGet(F.i), op.localGet(F.i1), op.i32GeU, op.brIf(1),
      // a new run: its group and end
      op.localGet(F.i), op.localGet(F.runEnd), op.i32Eq, op.if,
      op.localGet(F.i), op.localGet(F.inner), op.i32DivU, op.localTee(F.q), op.localGet(F.channels), op.i32RemU, op.localSet(F.g),
      op.localGet(F.q), op.i32Const(1), op.i32Add, op.localGet(F.inner), op.i32Mul, op.localSet(F.runEnd),
      op.end,
      ...groupAddr(2, F.g, F.cap), op.f64Load(), op.localSet(F.s),
      ...groupAddr(3, F.g, F.cap), op.f64Load(), op.localSet(F.z),
      op.localGet(F.runEnd), op.localGet(F.i1), op.localGet(F.runEnd), op.localGet(F.i1), op.i32LtU, op.select, op.localSet(F.stop),
      op.localGet(F.i), op.localGet(F.i0), op.i32Sub, op.i32Const(4), op.i32Mul, op.i32Const(X_BUF), op.i32Add, op.localSet(F.px),
      op.localGet(F.s), op.f64x2Splat, op.localSet(F.S2),
      op.localGet(F.z), op.f64x2Splat, op.localSet(F.Z2),
      // pairs: the same operations on two f64 lanes (the sums' order differs from the scalar loop, not the values)
      op.block, op.loop,
      op.localGet(F.i), op.i32Const(1), op.i32Add, op.localGet(F.stop), op.i32GeU, op.brIf(1),
      ...vload(X_BUF), op.localSet(F.V),
      ...vload(DQ_BUF), op.localSet(F.Y),
      // c = nearest(pmax(pmin(v / s + z, qmax), qmin)): pmin(t, qmax) = qmax < t ? qmax : t, as rneClamp
      op.localGet(F.V), op.localGet(F.S2), op.f64x2Div, op.localGet(F.Z2), op.f64x2Add, op.localGet(F.QMAX2), op.f64x2Pmin, op.localGet(F.QMIN2), op.f64x2Pmax,
      op.f64x2Nearest, op.localTee(F.C),
      // hist[(i & 2) + lane][c − qmin]++
      op.localGet(F.QMIN2), op.f64x2Sub, op.i32x4TruncSatF64x2SZero, op.localSet(F.K),
      op.localGet(F.i), op.i32Const(2), op.i32And, op.localGet(F.bins), op.i32Mul, op.localGet(F.K), op.i32x4ExtractLane(0), op.i32Add,
      op.i32Const(4), op.i32Mul, op.i32Const(HIST), op.i32Add, op.localTee(F.idx),
      op.localGet(F.idx), op.i32Load(), op.i32Const(1), op.i32Add, op.i32Store(),
      op.localGet(F.i), op.i32Const(2), op.i32And, op.i32Const(1), op.i32Add, op.localGet(F.bins), op.i32Mul, op.localGet(F.K), op.i32x4ExtractLane(1), op.i32Add,
      op.i32Const(4), op.i32Mul, op.i32Const(HIST), op.i32Add, op.localTee(F.idx),
      op.localGet(F.idx), op.i32Load(), op.i32Const(1), op.i32Add, op.i32Store(),
      // r = fround((c − z) · s)
      op.localGet(F.C), op.localGet(F.Z2), op.f64x2Sub, op.localGet(F.S2), op.f64x2Mul, op.f32x4DemoteF64x2Zero, op.f64x2PromoteLowF32x4, op.localSet(F.R),
      op.localGet(F.V), op.localGet(F.Y), op.f64x2Sub, op.localSet(F.D),
      op.localGet(F.V), op.localGet(F.R), op.f64x2Sub, op.localSet(F.E),
      ...vAddSq(F.vsig, [op.localGet(F.V)]),
      ...vAddSq(F.vnoise, [op.localGet(F.D)]),
      ...vAddSq(F.vref, [op.localGet(F.E)]),
      ...vAddSq(F.vy2, [op.localGet(F.Y)]),
      op.localGet(F.V), op.localGet(F.ZERO2), op.f64x2Ne, op.localSet(F.NZ),
      op.localGet(F.V), op.localGet(F.ZERO2), op.f64x2Lt, op.localSet(F.NEG),
      ...vCount(F.vnz, [op.localGet(F.NZ)]),
      ...vCount(F.vzd, [op.localGet(F.NZ), op.localGet(F.Y), op.localGet(F.ZERO2), op.f64x2Eq, op.v128And]),
      ...vCount(F.vrz, [op.localGet(F.NZ), op.localGet(F.R), op.localGet(F.ZERO2), op.f64x2Eq, op.v128And]),
      ...vCount(F.vneg, [op.localGet(F.NEG)]),
      // lost: negative in, not negative out (andnot(a, b) = a & ~b)
      ...vCount(F.vlost, [op.localGet(F.NEG), op.localGet(F.Y), op.localGet(F.ZERO2), op.f64x2Lt, op.v128AndNot]),
      ...vCount(F.vrlost, [op.localGet(F.NEG), op.localGet(F.R), op.localGet(F.ZERO2), op.f64x2Lt, op.v128AndNot]),
      ...vCount(F.vnfy, [op.localGet(F.Y), op.localGet(F.Y), op.f64x2Sub, op.localGet(F.ZERO2), op.f64x2Ne]),
      op.localGet(F.hasTwin), op.if,
      ...vload(TW_BUF), op.localSet(F.W),
      ...vAddSq(F.vtsig, [op.localGet(F.W)]),
      ...vAddSq(F.vtnoise, [op.localGet(F.W), op.localGet(F.Y), op.f64x2Sub]),
      op.end,
      // max |d| (NaN as +∞): pmax(max, err) = max < err ? err : max
      op.localGet(F.vmax),
      op.localGet(F.D), op.f64x2Abs, op.localGet(F.INF2), op.localGet(F.D), op.localGet(F.D), op.f64x2Eq, op.v128Bitselect,
      op.f64x2Pmax, op.localSet(F.vmax),
      op.localGet(F.px), op.i32Const(8), op.i32Add, op.localSet(F.px),
      op.localGet(F.i), op.i32Const(2), op.i32Add, op.localSet(F.i),
      op.br(0),
      op.end, op.end,
      // the odd element left, one at a time
      op.localGet(F.i), op.localGet(F.stop), op.i32LtU, op.if,
      op.loop,
      ...load(X_BUF), op.localSet(F.v),
      ...load(DQ_BUF), op.localSet(F.y),
      // c = nearest(t < qmin ? qmin : t > qmax ? qmax : t) with t = v / s + z (selects, as rneClamp: f64.min/max
      // are NaN-and-signed-zero-aware sequences in V8, several times slower)
      op.localGet(F.v), op.localGet(F.s), op.f64Div, op.localGet(F.z), op.f64Add, op.localSet(F.c),
      op.localGet(F.qmin),
      op.localGet(F.qmax), op.localGet(F.c), op.localGet(F.c), op.localGet(F.qmax), op.f64Gt, op.select,
      op.localGet(F.c), op.localGet(F.qmin), op.f64Lt, op.select,
      op.f64Nearest, op.localTee(F.c),
      // hist[i & 3][c − qmin]++: four histograms, so equal neighbouring codes do not wait on each other's stores
      op.localGet(F.qmin), op.f64Sub, op.i32TruncF64S,
      op.localGet(F.i), op.i32Const(3), op.i32And, op.localGet(F.bins), op.i32Mul, op.i32Add,
      op.i32Const(4), op.i32Mul, op.i32Const(HIST), op.i32Add, op.localTee(F.idx),
      op.localGet(F.idx), op.i32Load(), op.i32Const(1), op.i32Add, op.i32Store(),
      // r = fround((c − z) · s)
      op.localGet(F.c), op.localGet(F.z), op.f64Sub, op.localGet(F.s), op.f64Mul, op.f32DemoteF64, op.f64PromoteF32, op.localSet(F.r),
      // d = v − y; e = v − r; sums of squares
      op.localGet(F.v), op.localGet(F.y), op.f64Sub, op.localSet(F.d),
      op.localGet(F.v), op.localGet(F.r), op.f64Sub, op.localSet(F.e),
      ...addSq(F.sig, [op.localGet(F.v)]),
      ...addSq(F.noise, [op.localGet(F.d)]),
      ...addSq(F.ref, [op.localGet(F.e)]),
      ...addSq(F.y2, [op.localGet(F.y)]),
      // zeroing and sign loss, branch-free
      op.localGet(F.v), op.f64Const(0), op.f64Ne, op.localSet(F.isNz),
      op.localGet(F.v), op.f64Const(0), op.f64Lt, op.localSet(F.isNeg),
      ...inc(F.nz, [op.localGet(F.isNz)]),
      ...inc(F.zd, [op.localGet(F.isNz), op.localGet(F.y), op.f64Const(0), op.f64Eq, op.i32And]),
      ...inc(F.rz, [op.localGet(F.isNz), op.localGet(F.r), op.f64Const(0), op.f64Eq, op.i32And]),
      ...inc(F.neg, [op.localGet(F.isNeg)]),
      ...inc(F.lost, [op.localGet(F.isNeg), op.localGet(F.y), op.f64Const(0), op.f64Lt, op.i32Const(1), op.i32Xor, op.i32And]),
      ...inc(F.rlost, [op.localGet(F.isNeg), op.localGet(F.r), op.f64Const(0), op.f64Lt, op.i32Const(1), op.i32Xor, op.i32And]),
      ...inc(F.nfy, [op.localGet(F.y), op.localGet(F.y), op.f64Sub, op.f64Const(0), op.f64Ne]),
      op.localGet(F.hasTwin), op.if,
      ...load(TW_BUF), op.localSet(F.w),
      ...addSq(F.tsig, [op.localGet(F.w)]),
      ...addSq(F.tnoise, [op.localGet(F.w), op.localGet(F.y), op.f64Sub]),
      op.end,
      // max |d| of the chunk (NaN counts as +∞)
      op.localGet(F.d), op.f64Abs, op.f64Const(Infinity), op.localGet(F.d), op.localGet(F.d), op.f64Eq, op.select, op.localTee(F.a),
      op.localGet(F.max), op.localGet(F.a), op.localGet(F.max), op.f64Gt, op.select, op.localSet(F.max),
      op.localGet(F.px), op.i32Const(4), op.i32Add, op.localSet(F.px),
      op.localGet(F.i), op.i32Const(1), op.i32Add, op.localTee(F.i), op.localGet(F.stop), op.i32LtU, op.brIf(0),
      op.end,
      op.end,
      // the run ended: add its sums to its group, start afresh
      op.localGet(F.i), op.localGet(F.runEnd), op.i32Eq, op.if,
      ...flush(4, F.vsig, F.sig, false), ...flush(5, F.vnoise, F.noise, false), ...flush(6, F.vref, F.ref, false),
      ...flush(7, F.vnz, F.nz, true), ...flush(8, F.vzd, F.zd, true), ...flush(9, F.vrz, F.rz, true),
      op.f64Const(0), op.localSet(F.sig), op.f64Const(0), op.localSet(F.noise), op.f64Const(0), op.localSet(F.ref),
      op.i32Const(0), op.localSet(F.nz), op.i32Const(0), op.localSet(F.zd), op.i32Const(0), op.localSet(F.rz),
      ...[F.vsig, F.vnoise, F.vref, F.vnz, F.vzd, F.vrz].flatMap((l) => [op.localGet(F.ZERO2), op.localSet(l)]),
      op.end,
      op.br(0),
      op.end, op.end,
      ...f64State.flatMap(([l, o]) => [op.i32Const(F_STATE), op.localGet(l), op.f64Store(o)]),
      ...i32State.flatMap(([l, o]) => [op.i32Const(I_STATE), op.localGet(l), op.i32Store(o)]),
      op.i32Const(F_STATE), op.localGet(F.max), op.f64Store(S_MAX),
      ...V_ACC.flatMap((l, k) => [op.i32Const(V_STATE + 16 * k), op.localGet(l), op.v128Store()]),
    ],
  };
}

// ---- hist8(n, signed): codes (bytes at X_BUF) counted into four histograms of 256 bins at HIST ----
function hist8Function(): WasmFunction {
  const H = { n: 0, signed: 1, i: 2, p: 3, w: 4, x: 5 };
  /** hist[k][byte]++ for the byte on the stack (xor x turns int8 into its bin: code + 128). */
  const count = (k: number): number[][] => [
    op.localGet(H.x), op.i32Xor, op.i32Const(4), op.i32Mul, op.i32Const(HIST + k * 1024), op.i32Add, op.localTee(H.p),
    op.localGet(H.p), op.i32Load(), op.i32Const(1), op.i32Add, op.i32Store(),
  ];
  return {
    name: 'hist8',
    params: [I32, I32],
    results: [],
    locals: [I32, I32, I32, I32],
    body: [
      op.localGet(H.signed), op.i32Const(7), op.i32Shl, op.localSet(H.x),
      // four bytes a word, each into its own histogram (neighbouring equal codes do not wait on each other's stores)
      op.block, op.loop,
      op.localGet(H.i), op.i32Const(3), op.i32Add, op.localGet(H.n), op.i32GeU, op.brIf(1),
      op.localGet(H.i), op.i32Const(X_BUF), op.i32Add, op.i32Load(), op.localSet(H.w),
      ...[0, 1, 2, 3].flatMap((k) => [op.localGet(H.w), op.i32Const(8 * k), op.i32ShrU, op.i32Const(255), op.i32And, ...count(k)]),
      op.localGet(H.i), op.i32Const(4), op.i32Add, op.localSet(H.i),
      op.br(0),
      op.end, op.end,
      op.block, op.loop,
      op.localGet(H.i), op.localGet(H.n), op.i32GeU, op.brIf(1),
      op.localGet(H.i), op.i32Const(X_BUF), op.i32Add, op.i32Load8U(), ...count(0),
      op.localGet(H.i), op.i32Const(1), op.i32Add, op.localSet(H.i),
      op.br(0),
      op.end, op.end,
    ],
  };
}

type Range = (i0: number, i1: number, inner: number, channels: number) => void;
type Fused = (i0: number, i1: number, inner: number, channels: number, qmin: number, qmax: number, hasTwin: number) => void;
type Hist8 = (n: number, signed: number) => void;

interface Engine {
  memory: WasmMemory;
  range: Range;
  fused: Fused;
  hist8: Hist8;
}

let engine: Engine | null | undefined;

function getEngine(): Engine | null {
  if (engine !== undefined) return engine;
  try {
    if (!wasm) throw new Error('no WebAssembly');
    const pages = Math.ceil(GROUPS / PAGE) + 1;
    const memory = new wasm.Memory({ initial: pages, maximum: 32768 });
    const instance = new wasm.Instance(new wasm.Module(assemble([rangeFunction(), fusedFunction(), hist8Function()], pages)), { env: { mem: memory } });
    engine = { memory, range: instance.exports['range'] as Range, fused: instance.exports['fused'] as Fused, hist8: instance.exports['hist8'] as Hist8 };
  } catch {
    engine = null; // no WebAssembly here: the JavaScript passes run instead
  }
  return engine;
}

/** Room for `groups` scale groups (the memory only grows); false when it cannot grow that far (the JS passes run). */
function reserve(e: Engine, groups: number): boolean {
  const need = GROUPS + ARRAYS * groups * 8;
  if (e.memory.buffer.byteLength >= need) return true;
  try {
    e.memory.grow(Math.ceil((need - e.memory.buffer.byteLength) / PAGE));
    return true;
  } catch {
    return false;
  }
}

export interface KernelInput {
  x: Float32Array;
  dq: Float32Array;
  twin: Float32Array | undefined;
  /** Elements per run of one scale group, and the number of groups the runs cycle through. */
  inner: number;
  channels: number;
  groups: number;
  qmin: number;
  qmax: number;
}

export interface KernelOutput {
  lo: Float64Array;
  hi: Float64Array;
  nonFiniteX: number;
}

/** Per scale group: Σx², Σ(x − dq)², Σ(x − ref)², nonzero inputs, those dq sends to 0, those the reference sends to 0. */
export interface GroupSums {
  sig: Float64Array;
  noise: Float64Array;
  refNoise: Float64Array;
  nonzero: Float64Array;
  zeroed: Float64Array;
  refZeroed: Float64Array;
}

export interface FusedOutput extends GroupSums {
  refCounts: Int32Array;
  /** negatives, lost, refLost, nonFiniteY, sumY2, twinSig, twinNoise (site-stats' TOTALS order). */
  totals: Float64Array;
  /** Per chunk of CHUNK elements: the largest |x − dq| (NaN as +∞), to find the witness positions. */
  chunkMax: Float64Array;
}

/** Whether the kernels can run here (WebAssembly available) for this many groups and histogram bins. */
export function kernelAvailable(groups: number, bins: number): boolean {
  return bins <= HIST_BINS && groups < 1 << 24 && getEngine() !== null;
}

function sumHistograms(h: Int32Array, bins: number): Int32Array {
  const out = h.slice(0, bins);
  for (let k = 1; k < 4; k++) for (let b = 0; b < bins; b++) out[b] += h[k * bins + b]!;
  return out;
}

/** Pass 1 (range) over runs; returns null where WebAssembly is unavailable. */
export function rangeKernel(inp: KernelInput): KernelOutput | null {
  const e = getEngine();
  if (!e || !reserve(e, inp.groups)) return null;
  const { x, inner, channels, groups } = inp;
  const words = new Int32Array(e.memory.buffer, I_STATE, 16);
  words.fill(0);
  words[10] = groups;
  new Float64Array(e.memory.buffer, GROUPS, 2 * groups).fill(0);
  const xs = new Float32Array(e.memory.buffer, X_BUF, CHUNK);
  for (let i0 = 0; i0 < x.length; i0 += CHUNK) {
    const i1 = Math.min(x.length, i0 + CHUNK);
    xs.set(x.subarray(i0, i1));
    e.range(i0, i1, inner, channels);
  }
  const g = new Float64Array(e.memory.buffer, GROUPS, 2 * groups);
  return { lo: g.slice(0, groups), hi: g.slice(groups, 2 * groups), nonFiniteX: words[S_NFX / 4]! };
}

/** Pass 2 (fused) over runs with the reference quantizer's scale and zero-point per group. */
export function fusedKernel(inp: KernelInput, refScale: Float64Array, refZp: Float64Array): FusedOutput | null {
  const e = getEngine();
  if (!e || !reserve(e, inp.groups)) return null;
  const { x, dq, twin, inner, channels, groups, qmin, qmax } = inp;
  const buf = e.memory.buffer;
  new Float64Array(buf, F_STATE, 8).fill(0);
  new Float64Array(buf, V_STATE, 2 * V_SLOTS).fill(0);
  const words = new Int32Array(buf, I_STATE, 16);
  words.fill(0);
  words[10] = groups;
  const bins = qmax - qmin + 1;
  new Int32Array(buf, HIST, 4 * bins).fill(0);
  const arrays = new Float64Array(buf, GROUPS, ARRAYS * groups);
  arrays.fill(0, 2 * groups);
  arrays.set(refScale, 2 * groups);
  arrays.set(refZp, 3 * groups);
  const xs = new Float32Array(buf, X_BUF, CHUNK);
  const ds = new Float32Array(buf, DQ_BUF, CHUNK);
  const ts = new Float32Array(buf, TW_BUF, CHUNK);
  const state = new Float64Array(buf, F_STATE, 8);
  const lanes = new Float64Array(buf, V_STATE, 2 * V_SLOTS);
  const counts = new BigInt64Array(buf, V_STATE, 2 * V_SLOTS);
  const chunkMax = new Float64Array(Math.ceil(x.length / CHUNK));
  for (let i0 = 0, k = 0; i0 < x.length; i0 += CHUNK, k++) {
    const i1 = Math.min(x.length, i0 + CHUNK);
    xs.set(x.subarray(i0, i1));
    ds.set(dq.subarray(i0, i1));
    if (twin) ts.set(twin.subarray(i0, i1));
    state[S_MAX / 8] = 0;
    lanes[2 * VMAX] = 0;
    lanes[2 * VMAX + 1] = 0;
    e.fused(i0, i1, inner, channels, qmin, qmax, twin ? 1 : 0);
    chunkMax[k] = Math.max(state[S_MAX / 8]!, lanes[2 * VMAX]!, lanes[2 * VMAX + 1]!);
  }
  // totals = (lane 0 + lane 1) + scalar, as the kernel's flush
  const f = (slot: number, scalar: number): number => lanes[2 * slot]! + lanes[2 * slot + 1]! + scalar;
  const c = (slot: number, scalar: number): number => Number(counts[2 * slot]! + counts[2 * slot + 1]!) + scalar;
  const group = (k: number): Float64Array => arrays.slice(k * groups, (k + 1) * groups);
  return {
    sig: group(4), noise: group(5), refNoise: group(6), nonzero: group(7), zeroed: group(8), refZeroed: group(9),
    refCounts: sumHistograms(new Int32Array(buf, HIST, 4 * bins), bins),
    totals: Float64Array.of(
      c(VNEG, words[S_NEG / 4]!), c(VNEG + 1, words[S_LOST / 4]!), c(VNEG + 2, words[S_RLOST / 4]!), c(VNEG + 3, words[S_NFY / 4]!),
      f(VY2, state[S_Y2 / 8]!), f(VY2 + 1, state[S_TSIG / 8]!), f(VY2 + 2, state[S_TNOISE / 8]!),
    ),
    chunkMax,
  };
}

/**
 * Histogram of byte codes (int8: bin = code + 128; uint8: bin = code), 256 bins; null where WebAssembly is
 * unavailable.
 */
export function byteHistogram(codes: Int8Array | Uint8Array): Int32Array | null {
  const e = getEngine();
  if (!e) return null;
  const buf = e.memory.buffer;
  new Int32Array(buf, HIST, 4 * 256).fill(0);
  const bytes = new Uint8Array(codes.buffer, codes.byteOffset, codes.length);
  const xs = new Uint8Array(buf, X_BUF, CHUNK * 4);
  const signed = codes instanceof Int8Array ? 1 : 0;
  for (let i0 = 0; i0 < bytes.length; i0 += xs.length) {
    const part = bytes.subarray(i0, i0 + xs.length);
    xs.set(part);
    e.hist8(part.length, signed);
  }
  return sumHistograms(new Int32Array(buf, HIST, 4 * 256), 256);
}
