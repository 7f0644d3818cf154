/**
 * The pure parts of the ONNX site audit: scale groups, the reference quantizer, site
 * statistics and static lint, with exact values. Plus dq-only sites (stored int8 weights).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelZeroing, groupIds, referenceQuantize, scaleGroupName, siteStats } from '../src/onnx/site-stats.js';
import { kernelAvailable } from '../src/onnx/stats-kernel.js';
import { lintSite, type LintInput } from '../src/onnx/lint.js';
import { CODE_TYPES, DT, floatCode, floatCodeValue, onnx, roundToType, tensorValues } from '../src/onnx/proto.js';
import { roundtrip } from '../probes/roundtrip.js';
import type { SiteFindings } from '../probes/site.js';
const judgeRoundtrip = (f: SiteFindings, ctx: Parameters<NonNullable<typeof roundtrip.site>>[1]) => roundtrip.site!(f, ctx)!;
import { createSession, ort } from '../src/onnx/session.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { ELEM, makeModel } from '../src/onnx/builder.js';
import { openOnnxTarget } from '../src/targets/onnx/index.js';
import { defaultRegistry, FNUZ_FORMATS } from '../src/formats/registry.js';
import { elementCodec } from '../src/formats/codec.js';
import { Rng } from '../src/rng.js';
import { appendToModel } from '../src/onnx/rewrite.js';
import { boundaryInputs } from './support/grid-inputs.js';

const INT8 = CODE_TYPES[DT.INT8]!;
const UINT8 = CODE_TYPES[DT.UINT8]!;
const E4M3 = CODE_TYPES[DT.FLOAT8E4M3FN]!;

test('groupIds: per tensor, per axis, per block', () => {
  assert.equal(groupIds([2, 3], 1, 0, 0), null);
  assert.deepEqual([...groupIds([2, 3], 2, 0, 0)!], [0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...groupIds([2, 3], 3, 1, 0)!], [0, 1, 2, 0, 1, 2]);
  assert.deepEqual([...groupIds([2, 3], 3, -1, 0)!], [0, 1, 2, 0, 1, 2]);
  // dims [4, 2], blocks of 2 along axis 0 → scale dims [2, 2]
  assert.deepEqual([...groupIds([4, 2], 4, 0, 2)!], [0, 1, 0, 1, 2, 3, 2, 3]);
});

test('scaleGroupName: a block by its index in the scale tensor; a channel by its number', () => {
  // dims [4, 13], blocks of 6 along axis 1 → scale dims [4, 3] (the last block short)
  assert.equal(scaleGroupName([4, 13], 1, 6, 5), '5 [1, 2]');
  assert.equal(scaleGroupName([4, 13], 1, 6, 0), '0 [0, 0]');
  // blocks along axis 0: dims [12, 2], block 4 → scale dims [3, 2]
  assert.equal(scaleGroupName([12, 2], 0, 4, 5), '5 [2, 1]');
  assert.equal(scaleGroupName([8, 3], 0, 0, 3), '3');
});

test('reference quantizer: int8 absmax with RNE, uint8 min/max with zero-point, float8 e4m3 grid', () => {
  const x = new Float32Array([0.5, -1, 0.25, 1, 2.5 / 127]);
  assert.deepEqual([...referenceQuantize(x, null, 1, INT8).codes], [64, -127, 32, 127, 2]);
  const u = referenceQuantize(new Float32Array([-1, 3, 0]), null, 1, UINT8);
  // scale 4/255, zero-point rne(1 / (4/255)) = rne(63.75) = 64
  assert.deepEqual([...u.codes], [0, 255, 64]);
  const f = referenceQuantize(new Float32Array([448, 1, 0.3, -0.3]), null, 1, E4M3);
  // 0.3 lies between 0.28125 and 0.3125 (step 2^-5): nearest is 0.3125
  assert.deepEqual([...f.codes], [448, 1, 0.3125, -0.3125]);
  assert.equal(floatCodeValue(DT.FLOAT8E4M3FN, 0x7e), 448);
  assert.ok(Number.isNaN(floatCodeValue(DT.FLOAT8E4M3FN, 0x7f)));
  assert.equal(floatCodeValue(DT.FLOAT8E5M2, 0x7b), 57344);
});

test('reference quantizer: each float8 type rounds onto its own grid — the bias pinned by the subnormals (e4m3fn 7, e4m3fnuz 8, e5m2 15, e5m2fnuz 16)', () => {
  // the spec's smallest subnormals and e4m3fn's smallest normal (OCP OFP8 v1.0; ONNX float8 types)
  assert.equal(floatCodeValue(DT.FLOAT8E4M3FN, 0x01), 2 ** -9);
  assert.equal(floatCodeValue(DT.FLOAT8E4M3FN, 0x08), 2 ** -6);
  assert.equal(floatCodeValue(DT.FLOAT8E4M3FNUZ, 0x01), 2 ** -10);
  assert.equal(floatCodeValue(DT.FLOAT8E5M2, 0x01), 2 ** -16);
  assert.equal(floatCodeValue(DT.FLOAT8E5M2FNUZ, 0x01), 2 ** -17);
  // e4m3fn, scale 1 (absmax 448): 1.4·2^-9 → 2^-9; 3·2^-10 is a tie between 2^-9 and 2^-8 → even mantissa 2^-8;
  // 2^-10 is a tie between 0 and 2^-9 → 0; 0.013 → 7·2^-9 (largest subnormal)
  const e4 = referenceQuantize(Float32Array.of(448, 1.4 * 2 ** -9, 3 * 2 ** -10, 2 ** -10, 0.013), null, 1, E4M3);
  assert.deepEqual([...e4.codes], [448, 2 ** -9, 2 ** -8, 0, 7 * 2 ** -9]);
  // every type: points between neighbouring grid values (the decoder's 128 non-negative codes) land on the nearer one
  for (const dt of [DT.FLOAT8E4M3FN, DT.FLOAT8E4M3FNUZ, DT.FLOAT8E5M2, DT.FLOAT8E5M2FNUZ]) {
    const type = CODE_TYPES[dt]!;
    const grid = [...new Set(Array.from({ length: 128 }, (_, c) => floatCodeValue(dt, c)).filter((v) => Number.isFinite(v) && v <= type.qmax))].sort((a, b) => a - b);
    const x = [type.qmax];
    const expected = [type.qmax];
    for (let k = 0; k + 1 < grid.length; k++) {
      const [a, b] = [grid[k]!, grid[k + 1]!];
      x.push(a + 0.3 * (b - a), a + 0.7 * (b - a));
      expected.push(a, b);
    }
    const { codes } = referenceQuantize(Float32Array.from(x), null, 1, type);
    const wrong = expected.flatMap((e, i) => (codes[i] === Math.fround(e) ? [] : [`${x[i]} → ${codes[i]}, grid value ${e}`]));
    assert.deepEqual(wrong.slice(0, 5), [], `${type.name}: ${wrong.length} of ${x.length} off the grid`);
  }
});

test('reference quantizer: each float8 type rounds with its registry row\'s codec (fnuz rows served, not run by default); NaN/Inf pass through', () => {
  const rows = Object.values(CODE_TYPES).filter((t) => t.kind === 'float8').map((t) => [t.name, t.element?.name, elementCodec(t.element!).maxFinite === t.qmax]);
  assert.deepEqual(rows, [['float8e4m3fn', 'fp8-e4m3', true], ['float8e4m3fnuz', 'fp8-e4m3fnuz', true], ['float8e5m2', 'fp8-e5m2', true], ['float8e5m2fnuz', 'fp8-e5m2fnuz', true]]);
  assert.deepEqual(FNUZ_FORMATS.filter((f) => defaultRegistry.has(f.name)), [], 'fnuz rows are not in the default format matrix');
  // absmax 240 → scale 1 on e4m3fnuz: 0.3 rounds to 0.3125 (mantissa step 2^-5 in [0.25, 0.5)); non-finite inputs are not rounded
  const { codes, dq } = referenceQuantize(Float32Array.of(240, -240, 0.3, Number.NaN, Number.POSITIVE_INFINITY), Int32Array.of(0, 0, 0, 0, 0), 1, CODE_TYPES[DT.FLOAT8E4M3FNUZ]!);
  assert.deepEqual([...codes], [240, -240, 0.3125, Number.NaN, Number.POSITIVE_INFINITY]);
  assert.deepEqual([...dq], [240, -240, 0.3125, Number.NaN, Number.POSITIVE_INFINITY]);
});

test('siteStats: a dead channel, sign loss and SQNR against the reference', () => {
  // 2 channels × 4; channel 1 comes out all zero.
  const x = new Float32Array([0.1, -0.2, 0.3, -0.4, 1, -2, 3, -4]);
  const dq = new Float32Array([0.1, -0.2, 0.3, -0.4, 0, 0, 0, 0]);
  const s = siteStats({ x, dims: [2, 4], codes: new Float32Array([32, -64, 95, -127, 0, 0, 0, 0]), dq, twin: undefined, scale: new Float64Array([0.4 / 127, 1000]), zeroPoint: new Float64Array(2), axis: 0, blockSize: 0 }, INT8);
  assert.equal(s.groups, 2);
  assert.equal(s.perGroup[1]!.zeroFraction, 1);
  assert.equal(s.perGroup[1]!.refZeroFraction, 0);
  assert.equal(s.perGroup[0]!.zeroFraction, 0);
  assert.equal(s.zeroFraction, 0.5);
  assert.equal(s.signLoss, 0.5);
  assert.equal(s.refSignLoss, 0);
  assert.equal(s.levelsUsed, 5);
  assert.ok(s.localSqnrDb! < 0.5, `all the energy is in the dead channel: ${s.localSqnrDb}`);
  assert.equal(s.worst[0]!.x, -4);
  assert.equal(s.worst[0]!.expected, -4);
});

test('siteStats: a signed site with a zero-point is judged against the asymmetric (min/max) reference, not absmax', () => {
  // a post-ReLU activation quantized TFLite-style: int8, scale = max / 255, zero-point −128 (all 256 codes used)
  const x = Float32Array.from(new Rng(31).normalArray(4096, 1), (v) => Math.abs(v));
  let max = 0;
  for (const v of x) max = Math.max(max, v);
  const scale = Math.fround(max / 255); // a float32 scale, as ONNX stores it (and as the reference computes it)
  const codes = new Float32Array(x.length);
  const dq = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    codes[i] = Math.min(127, Math.max(-128, Math.round(x[i]! / scale) - 128));
    dq[i] = Math.fround((codes[i]! + 128) * scale);
  }
  const t = { x, dims: [x.length], codes, dq, twin: undefined, scale: Float64Array.of(scale), zeroPoint: Float64Array.of(-128), axis: 0, blockSize: 0 };
  const asym = siteStats(t, INT8);
  // the reference is this very quantizer (scale (max − 0)/255, zero-point RNE(−128 − 0/scale) = −128): same numbers
  assert.equal(asym.refSqnrDb, asym.localSqnrDb);
  assert.equal(asym.refEffectiveBits, asym.effectiveBits);
  assert.equal(referenceQuantize(x, null, 1, INT8, true).codes[0], codes[0]);
  // the same tensor read as a symmetric site (zero-point 0): the absmax reference uses half the codes, ~6 dB less
  const sym = siteStats({ ...t, zeroPoint: Float64Array.of(0) }, INT8);
  assert.ok(asym.refSqnrDb! - sym.refSqnrDb! > 5.5 && asym.refSqnrDb! - sym.refSqnrDb! < 6.5, `${asym.refSqnrDb} vs ${sym.refSqnrDb}`);
  // JavaScript and WebAssembly passes agree on it
  assertSameStats(asym, siteStats(t, INT8, { wasm: false }), 'asymmetric int8');
});

function lint(partial: Partial<LintInput>): string[] {
  return lintSite({ scale: new Float64Array([0.01]), zeroPoint: new Float64Array([0]), zeroPointSource: undefined, codeType: INT8, inputKind: 'weight', groups: [], ...partial }, DEFAULT_THRESHOLDS).map((f) => f.rule);
}

test('lintSite: each bad scale or zero-point has its rule; a good site has none', () => {
  assert.deepEqual(lint({}), []);
  assert.deepEqual(lint({ scale: new Float64Array([0]) }), ['zero-scale']);
  assert.deepEqual(lint({ scale: new Float64Array([-0.01]) }), ['negative-scale']);
  assert.deepEqual(lint({ scale: new Float64Array([Number.NaN]) }), ['nonfinite-scale']);
  assert.deepEqual(lint({ scale: new Float64Array([1e-40]) }), ['denormal-scale']);
  // PyTorch casts an int64 zero-point to int8: 200 wraps
  assert.deepEqual(lint({ zeroPoint: new Float64Array([-56]), zeroPointSource: new Float64Array([200]) }), ['zero-point-range']);
  assert.deepEqual(lint({ codeType: E4M3, zeroPoint: new Float64Array([1]) }), ['float8-zero-point']);
  assert.deepEqual(lint({ dequantizeScale: new Float64Array([0.02]) }), ['scale-mismatch']);
  assert.deepEqual(lint({ dequantizeScale: new Float64Array([0.01]) }), []);
  assert.deepEqual(lint({ dequantizeZeroPoint: new Float64Array([3]) }), ['scale-mismatch']);
  const group = { group: 0, scale: 0.01, zeroPoint: 0, absmax: 1, min: -1, max: 1, coverage: 1.27, zeroFraction: 0, refZeroFraction: 0, sqnrDb: 40, refSqnrDb: 40 };
  assert.deepEqual(lint({ groups: [group] }), []);
  assert.deepEqual(lint({ groups: [{ ...group, coverage: 1270 }] }), ['absurd-scale']);
  assert.deepEqual(lint({ groups: [{ ...group, coverage: 1270 }], inputKind: 'activation' }), ['absurd-scale']);
  assert.deepEqual(lint({ groups: [{ ...group, coverage: 50 }], inputKind: 'activation' }), []);
  assert.deepEqual(lint({ codeType: UINT8, groups: [group] }), ['unsigned-on-signed']);
  assert.deepEqual(lint({ codeType: UINT8, groups: [{ ...group, zeroPoint: 128 }] }), []);
});

test('float16 and bfloat16 rounding: bit patterns and values of the IEEE spec', () => {
  assert.equal(floatCode(DT.FLOAT16, 1), 0x3c00);
  assert.equal(floatCode(DT.FLOAT16, -2), 0xc000);
  assert.equal(floatCode(DT.FLOAT16, 65504), 0x7bff);
  assert.equal(floatCode(DT.FLOAT16, 65520), 0x7c00, 'halfway to 2^16 rounds to Inf');
  assert.equal(floatCode(DT.FLOAT16, 2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(floatCode(DT.FLOAT16, 2 ** -25), 0x0000, 'half of it rounds to even (0)');
  assert.equal(floatCode(DT.FLOAT16, 1 + 2 ** -11), 0x3c00, 'a tie rounds to the even mantissa');
  assert.equal(floatCode(DT.FLOAT16, 1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(floatCodeValue(DT.FLOAT16, floatCode(DT.FLOAT16, 1 / 3)), 0.333251953125);
  assert.equal(roundToType(1 / 3, DT.FLOAT16), 0.333251953125);
  assert.equal(roundToType(1 / 3, DT.BFLOAT16), 0.333984375);
  assert.equal(roundToType(1 / 3, DT.FLOAT), Math.fround(1 / 3));
  assert.equal(roundToType(1 / 3, DT.DOUBLE), 1 / 3);
  // overflow: float16 and bfloat16 become ±Inf (IEEE, as Cast); float8 saturates (Cast's saturate=1)
  assert.equal(floatCode(DT.FLOAT16, -70000), 0xfc00);
  assert.equal(roundToType(3.4e38, DT.BFLOAT16), Infinity, 'past bfloat16 max (3.3895e38) by more than half a step');
  assert.equal(roundToType(3.39e38, DT.BFLOAT16), 3.3895313892515355e38, 'within half a step of max: max');
  assert.equal(floatCode(DT.FLOAT8E4M3FN, 1000), 0x7e);
  // fnuz: 0x80 is the NaN, not −0; e4m3fn's 0x80 is −0
  assert.ok(Number.isNaN(floatCodeValue(DT.FLOAT8E4M3FNUZ, 0x80)));
  assert.ok(Number.isNaN(floatCodeValue(DT.FLOAT8E5M2FNUZ, 0x80)));
  assert.ok(Object.is(floatCodeValue(DT.FLOAT8E4M3FN, 0x80), -0));
  assert.equal(floatCodeValue(DT.FLOAT8E4M3FNUZ, 0x7f), 240);
  assert.equal(floatCode(DT.FLOAT8E4M3FNUZ, -1e-9), 0x00, 'a negative value that rounds to 0 is +0 (0x80 is NaN)');
});

/** One-node models through onnxruntime: `nodes` read input x (or an initializer) and write y. */
async function runOrt(spec: Parameters<typeof makeModel>[0], feeds: Record<string, ort.Tensor> = {}): Promise<Float32Array> {
  const { session } = await createSession(makeModel(spec), 'cpu', 'a conformance model');
  const out = await session.run(feeds);
  await session.release();
  return out['y']!.data as Float32Array;
}

