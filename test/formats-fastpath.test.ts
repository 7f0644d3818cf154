/**
 * The WebAssembly SIMD fakeQuant (src/formats/fast.ts, kernels.ts) against the scalar reference
 * `fakeQuantScalar`, bit for bit (Uint32 views, so −0 and NaN patterns count): over every
 * 4099th float32 pattern (all exponents, subnormals, ±Inf, NaNs), over every code of each
 * ≤ 16-bit element grid with its midpoints and the float32 values either side, and over the
 * group shapes (per channel, per block with a short tail, MX, groups larger than a chunk,
 * all-zero / NaN / Inf groups, in place), at every 16-bit key of the float32 pattern (the
 * posit key-table path), and over block maxima in every binade (the fused block kernel's
 * scale rule). Each row's fast path is pinned, so a row that silently loses one fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, elementValues, fakeQuant, fakeQuantScalar, FormatRegistry, type FormatSpec, type CodecOptions } from '../src/formats/index.js';
import { hasFastPath, fastPathOf, type FastPath } from '../src/formats/fast.js';
import { CHUNK, kernels, fqKernel, integerElement } from '../src/formats/kernels.js';
import { assembleWat, simdAvailable } from '../src/formats/wat.js';
import { Rng } from '../src/rng.js';

const R = defaultRegistry;
const custom = new FormatRegistry({
  'gf10-alt': { family: 'goldenfloat', bits: 10, exponentBits: 4, mantissaBits: 5, bias: 7, subnormals: false, specials: 'ieee', scaling: 'none' },
  'e3m4-sat': { family: 'minifloat', bits: 8, exponentBits: 3, mantissaBits: 4, bias: 3, subnormals: true, specials: 'none', scaling: 'per-channel-absmax' },
  'int6-block': { family: 'integer', bits: 6, signed: true, scaling: 'per-block-absmax', blockSize: 7 },
  'uint3-row': { family: 'integer', bits: 3, signed: false, scaling: 'per-channel-absmax' },
  'int5-block8': { family: 'integer', bits: 5, signed: true, scaling: 'per-block-absmax', blockSize: 8 },
  // max finite 0.21875 < 1: a block near the float32 maximum gets an infinite scale (→ NaN)
  'e3m2-tiny-block': { family: 'minifloat', bits: 6, exponentBits: 3, mantissaBits: 2, bias: 10, subnormals: true, specials: 'none', scaling: 'per-block-absmax', blockSize: 16 },
  // signed zero-points: asymmetric min/max int8 (TFLite-style), a fixed zero-point per tensor and per block (fused kernel)
  'int8-asym': { family: 'integer', bits: 8, signed: true, scaling: 'per-tensor-minmax' },
  'int4-zp1': { family: 'integer', bits: 4, signed: true, scaling: 'per-tensor-absmax', zeroPoint: 1 },
  'int5-block8-zp': { family: 'integer', bits: 5, signed: true, scaling: 'per-block-absmax', blockSize: 8, zeroPoint: -3 },
});
const customRows = ['gf10-alt', 'e3m4-sat', 'int6-block', 'uint3-row', 'int5-block8', 'e3m2-tiny-block', 'int8-asym', 'int4-zp1', 'int5-block8-zp'].map((n) => custom.get(n));
const rows: FormatSpec[] = [...R.all(), ...customRows];

function sameBits(spec: FormatSpec, what: string, x: Float32Array, opts?: CodecOptions): void {
  const fast = fakeQuant(spec, x, opts);
  const ref = fakeQuantScalar(spec, x, opts);
  const fb = new Uint32Array(fast.buffer, fast.byteOffset, fast.length);
  const rb = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  for (let i = 0; i < x.length; i++) {
    if (fb[i] !== rb[i]) {
      const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;
      assert.fail(`${spec.name} ${what}${opts?.scale !== undefined ? ` scale ${opts.scale}` : ''}: x[${i}]=${x[i]} (${hex(new Uint32Array(Float32Array.of(x[i]!).buffer)[0]!)}) fast=${fast[i]} (${hex(fb[i]!)}) scalar=${ref[i]} (${hex(rb[i]!)})`);
    }
  }
}

/** Every 4099th float32 pattern, both signs: 2^32 / 4099 ≈ 1.05M values. */
function stridedPatterns(): Float32Array {
  const n = Math.floor(2 ** 32 / 4099);
  const u = new Uint32Array(n + 8);
  for (let k = 0; k < n; k++) u[k] = k * 4099 + (k % 7);
  u.set([0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x00000001, 0x80000001], n);
  return new Float32Array(u.buffer);
}

