/**
 * fakeQuant through the WebAssembly SIMD kernels (kernels.ts), bit-identical to
 * `fakeQuantScalar`. Two passes over chunks of CHUNK elements copied into the kernels'
 * memory: the stats kernel gathers each group's absmax / NaN / min / max, `scaleFromStats`
 * (the same rule as the scalar path) gives its scale, then the row's fq kernel runs with one
 * record [scale, qmin − zp, qmax − zp] per group. Groups whose scale is 0 or not finite are
 * finished here by the reference rule. Rows without a kernel (posits, identity, layouts that
 * do not fit float32) return false and take the scalar path.
 */
import type { FormatSpec } from './types.js';
import type { ElementCodec } from './element.js';
import type { CodecOptions } from './index.js';
import { groupsOf, needsStats, scaleFromStats, type GroupStats, type GroupScale } from './groups.js';
import { minifloatLayout } from './minifloat.js';
import { CHUNK, X_PTR, OUT_PTR, REC_PTR, kernels, fqKernel, integerElement, minifloatElement, minifloatKernelFits, codebookElement, type FqKernel } from './kernels.js';

const compiled = new WeakMap<FormatSpec, FqKernel | null>();

/** The row's fq kernel, or null when it has none. Built from the row's fields only. */
function kernelOf(spec: FormatSpec): FqKernel | null {
  let k = compiled.get(spec);
  if (k !== undefined) return k;
  k = null;
  const el = spec.family === 'mx' ? spec.elementSpec : spec;
  if (el) {
    if (el.family === 'integer') k = fqKernel(integerElement()) ?? null;
    else if (el.family === 'minifloat' || el.family === 'goldenfloat') {
      const L = minifloatLayout(el);
      if (minifloatKernelFits(L)) k = fqKernel(minifloatElement(L)) ?? null;
    } else if (el.family === 'codebook' && el.codebook && el.codebook.length >= 2 && el.codebook.length <= 256) {
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
      if (ascending && book.every(Number.isFinite)) k = fqKernel(codebookElement(Float32Array.from(book), mids, zeroIndex)) ?? null;
    }
  }
  compiled.set(spec, k);
  return k;
}

/** Whether fakeQuant(spec, …) runs the SIMD kernels (where WebAssembly SIMD is available). */
export function hasFastPath(spec: FormatSpec): boolean {
  return kernelOf(spec) !== null && kernels() !== null;
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
      f32.set(x.subarray(start, end), X_PTR >> 2);
      K.stats(X_PTR, (end - start) * 4, g.size * 4, REC_PTR);
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
        f32.set(x.subarray(start, end), X_PTR >> 2);
        K.stats(X_PTR, (end - start) * 4, (end - start) * 4, REC_PTR);
        if (f32[r]! > st.amax) st.amax = f32[r]!;
        if (K.i32[r + 1] !== 0) st.nan = true;
        if (f32[r + 2]! < st.min) st.min = f32[r + 2]!;
        if (f32[r + 3]! > st.max) st.max = f32[r + 3]!;
      }
      if (!setGroup(j, scaleFromStats(spec, codec, st, opts))) return false;
    }
  }

  // pass 2: the kernel, chunk by chunk (whole groups, or pieces of one group)
  const xWords = X_PTR >> 2;
  const outWords = OUT_PTR >> 2;
  const run = (start: number, end: number, j0: number, j1: number, blockLen: number): void => {
    const len = end - start;
    f32.set(x.subarray(start, end), xWords);
    f32.set(rec.subarray(4 * j0, 4 * j1), REC_PTR >> 2);
    kernel(X_PTR, OUT_PTR, len * 4, REC_PTR, blockLen * 4);
    for (let j = j0; j < j1; j++) {
      const s = scales[j]!;
      if (s > 0 && s < Infinity) continue;
      // a group without a usable scale: the scalar fakeQuant's rule
      const lo = Math.max(j * g.size, start) - start;
      const hi = Math.min((j + 1) * g.size, end) - start;
      if (s === 0) {
        const zp = zeroPoints[j]!;
        const nanOut = codec.decode(codec.encode(NaN, zp), zp) * 0;
        for (let i = lo; i < hi; i++) f32[outWords + i] = f32[xWords + i] !== f32[xWords + i] ? nanOut : 0;
      } else f32.fill(NaN, outWords + lo, outWords + hi);
    }
    out.set(f32.subarray(outWords, outWords + len), start);
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
