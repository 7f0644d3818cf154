/**
 * Conformance against ONNX Runtime's QuantizeLinear/DequantizeLinear: int8/uint8 (opset 13,
 * per-tensor and per-channel axis 0), int4/uint4 (opset 21), float8 E4M3FN/E5M2 (opset 19,
 * saturate=1). Same explicit scale and zero-point on both sides; results must be bit-identical.
 * One session per model; scale and zero-point are graph inputs so one session serves many cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { makeModel, ELEM } from '../src/onnx/builder.js';
import { defaultRegistry, encode, decode, fakeQuant, elementValues, FormatRegistry, type FormatSpec } from '../src/formats/index.js';
import { Rng } from '../src/rng.js';
import { boundaryInputs } from './support/grid-inputs.js';

interface QdqModel {
  session: ort.InferenceSession;
  zpType: number;
}

const ORT_TYPE: Record<number, ort.Tensor.Type> = { [ELEM.INT8]: 'int8', [ELEM.UINT8]: 'uint8' };

/** x → QuantizeLinear → (codes) → DequantizeLinear → y. Codes are an output when JS can hold them. */
async function qdqModel(opts: { opset: number; zpType: number; rank: 1 | 2; axis?: number; saturate?: boolean; zpInitializer?: number }): Promise<QdqModel> {
  const scaleShape = opts.axis === undefined ? [] : ['c'];
  const zpAsInput = opts.zpInitializer === undefined;
  const codesOut = ORT_TYPE[opts.zpType] !== undefined;
  const attrs: Record<string, number> = {};
  if (opts.axis !== undefined) attrs.axis = opts.axis;
  if (opts.saturate) attrs.saturate = 1;
  const bytes = makeModel({
    opset: opts.opset,
    inputs: [
      { name: 'x', elemType: ELEM.FLOAT, shape: opts.rank === 1 ? ['n'] : ['c', 'k'] },
      { name: 's', elemType: ELEM.FLOAT, shape: scaleShape },
      ...(zpAsInput ? [{ name: 'zp', elemType: opts.zpType, shape: scaleShape }] : []),
    ],
    initializers: zpAsInput ? [] : [{ name: 'zp', elemType: opts.zpType, dims: [], values: [opts.zpInitializer!] }],
    outputs: [
      { name: 'y', elemType: ELEM.FLOAT },
      ...(codesOut ? [{ name: 'q', elemType: opts.zpType }] : []),
    ],
    nodes: [
      { op: 'QuantizeLinear', inputs: ['x', 's', 'zp'], outputs: ['q'], attrs },
      { op: 'DequantizeLinear', inputs: ['q', 's', 'zp'], outputs: ['y'], attrs: opts.axis === undefined ? {} : { axis: opts.axis } },
    ],
  });
  return { session: await ort.InferenceSession.create(bytes), zpType: opts.zpType };
}

async function runQdq(m: QdqModel, x: Float32Array, shape: number[], scales: number[], zps?: number[]): Promise<{ y: Float32Array; q?: Int8Array | Uint8Array }> {
  const sShape = scales.length === 1 && shape.length === 1 ? [] : [scales.length];
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', x, shape),
    s: new ort.Tensor('float32', Float32Array.from(scales), sShape),
  };
  if (zps) {
    const type = ORT_TYPE[m.zpType];
    if (!type) throw new Error('zero-point inputs are only used for 8-bit integer models');
    feeds.zp = new ort.Tensor(type, type === 'int8' ? Int8Array.from(zps) : Uint8Array.from(zps), sShape);
  }
  const r = await m.session.run(feeds);
  return { y: r.y!.data as Float32Array, q: r.q?.data as Int8Array | Uint8Array | undefined };
}

/** First few indices where a and b differ bit-wise (NaN equals NaN), as a readable witness. */
function mismatches(x: Float32Array, got: Float32Array, want: Float32Array, limit = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < got.length && out.length < limit; i++) {
    const same = Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!same) out.push(`x=${x[i]} ours=${got[i]} ort=${want[i]}`);
  }
  return out;
}