test('the kernels assemble here, and a kernel that does not assemble is an error naming it, not a silent scalar fallback', () => {
  // Node 20+ has WebAssembly SIMD: without it every fast-path test below would compare the scalar path with itself
  assert.equal(simdAvailable(), true);
  assert.notEqual(kernels(), null);
  assert.equal(typeof fqKernel(integerElement()), 'function');
  assert.throws(() => fqKernel('local.get $nope'), /kernel 'fq' does not assemble: .*undefined local variable "\$nope"/s);
  assert.throws(() => assembleWat('mistyped', '(module (func (result i32) f32.const 1))'), /kernel 'mistyped' does not assemble: .*type mismatch/s);
});

test('each row takes the fast path it is built for (a row that silently loses one fails here)', () => {
  // fused-block: per-block absmax (signed, block a multiple of 4) and MX rows; key-table: posits
  // whose 16-bit key table decides every key (8-bit); two-pass: the other kernel rows
  const expected = (s: FormatSpec): FastPath | null => {
    if (s.family === 'identity') return null;
    if (s.family === 'posit') return s.bits <= 8 ? 'key-table' : null;
    if (s.scaling === 'mx-e8m0' || (s.scaling === 'per-block-absmax' && (s.blockSize ?? 32) % 4 === 0)) return 'fused-block';
    return 'two-pass';
  };
  const got = rows.map((s) => `${s.name}: ${fastPathOf(s)}`);
  assert.deepEqual(got, rows.map((s) => `${s.name}: ${expected(s)}`));
  assert.equal(fastPathOf(R.get('nf4')), 'fused-block');
  assert.equal(fastPathOf(R.get('mxint8')), 'fused-block');
  assert.equal(fastPathOf(R.get('posit8')), 'key-table');
  assert.equal(fastPathOf(R.get('posit16')), null); // its key table has keys that need the slow path
  assert.equal(fastPathOf(custom.get('int6-block')), 'two-pass'); // block 7: lanes would cross blocks
  assert.equal(hasFastPath(R.get('fp32')), false);
});

test('SIMD = scalar at every 16-bit key of the float32 pattern: its lowest, second and highest value', () => {
  // the key table decides a whole key range from these three points, so this covers the key-table path exhaustively
  const u = new Uint32Array(3 * 65536);
  for (let k = 0; k < 65536; k++) {
    u[3 * k] = (k << 16) >>> 0;
    u[3 * k + 1] = ((k << 16) | 1) >>> 0;
    u[3 * k + 2] = ((k << 16) | 0xffff) >>> 0;
  }
  const x = new Float32Array(u.buffer);
  for (const spec of rows.filter(hasFastPath)) sameBits(spec, 'every key', x, { scale: 1 });
  for (const spec of rows.filter((s) => fastPathOf(s) === 'key-table')) sameBits(spec, 'every key, own scaling', x);
});

test('SIMD = scalar for block scales over every binade: MX E8M0 clamps, subnormal and huge block maxima, NaN/Inf/zero blocks', () => {
  const rng = new Rng(5);
  const blocks: number[] = [];
  for (let e = -149; e <= 127; e++) {
    // one block of 64 (two MX blocks) whose values sit in binade e and below
    for (let i = 0; i < 64; i++) blocks.push(Math.fround(rng.normal() * 2 ** e) || 2 ** -149);
  }
  for (let i = 0; i < 64; i++) blocks.push(3.4028234663852886e38 * (i % 2 ? -1 : 1)); // max float32 block
  const special = [NaN, Infinity, -Infinity, 0, -0];
  for (const v of special) for (let i = 0; i < 64; i++) blocks.push(i === 9 ? v : i % 3 === 0 ? -0 : 0);
  blocks.push(1e-30, -5, 7); // a short tail block
  const x = Float32Array.from(blocks);
  const blockRows = rows.filter((s) => fastPathOf(s) === 'fused-block');
  assert.equal(blockRows.length, 10, 'nf4, the six MX rows, int5-block8, int5-block8-zp, e3m2-tiny-block');
  for (const spec of blockRows) {
    sameBits(spec, 'every binade', x);
    sameBits(spec, 'every binade, offset by 3', x.subarray(3));
    const y = x.slice();
    fakeQuant(spec, y, undefined, y); // in place
    assert.deepEqual(new Uint32Array(y.buffer), new Uint32Array(fakeQuantScalar(spec, x).buffer), `${spec.name} in place`);
  }
});

