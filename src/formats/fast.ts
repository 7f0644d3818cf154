/**
 * fakeQuant through WebAssembly kernels (kernels.ts), bit-identical to `fakeQuantScalar`, on
 * chunks of CHUNK elements copied into the kernels' memory. Three paths (`fastPathOf`):
 *  - fused-block (signed per-block absmax and MX rows): one kernel call per chunk computes each
 *    block's absmax, its scale by the row's rule and the elements, in place;
 *  - two-pass (the other integer, minifloat, GoldenFloat and codebook rows): the stats kernel
 *    gathers each group's absmax / NaN / min / max, `scaleFromStats` (the same rule as the
 *    scalar path) gives its scale, then the row's fq kernel runs with one record
 *    [scale, qmin − zp, qmax − zp] per group; groups whose scale is 0 or not finite are
 *    finished here by the reference rule;
 *  - key-table (posits at scale 1 whose key table decides every key): the table looked up in wasm.
 * Rows without a kernel (posit16, identity, layouts that do not fit float32) return false and
 * take the scalar path.
 */
import type { FormatSpec } from './types.js';
import type { ElementCodec } from './element.js';
import { elementCodec, type CodecOptions } from './codec.js';
import type { KeyTable } from './element.js';
import { groupsOf, needsStats, isAsymmetricInteger, scaleFromStats, type GroupStats, type GroupScale } from './groups.js';
import { minifloatLayout } from './minifloat.js';
import {
  CHUNK, X_PTR, OUT_PTR, REC_PTR, TABLE_PTR, kernels, fqKernel, fqBlocksKernel, integerElement, minifloatElement, minifloatKernelFits, codebookElement,
  type FqKernel, type FqBlocksKernel, type BlockScaleRule, type ElementBody,
} from './kernels.js';

/** The row's element body for the kernels, or null when it has none. Built from the row's fields only. */
function elementBodyOf(spec: FormatSpec): ElementBody | null {
  const el = spec.family === 'mx' ? spec.elementSpec : spec;
  if (!el) return null;
  if (el.family === 'integer') return integerElement();
  if (el.family === 'minifloat' || el.family === 'goldenfloat') {
    const L = minifloatLayout(el);
    return minifloatKernelFits(L) ? minifloatElement(L) : null;
  }
  if (el.family === 'codebook' && el.codebook && el.codebook.length >= 2 && el.codebook.length <= 256) {
    const book = Float64Array.from(el.codebook);
    const mids = new Float64Array(book.length - 1);
    let ascending = true;
    for (let i = 0; i < mids.length; i++) {
      mids[i] = (book[i]! + book[i + 1]!) / 2;
      if (!(book[i]! < book[i + 1]!) || (i > 0 && !(mids[i - 1]! < mids[i]!))) ascending = false;
    }
    // NaN goes to the entry closest to 0 (the first such), as codebook.ts does
    let zeroIndex = 0;
    for (let i = 1; i < book.length; i++) if (Math.abs(book[i]!) < Math.abs(book[zeroIndex]!)) zeroIndex = i;
    if (ascending && book.every(Number.isFinite)) return codebookElement(Float32Array.from(book), mids, zeroIndex);
  }
  return null;
}

const compiled = new WeakMap<FormatSpec, FqKernel | null>();

/** The row's two-pass fq kernel, or null when it has none. */
function kernelOf(spec: FormatSpec): FqKernel | null {
  let k = compiled.get(spec);
  if (k !== undefined) return k;
  const body = elementBodyOf(spec);
  k = body !== null ? (fqKernel(body) ?? null) : null;
  compiled.set(spec, k);
  return k;
}

const isFloat32 = (v: number): boolean => Number.isFinite(v) && Math.fround(v) === v;

/**
 * The block-scale rule of a per-block (signed) or MX row as kernel data, or null when the row's
 * rule cannot be computed exactly in float32 by the fused kernel (then the two-pass path runs).
 */
