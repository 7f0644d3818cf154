/**
 * Integer zero-points, signed and unsigned, against the ONNX specification's own test vectors
 * (onnx/backend/test/case/node: quantizelinear.py, dequantizelinear.py, dynamicquantizelinear.py),
 * stated here as facts: y = saturate(round_half_even(x / scale) + zero_point), dequant (q − zp)·scale.
 * Per-axis vectors are checked one channel at a time (a call takes one scale and one zero-point).
 * Plus the registry fields: a row's fixed `zeroPoint`, signed min/max rows, and their validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, FormatRegistry, encode, decode, fakeQuant, fakeQuantScalar, steMask, type Encoded, type FormatSpec } from '../src/formats/index.js';
import { Rng } from '../src/rng.js';
import { UsageError } from '../src/errors.js';

const R = defaultRegistry;
/** Rows the built-in table does not have; the spec tests 2- and 16-bit codes too. */
const extra = new FormatRegistry({
  uint2: { family: 'integer', bits: 2, signed: false, scaling: 'per-tensor-minmax' },
  int16: { family: 'integer', bits: 16, signed: true, scaling: 'per-tensor-absmax' },
  uint16: { family: 'integer', bits: 16, signed: false, scaling: 'per-tensor-minmax' },
  'int8-asym': { family: 'integer', bits: 8, signed: true, scaling: 'per-tensor-minmax' },
  'int4-zp1': { family: 'integer', bits: 4, signed: true, scaling: 'per-tensor-absmax', zeroPoint: 1 },
});
const row = (name: string): FormatSpec => (R.has(name) ? R.get(name) : extra.get(name));

/** The codes as QuantizeLinear outputs them (signed for int rows). */
function quantize(name: string, x: number[], scale: number, zeroPoint: number): number[] {
  const spec = row(name);
  const enc = encode(spec, Float32Array.from(x), { scale, zeroPoint });
  const size = 2 ** spec.bits;
  return [...enc.codes].map((c) => (spec.signed && c >= size / 2 ? c - size : c));
}

function dequantize(name: string, q: number[], scale: number, zeroPoint: number): number[] {
  const spec = row(name);
  const size = 2 ** spec.bits;
  const enc: Encoded = { format: name, shape: [q.length], codes: Uint32Array.from(q, (c) => (c + size) % size), scales: Float32Array.of(scale), zeroPoints: Int32Array.of(zeroPoint) };
  return [...decode(spec, enc)];
}

test('QuantizeLinear spec vectors: uint8/uint16/int16 per tensor, uint8 per axis, int4/uint4/int2/uint2 per axis with zero-points', () => {
  // test_quantizelinear: uint8, scale 2, zero-point 128
  assert.deepEqual(quantize('uint8', [0, 2, 3, 1000, -254, -1000], 2, 128), [128, 129, 130, 255, 1, 0]);
  // test_quantizelinear_axis: uint8, axis 1, scales [2, 4, 5], zero-points [84, 24, 196]
  assert.deepEqual(quantize('uint8', [-162, 10, -100, 232, -20, -50], 2, 84), [3, 89, 34, 200, 74, 59]);
  assert.deepEqual(quantize('uint8', [-76, 0, 0, 252, 32, -44], 4, 24), [5, 24, 24, 87, 32, 13]);
  assert.deepEqual(quantize('uint8', [245, -485, -960, -270, -375, -470], 5, 196), [245, 99, 4, 142, 121, 102]);
  // test_quantizelinear_uint16: scale 2, zero-point 32767
  assert.deepEqual(
    quantize('uint16', [0, -128, 3, -3, 2.9, -2.9, 3.1, -3.1, 65536, -65534, 70000, -70000], 2, 32767),
    [32767, 32703, 32769, 32765, 32768, 32766, 32769, 32765, 65535, 0, 65535, 0],
  );
  // test_quantizelinear_int16: scale 2, zero-point 256
  assert.deepEqual(
    quantize('int16', [0, -514, 3, -3, 2.9, -2.9, 3.1, -3.1, 65022, -66046, 65023, -66047, 65024, -66048, 70000, -70000], 2, 256),
    [256, -1, 258, 254, 257, 255, 258, 254, 32767, -32767, 32767, -32768, 32767, -32768, 32767, -32768],
  );
  // test_quantizelinear_int4 / _uint4: axis 0, scales [2, 3, 4], zero-point 1 on every row
  const rows4 = [[0, 2.5, 4.8, 8.6], [-30, -20, 6, 9], [12, 15, 16, 40]];
  const scales = [2, 3, 4];
  assert.deepEqual(rows4.flatMap((x, r) => quantize('int4', x, scales[r]!, 1)), [1, 2, 3, 5, -8, -6, 3, 4, 4, 5, 5, 7]);
  assert.deepEqual(rows4.flatMap((x, r) => quantize('uint4', x, scales[r]!, 1)), [1, 2, 3, 5, 0, 0, 3, 4, 4, 5, 5, 11]);
  // test_quantizelinear_int2 / _uint2: axis 0, scales [2, 3, 4], zero-point 0
  const int2 = [[0, 2.5, 4.8, 8.6], [-4, -3, 1, 2], [-0, -2.5, -4.8, -8.6]];
  assert.deepEqual(int2.flatMap((x, r) => quantize('int2', x, scales[r]!, 0)), [0, 1, 1, 1, -1, -1, 0, 1, 0, -1, -1, -2]);
  const uint2 = [[0, 2.5, 4.8, 8.6], [-2, -1, 1, 3], [4, 5, 6, 7]];
  assert.deepEqual(uint2.flatMap((x, r) => quantize('uint2', x, scales[r]!, 0)), [0, 1, 2, 3, 0, 0, 0, 1, 1, 1, 2, 2]);
});