/** Indices where a and b differ (NaN equals NaN, −0 differs from 0), as readable lines. */
function differences(what: (i: number) => string, got: ArrayLike<number>, want: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < want.length && out.length < 5; i++) {
    if (!(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])))) out.push(`${what(i)}: ours ${got[i]}, onnxruntime ${want[i]}`);
  }
  return out;
}

const NARROW_FLOATS = [DT.FLOAT16, DT.BFLOAT16, DT.FLOAT8E4M3FN, DT.FLOAT8E4M3FNUZ, DT.FLOAT8E5M2, DT.FLOAT8E5M2FNUZ];

test('stored float codes read as onnxruntime reads them: all 65536 float16 and bfloat16 patterns, all 256 codes of each float8 type (Cast to float)', async () => {
  for (const dt of NARROW_FLOATS) {
    const n = dt === DT.FLOAT16 || dt === DT.BFLOAT16 ? 65536 : 256;
    const codes = Array.from({ length: n }, (_, c) => c);
    const spec = {
      opset: 19,
      inputs: [],
      initializers: [{ name: 'c', elemType: dt, dims: [n], values: codes }],
      outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: [n] }],
      nodes: [{ op: 'Cast', inputs: ['c'], outputs: ['y'], attrs: { to: ELEM.FLOAT } }],
    };
    const want = await runOrt(spec);
    const hex = (c: number): string => `${DT_NAME[dt]} 0x${c.toString(16)}`;
    assert.deepEqual(differences(hex, codes.map((c) => floatCodeValue(dt, c)), want), []);
    // the same through the model's own bytes (raw_data), as the audit reads an initializer
    const initializer = onnx.ModelProto.decode(makeModel(spec)).graph!.initializer![0]!;
    assert.deepEqual(differences(hex, tensorValues(initializer), want), []);
  }
});

