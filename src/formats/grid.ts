/**
 * Does a tensor lie on a format's value grid? "On the grid" means: within each group, every
 * value is s·v for one scale s > 0 and values v of the format's element grid. The scale is
 * searched, not assumed, so a quantizer with its own scale convention (amax/7.5, a percentile,
 * a learned step) is on the grid as long as its outputs are codes times one scale:
 *  - formats without scaling (fp16, bf16, posits, gf12+): s = 1, and on-grid ⟺ fq(v) = v;
 *  - integer rows: s from the smallest gap between distinct values (or a divisor of it), the
 *    values must be integers times s within a span of 2^bits − 1 codes (any zero-point);
 *  - every other row (scaled minifloats, codebooks, MX): s = max|y| / v for the largest
 *    grid values v, the values must then sit on grid points.
 * Used by the format-applied probe (H5) to tell "format X applied instead of the named one".
 */
import { elementValues, fakeQuant } from './index.js';
import type { FormatSpec } from './types.js';
import { equalRuns } from '../stats.js';

/** Relative tolerance of a grid match: float32 rounding of q·s is ~6e-8; a different grid is off by percents. */
const TOLERANCE = 1e-4;
/** Candidate scales tried per group for non-integer grids: the largest grid magnitudes taken as the image of max|y|. */
const TOP_CANDIDATES = 64;

interface Grid {
  /** Sorted distinct finite element values. */
  values: Float64Array;
  minPositive: number;
  /** Distinct nonzero magnitudes, largest first: the candidates for the image of a group's max |y| (codebooks are not symmetric). */
  magnitudesDescending: number[];
}

const grids = new WeakMap<FormatSpec, Grid | null>();

function gridOf(spec: FormatSpec): Grid | null {
  if (grids.has(spec)) return grids.get(spec)!;
  const v = elementValues(spec);
  let g: Grid | null = null;
  if (v) {
    const values = Float64Array.from(v);
    const magnitudes = [...new Set([...values].filter((x) => x !== 0).map(Math.abs))];
    g = { values, minPositive: magnitudes.length ? Math.min(...magnitudes) : 1, magnitudesDescending: magnitudes.sort((a, b) => b - a) };
  }
  grids.set(spec, g);
  return g;
}

function nearest(values: Float64Array, t: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= t) lo = mid;
    else hi = mid;
  }
  return Math.abs(values[lo]! - t) <= Math.abs(values[hi]! - t) ? values[lo]! : values[hi]!;
}

interface GroupValues {
  /** Distinct finite values, ascending. */
  values: number[];
  counts: number[];
  finite: number;
  /** Counts sorted descending, summed: prefix[k] = elements on the k most common values (the most any k-value grid can hold). */
  prefix: number[];
}

/** Distinct finite values of a group with their counts, ascending. */
function distinctWithCounts(y: Float32Array, lo: number, hi: number): GroupValues {
  const pairs: [number, number][] = [];
  let finite = 0;
  equalRuns(y.subarray(lo, hi), (count, value) => {
    if (!Number.isFinite(value)) return;
    finite += count;
    pairs.push([value, count]);
  });
  pairs.sort((a, b) => a[0] - b[0]);
  const values = pairs.map((p) => p[0]);
  const counts = pairs.map((p) => p[1]);
  const prefix = [0];
  for (const c of [...counts].sort((a, b) => b - a)) prefix.push(prefix[prefix.length - 1]! + c);
  return { values, counts, finite, prefix };
}

/**
 * A tensor's groups, computed once per (tensor, group length): the format-applied probe asks
 * the same outputs about every registry grid. Keyed by the array and a hash of its bits, so a
 * tensor changed in place is grouped again.
 */
const groupCache = new WeakMap<Float32Array, { hash: number; byLength: Map<number, GroupValues[]> }>();
function bitsHash(y: Float32Array): number {
  const u = new Uint32Array(y.buffer, y.byteOffset, y.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 0x01000193);
  return h;
}
function groupsOf(y: Float32Array, groupLength: number): GroupValues[] {
  const hash = bitsHash(y);
  let cached = groupCache.get(y);
  if (!cached || cached.hash !== hash) groupCache.set(y, (cached = { hash, byLength: new Map() }));
  const byLength = cached.byLength;
  let groups = byLength.get(groupLength);
  if (!groups) {
    groups = [];
    for (let lo = 0; lo < y.length; lo += groupLength) groups.push(distinctWithCounts(y, lo, Math.min(y.length, lo + groupLength)));
    byLength.set(groupLength, groups);
  }
  return groups;
}

/** The most elements of a group any scale can put on a grid of `levels` values: its `levels` most common values. */
function mostOnGrid(d: GroupValues, levels: number): number {
  return d.prefix[Math.min(levels, d.prefix.length - 1)]!;
}

/**
 * Elements of the group (by count) that are t·s on grid points for the best scale s, and every
 * scale that does as well (a group with few levels fits several: {0, 0.08} is 0.08·{0, 1} and
 * 1·{0, 0.0796} in nf4). Unscaled rows: s = 1.
 */