test('SIMD = scalar on every 4099th float32 pattern, raw (scale 1) and with a scale', () => {
  const x = stridedPatterns();
  for (const spec of rows.filter(hasFastPath)) {
    sameBits(spec, 'strided patterns', x, { scale: 1 });
    sameBits(spec, 'strided patterns', x, { scale: 0.37 });
  }
});

test('SIMD = scalar on every code of each element grid, its midpoints and the float32 values either side', () => {
  const f = new Float32Array(1);
  const u = new Int32Array(f.buffer);
  const around = (v: number, out: number[]): void => {
    f[0] = v;
    const base = u[0]!;
    for (let d = -2; d <= 2; d++) {
      u[0] = base + d;
      out.push(f[0]!, -f[0]!);
    }
  };
  let checked = 0;
  for (const spec of rows.filter(hasFastPath)) {
    const grid = elementValues(spec);
    if (!grid) {
      assert.ok(spec.bits > 16, `${spec.name}: only rows wider than 16 bits lack a grid`); // gf24, gf32: the strided test covers them
      continue;
    }
    checked++;
    const scale = 1; // mx grids are in units of the shared scale; opts.scale = elementScale makes t the element value
    const vals: number[] = [];
    for (let i = 0; i < grid.length; i++) {
      around(grid[i]! * scale, vals);
      if (i + 1 < grid.length) around(((grid[i]! + grid[i + 1]!) / 2) * scale, vals);
    }
    const max = grid[grid.length - 1]! * scale;
    for (const v of [max * 1.0001, max * 2, max * 1e10, 3.4028234663852886e38]) vals.push(v, -v);
    const x = Float32Array.from(vals);
    sameBits(spec, 'grid codes and midpoints', x, { scale: spec.family === 'mx' ? spec.elementScale ?? 1 : 1 });
    sameBits(spec, 'grid codes and midpoints, own scaling', x);
  }
  assert.equal(checked, rows.filter(hasFastPath).length - 2); // all but gf24, gf32
});

test('SIMD = scalar over group shapes: channels, short blocks, groups larger than a chunk, zero/NaN/Inf groups, in place', () => {
  const rng = new Rng(11);
  const big = CHUNK + 4099; // a group that spans chunks
  const x = new Float32Array(2 * big);
  x.set(rng.normalArray(x.length, 0.05));
  for (let i = 0; i < 64; i++) x[200 + i] = 0; // a zero block
  x[300] = NaN; // a NaN group
  x[333] = Infinity;
  x[334] = -Infinity;
  x[big + 5] = -0;
  for (const spec of rows.filter(hasFastPath)) {
    sameBits(spec, 'mixed data', x);
    sameBits(spec, 'two channels larger than a chunk', x, { shape: [2, big] });
    sameBits(spec, '7 odd channels', x.subarray(0, 7 * 13), { shape: [7, 13] });
    sameBits(spec, 'length 1', x.subarray(3, 4));
    sameBits(spec, 'length 37', x.subarray(1, 38));
    sameBits(spec, 'all zero', new Float32Array(100));
    sameBits(spec, 'zeros and NaN', Float32Array.from([0, NaN, -0, 0, 0]));
    sameBits(spec, 'zeros and Inf', Float32Array.from([0, Infinity, -0, -Infinity, 0]));
    const y = x.slice(0, 5000);
    const ref = fakeQuantScalar(spec, y);
    fakeQuant(spec, y, undefined, y); // in place
    assert.deepEqual(new Uint32Array(y.buffer), new Uint32Array(ref.buffer), `${spec.name} in place`);
  }
  for (const name of ['uint8', 'uint4', 'uint3-row']) {
    const spec = name === 'uint3-row' ? custom.get(name) : R.get(name);
    sameBits(spec, 'explicit zero-point', x, { scale: 0.01, zeroPoint: 3 });
    sameBits(spec, 'explicit scale', x, { scale: 0.01 });
  }
});