const DT_NAME: Record<number, string> = { [DT.FLOAT16]: 'float16', [DT.BFLOAT16]: 'bfloat16', [DT.FLOAT8E4M3FN]: 'e4m3fn', [DT.FLOAT8E4M3FNUZ]: 'e4m3fnuz', [DT.FLOAT8E5M2]: 'e5m2', [DT.FLOAT8E5M2FNUZ]: 'e5m2fnuz' };

test('a float rounded to a narrow float type as onnxruntime Cast rounds it: every value, midpoint and its float32 neighbours, ±0, overflow, NaN', async () => {
  for (const dt of NARROW_FLOATS) {
    const values = [...new Set(Array.from({ length: dt === DT.FLOAT16 || dt === DT.BFLOAT16 ? 65536 : 256 }, (_, c) => floatCodeValue(dt, c)).filter(Number.isFinite))].sort((a, b) => a - b);
    const x = boundaryInputs(values);
    const want = await runOrt({
      opset: 19,
      inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: [x.length] }],
      outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: [x.length] }],
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['c'], attrs: { to: dt } },
        { op: 'Cast', inputs: ['c'], outputs: ['y'], attrs: { to: ELEM.FLOAT } },
      ],
    }, { x: new ort.Tensor('float32', x, [x.length]) });
    const ours = Array.from(x, (v) => floatCodeValue(dt, floatCode(dt, v)));
    assert.deepEqual(differences((i) => `${DT_NAME[dt]} x=${x[i]}`, ours, want), []);
  }
});