function blockScaleRuleOf(spec: FormatSpec, codec: ElementCodec): BlockScaleRule | null {
  if (isAsymmetricInteger(spec)) return null;
  if (spec.scaling === 'per-block-absmax') {
    if (!isFloat32(codec.maxFinite) || !(codec.maxFinite > 0)) return null;
    return { kind: 'absmax', divisor: codec.maxFinite, zeroNanOut: codec.decode(codec.encode(NaN, 0), 0) * 0 };
  }
  if (spec.scaling === 'mx-e8m0') {
    const q = Math.log2(spec.elementScale ?? 1);
    // 2^(shared + q) must be a float32 for every shared exponent in [−127, 127]
    if (!Number.isInteger(q) || q < -22 || q > 0 || !Number.isInteger(spec.elementEmax ?? 0)) return null;
    return { kind: 'e8m0', emax: spec.elementEmax ?? 0, elementScaleExp: q };
  }
  return null;
}

const fusedCompiled = new WeakMap<FormatSpec, FqBlocksKernel | null>();

/** The row's fused block kernel (stats, scale and element in one wasm pass), or null. */
function fusedKernelOf(spec: FormatSpec, codec: ElementCodec): FqBlocksKernel | null {
  let k = fusedCompiled.get(spec);
  if (k !== undefined) return k;
  k = null;
  const size = spec.blockSize ?? 32;
  const rule = blockScaleRuleOf(spec, codec);
  const body = rule && size % 4 === 0 && size <= CHUNK && isFloat32(codec.minFinite) && isFloat32(codec.maxFinite) ? elementBodyOf(spec) : null;
  // a row's fixed zero-point (signed per-block rows) shifts the element range: [qmin − zp, qmax − zp]
  const zp = spec.family === 'integer' ? (spec.zeroPoint ?? 0) : 0;
  if (rule && body) k = fqBlocksKernel(body, rule, codec.minFinite - zp, codec.maxFinite - zp) ?? null;
  fusedCompiled.set(spec, k);
  return k;
}

/** The key table a row's scale-1 fakeQuant reads, when every key is decided by it (no slow keys). */
const exactTables = new WeakMap<FormatSpec, KeyTable | null>();
function exactKeyTableOf(spec: FormatSpec, codec: ElementCodec): KeyTable | null {
  let t = exactTables.get(spec);
  if (t !== undefined) return t;
  t = codec.keyTable?.() ?? null;
  if (t && t.flag.some((f) => f === 2)) t = null;
  exactTables.set(spec, t);
  return t;
}

export type FastPath = 'fused-block' | 'two-pass' | 'key-table';

/**
 * Which fast path fakeQuant(spec, x) takes with the row's own scaling (null: the scalar path).
 * fused-block: one wasm pass per chunk (stats, scale rule, element); two-pass: stats kernel, JS
 * scale per group, fq kernel; key-table: the scalar key table at scale 1, looked up in wasm.
 */
export function fastPathOf(spec: FormatSpec, codec = elementCodec(spec)): FastPath | null {
  if (!kernels()) return null;
  if (fusedKernelOf(spec, codec)) return 'fused-block';
  if (kernelOf(spec)) return 'two-pass';
  if (!needsStats(spec, undefined) && exactKeyTableOf(spec, codec)) return 'key-table';
  return null;
}

/** Whether fakeQuant(spec, …) runs a WebAssembly kernel (where WebAssembly SIMD is available). */
export function hasFastPath(spec: FormatSpec): boolean {
  return fastPathOf(spec) !== null;
}

let loadedTable: KeyTable | null = null;

/** The key-table path: only at scale 1 (raw values), where the scalar path is a pure lookup. */
function fakeQuantKeyTable(spec: FormatSpec, codec: ElementCodec, x: Float32Array, opts: CodecOptions | undefined, out: Float32Array): boolean {
  const K = kernels();
  const table = K && exactKeyTableOf(spec, codec);
  if (!K || !table || needsStats(spec, opts)) return false;
  if (scaleFromStats(spec, codec, { amax: 0, nan: false, min: 0, max: 0 }, opts).scale !== 1) return false;
  if (loadedTable !== table) {
    K.f32.set(table.pair, TABLE_PTR >> 2);
    loadedTable = table;
  }
  const n = x.length;
  const f32 = K.f32;
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(start + CHUNK, n);
    f32.set(x.subarray(start, end), X_PTR >> 2);
    K.keyTable(X_PTR, X_PTR, (end - start) * 4, TABLE_PTR);
    out.set(f32.subarray(X_PTR >> 2, (X_PTR >> 2) + end - start), start);
  }
  return true;
}