/** Random values, exact .5 ties of the grid, and values far outside the range. */
function integerInputs(rng: Rng, scale: number, qmin: number, qmax: number, zp: number): Float32Array {
  const xs: number[] = [];
  for (let i = 0; i < 3000; i++) xs.push(rng.normal() * scale * (qmax - qmin) * 0.3);
  for (let k = qmin - 3; k <= qmax + 3; k++) {
    const q = k - zp;
    xs.push((q + 0.5) * scale, (q - 0.5) * scale, q * scale, (q + 0.49) * scale, (q + 0.51) * scale);
  }
  xs.push(1e6 * scale, -1e6 * scale, 3.4e38, -3.4e38, Infinity, -Infinity, 0, -0);
  return Float32Array.from(xs);
}

const registry = new FormatRegistry({
  'int8-pc': { family: 'integer', bits: 8, signed: true, scaling: 'per-channel-absmax' },
  'int4-pc': { family: 'integer', bits: 4, signed: true, scaling: 'per-channel-absmax' },
});

function checkCodes(spec: FormatSpec, x: Float32Array, ortCodes: Int8Array | Uint8Array, scale: number, zp: number): void {
  const enc = encode(spec, x, { scale, zeroPoint: zp });
  const size = 2 ** spec.bits;
  for (let i = 0; i < x.length; i++) {
    const ortCode = (ortCodes[i]! + size) % size;
    if (enc.codes[i] !== ortCode) assert.fail(`${spec.name} scale=${scale} zp=${zp}: x=${x[i]} code ours=0x${enc.codes[i]!.toString(16)} ort=0x${ortCode.toString(16)}`);
  }
  const y = decode(spec, enc);
  const fq = fakeQuant(spec, x, { scale, zeroPoint: zp });
  assert.deepEqual(mismatches(x, y, fq), [], `${spec.name}: decode(encode(x)) and fakeQuant(x) disagree`);
}

test('int8 and uint8 per tensor (opset 13) are bit-exact with ORT: codes, ties, saturation, zero-points of both signs', async () => {
  const rng = new Rng(13);
  for (const [name, zpType, cases] of [
    // signed zero-points too (TFLite-style asymmetric int8): −128 for one-sided data, both ends, a small shift
    ['int8', ELEM.INT8, [[0.25, 0], [0.0137, 0], [1e-5, 0], [3.3, 0], [0.25, -128], [0.0137, -3], [0.5, 127], [1e-5, 100]]],
    ['uint8', ELEM.UINT8, [[0.25, 128], [0.0137, 3], [0.5, 0], [0.02, 255]]],
  ] as const) {
    const spec = defaultRegistry.get(name);
    const m = await qdqModel({ opset: 13, zpType, rank: 1 });
    for (const [scale, zp] of cases) {
      const { qmin, qmax } = spec.signed ? { qmin: -128, qmax: 127 } : { qmin: 0, qmax: 255 };
      const x = integerInputs(rng, scale, qmin, qmax, zp);
      const r = await runQdq(m, x, [x.length], [scale], [zp]);
      checkCodes(spec, x, r.q!, scale, zp);
      assert.deepEqual(mismatches(x, fakeQuant(spec, x, { scale, zeroPoint: zp }), r.y), [], `${name} scale=${scale} zp=${zp}`);
    }
  }
});

test('int8 per channel (axis 0, opset 13) matches ORT with one absmax scale per row', async () => {
  const rng = new Rng(7);
  const rows = 6;
  const cols = 50;
  const x = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) x[r * cols + c] = rng.normal() * 10 ** (r - 3);
  const scales: number[] = [];
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(x[r * cols + c]!));
    scales.push(Math.fround(amax / 127));
  }
  const m = await qdqModel({ opset: 13, zpType: ELEM.INT8, rank: 2, axis: 0 });
  const r = await runQdq(m, x, [rows, cols], scales, scales.map(() => 0));
  const spec = registry.get('int8-pc');
  const enc = encode(spec, x, { shape: [rows, cols] });
  assert.deepEqual([...enc.scales], scales);
  assert.deepEqual([...enc.codes], [...r.q!].map((q) => (q + 256) % 256));
  assert.deepEqual(mismatches(x, fakeQuant(spec, x, { shape: [rows, cols] }), r.y), []);
});

