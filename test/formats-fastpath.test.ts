/**
 * The WebAssembly SIMD fakeQuant (src/formats/fast.ts, kernels.ts) against the scalar reference
 * `fakeQuantScalar`, bit for bit (Uint32 views, so −0 and NaN patterns count): over every
 * 4099th float32 pattern (all exponents, subnormals, ±Inf, NaNs), over every code of each
 * ≤ 16-bit element grid with its midpoints and the float32 values either side, and over the
 * group shapes (per channel, per block with a short tail, MX, groups larger than a chunk,
 * all-zero / NaN / Inf groups, in place).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, elementValues, fakeQuant, fakeQuantScalar, FormatRegistry, type FormatSpec, type CodecOptions } from '../src/formats/index.js';
import { hasFastPath } from '../src/formats/fast.js';
import { CHUNK } from '../src/formats/kernels.js';
import { Rng } from '../src/rng.js';

const R = defaultRegistry;
const custom = new FormatRegistry({
  'gf10-alt': { family: 'goldenfloat', bits: 10, exponentBits: 4, mantissaBits: 5, bias: 7, subnormals: false, specials: 'ieee', scaling: 'none' },
  'e3m4-sat': { family: 'minifloat', bits: 8, exponentBits: 3, mantissaBits: 4, bias: 3, subnormals: true, specials: 'none', scaling: 'per-channel-absmax' },
  'int6-block': { family: 'integer', bits: 6, signed: true, scaling: 'per-block-absmax', blockSize: 7 },
  'uint3-row': { family: 'integer', bits: 3, signed: false, scaling: 'per-channel-absmax' },
});
const customRows = ['gf10-alt', 'e3m4-sat', 'int6-block', 'uint3-row'].map((n) => custom.get(n));
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

test('every ≤ 8-bit row except posits (and every minifloat, GoldenFloat, integer, codebook, MX row) has a SIMD path', () => {
  const expected = rows.filter((s) => s.family !== 'posit' && s.family !== 'identity');
  assert.deepEqual(expected.filter((s) => !hasFastPath(s)).map((s) => s.name), []);
  assert.equal(hasFastPath(R.get('fp32')), false);
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