/** x → QuantizeLinear(scale, zero-point) → DequantizeLinear in onnxruntime: its codes and dequantized values. */
async function ortQdq(x: Float32Array, scale: number, zeroPoint: number, elem: number): Promise<{ codes: Int8Array | Uint8Array; dq: Float32Array }> {
  const bytes = makeModel({
    opset: 13,
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: [x.length] }],
    initializers: [
      { name: 's', elemType: ELEM.FLOAT, dims: [], values: [scale] },
      { name: 'z', elemType: elem, dims: [], values: [zeroPoint] },
    ],
    outputs: [{ name: 'q', elemType: elem, shape: [x.length] }, { name: 'y', elemType: ELEM.FLOAT, shape: [x.length] }],
    nodes: [
      { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['q'] },
      { op: 'DequantizeLinear', inputs: ['q', 's', 'z'], outputs: ['y'] },
    ],
  });
  const { session } = await createSession(bytes, 'cpu', 'a QuantizeLinear model');
  const out = await session.run({ x: new ort.Tensor('float32', x, [x.length]) });
  await session.release();
  return { codes: out['q']!.data as Int8Array | Uint8Array, dq: out['y']!.data as Float32Array };
}

test('reference quantizer: integer codes as onnxruntime QuantizeLinear makes them — RNE(x / scale), then + zero-point (ties with an odd zero-point)', async () => {
  // uint8: min −1, max 254 → scale 255/255 = 1, zero-point RNE(0 − (−1)/1) = 1. Rounding after adding the zero-point,
  // RNE(x/s + z), would give 0.5 → 2, 1.5 → 2, 2.5 → 4, −0.5 → 0, 253.5 → 254.
  const u = Float32Array.of(-1, 254, 0.5, 1.5, 2.5, -0.5, 253.5, 0);
  const ortU = await ortQdq(u, 1, 1, ELEM.UINT8);
  assert.deepEqual([...ortU.codes], [0, 255, 1, 3, 3, 1, 255, 1]);
  const refU = referenceQuantize(u, null, 1, UINT8);
  assert.deepEqual([...refU.codes], [...ortU.codes]);
  assert.deepEqual([...refU.dq], [...ortU.dq]);
  // int8 with a zero-point (asymmetric reference): min −3, max 252 → scale 1, zero-point RNE(−128 + 3) = −125;
  // RNE(x/s + z) would give 0.5 → −124, −0.5 → −126, 1.5 → −124, −2.5 → −128
  const i8 = Float32Array.of(-3, 252, 0.5, -0.5, 1.5, -2.5);
  const ortS = await ortQdq(i8, 1, -125, ELEM.INT8);
  assert.deepEqual([...ortS.codes], [-128, 127, -125, -125, -123, -127]);
  assert.deepEqual([...referenceQuantize(i8, null, 1, INT8, true).codes], [...ortS.codes]);

  // A site that quantizes as onnxruntime does, on data whose reference is that same quantizer (scale 1, zero-point 1,
  // every input a tie k + ½): the reference's numbers are the site's, in the JavaScript and the WebAssembly passes.
  const x = Float32Array.from({ length: 1001 }, (_, i) => (i === 0 ? -1 : i === 1 ? 254 : ((i * 7) % 255) - 0.5));
  const q = await ortQdq(x, 1, 1, ELEM.UINT8);
  const ties = x.filter((v) => v === 0.5 || v === -0.5).length;
  assert.equal(ties, 7);
  for (const wasm of [true, false]) {
    const st = siteStats({ x, dims: [x.length], codes: q.codes, dq: q.dq, twin: undefined, scale: Float64Array.of(1), zeroPoint: Float64Array.of(1), axis: 0, blockSize: 0 }, UINT8, { wasm });
    assert.equal(st.refSqnrDb, st.localSqnrDb, `wasm ${wasm}`);
    assert.equal(st.refEffectiveBits, st.effectiveBits, `wasm ${wasm}`);
    // the ties ±½ go to code 1 = the zero-point, so to 0 (RNE(x/s + z) would send none to 0)
    assert.equal(st.zeroFraction, ties / 1001, `wasm ${wasm}`);
    assert.equal(st.refZeroFraction, ties / 1001, `wasm ${wasm}`);
  }
});