test('DequantizeLinear spec vectors: (q − zero-point) · scale for uint8, uint16, int16, int4, uint4, int2, uint2', () => {
  assert.deepEqual(dequantize('uint8', [0, 3, 128, 255], 2, 128), [-256, -250, 0, 254]);
  assert.deepEqual(dequantize('uint16', [30000, 31000, 32768, 33000], 2, 32767), [-5534, -3534, 2, 466]);
  assert.deepEqual(dequantize('int16', [-300, -30, -1025, 1270], 2, -1024), [1448, 1988, -2, 4588]);
  assert.deepEqual(dequantize('int4', [0, 1, 7, -4, -8], 2, 1), [-2, 0, 12, -10, -18]);
  assert.deepEqual(dequantize('uint4', [0, 1, 7, 10, 15], 2, 1), [-2, 0, 12, 18, 28]);
  assert.deepEqual(dequantize('int2', [0, 1, -1, -2], 2, 1), [-2, 0, -4, -6]);
  assert.deepEqual(dequantize('uint2', [0, 1, 2, 3], 2, 1), [-2, 0, 2, 4]);
  // the axis vector: uint8 codes of channel 0 with scale 2, zero-point 84
  assert.deepEqual(dequantize('uint8', [3, 89, 34, 200, 74, 59], 2, 84), [-162, 10, -100, 232, -20, -50]);
});

test('DynamicQuantizeLinear spec vectors: uint8 scale and zero-point from min/max (widened to include 0)', () => {
  const cases: [number[], number, number][] = [
    [[0, 2, -3, -2.5, 1.34, 0.5], 0.0196078438, 153],
    [[-1, -2.1, -1.3, -2.5, -3.34, -4], 0.0156862754, 255],
    [[1, 2.1, 1.3, 2.5, 3.34, 4, 1.5, 2.6, 3.9, 4, 3, 2.345], 0.0156862754, 0],
  ];
  for (const [x, scale, zp] of cases) {
    const enc = encode(R.get('uint8'), Float32Array.from(x));
    assert.equal(enc.scales[0], Math.fround(scale), `scale of [${x}]`);
    assert.deepEqual([...enc.zeroPoints!], [zp], `zero-point of [${x}]`);
  }
});

test('quantize --format int4 --scale 3 --zero-point 1 gives the spec codes −8, −6, 3, 4 and dequantizes to (q − 1)·3', () => {
  assert.deepEqual(quantize('int4', [-30, -20, 6, 9], 3, 1), [-8, -6, 3, 4]);
  assert.deepEqual([...fakeQuant(R.get('int4'), Float32Array.of(-30, -20, 6, 9), { scale: 3, zeroPoint: 1 })], [-27, -21, 6, 9]);
  // the row field gives the same as the call option; zero-point 0 stays the symmetric row
  assert.deepEqual([...fakeQuant(row('int4-zp1'), Float32Array.of(-30, -20, 6, 9), { scale: 3 })], [-27, -21, 6, 9]);
  assert.deepEqual([...fakeQuant(R.get('int4'), Float32Array.of(-30, -20, 6, 9), { scale: 3 })], [-24, -21, 6, 9]);
  // the clipped-STE mask follows the shifted range [(qmin − zp)·s, (qmax − zp)·s] = [−27, 18]
  assert.deepEqual([...steMask(R.get('int4'), Float32Array.of(-28, -27, 18, 19), { scale: 3, zeroPoint: 1 })], [0, 1, 1, 0]);
});