test('SIMD = scalar with signed zero-points: given by the call (the fused block kernel is bypassed) or fixed by the row', () => {
  const rng = new Rng(12);
  const x = rng.normalArray(3 * 4096 + 5, 0.05);
  x[17] = NaN;
  x[18] = Infinity;
  const oneSided = Float32Array.from(x, (v) => Math.abs(v)); // post-ReLU-like
  for (const spec of [R.get('int2'), R.get('int3'), R.get('int4'), R.get('int8'), custom.get('int5-block8'), custom.get('int6-block')]) {
    const { qmin, qmax } = { qmin: -(2 ** (spec.bits - 1)), qmax: 2 ** (spec.bits - 1) - 1 };
    for (const zeroPoint of [qmin, -1, 1, qmax]) {
      sameBits(spec, `zero-point ${zeroPoint}, explicit scale`, x, { scale: 0.01, zeroPoint });
      sameBits(spec, `zero-point ${zeroPoint}, absmax scale`, x, { zeroPoint });
      sameBits(spec, `zero-point ${zeroPoint}, one-sided`, oneSided, { zeroPoint });
    }
  }
  // the bypass: a call with a zero-point leaves the fused kernel, whose element range is the row's
  assert.equal(fastPathOf(custom.get('int5-block8')), 'fused-block');
  const given = fakeQuant(custom.get('int5-block8'), x, { zeroPoint: -3 });
  const fixed = fakeQuant(custom.get('int5-block8-zp'), x);
  assert.deepEqual(new Uint32Array(given.buffer), new Uint32Array(fixed.buffer), 'a row zero-point (fused kernel) = the same zero-point given by the call (two-pass)');
  assert.notDeepEqual(new Uint32Array(given.buffer), new Uint32Array(fakeQuant(custom.get('int5-block8'), x).buffer), 'the zero-point changes the result');
  for (const name of ['int8-asym', 'int4-zp1', 'int5-block8-zp']) sameBits(custom.get(name), 'one-sided', oneSided);
});

test('SIMD = scalar for codebooks of 2..16 entries with the NaN entry (closest to 0) in every bucket position', () => {
  // the bucketed lookup pads short books to 16 entries and walks NaN to the entry closest to 0
  // through the form of each test (kernels.ts `codebookBucketElement`); nf4 only covers index 7
  const rows = {
    'cb2-zero-0': { family: 'codebook', bits: 1, codebook: [-0.5, 1], scaling: 'per-block-absmax', blockSize: 4 },
    'cb5-zero-4': { family: 'codebook', bits: 3, codebook: [-1, -0.6, -0.3, -0.1, 0.05], scaling: 'per-block-absmax', blockSize: 8 },
    'cb7-zero-3': { family: 'codebook', bits: 3, codebook: [-1, -0.5, -0.2, 0, 0.2, 0.5, 1], scaling: 'per-block-absmax', blockSize: 16 },
    'cb12-zero-0': { family: 'codebook', bits: 4, codebook: Array.from({ length: 12 }, (_, k) => (k / 11) ** 2), scaling: 'per-channel-absmax' },
    // every midpoint a float32: ties alternate between the strict and the non-strict test
    'cb16-zero-8': { family: 'codebook', bits: 4, codebook: Array.from({ length: 16 }, (_, k) => k / 8 - 1), scaling: 'per-tensor-absmax' },
    'cb16-zero-15': { family: 'codebook', bits: 4, codebook: Array.from({ length: 16 }, (_, k) => -1 + k * 0.065), scaling: 'per-tensor-absmax' },
  } as const;
  const books = new FormatRegistry(rows);
  const x = stridedPatterns();
  const rng = new Rng(17);
  const mixed = rng.normalArray(4099, 0.3);
  mixed.set([NaN, -0, Infinity, -Infinity, 0, NaN, 1e-40, -1e-40], 40);
  let checked = 0;
  for (const spec of Object.keys(rows).map((n) => books.get(n))) {
    assert.notEqual(fastPathOf(spec), null, `${spec.name} has a kernel`);
    const grid = elementValues(spec)!;
    const vals: number[] = [];
    for (let i = 0; i < grid.length; i++) {
      vals.push(grid[i]!, -grid[i]!);
      if (i + 1 < grid.length) {
        const m = (grid[i]! + grid[i + 1]!) / 2;
        vals.push(m, Math.fround(m), ...[-2, -1, 1, 2].map((d) => m + d * 2 ** -24));
      }
    }
    vals.push(NaN, Infinity, -Infinity, 0, -0);
    sameBits(spec, 'grid entries and midpoints', Float32Array.from(vals), { scale: 1 });
    sameBits(spec, 'strided patterns', x, { scale: 1 });
    sameBits(spec, 'strided patterns', x, { scale: 0.37 });
    sameBits(spec, 'mixed data, own scaling', mixed, spec.scaling === 'per-channel-absmax' ? { shape: [1, mixed.length] } : undefined);
    checked++;
  }
  assert.equal(checked, 6);
});