test('lintSite: a DequantizeLinear scale stored in float16 is compared at float16 precision; int32 bias codes at the limit', () => {
  const s32 = Math.fround(0.0123456);
  const s16 = roundToType(s32, DT.FLOAT16);
  assert.notEqual(s16, s32);
  // the same scale, stored twice: equal once both are float16
  assert.deepEqual(lint({ scale: new Float64Array([s32]), dequantizeScale: new Float64Array([s16]), scaleType: DT.FLOAT, dequantizeScaleType: DT.FLOAT16 }), []);
  // without the types it is a float32 comparison, and the float16 value is 2e-5 off
  assert.deepEqual(lint({ scale: new Float64Array([s32]), dequantizeScale: new Float64Array([s16]) }), ['scale-mismatch']);
  // one float16 step off is a different scale
  const next = floatCodeValue(DT.FLOAT16, floatCode(DT.FLOAT16, s16) + 1);
  assert.deepEqual(lint({ scale: new Float64Array([s32]), dequantizeScale: new Float64Array([next]), scaleType: DT.FLOAT, dequantizeScaleType: DT.FLOAT16 }), ['scale-mismatch']);
  const INT32 = CODE_TYPES[DT.INT32]!;
  const bias = (codes: number[]): string[] => lint({ codeType: INT32, scale: new Float64Array([1e-13, 1e-13]), zeroPoint: new Float64Array([0, 0]), biasCodes: Int32Array.from(codes) });
  assert.deepEqual(bias([1200, -5000]), []);
  assert.deepEqual(bias([2147483647, 3]), ['bias-saturated']);
  assert.deepEqual(bias([7, -2147483648]), ['bias-saturated']);
  assert.deepEqual(bias([2147483646, -2147483647]), [], 'one code inside the limits is a bias that fits');
});

