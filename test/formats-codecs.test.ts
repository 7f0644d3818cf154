/**
 * Known values and rules of the reference codecs: posit and GoldenFloat anchors, minifloat
 * extremes, integer scaling, nf4 constants and error, MX shared scales, the registry's
 * validation, the fast paths against the slow ones, and the tfjs clipped STE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultRegistry, FormatRegistry, BUILTIN_FORMATS, encode, decode, fakeQuant, steMask, codeCount, maxFinite, minPositive,
  elementValues, elementCodec, formatInfo, type FormatSpec,
} from '../src/formats/index.js';
import { tfFakeQuant } from '../src/formats/tf.js';
import { tf, initTf } from '../src/tf.js';
import { Rng } from '../src/rng.js';
import { UsageError } from '../src/errors.js';

const R = defaultRegistry;
const code = (name: string, v: number): number => elementCodec(R.get(name)).encode(v);
const value = (name: string, c: number): number => elementCodec(R.get(name)).decode(c);

test('the registry lists every format of DESIGN.md, and unknown names list the known ones', () => {
  const expected = [
    'int2', 'int3', 'int4', 'int8', 'uint4', 'uint8', 'fp16', 'bf16', 'fp8-e4m3', 'fp8-e5m2', 'fp6-e3m2', 'fp6-e2m3', 'fp4-e2m1',
    'gf4', 'gf8', 'gf12', 'gf16', 'gf24', 'gf32', 'posit8', 'posit16', 'posit8-es0', 'posit16-es1', 'nf4',
    'mxfp8', 'mxfp8-e5m2', 'mxfp6-e3m2', 'mxfp6-e2m3', 'mxfp4', 'mxint8', 'fp32',
  ];
  assert.deepEqual(R.names().sort(), [...expected].sort());
  assert.equal(BUILTIN_FORMATS.length, expected.length);
  assert.throws(() => R.get('int9'), (e: unknown) => e instanceof UsageError && /unknown format 'int9'.*int8.*posit16/.test(e.message));
  assert.equal(R.has('nf4'), true);
  assert.equal(R.has('nf5'), false);
});

test('posit known values (2022 standard es=2, legacy es=0 and es=1)', () => {
  assert.equal(code('posit8', 1.0), 0x40);
  assert.equal(code('posit8', 2 ** 24), 0x7f);
  assert.equal(code('posit8', 2 ** 30), 0x7f); // saturates at maxpos
  assert.equal(code('posit8', 2 ** -24), 0x01);
  assert.equal(code('posit8', 2 ** -40), 0x01); // never underflows to zero
  assert.equal(code('posit8', NaN), 0x80);
  assert.equal(code('posit8', Infinity), 0x80);
  assert.equal(code('posit8', -1.0), 0xc0);
  assert.equal(code('posit8', 0), 0x00);
  assert.ok(Number.isNaN(value('posit8', 0x80)));
  assert.equal(value('posit8', 0x50), 4);
  assert.equal(value('posit8', 0x4d), 3.25);
  assert.equal(maxFinite(R.get('posit8')), 2 ** 24);
  assert.equal(minPositive(R.get('posit8')), 2 ** -24);
  assert.equal(code('posit16', 1.0), 0x4000);
  assert.equal(code('posit16', 2 ** 56), 0x7fff);
  assert.equal(code('posit16', 2 ** -56), 0x0001);
  assert.equal(maxFinite(R.get('posit16')), 2 ** 56);
  assert.equal(code('posit16', -2.5), 0xb600);
  // SoftPosit conventions
  assert.equal(code('posit8-es0', 1.0), 0x40);
  assert.equal(code('posit8-es0', 64), 0x7f);
  assert.equal(code('posit8-es0', 1 / 64), 0x01);
  assert.equal(value('posit8-es0', 0x60), 2);
  assert.equal(value('posit8-es0', 0x20), 0.5);
  assert.equal(code('posit16-es1', 1.0), 0x4000);
  assert.equal(maxFinite(R.get('posit16-es1')), 2 ** 28);
  assert.equal(minPositive(R.get('posit16-es1')), 2 ** -28);
  assert.equal(value('posit16-es1', 0x5000), 2);
  // rounding is on the pattern: between 2^20 (0x7E) and 2^24 (0x7F) the tie is 2^22
  assert.equal(code('posit8', 2 ** 22), 0x7e);
  assert.equal(code('posit8', 2 ** 22 * 1.0001), 0x7f);
});

test('GoldenFloat anchors of DESIGN.md', () => {
  assert.equal(code('gf16', 1.0), 0x3e00);
  assert.equal(code('gf16', 0.5), 0x3c00);
  assert.equal(code('gf16', 3.14159), 0x4124);
  assert.equal(value('gf16', 0x4124), 3.140625);
  assert.equal(code('gf16', 0.1), 0x3733);
  assert.equal(code('gf16', 1e-10), 0);
  assert.equal(code('gf16', 6.5504e4), 0x5e00);
  assert.equal(value('gf16', 0x5e00), 65536);
  assert.equal(code('gf16', Infinity), 0x7e00);
  assert.equal(code('gf8', 1.0), 0x38);
  assert.equal(maxFinite(R.get('gf8')), 240);
  assert.equal(minPositive(R.get('gf8')), 2 ** -6);
  assert.deepEqual([...elementValues(R.get('gf4'))!], [-3.5, -3, -2.5, -2, 0, 2, 2.5, 3, 3.5]);
  assert.match(formatInfo(R.get('gf4')).note ?? '', /Not in the published/);
});

test('minifloat extremes: OCP fp8/fp6/fp4 max, NaN and Inf patterns, saturation', () => {
  assert.equal(maxFinite(R.get('fp8-e4m3')), 448);
  assert.equal(maxFinite(R.get('fp8-e5m2')), 57344);
  assert.equal(maxFinite(R.get('fp6-e3m2')), 28);
  assert.equal(maxFinite(R.get('fp6-e2m3')), 7.5);
  assert.deepEqual([...elementValues(R.get('fp4-e2m1'))!].filter((v) => v >= 0), [0, 0.5, 1, 1.5, 2, 3, 4, 6]);
  assert.equal(code('fp8-e4m3', 1000), 0x7e); // saturate, never the NaN pattern 0x7F
  assert.equal(code('fp8-e4m3', NaN), 0x7f);
  assert.ok(Number.isNaN(value('fp8-e4m3', 0xff)));
  assert.equal(value('fp8-e4m3', 0x78), 256); // S.1111.000 is a number in E4M3FN
  assert.equal(code('fp8-e5m2', Infinity), 0x7b); // ONNX saturate=1: Inf → max
  assert.equal(value('fp8-e5m2', 0x7c), Infinity);
  assert.equal(code('fp16', 65520), 0x7bff); // saturates instead of overflowing to Inf
  assert.equal(code('fp16', Infinity), 0x7c00);
  assert.equal(code('fp16', 2 ** -25), 0x0000); // half the smallest subnormal: tie to even (zero)
  assert.equal(code('fp16', 2 ** -25 * 1.5), 0x0001);
  assert.equal(code('bf16', 1 + 2 ** -8), 0x3f80); // tie → even mantissa
  assert.equal(code('bf16', 1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(code('fp4-e2m1', 5), 0b0110); // tie between 4 and 6 → 4 (even)
  assert.equal(code('fp4-e2m1', 0.25), 0); // tie between 0 and 0.5 → 0
  assert.equal(codeCount(R.get('fp8-e4m3')), 253);
  assert.equal(codeCount(R.get('fp4-e2m1')), 15);
  assert.equal(codeCount(R.get('int4')), 16);
  assert.equal(codeCount(R.get('nf4')), 16);
  assert.equal(elementValues(R.get('gf32')), undefined);
});

test('integer scaling: symmetric int8, asymmetric uint8 with zero-point, all-zero tensors, per channel', () => {
  const x = Float32Array.from([-1, -0.5, 0, 0.25, 0.5, 2]);
  const int8 = encode(R.get('int8'), x);
  assert.deepEqual([...int8.scales], [Math.fround(2 / 127)]);
  assert.deepEqual([...int8.codes], [-64, -32, 0, 16, 32, 127].map((q) => (q + 256) % 256));
  const uint8 = encode(R.get('uint8'), x);
  assert.deepEqual([...uint8.scales], [Math.fround(3 / 255)]);
  assert.deepEqual([...uint8.zeroPoints!], [85]);
  assert.equal(uint8.codes[2], 85); // 0 is exact
  assert.equal(decode(R.get('uint8'), uint8)[2], 0);
  // positive-only data: min is taken as 0, so the zero-point is 0
  assert.deepEqual([...encode(R.get('uint8'), Float32Array.from([1, 2, 3])).zeroPoints!], [0]);
  for (const name of R.names()) {
    const y = fakeQuant(R.get(name), new Float32Array(70));
    assert.ok(y.every((v) => v === 0), `${name}: an all-zero tensor must stay zero, got ${y.slice(0, 4).join(', ')}`);
  }
  // int4 with an explicit scale saturates to [-8, 7]
  const e = encode(R.get('int4'), Float32Array.from([100, -100, 7.5, -8.5]), { scale: 1 });
  assert.deepEqual([...e.codes], [7, 8, 7, 8]); // 100 → 7, −100 → −8, 7.5 → 7 (saturated), −8.5 → −8
  const reg = new FormatRegistry({ 'int8-pc': { family: 'integer', bits: 8, signed: true, scaling: 'per-channel-absmax' } });
  const pc = encode(reg.get('int8-pc'), Float32Array.from([1, -2, 10, 5]), { shape: [2, 2] });
  assert.deepEqual([...pc.scales], [Math.fround(2 / 127), Math.fround(10 / 127)]);
});

test('nf4: the 16 constants, per-block absmax of 64, mean absolute error on N(0,1)', () => {
  const nf4 = R.get('nf4');
  assert.deepEqual([...elementValues(nf4)!], [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
    -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
  ].map(Math.fround));
  const x = new Rng(2023).normalArray(1 << 20);
  const enc = encode(nf4, x);
  assert.equal(enc.scales.length, (1 << 20) / 64);
  let amax = 0;
  for (let i = 0; i < 64; i++) amax = Math.max(amax, Math.abs(x[i]!));
  assert.equal(enc.scales[0], Math.fround(amax));
  const y = fakeQuant(nf4, x);
  let mae = 0;
  for (let i = 0; i < x.length; i++) mae += Math.abs(x[i]! - y[i]!);
  mae /= x.length;
  // bitsandbytes reports 0.072798; the standard error of a 1M-sample mean of |err| is ~5e-5
  assert.ok(Math.abs(mae - 0.0728) < 5e-4, `nf4 MAE on N(0,1) = ${mae}`);
});

test('MX: one E8M0 scale per 32 by the OCP rule, elements saturate, zero blocks stay zero, NaN poisons its block', () => {
  const mxfp8 = R.get('mxfp8');
  const x = new Float32Array(96);
  x[0] = 1.0; // block 0: amax 1 → X = 2^(0 − 8)
  x[1] = 0.3;
  x[32] = 1.9; // block 1: amax 1.9 → X = 2^-8, 1.9·256 = 486.4 saturates to 448
  x[33] = -1.9;
  // block 2 stays zero
  const enc = encode(mxfp8, x);
  assert.deepEqual([...enc.sharedExponents!], [127 - 8, 127 - 8, 0]);
  assert.deepEqual([...enc.scales], [2 ** -8, 2 ** -8, 2 ** -127]);
  const y = decode(mxfp8, enc);
  assert.equal(y[0], 1);
  assert.equal(y[32], 448 / 256);
  assert.equal(y[33], -448 / 256);
  assert.ok(y.subarray(64).every((v) => v === 0));
  assert.deepEqual([...fakeQuant(mxfp8, x)], [...y]);
  const mxfp4 = R.get('mxfp4');
  const e4 = encode(mxfp4, Float32Array.from([5, 6, 2.5, 0.2, ...new Array(28).fill(0)]));
  assert.equal(e4.sharedExponents![0], 127 + 2 - 2); // floor(log2 6) = 2, emax 2 → X = 1
  assert.deepEqual([...decode(mxfp4, e4).subarray(0, 4)], [4, 6, 2, 0]); // 5 → 4 (tie, even), 2.5 → 2 (tie), 0.2 → 0
  const withNaN = new Float32Array(32);
  withNaN[3] = NaN;
  const en = encode(mxfp8, withNaN);
  assert.equal(en.sharedExponents![0], 0xff);
  assert.ok(fakeQuant(mxfp8, withNaN).every(Number.isNaN));
  const mxint8 = R.get('mxint8');
  const ei = encode(mxint8, Float32Array.from([1.5, -3, 0.01, ...new Array(29).fill(0)]));
  assert.equal(ei.sharedExponents![0], 127 + 1); // floor(log2 3) = 1, emax 0
  assert.deepEqual([...decode(mxint8, ei).subarray(0, 3)], [1.5, -3, 0]); // step 2/64; 0.01 rounds to 0
  assert.equal(maxFinite(mxint8), 127 / 64);
});

test('fast fakeQuant paths agree with decode∘encode for every format on mixed data', () => {
  const rng = new Rng(5);
  const parts = [rng.normalArray(3000, 0.02), rng.normalArray(3000, 1), rng.normalArray(1000, 1000), Float32Array.from([0, -0, 1e-40, -1e-40, 3e38, -3e38])];
  const x = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    x.set(p, o);
    o += p.length;
  }
  for (const spec of R.all()) {
    for (const opts of [undefined, { scale: 0.37 }]) {
      const fast = fakeQuant(spec, x, opts);
      const slow = decode(spec, encode(spec, x, opts));
      for (let i = 0; i < x.length; i++) {
        if (!Object.is(fast[i], slow[i]) && !(Number.isNaN(fast[i]) && Number.isNaN(slow[i]))) {
          assert.fail(`${spec.name} ${opts ? `scale ${opts.scale}` : ''}: x=${x[i]} fakeQuant=${fast[i]} decode(encode)=${slow[i]}`);
        }
      }
    }
  }
});

test('custom formats from the config: a new GoldenFloat layout, an override, and clear errors', () => {
  const reg = new FormatRegistry({
    'gf10-alt': { family: 'goldenfloat', bits: 10, exponentBits: 4, mantissaBits: 5, bias: 7, subnormals: false, specials: 'ieee', scaling: 'none' },
    gf8: { scaling: 'none' },
  });
  assert.equal(reg.get('gf10-alt').source, 'config');
  assert.equal(reg.get('gf8').scaling, 'none');
  assert.equal(reg.get('gf8').exponentBits, 4);
  assert.equal(fakeQuant(reg.get('gf8'), Float32Array.from([0.001]))[0], 0); // raw weights flush below 2^-6
  assert.ok(fakeQuant(R.get('gf8'), Float32Array.from([0.001, 0.01]))[0]! > 0.0009); // the built-in row scales per tensor
  const bad = (rows: Record<string, Record<string, unknown>>, re: RegExp): void => {
    assert.throws(() => new FormatRegistry(rows), (e: unknown) => e instanceof UsageError && re.test(e.message));
  };
  bad({ x1: { family: 'minifloat', bits: 9, exponentBits: 4, mantissaBits: 3, bias: 7, subnormals: true, specials: 'ieee', scaling: 'none' } }, /customFormats\.x1\.bits: must equal 1 \+ exponentBits \+ mantissaBits = 8/);
  bad({ x2: { family: 'posit', bits: 8, scaling: 'none' } }, /customFormats\.x2\.es/);
  bad({ x3: { family: 'integer', bits: 8, signed: true, scaling: 'per-tensor-absmax', colour: 'red' } }, /unknown field 'colour'/);
  bad({ x4: { family: 'mx', bits: 8, scaling: 'mx-e8m0', blockSize: 32, element: 'nope', elementEmax: 8 } }, /customFormats\.x4\.element/);
  bad({ x5: { family: 'float', bits: 8, scaling: 'none' } }, /customFormats\.x5\.family: must be one of/);
  bad({ X_6: { family: 'integer', bits: 8, signed: true, scaling: 'none' } }, /kebab-case/);
});

test('tfFakeQuant: forward equals fakeQuant, gradient is dy inside the range and 0 outside (clipped STE)', async () => {
  await initTf('cpu');
  const posit8 = R.get('posit8');
  const xs = Float32Array.from([0.3, -1.7, 2 ** 25, -(2 ** 26), 100]);
  const x = tf.tensor(xs, [5]);
  const fq = tfFakeQuant(posit8);
  const y = fq(x);
  assert.deepEqual([...(y.dataSync() as Float32Array)], [...fakeQuant(posit8, xs)]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fq(t), tf.tensor([1, 2, 3, 4, 5]))))(x);
  assert.deepEqual([...g.dataSync()], [1, 2, 0, 0, 5]);
  assert.deepEqual([...steMask(posit8, xs)], [1, 1, 0, 0, 1]);
  // int8 with an absmax scale: everything is inside its own range
  const gi = tf.grad((t: tf.Tensor) => tf.sum(tfFakeQuant(R.get('int8'))(t)))(x);
  assert.deepEqual([...gi.dataSync()], [1, 1, 1, 1, 1]);
  // per-channel rows use axis 0
  const reg = new FormatRegistry({ 'int4-pc': { family: 'integer', bits: 4, signed: true, scaling: 'per-channel-absmax' } });
  const m = tf.tensor([[1, 0.5], [100, 30]], [2, 2]);
  assert.deepEqual([...tfFakeQuant(reg.get('int4-pc'))(m).dataSync()], [...fakeQuant(reg.get('int4-pc'), Float32Array.from([1, 0.5, 100, 30]), { shape: [2, 2] })]);
  const id = tf.grad((t: tf.Tensor) => tf.sum(tfFakeQuant(R.get('fp32'))(t)))(x);
  assert.deepEqual([...id.dataSync()], [1, 1, 1, 1, 1]);
  tf.dispose([x, y, g, gi, m, id]);
});

test('formatInfo fields for every format are finite and consistent', () => {
  for (const spec of R.all() as FormatSpec[]) {
    const info = formatInfo(spec);
    assert.ok(info.codes >= 3 && Number.isFinite(info.maxFinite) && info.minPositive > 0 && info.minPositive <= info.maxFinite, spec.name);
    assert.ok(info.layout.length > 0);
  }
});