test('signed rows: a fixed zero-point keeps the absmax scale; per-tensor-minmax makes them asymmetric (uint8 shifted by 128)', () => {
  // int4-zp1 with its own absmax scale: amax 14 → scale 2; −14/2 + 1 = −6, 14/2 + 1 = 8 → saturates to 7
  const e = encode(row('int4-zp1'), Float32Array.of(-14, 0, 14));
  assert.deepEqual([...e.scales], [2]);
  assert.deepEqual([...e.zeroPoints!], [1]);
  assert.deepEqual([...decode(row('int4-zp1'), e)], [-14, 0, 12]);
  // TFLite-style int8: x = [−1, 0, 3] → scale 4/255, zero-point RNE(−128 + 63.75) = −64, codes −128, −64, 127
  const a = encode(row('int8-asym'), Float32Array.of(-1, 0, 3));
  assert.deepEqual([...a.scales], [Math.fround(4 / 255)]);
  assert.deepEqual([...a.zeroPoints!], [-64]);
  assert.deepEqual([...a.codes].map((c) => (c >= 128 ? c - 256 : c)), [-128, -64, 127]);
  // the same grid as uint8 (zero-point 64, codes 0, 64, 255): dequantized values are identical on any data
  assert.deepEqual([...encode(R.get('uint8'), Float32Array.of(-1, 0, 3)).zeroPoints!], [64]);
  const rng = new Rng(8);
  for (const shift of [0, 0.03, -0.03, 1]) {
    const x = Float32Array.from(rng.normalArray(4096, 0.02), (v) => v + shift);
    const s = fakeQuant(row('int8-asym'), x);
    assert.deepEqual(new Uint32Array(s.buffer), new Uint32Array(fakeQuant(R.get('uint8'), x).buffer), `mean ${shift}`);
    assert.deepEqual(new Uint32Array(s.buffer), new Uint32Array(fakeQuantScalar(row('int8-asym'), x).buffer), `mean ${shift}: SIMD = scalar`);
  }
  // built-in signed rows stay symmetric: no zero-points recorded
  assert.equal(encode(R.get('int8'), Float32Array.of(-1, 3)).zeroPoints, undefined);
});

test('registry: zeroPoint must be a code of an integer row; MX elements stay symmetric', () => {
  const bad = (rows: Record<string, Record<string, unknown>>, re: RegExp): void => {
    assert.throws(() => new FormatRegistry(rows), (e: unknown) => e instanceof UsageError && re.test(e.message), re.source);
  };
  bad({ z1: { family: 'integer', bits: 4, signed: true, scaling: 'per-tensor-absmax', zeroPoint: 8 } }, /customFormats\.z1\.zeroPoint: must be an integer code of the row, in \[-8, 7\], got 8/);
  bad({ z2: { family: 'integer', bits: 4, signed: false, scaling: 'per-tensor-minmax', zeroPoint: -1 } }, /customFormats\.z2\.zeroPoint: .*\[0, 15\]/);
  bad({ z3: { family: 'integer', bits: 8, signed: true, scaling: 'per-tensor-absmax', zeroPoint: 1.5 } }, /customFormats\.z3\.zeroPoint/);
  bad({ z4: { family: 'minifloat', bits: 8, exponentBits: 4, mantissaBits: 3, bias: 7, subnormals: true, specials: 'ieee', scaling: 'none', zeroPoint: 1 } }, /customFormats\.z4\.zeroPoint: is a field of integer rows only/);
  bad({ 'int8-z': { family: 'integer', bits: 8, signed: true, scaling: 'none', zeroPoint: 3 }, mx8z: { family: 'mx', bits: 8, scaling: 'mx-e8m0', blockSize: 32, element: 'int8-z', elementEmax: 0 } }, /customFormats\.mx8z\.element: must name an integer row without a zeroPoint/);
  // an override of a built-in row
  const reg = new FormatRegistry({ int8: { zeroPoint: -128 } });
  assert.equal(reg.get('int8').zeroPoint, -128);
  assert.deepEqual([...encode(reg.get('int8'), Float32Array.of(0, 1.27), { scale: 0.01 }).codes], [0x80, 0xff]);
});