test('channelZeroing: per output channel, whatever the scale granularity; zeros in the float weight do not count', () => {
  // [3, 2, 2]: channel 1 all sent to 0 (one weight already 0 in float), channel 2 half
  const x = Float32Array.from([0.5, -0.4, 0.3, 0.2, 0.001, 0, -0.002, 0.001, 0.6, 0.001, -0.7, 0.002]);
  const dq = Float32Array.from([0.5, -0.4, 0.3, 0.2, 0, 0, 0, 0, 0.6, 0, -0.7, 0]);
  assert.deepEqual(channelZeroing(x, dq, [3, 2, 2], 0), [
    { channel: 0, absmax: Math.fround(0.5), nonzero: 4, zeroed: 0 },
    { channel: 1, absmax: Math.fround(0.002), nonzero: 3, zeroed: 3 },
    { channel: 2, absmax: Math.fround(0.7), nonzero: 4, zeroed: 2 },
  ]);
  // MatMul weights [K, N]: channels on the last axis
  assert.deepEqual(channelZeroing(Float32Array.from([1, 0.001, 2, 0.002]), Float32Array.from([1, 0, 2, 0]), [2, 2], -1).map((c) => c.zeroed), [0, 2]);
});

test('judgeRoundtrip: a NaN statistic is inconclusive (NaN inputs), NaN outputs on finite inputs still fail', () => {
  const ctx = { thresholds: DEFAULT_THRESHOLDS, seed: 1, reproCommand: () => 'repro' };
  const rng = new Rng(5);
  const base = site(rng, [64], 0, 1, INT8);
  const stats = siteStats(base, INT8);
  const findings = (over: Partial<typeof stats>): SiteFindings => ({
    site: { name: 's', kind: 'qdq', dequantize: [{}], inputKind: 'activation', axis: 1, blockSize: 0, codeType: INT8, leaks: [], orderReaders: [], consumers: [], order: 0, foldedClamp: false, bias: false } as unknown as SiteFindings['site'],
    artifact: 'measured', format: 'int8', stats: { ...stats, ...over }, lint: [], leaks: [], orderChecks: [], deadChannels: [],
  });
  const nanIn = judgeRoundtrip(findings({ localSqnrDb: null, nonFiniteInput: 3, nonFiniteOutput: 3 }), ctx);
  assert.equal(nanIn.verdict, 'inconclusive');
  assert.match(nanIn.reason!, /local SQNR is NaN \(3 of 64 inputs are NaN\/Inf/);
  const nanOut = judgeRoundtrip(findings({ localSqnrDb: null, nonFiniteInput: 0, nonFiniteOutput: 64 }), ctx);
  assert.equal(nanOut.verdict, 'fail');
  assert.equal(judgeRoundtrip(findings({}), ctx).verdict, 'pass');
});

test('dq-only sites (stored int8 weights): found, linted, roundtrip skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-onnx-'));
  const model = (scale: number): Uint8Array => makeModel({
    opset: 13,
    nodes: [
      { op: 'DequantizeLinear', name: 'w_dq', inputs: ['w_codes', 'w_scale', 'w_zp'], outputs: ['w'] },
      { op: 'MatMul', name: 'mm', inputs: ['x', 'w'], outputs: ['y'] },
    ],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', 4] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', 2] }],
    initializers: [
      { name: 'w_codes', elemType: ELEM.INT8, dims: [4, 2], values: [-127, 5, 60, -3, 127, 0, -90, 33] },
      { name: 'w_scale', elemType: ELEM.FLOAT, dims: [], values: [scale] },
      { name: 'w_zp', elemType: ELEM.INT8, dims: [], values: [0] },
    ],
  });
  const ctx = { seed: 3, thresholds: DEFAULT_THRESHOLDS, formats: [], reproCommand: () => 'repro', log: () => {} };
  for (const [scale, verdict] of [[0.01, 'pass'], [0, 'fail']] as const) {
    const path = join(dir, `dq-${scale}.onnx`);
    writeFileSync(path, model(scale));
    const t = await openOnnxTarget(path, { registry: defaultRegistry, ep: 'cpu' });
    const rs = await t.audit!(ctx);
    await t.close();
    const sc = rs.find((r) => r.site === 'w_dq' && r.probe === 'scale-collapse')!;
    assert.equal(sc.verdict, verdict, `scale ${scale}`);
    assert.equal(sc.evidence.measurements.kind, 'dq-only');
    assert.equal(sc.evidence.measurements.levelsUsed, 8);
    assert.equal(rs.find((r) => r.site === 'w_dq' && r.probe === 'roundtrip')!.verdict, 'skipped');
    assert.equal(rs.find((r) => r.site === 'w_dq' && r.probe === 'missing-dequant')!.verdict, 'pass');
  }
});