/** The fused path: per chunk of whole blocks, copy in, one kernel call in place, copy out. */
function fakeQuantFused(spec: FormatSpec, codec: ElementCodec, x: Float32Array, opts: CodecOptions | undefined, out: Float32Array): boolean {
  // an explicit scale or zero-point: the two-pass path (one record per group carries them)
  if (opts?.scale !== undefined || opts?.zeroPoint !== undefined) return false;
  const kernel = fusedKernelOf(spec, codec);
  const K = kernel ? kernels() : null;
  if (!kernel || !K) return false;
  const size = spec.blockSize ?? 32;
  const perChunk = Math.floor(CHUNK / size) * size;
  const n = x.length;
  const f32 = K.f32;
  const xw = X_PTR >> 2;
  for (let start = 0; start < n; start += perChunk) {
    const len = Math.min(perChunk, n - start);
    f32.set(x.subarray(start, start + len), xw);
    if (len % 4 !== 0) f32.fill(0, xw + len, xw + len + 4); // a whole last vector: zeros change no statistic
    kernel(X_PTR, X_PTR, len * 4, 0, size * 4);
    out.set(f32.subarray(xw, xw + len), start);
  }
  return true;
}

let records = new Float32Array(4096);
let scales = new Float64Array(1024);
let zeroPoints = new Float64Array(1024);

/**
 * Writes fakeQuant(spec, x) into out and returns true, or returns false without touching out
 * when this row or call has no exact SIMD path.
 */