function onGridCount(spec: FormatSpec, grid: Grid | null, d: GroupValues, allScales = false, maxMissed = Infinity): { on: number; scales: number[] } {
  const total = d.finite;
  if (d.values.length === 0) return { on: 0, scales: [] };
  const maxAbs = Math.max(...d.values.map(Math.abs));
  if (maxAbs === 0) return { on: total, scales: [] }; // all zero: every grid has 0, at any scale
  const count = (s: number, member: (t: number) => boolean, budget: number): number => {
    let on = 0;
    let missed = 0;
    for (let k = 0; k < d.values.length; k++) {
      if (member(d.values[k]! / s)) on += d.counts[k]!;
      else if ((missed += d.counts[k]!) > budget) return -1;
    }
    return on;
  };
  let best = 0;
  let bestScales: number[] = [];
  const tryScale = (s: number, member: (t: number) => boolean): void => {
    if (!(s > 0) || !Number.isFinite(s)) return;
    const on = count(s, member, Math.min(total - best - (allScales ? 1 : 0), maxMissed));
    if (on > best) {
      best = on;
      bestScales = [s];
    } else if (on === best && on > 0) bestScales.push(s);
  };
  if (spec.family === 'integer') {
    const span = 2 ** spec.bits - 1;
    const isInt = (t: number): boolean => Math.abs(t - Math.round(t)) <= TOLERANCE * Math.max(1, Math.abs(t));
    let gap = Infinity;
    for (let k = 1; k < d.values.length; k++) gap = Math.min(gap, d.values[k]! - d.values[k - 1]!);
    if (!Number.isFinite(gap)) gap = maxAbs; // one nonzero level
    const lo = d.values[0]!;
    const hi = d.values[d.values.length - 1]!;
    for (let div = 1; div <= 4; div++) {
      const s = gap / div;
      if ((hi - lo) / s > span + 0.5) break;
      tryScale(s, isInt);
    }
    return { on: best, scales: bestScales };
  }
  if (!grid || spec.scaling === 'none') {
    // s = 1: a value is on the grid when the codec returns it unchanged
    const v = Float32Array.from(d.values);
    const q = fakeQuant({ ...spec, scaling: 'none' }, v);
    let on = 0;
    for (let k = 0; k < v.length; k++) if (q[k] === v[k]) on += d.counts[k]!;
    return { on, scales: [1] };
  }
  const member = (t: number): boolean => {
    const g = nearest(grid.values, t);
    return Math.abs(g - t) <= TOLERANCE * Math.max(Math.abs(g), grid.minPositive);
  };
  for (const v of grid.magnitudesDescending.slice(0, TOP_CANDIDATES)) {
    tryScale(maxAbs / v, member);
    if (best === total && !allScales) break;
  }
  return { on: best, scales: bestScales };
}

/** Number of grid values of a format: what bounds the distinct values a group of it can have. */
function levelsOf(spec: FormatSpec, grid: Grid | null): number {
  return spec.family === 'integer' ? 2 ** spec.bits : grid ? grid.values.length : Infinity;
}

/**
 * Share of the finite elements of `y` that lie on `spec`'s grid, each group of `groupLength`
 * consecutive elements with its own scale. NaN/Inf elements are not counted either way.
 *
 * `atLeast`: the caller only asks whether the share reaches it (a fit test). Once more elements
 * are off the grid than that allows — counted exactly, or bounded by a group having more
 * distinct values than the grid has levels — the answer is a share below `atLeast` (an upper
 * bound, not the exact share), found without trying every scale of every group.
 */
export function gridShare(spec: FormatSpec, y: Float32Array, groupLength: number, atLeast = 0): number {
  const grid = gridOf(spec);
  const groups = groupsOf(y, groupLength);
  let finite = 0;
  for (const d of groups) finite += d.finite;
  if (finite === 0) return 1;
  const allowed = atLeast > 0 ? Math.floor((1 - atLeast) * finite + 1e-9) : Infinity;
  const levels = levelsOf(spec, grid);
  // bound first (cheap): groups with more distinct values than the grid has levels
  let bound = 0;
  for (const d of groups) bound += d.finite - mostOnGrid(d, levels);
  if (bound > allowed) return (finite - bound) / finite;
  let on = 0;
  let missed = 0;
  for (const d of groups) {
    const got = onGridCount(spec, grid, d, false, allowed - missed).on;
    on += got;
    missed += d.finite - got;
    if (missed > allowed) return (finite - missed) / finite;
  }
  return on / finite;
}

/**
 * The scales each group of `y` may have been quantized with, read off its values: every s that
 * puts as many of them on the grid as any scale does (several when the group has few levels);
 * empty for a group with no nonzero value.
 */
export function fittedScales(spec: FormatSpec, y: Float32Array, groupLength: number): number[][] {
  const grid = gridOf(spec);
  return groupsOf(y, groupLength).map((d) => onGridCount(spec, grid, d, true).scales);
}

/** Formats a grid test can tell anything about: not the identity, not grids finer than float32 can show (gf24, gf32). */
export function gridTestable(spec: FormatSpec): boolean {
  return spec.family !== 'identity' && spec.bits <= 16;
}

/** Distinct element values of a format (how fine its grid is): the measure of "most specific". */
export function gridSize(spec: FormatSpec): number {
  return gridOf(spec)?.values.length ?? 2 ** spec.bits;
}