/**
 * A site as the audit sees it: x, codes and dq of a quantizer with the given scales (per tensor or along `axis`),
 * optionally with mistakes (a scale ×k, a dead group), zeros, signed zeros, ties and NaN outputs mixed in.
 */
function site(rng: Rng, dims: number[], axis: number, groups: number, type: typeof INT8, opts: { bad?: boolean; twin?: boolean | 'x'; nonFinite?: boolean; zeroPoint?: number } = {}): Parameters<typeof siteStats>[0] {
  const n = dims.reduce((a, b) => a * b, 1);
  const x = rng.normalArray(n, 0.05);
  for (let i = 0; i < n; i += 97) x[i] = 0;
  for (let i = 5; i < n; i += 101) x[i] = -0;
  let inner = 1;
  for (let k = axis + 1; k < dims.length; k++) inner *= dims[k]!;
  const g = (i: number): number => (groups === 1 ? 0 : Math.floor(i / inner) % groups);
  const scale = new Float64Array(groups);
  for (let i = 0; i < n; i++) scale[g(i)] = Math.max(scale[g(i)]!, Math.abs(x[i]!));
  for (let k = 0; k < groups; k++) scale[k] = Math.fround(scale[k]! / (type.signed ? type.qmax : type.qmax - type.qmin) || 1);
  // a few exact ties at half a step
  for (let i = 11; i < n; i += 211) x[i] = Math.fround(scale[g(i)]! * 2.5);
  const zp = new Float64Array(groups).fill(opts.zeroPoint ?? (type.signed ? 0 : Math.round((type.qmax - type.qmin) / 2)));
  if (opts.bad) scale[groups - 1] = scale[groups - 1]! * 1000;
  const codes = new Float32Array(n);
  const dq = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.min(type.qmax, Math.max(type.qmin, Math.round(x[i]! / scale[g(i)]! + zp[g(i)]!)));
    codes[i] = c;
    dq[i] = Math.fround((c - zp[g(i)]!) * scale[g(i)]!);
  }
  if (opts.bad) for (let i = 3; i < n; i += 1001) dq[i] = Number.NaN;
  if (opts.nonFinite) for (let i = 7; i < n; i += 503) x[i] = i % 2 ? Number.NaN : -Infinity;
  const twin = opts.twin === 'x' ? x : opts.twin ? Float32Array.from(x, (v, i) => v + (i % 7 === 0 ? 1e-3 : 0)) : undefined;
  // as onnxruntime hands them over: int8/uint8 codes in byte arrays
  const typed = type === INT8 ? Int8Array.from(codes) : type === UINT8 ? Uint8Array.from(codes) : codes;
  return { x, dims, codes: typed, dq, twin, scale, zeroPoint: zp, axis, blockSize: 0 };
}

/** Numbers that are sums over elements: the kernel adds them on two lanes, so they may differ in the last bits. */
const SUMS = new Set(['localSqnrDb', 'refSqnrDb', 'cumulativeSqnrDb', 'rmsRatio', 'sqnrDb']);

/** a equals b, except that sum-derived numbers need only agree to 1e-9 (relative); names the first difference. */
function assertSameStats(a: unknown, b: unknown, path: string): void {
  if (typeof a === 'number' && typeof b === 'number' && SUMS.has(path.split('.').pop()!)) {
    assert.ok(Object.is(a, b) || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${path}: ${a} vs ${b}`);
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    assert.deepEqual(Object.keys(a), Object.keys(b), path);
    for (const k of Object.keys(a)) assertSameStats((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  } else {
    assert.ok(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`);
  }
}