test('int4 and uint4 (opset 21) are bit-exact with ORT, per tensor (int4 with zero-points 1, −8, 7) and per channel', async () => {
  const rng = new Rng(21);
  for (const [name, zpType, qmin, qmax] of [['int4', ELEM.INT4, -8, 7], ['uint4', ELEM.UINT4, 0, 15]] as const) {
    const spec = defaultRegistry.get(name);
    for (const zp of name === 'int4' ? [0, 1, -8, 7] : [0, 8, 15]) {
      const m = await qdqModel({ opset: 21, zpType, rank: 1, zpInitializer: zp });
      for (const scale of [0.25, 0.0137, 7.1]) {
        const x = integerInputs(rng, scale, qmin, qmax, zp);
        const r = await runQdq(m, x, [x.length], [scale]);
        assert.deepEqual(mismatches(x, fakeQuant(spec, x, { scale, zeroPoint: zp }), r.y), [], `${name} scale=${scale} zp=${zp}`);
        // the dequantized value identifies the code: (q − zp)·scale is injective for scale > 0
        const enc = encode(spec, x, { scale, zeroPoint: zp });
        assert.deepEqual(mismatches(x, decode(spec, enc), r.y), []);
      }
    }
  }
  // per channel: zero-point 0 per row is implied by a per-tensor initializer? No: axis needs per-row scales only.
  const rows = 4;
  const cols = 40;
  const x = rng.normalArray(rows * cols, 2);
  const spec = registry.get('int4-pc');
  const enc = encode(spec, x, { shape: [rows, cols] });
  const bytes = makeModel({
    opset: 21,
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: [rows, cols] }],
    initializers: [
      { name: 's', elemType: ELEM.FLOAT, dims: [rows], values: enc.scales },
      { name: 'zp', elemType: ELEM.INT4, dims: [rows], values: new Array(rows).fill(0) },
    ],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT }],
    nodes: [
      { op: 'QuantizeLinear', inputs: ['x', 's', 'zp'], outputs: ['q'], attrs: { axis: 0 } },
      { op: 'DequantizeLinear', inputs: ['q', 's', 'zp'], outputs: ['y'], attrs: { axis: 0 } },
    ],
  });
  const session = await ort.InferenceSession.create(bytes);
  const y = (await session.run({ x: new ort.Tensor('float32', x, [rows, cols]) })).y!.data as Float32Array;
  assert.deepEqual(mismatches(x, fakeQuant(spec, x, { shape: [rows, cols] }), y), []);
});

test('float8 E4M3FN and E5M2 (opset 19, saturate=1) are bit-exact with ORT around every code boundary', async () => {
  for (const [name, zpType] of [['fp8-e4m3', ELEM.FLOAT8E4M3FN], ['fp8-e5m2', ELEM.FLOAT8E5M2]] as const) {
    const spec = defaultRegistry.get(name);
    const m = await qdqModel({ opset: 19, zpType, rank: 1, saturate: true, zpInitializer: 0 });
    const base = boundaryInputs(elementValues(spec)!);
    for (const scale of [1, 0.375, 2 ** -10, 3.3e3]) {
      const x = Float32Array.from(base, (a) => a * scale);
      const r = await runQdq(m, x, [x.length], [scale]);
      const ours = fakeQuant(spec, x, { scale });
      assert.deepEqual(mismatches(x, ours, r.y), [], `${name} scale=${scale}`);
      assert.deepEqual(mismatches(x, decode(spec, encode(spec, x, { scale })), r.y), [], `${name} scale=${scale} (encode/decode)`);
    }
    // random data with the per-tensor absmax scale our codec computes
    const x = new Rng(19).normalArray(4096, 0.05);
    const enc = encode(spec, x);
    const r = await runQdq(m, x, [x.length], [enc.scales[0]!]);
    assert.deepEqual(mismatches(x, fakeQuant(spec, x), r.y), [], `${name} absmax scale ${enc.scales[0]}`);
  }
});
