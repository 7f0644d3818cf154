/**
 * The update-to-step ratio's grid spacing comes from the registry codec, for every family:
 * hand-checked gaps for int8, uint8, fp16 (both sides of a binade), posit8 and nf4, and a
 * property over every registry format — a move of 0.49 of the gap keeps fq(w), 0.51 changes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import { gridSpacing, sampledSteps, UpdateRatioSampler, SURVIVAL_RATIO } from '../src/train/update-ratio.js';
import { Rng } from '../src/rng.js';

const f32 = Math.fround;

test('int8 per tensor: the gap is the scale absmax/127 everywhere inside the range; at +max only downwards', () => {
  const int8 = defaultRegistry.get('int8');
  const w = Float32Array.from([1.27, 0.5, -0.3, 0.004]);
  const scale = f32(1.27 / 127);
  const gaps = gridSpacing(int8, w, [4], [0, 1, 2, 3], [-1, 1, -1, 1]);
  // decoded in float32: the gaps agree with the scale to float32 precision
  for (const k of [1, 2, 3]) assert.ok(Math.abs(gaps[k]! - scale) < 1e-7 * 1.27, `index ${k}: ${gaps[k]} vs ${scale}`);
  // 1.27 is +127·scale: no code above it, so the gap below is the step
  assert.ok(Math.abs(gaps[0]! - scale) < 1e-7 * 1.27);
  assert.ok(Math.abs(gridSpacing(int8, w, [4], [0], [1])[0]! - scale) < 1e-7 * 1.27, 'saturated upwards: falls back to the gap below');
});

test('uint8 min/max with a zero-point: the gap is (max − min)/255', () => {
  const uint8 = defaultRegistry.get('uint8');
  const w = Float32Array.from([0, 2.55, 1.0, 0.3]);
  const gaps = gridSpacing(uint8, w, [4], [2, 3], [1, -1]);
  const scale = f32(2.55 / 255);
  for (const g of gaps) assert.ok(Math.abs(g - scale) < 1e-8, `${g} vs ${scale}`);
});

test('fp16 has no scale: the gap is the ulp at the weight, and at a power of two it depends on the direction', () => {
  const fp16 = defaultRegistry.get('fp16');
  const w = Float32Array.from([0.05, 0.0625]);
  assert.equal(gridSpacing(fp16, w, [2], [0], [1])[0], 2 ** -15); // 0.05 ∈ [2^-5, 2^-4): ulp 2^-5 · 2^-10
  assert.equal(gridSpacing(fp16, w, [2], [1], [1])[0], 2 ** -14); // 2^-4 upwards: the next binade's ulp
  assert.equal(gridSpacing(fp16, w, [2], [1], [-1])[0], 2 ** -15); // 2^-4 downwards: the binade below
});

test('posit8 (es 2) at 1.0 (0x40): 0x41 is 1.125 above, 0x3f is 0.9375 below', () => {
  const posit8 = defaultRegistry.get('posit8');
  const w = Float32Array.from([1]);
  assert.equal(gridSpacing(posit8, w, [1], [0], [1])[0], 0.125);
  assert.equal(gridSpacing(posit8, w, [1], [0], [-1])[0], 0.0625);
});

test('nf4 per block of 64: gaps between codebook entries times the block absmax', () => {
  const nf4 = defaultRegistry.get('nf4');
  const cb = nf4.codebook!;
  const w = new Float32Array(64);
  w[0] = 2; // block absmax 2
  w[1] = f32(cb[8]! * 2); // the entry just above 0
  const up = gridSpacing(nf4, w, [64], [1], [1])[0]!;
  const down = gridSpacing(nf4, w, [64], [1], [-1])[0]!;
  assert.ok(Math.abs(up - (cb[9]! - cb[8]!) * 2) < 1e-6, `up ${up}`);
  assert.ok(Math.abs(down - cb[8]! * 2) < 1e-6, `down ${down}`);
});

test('every registry format: moving fq(w) by 0.49 of the gap keeps its code, by 0.51 moves it', () => {
  const rng = new Rng(7);
  for (const spec of defaultRegistry.names().map((n) => defaultRegistry.get(n))) {
    if (spec.family === 'identity') continue;
    const n = 64;
    const w = rng.normalArray(n, 0.05);
    // median-magnitude weights: they leave every block's scale alone, and sit away from ±minpos,
    // where posits round towards the smallest value instead of the midpoint
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(w[a]!) - Math.abs(w[b]!));
    const q = fakeQuant(spec, w, { shape: [n] });
    for (const i of order.slice(28, 36)) {
      for (const dir of [1, -1]) {
        const gap = gridSpacing(spec, w, [n], [i], [dir])[0]!;
        assert.ok(gap > 0 && Number.isFinite(gap), `${spec.name}: gap ${gap} at ${w[i]}`);
        const moved = (fraction: number): number => {
          const x = Float32Array.from(q);
          x[i] = q[i]! + dir * fraction * gap;
          return fakeQuant(spec, x, { shape: [n] })[i]!;
        };
        // === : a zero that rounds back may come back as −0
        assert.ok(moved(0.49) === q[i], `${spec.name}: ${q[i]} + ${dir}·0.49·${gap} should round back, got ${moved(0.49)}`);
        assert.ok(moved(0.51) !== q[i], `${spec.name}: ${q[i]} + ${dir}·0.51·${gap} should reach the neighbour`);
      }
    }
  }
});

test('flush-to-zero and ±0: gf4 (no subnormals) steps from 0 to its smallest normal, not to the next code', () => {
  const gf4 = defaultRegistry.get('gf4');
  // absmax 3.5 → scale 1: elements are the values themselves, {0, ±2, ±2.5, ±3, ±3.5}
  const w = Float32Array.from([3.5, 0, -0.4, 2.5]);
  assert.equal(gridSpacing(gf4, w, [4], [1], [1])[0], 2);
  assert.equal(gridSpacing(gf4, w, [4], [2], [-1])[0], 2);
  assert.equal(gridSpacing(gf4, w, [4], [3], [1])[0], 0.5);
  assert.equal(gridSpacing(gf4, w, [4], [0], [1])[0], 0.5, 'at the top: the gap below');
});

test('sampled steps: the first and the quarter points', () => {
  assert.deepEqual(sampledSteps(100), [1, 25, 50, 75, 100]);
  assert.deepEqual(sampledSteps(3), [1, 2, 3]);
  assert.deepEqual(sampledSteps(1), [1]);
});

test('the sampler: a proposed update of a quarter step gives median 0.25 and nothing survives rounding in place', () => {
  const int8 = defaultRegistry.get('int8');
  const shape = [16, 32];
  const w = new Rng(3).normalArray(512, 0.05);
  const sampler = new UpdateRatioSampler(int8, [{ name: 'hidden', shape }], 100, 1597);
  assert.equal(sampler.wants(1), true);
  assert.equal(sampler.wants(2), false);
  let absmax = 0;
  for (const v of w) absmax = Math.max(absmax, Math.abs(v));
  const quarter = f32(absmax / 127) / 4;
  const after = w.map((v) => v - quarter);
  sampler.record(1, [w], [after]);
  const s = sampler.summary()!;
  assert.ok(Math.abs(s.median - 0.25) < 1e-3, `median ${s.median}`);
  assert.equal(s.survives, 0);
  assert.ok(s.median < SURVIVAL_RATIO);
  assert.deepEqual(s.steps, [1]);
  assert.equal(s.samples, 128);
  assert.deepEqual(Object.keys(s.byMatrix), ['hidden']);
});