test('siteStats: the WebAssembly passes give the JavaScript passes\' numbers (counts, levels, witnesses exactly; sums to 1e-9)', () => {
  // the kernels must run here (else both sides below are the JavaScript passes)
  assert.equal(kernelAvailable(1, 256), true);
  const rng = new Rng(2024);
  const cases: [string, number[], number, number, typeof INT8, { bad?: boolean; twin?: boolean | 'x'; nonFinite?: boolean; zeroPoint?: number }][] = [
    // per tensor over several chunks (one run spans them), per channel on axis 0 and on the last axis (runs of 1)
    ['int8 per tensor, 3 chunks', [50_000], 0, 1, INT8, { twin: true }],
    ['int8 per channel axis 0', [37, 1500], 0, 37, INT8, { twin: true }],
    ['int8 per channel last axis, a weight (twin = x)', [300, 64], 1, 64, INT8, { twin: 'x' }],
    ['int8 per channel axis 1 of 3', [4, 24, 333], 1, 24, INT8, { bad: true }],
    ['uint8 with zero-point', [20_000], 0, 1, UINT8, { bad: true, twin: true }],
    ['int4 per channel', [16, 2049], 0, 16, CODE_TYPES[DT.INT4]!, { twin: true }],
    ['int16 per tensor', [5000], 0, 1, CODE_TYPES[DT.INT16]!, {}],
    ['int8, a length that is not a multiple of 4 (the byte histogram\'s tail)', [3, 333], 0, 3, INT8, {}],
    ['uint8, likewise', [3, 333], 0, 3, UINT8, {}],
    ['non-finite inputs (range in WebAssembly, the rest in JavaScript)', [33, 1001], 0, 33, INT8, { nonFinite: true }],
    ['int8 with a zero-point (asymmetric reference)', [6, 1001], 0, 6, INT8, { twin: true, zeroPoint: -20 }],
    ['int4 with a zero-point, non-finite inputs', [4, 333], 0, 4, CODE_TYPES[DT.INT4]!, { zeroPoint: 1, nonFinite: true }],
  ];
  for (const [name, dims, axis, groups, type, opts] of cases) {
    const t = site(rng, dims, axis, groups, type, opts);
    assertSameStats(siteStats(t, type), siteStats(t, type, { wasm: false }), name);
  }
  // Ties with an odd reference zero-point (RNE(x / s) + z, not RNE(x / s + z)): every input k + ½ on a reference of
  // scale 1 — uint8 min −1 / max 254 (zero-point 1), int8 with a zero-point min −3 / max 252 (zero-point −125); per
  // tensor and per channel (3 runs of 335: pairs and an odd element in each)
  for (const [type, lo, hi, zp] of [[UINT8, -1, 254, 1], [INT8, -3, 252, -125]] as const) {
    const x = Float32Array.from({ length: 1005 }, (_, i) => (i % 335 === 0 ? lo : i % 335 === 1 ? hi : lo + ((i * 7) % 255) + 0.5));
    for (const groups of [1, 3]) {
      const t = { x, dims: groups === 1 ? [1005] : [3, 335], codes: new Float32Array(1005), dq: Float32Array.from(x, Math.round), twin: undefined, scale: new Float64Array(groups).fill(1), zeroPoint: new Float64Array(groups).fill(zp), axis: 0, blockSize: 0 };
      const kernel = siteStats(t, type);
      assertSameStats(kernel, siteStats(t, type, { wasm: false }), `${type.name} ties, ${groups} group(s)`);
      // the reference sends the ties x = ±½ to the zero-point, so to 0 (RNE(x / s + z) would send none there)
      assert.equal(kernel.refZeroFraction, x.filter((v) => Math.abs(v) === 0.5).length / 1005, type.name);
    }
  }
  // The comparison is not vacuous: a broken site differs from a good one.
  const good = site(new Rng(1), [8, 100], 0, 8, INT8);
  const bad = site(new Rng(1), [8, 100], 0, 8, INT8, { bad: true });
  assert.notDeepEqual(siteStats(good, INT8), siteStats(bad, INT8));
});

test('appendToModel: the additions go into the spare room after the file (no copy), else into a new buffer; onnxruntime runs both', async () => {
  const file = makeModel({
    opset: 13,
    nodes: [{ op: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: [2] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: [2] }],
  });
  const extra = [{ opType: 'Neg', name: 'n', input: ['y'], output: ['z'] }];
  const room = new Uint8Array(file.length + 4096);
  room.set(file);
  const original = room.subarray(0, file.length);
  const inRoom = appendToModel(original, extra, ['z'], [DT.FLOAT], room);
  assert.equal(inRoom.buffer, room.buffer, 'written in place');
  const tooSmall = appendToModel(original, extra, ['z'], [DT.FLOAT], room.subarray(0, file.length + 3));
  assert.notEqual(tooSmall.buffer, room.buffer, 'copied when the room is too small');
  assert.deepEqual(inRoom, tooSmall);
  // (protobufjs keeps only the last occurrence of the graph field; onnxruntime's protobuf merges them, as the spec says)
  for (const bytes of [inRoom, tooSmall]) {
    const { session } = await createSession(bytes, 'cpu', 'the appended model');
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) });
    await session.release();
    assert.deepEqual([...(out['y']!.data as Float32Array)], [0, 2]);
    assert.deepEqual([...(out['z']!.data as Float32Array)], [-0, -2]);
  }
});