export function fakeQuantFast(spec: FormatSpec, codec: ElementCodec, x: Float32Array, opts: CodecOptions | undefined, out: Float32Array): boolean {
  const n = x.length;
  if (n === 0) return false;
  if (fakeQuantFused(spec, codec, x, opts, out) || fakeQuantKeyTable(spec, codec, x, opts, out)) return true;
  const kernel = kernelOf(spec);
  const K = kernel ? kernels() : null;
  if (!kernel || !K) return false;
  const g = groupsOf(spec, n, opts?.shape);
  if (records.length < 4 * g.count) {
    records = new Float32Array(4 * g.count);
    scales = new Float64Array(g.count);
    zeroPoints = new Float64Array(g.count);
  }
  const rec = records;
  const f32 = K.f32;
  // the chunk at X_PTR; pass 2 skips the copy when pass 1 left the same chunk there (n ≤ CHUNK)
  let loaded = -1;
  const load = (start: number, end: number): number => {
    if (loaded !== start || end - start !== n) f32.set(x.subarray(start, end), X_PTR >> 2);
    loaded = end - start === n ? start : -1;
    return X_PTR;
  };
  const small = g.size <= CHUNK; // whole groups per chunk, else chunks inside one group
  const groupsPerChunk = small ? Math.floor(CHUNK / g.size) : 1;

  // pass 1: one scale per group
  const setGroup = (j: number, s: GroupScale): boolean => {
    scales[j] = s.scale;
    zeroPoints[j] = s.zeroPoint;
    const usable = s.scale > 0 && s.scale < Infinity;
    const p1 = codec.minFinite - s.zeroPoint;
    const p2 = codec.maxFinite - s.zeroPoint;
    // the kernel computes in float32: every operand must be one
    if (usable && (Math.fround(s.scale) !== s.scale || Math.fround(p1) !== p1 || Math.fround(p2) !== p2)) return false;
    rec[4 * j] = usable ? s.scale : 1;
    rec[4 * j + 1] = p1;
    rec[4 * j + 2] = p2;
    return true;
  };
  if (!needsStats(spec, opts)) {
    const s = scaleFromStats(spec, codec, { amax: 0, nan: false, min: 0, max: 0 }, opts);
    for (let j = 0; j < g.count; j++) if (!setGroup(j, s)) return false;
  } else if (small) {
    const st: GroupStats = { amax: 0, nan: false, min: 0, max: 0 };
    const scaleOut: GroupScale = { scale: 1, zeroPoint: 0 };
    const recWords = REC_PTR >> 2;
    for (let g0 = 0; g0 < g.count; g0 += groupsPerChunk) {
      const start = g0 * g.size;
      const end = Math.min(start + groupsPerChunk * g.size, n);
      K.stats(load(start, end), (end - start) * 4, g.size * 4, REC_PTR);
      const g1 = Math.min(g0 + groupsPerChunk, g.count);
      for (let j = g0; j < g1; j++) {
        const r = recWords + 4 * (j - g0);
        st.amax = f32[r]!;
        st.nan = K.i32[r + 1] !== 0;
        st.min = f32[r + 2]!;
        st.max = f32[r + 3]!;
        if (!setGroup(j, scaleFromStats(spec, codec, st, opts, scaleOut))) return false;
      }
    }
  } else {
    const r = REC_PTR >> 2;
    for (let j = 0; j < g.count; j++) {
      const st: GroupStats = { amax: 0, nan: false, min: 0, max: 0 };
      const hi = Math.min((j + 1) * g.size, n);
      for (let start = j * g.size; start < hi; start += CHUNK) {
        const end = Math.min(start + CHUNK, hi);
        K.stats(load(start, end), (end - start) * 4, (end - start) * 4, REC_PTR);
        if (f32[r]! > st.amax) st.amax = f32[r]!;
        if (K.i32[r + 1] !== 0) st.nan = true;
        if (f32[r + 2]! < st.min) st.min = f32[r + 2]!;
        if (f32[r + 3]! > st.max) st.max = f32[r + 3]!;
      }
      if (!setGroup(j, scaleFromStats(spec, codec, st, opts))) return false;
    }
  }

  // pass 2: the kernel, chunk by chunk (whole groups, or pieces of one group); in place (half the
  // cache footprint) unless a group's last vector would spill into the next group before it is read
  const inPlace = g.count === 1 || g.size % 4 === 0;
  const run = (start: number, end: number, j0: number, j1: number, blockLen: number): void => {
    const len = end - start;
    const src = load(start, end);
    const dst = inPlace ? src : OUT_PTR;
    f32.set(rec.subarray(4 * j0, 4 * j1), REC_PTR >> 2);
    kernel(src, dst, len * 4, REC_PTR, blockLen * 4);
    const dw = dst >> 2;
    for (let j = j0; j < j1; j++) {
      const s = scales[j]!;
      if (s > 0 && s < Infinity) continue;
      // a group without a usable scale: the scalar fakeQuant's rule
      const lo = Math.max(j * g.size, start) - start;
      const hi = Math.min((j + 1) * g.size, end) - start;
      if (s === 0) {
        const zp = zeroPoints[j]!;
        const nanOut = codec.decode(codec.encode(NaN, zp), zp) * 0;
        for (let i = lo; i < hi; i++) f32[dw + i] = x[start + i]! !== x[start + i]! ? nanOut : 0;
      } else f32.fill(NaN, dw + lo, dw + hi);
    }
    out.set(f32.subarray(dw, dw + len), start);
  };
  if (small) {
    for (let j0 = 0; j0 < g.count; j0 += groupsPerChunk) {
      const j1 = Math.min(j0 + groupsPerChunk, g.count);
      run(j0 * g.size, Math.min(j1 * g.size, n), j0, j1, g.size);
    }
  } else {
    for (let j = 0; j < g.count; j++) {
      const hi = Math.min((j + 1) * g.size, n);
      for (let start = j * g.size; start < hi; start += CHUNK) {
        const end = Math.min(start + CHUNK, hi);
        run(start, end, j, j + 1, end - start);
      }
    }
  }
  return true;
}
