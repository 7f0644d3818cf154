/**
 * Stored-weight forms (src/onnx/forms/): unpacking checked against onnxruntime's own results on the same models
 * (MatMulNBits 2/4/8 bits with and without packed zero-points, GatherBlockQuantized int4/uint4/uint8), site discovery
 * for QOperator and dynamic ops, each form's good fixture passing and each broken one blamed at the right site, block
 * and hypothesis; --float-model per-weight and per-output SQNR for every form including QDQ; the runtime cross-check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOnnxTarget } from '../src/targets/onnx/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { defaultRegistry } from '../src/formats/registry.js';
import type { ProbeResult } from '../src/report/types.js';
import { ELEM, makeModel, type ModelSpec } from '../src/onnx/builder.js';
import { indexGraph } from '../src/onnx/graph.js';
import { decodeOnnxModel } from '../src/onnx/load.js';
import { ort } from '../src/onnx/session.js';
import { Rng } from '../src/rng.js';
import { dequantize } from '../src/onnx/forms/code-stats.js';
import { discoverWeightSites, readWeight } from '../src/onnx/forms/weights.js';
import { pairWeights, type FloatModel } from '../src/onnx/forms/float-model.js';
import { discoverSites } from '../src/onnx/sites.js';
import { RuntimeCrash, compareOutputs, crashResult, crossCheckResult, optimisedOutputs } from '../src/onnx/forms/crosscheck.js';
import { BLOCK, DEAD, formFixtures } from '../fixtures/onnx/forms.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = join(ROOT, 'fixtures', 'onnx');

async function audit(file: string, floatModel?: string): Promise<ProbeResult[]> {
  const target = await openOnnxTarget(join(FIX, file), { registry: defaultRegistry, ep: 'cpu', floatModel: floatModel ? join(FIX, floatModel) : undefined });
  try {
    return await target.audit!({ seed: 7, thresholds: DEFAULT_THRESHOLDS, formats: [], reproCommand: (p) => `repro ${p}`, log: () => {} });
  } finally {
    await target.close();
  }
}

const failing = (rs: ProbeResult[]): string[] => [...new Set(rs.filter((r) => r.site && r.verdict === 'fail').map((r) => `${r.site}:${r.probe}`))].sort();
const result = (rs: ProbeResult[], site: string | undefined, probe: string): ProbeResult => rs.find((r) => r.site === site && r.probe === probe)!;

/** Runs `spec` with onnxruntime (no optimisations) and returns its single output. */
async function ortRun(spec: ModelSpec, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(makeModel(spec), { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  try {
    return Object.values(await s.run(feeds))[0]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

function weightOf(spec: ModelSpec) {
  const index = indexGraph(decodeOnnxModel(makeModel(spec), 'spec.onnx').model.graph!);
  const site = discoverWeightSites(index)[0]!;
  const w = readWeight(index, site);
  return { site, w, dq: dequantize(w.codes, w.dims, site.axis, site.blockSize, w.scale, w.zeroPoint) };
}

test('fixtures/onnx forms: the checked-in files are exactly what forms.ts writes', () => {
  for (const [name, spec] of Object.entries(formFixtures())) {
    assert.ok(Buffer.from(makeModel(spec)).equals(readFileSync(join(FIX, name))), `${name} is stale: run node dist/fixtures/onnx/forms.js`);
  }
});

test('MatMulNBits unpacking equals onnxruntime: 2, 4 and 8 bits, packed zero-points or the default 2^(bits-1), K not a multiple of the block', async () => {
  const rng = new Rng(5);
  for (const bits of [2, 4, 8]) {
    for (const withZp of [false, true]) {
      const K = 40;
      const N = 3;
      const bs = 16;
      const nb = Math.ceil(K / bs);
      const blob = (bs * bits) / 8;
      const b = Uint8Array.from({ length: N * nb * blob }, () => rng.int(256));
      const scales = Array.from({ length: N * nb }, () => rng.normal() * 0.1);
      const zpBytes = Math.ceil((nb * bits) / 8);
      const zp = Uint8Array.from({ length: N * zpBytes }, () => rng.int(256));
      const spec: ModelSpec = {
        opset: 21, extraOpsets: { 'com.microsoft': 1 },
        nodes: [{ op: 'MatMulNBits', name: 'mm', domain: 'com.microsoft', inputs: ['a', 'B', 's', ...(withZp ? ['zp'] : [])], outputs: ['y'], attrs: { K, N, bits, block_size: bs } }],
        inputs: [{ name: 'a', elemType: ELEM.FLOAT, shape: [K, K] }],
        outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: [K, N] }],
        initializers: [
          { name: 'B', elemType: ELEM.UINT8, dims: [N, nb, blob], values: b },
          { name: 's', elemType: ELEM.FLOAT, dims: [N * nb], values: scales },
          ...(withZp ? [{ name: 'zp', elemType: ELEM.UINT8, dims: [N * zpBytes], values: zp }] : []),
        ],
      };
      const eye = new Float32Array(K * K);
      for (let k = 0; k < K; k++) eye[k * K + k] = 1;
      const y = await ortRun(spec, { a: new ort.Tensor('float32', eye, [K, K]) }); // y = W [K, N]
      const { dq, site } = weightOf(spec); // [N, K]
      assert.deepEqual(site.dims, [N, K]);
      assert.equal(site.codeType.bits, bits);
      let maxErr = 0;
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) maxErr = Math.max(maxErr, Math.abs(dq[n * K + k]! - y[k * N + n]!));
      assert.ok(maxErr <= 1e-6, `bits ${bits}, zero-points ${withZp}: max |ours − onnxruntime| = ${maxErr}`);
    }
  }
});

test('GatherBlockQuantized unpacking equals onnxruntime: uint4 and int4 data, uint8 holding 4- and 8-bit codes, with and without zero-points', async () => {
  const rng = new Rng(8);
  const R = 4;
  const C = 32;
  const bs = 16;
  const cases: { data: { elemType: number; dims: number[]; values: ArrayLike<number> }; bits?: number; zp?: { elemType: number; dims: number[]; values: ArrayLike<number> } }[] = [
    { data: { elemType: ELEM.UINT4, dims: [R, C], values: Array.from({ length: R * C }, () => rng.int(16)) } },
    { data: { elemType: ELEM.INT4, dims: [R, C], values: Array.from({ length: R * C }, () => rng.int(16) - 8) } },
    { data: { elemType: ELEM.UINT4, dims: [R, C], values: Array.from({ length: R * C }, () => rng.int(16)) }, zp: { elemType: ELEM.UINT4, dims: [R, 2], values: [1, 2, 3, 4, 5, 6, 7, 8] } },
    { data: { elemType: ELEM.UINT8, dims: [R, C / 2], values: Array.from({ length: (R * C) / 2 }, () => rng.int(256)) }, bits: 4 },
    { data: { elemType: ELEM.UINT8, dims: [R, C / 2], values: Array.from({ length: (R * C) / 2 }, () => rng.int(256)) }, bits: 4, zp: { elemType: ELEM.UINT8, dims: [R, 1], values: [0x21, 0x43, 0x65, 0x87] } },
    { data: { elemType: ELEM.UINT8, dims: [R, C], values: Array.from({ length: R * C }, () => rng.int(256)) }, bits: 8 },
  ];
  for (const [i, c] of cases.entries()) {
    const spec: ModelSpec = {
      opset: 21, extraOpsets: { 'com.microsoft': 1 },
      nodes: [{ op: 'GatherBlockQuantized', name: 'g', domain: 'com.microsoft', inputs: ['d', 'i', 's', ...(c.zp ? ['zp'] : [])], outputs: ['y'], attrs: { block_size: bs, quantize_axis: 1, ...(c.bits ? { bits: c.bits } : {}) } }],
      inputs: [{ name: 'i', elemType: ELEM.INT64, shape: [R] }],
      outputs: [{ name: 'y', elemType: ELEM.FLOAT }],
      initializers: [
        { name: 'd', ...c.data },
        { name: 's', elemType: ELEM.FLOAT, dims: [R, 2], values: Array.from({ length: R * 2 }, () => rng.normal()) },
        ...(c.zp ? [{ name: 'zp', ...c.zp }] : []),
      ],
    };
    const y = await ortRun(spec, { i: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n]), [R]) });
    const { dq } = weightOf(spec);
    assert.equal(dq.length, R * C);
    const maxErr = dq.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k]!)), 0);
    assert.ok(maxErr <= 1e-5, `case ${i}: max |ours − onnxruntime| = ${maxErr}`);
  }
});

test('QOperator and dynamic weights are found with their scales: QLinearConv per channel, QLinearMatMul, QGemm, QLinearAdd, MatMulInteger → Cast → Mul', () => {
  const f32 = (name: string, dims: number[], values: number[]) => ({ name, elemType: ELEM.FLOAT, dims, values });
  const spec: ModelSpec = {
    opset: 13,
    nodes: [
      { op: 'QuantizeLinear', name: 'q', inputs: ['x', 'xs', 'xz'], outputs: ['xq'] },
      { op: 'QLinearConv', name: 'conv', inputs: ['xq', 'xs', 'xz', 'cw', 'cws', 'cwz', 'ys', 'yz'], outputs: ['cq'] },
      { op: 'DequantizeLinear', name: 'dq', inputs: ['cq', 'ys', 'yz'], outputs: ['y'] },
      { op: 'DynamicQuantizeLinear', name: 'dql', inputs: ['y'], outputs: ['a', 'as', 'az'] },
      { op: 'MatMulInteger', name: 'mmi', inputs: ['a', 'w', 'az', 'wz'], outputs: ['acc'] },
      { op: 'Cast', name: 'cast', inputs: ['acc'], outputs: ['accf'], attrs: { to: ELEM.FLOAT } },
      { op: 'Mul', name: 'smul', inputs: ['as', 'ws'], outputs: ['sc'] },
      { op: 'Mul', name: 'out', inputs: ['accf', 'sc'], outputs: ['z'] },
    ],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: [1, 1, 3, 3] }],
    outputs: [{ name: 'z', elemType: ELEM.FLOAT }],
    initializers: [
      f32('xs', [], [0.01]), { name: 'xz', elemType: ELEM.UINT8, dims: [], values: [128] }, f32('ys', [], [0.05]), { name: 'yz', elemType: ELEM.UINT8, dims: [], values: [128] },
      { name: 'cw', elemType: ELEM.INT8, dims: [2, 1, 2, 2], values: [1, 2, 3, 4, -1, -2, -3, -4] }, f32('cws', [2], [0.1, 0.2]), { name: 'cwz', elemType: ELEM.INT8, dims: [2], values: [0, 0] },
      { name: 'w', elemType: ELEM.INT8, dims: [2, 3], values: [1, -2, 3, -4, 5, -6] }, f32('ws', [3], [0.1, 0.2, 0.3]), { name: 'wz', elemType: ELEM.INT8, dims: [3], values: [0, 0, 0] },
    ],
  };
  const index = indexGraph(decodeOnnxModel(makeModel(spec), 'spec.onnx').model.graph!);
  const sites = discoverWeightSites(index);
  assert.deepEqual(sites.map((s) => [s.name, s.form, s.codes, s.scale, s.zeroPoint, s.axis]), [
    ['conv', 'qoperator', 'cw', 'cws', 'cwz', 0],
    ['mmi', 'dynamic', 'w', 'ws', 'wz', 1],
  ]);
  const w = readWeight(index, sites[1]!);
  assert.deepEqual([...w.scale].map((v) => Number(v.toFixed(6))), [0.1, 0.2, 0.3]);
});

for (const file of ['qop-good.onnx', 'dyn-good.onnx', 'nbits-good.onnx', 'dqw-good.onnx', 'gbq-good.onnx']) {
  test(`${file}: every stored weight passes`, async () => {
    const rs = await audit(file);
    assert.deepEqual(failing(rs), []);
    const head = result(rs, undefined, 'weight-audit');
    assert.equal(head.verdict, 'pass');
    assert.ok((head.evidence.measurements.weights as number) >= 1);
  });
}

test('MatMulNBits: symmetric weights carry negative scales (onnxruntime writes signed absmax / −8) and are not blamed for it', async () => {
  const rs = await audit('nbits-good.onnx');
  const sc = result(rs, 'fc2_Q4', 'scale-collapse');
  assert.equal(sc.verdict, 'pass');
  assert.equal(sc.evidence.measurements.granularity, `per-block(${BLOCK}) axis 1`);
  assert.equal(sc.evidence.measurements['attr.bits'], 4);
  assert.equal(result(rs, 'fc2_Q4', 'roundtrip').verdict, 'skipped');
});

const deadGroup = DEAD.column * (64 / BLOCK) + DEAD.block; // row-major [N, K blocks] for MatMulNBits
test('dead block: each form names the site and the block (scale ×10⁴ sent every code to the zero-point)', async () => {
  const expect: [string, string, RegExp][] = [
    ['nbits-bad-dead-block.onnx', 'fc1_Q4', new RegExp(`1 of 128 scale groups have every code at the zero-point.*groups ${deadGroup} \\[${DEAD.column}, ${DEAD.block}\\]`)],
    ['gbq-bad-dead-block.onnx', 'embed_Q4', new RegExp(`1 of 128 scale groups .*groups ${deadGroup} \\[${DEAD.column}, ${DEAD.block}\\]`)],
    ['dqw-bad-dead-block.onnx', 'fc1.weight_DQ_Q4', new RegExp(`1 of 128 scale groups .*groups ${DEAD.block * 32 + DEAD.column} \\[${DEAD.block}, ${DEAD.column}\\]`)],
    ['qop-bad-dead-block.onnx', 'fc1_quant', new RegExp(`1 of 32 scale groups .*groups ${DEAD.column}\\)`)],
    ['dyn-bad-dead-block.onnx', 'fc1_MatMulInteger', new RegExp(`1 of 32 scale groups .*groups ${DEAD.column}\\)`)],
  ];
  for (const [file, site, why] of expect) {
    const rs = await audit(file);
    assert.deepEqual(failing(rs), [`${site}:scale-collapse`], file);
    const sc = result(rs, site, 'scale-collapse');
    assert.equal(sc.hypothesis, 'H2');
    assert.match(sc.witness!.summary, why, file);
    assert.equal(result(rs, undefined, 'weight-audit').evidence.measurements.firstBrokenWeight, site);
  }
});

test('wrong zero-point: codes all on one side of it (uint8 zero-point 0 on signed weights; MatMulNBits packed zero-points all 0)', async () => {
  for (const [file, site] of [['qop-bad-zero-point.onnx', 'fc1_quant'], ['dyn-bad-zero-point.onnx', 'fc1_MatMulInteger'], ['nbits-bad-zero-point.onnx', 'fc1_Q4']] as const) {
    const rs = await audit(file);
    assert.deepEqual(failing(rs), [`${site}:scale-collapse`], file);
    const sc = result(rs, site, 'scale-collapse');
    assert.match(sc.witness!.summary, /scale groups have no code below their zero-point .* a wrong zero-point/, file);
    assert.equal(sc.statistic.name, 'scale groups with every code on one side of the zero-point');
    assert.ok((sc.statistic.value as number) > 0.9, `${file}: ${sc.statistic.value}`);
  }
});

test('scale ×10³: the whole weight collapses to its zero-point', async () => {
  for (const [file, site, groups] of [['qop-bad-scale-x1000.onnx', 'fc2_quant', 1], ['dyn-bad-scale-x1000.onnx', 'fc1_MatMulInteger', 32], ['nbits-bad-scale-x1000.onnx', 'fc1_Q4', 128]] as const) {
    const rs = await audit(file);
    assert.deepEqual(failing(rs), [`${site}:scale-collapse`], file);
    const sc = result(rs, site, 'scale-collapse');
    assert.match(sc.witness!.summary, new RegExp(`${groups} of ${groups} scale groups have every code at the zero-point`), file);
  }
});

test('QOperator activations: each QLinear* output linted; a reader that reads the codes with another scale than their writer is named', async () => {
  const good = await audit('qop-good.onnx');
  assert.deepEqual(['fc1_mm_quantized', 'h_quantized', 'y_quantized'].map((s) => result(good, s, 'scale-collapse').verdict), ['pass', 'pass', 'pass']);
  assert.equal(result(good, 'h_quantized', 'scale-collapse').evidence.measurements.readers, 'fc2_quant');
  const rs = await audit('qop-bad-reader-scale.onnx');
  assert.deepEqual(failing(rs), ['h_quantized:scale-collapse']);
  const r = result(rs, 'h_quantized', 'scale-collapse');
  assert.match(r.witness!.summary, /fc2_quant reads h_quantized: it uses scale 0\.\d+ where fc1_bias_quant wrote it with 0\.\d+: every value comes back rescaled/);
  // float32 scales: the reader's is 10 × the writer's to float32 rounding
  assert.ok(Math.abs((r.evidence.measurements['lint.scale-mismatch'] as number) / (r.evidence.measurements.scale as number) - 10) < 1e-6);
});

test('--float-model: per-weight and per-output SQNR and the worst weight, for every form including QDQ', async () => {
  const cases: [string, string, string[]][] = [
    ['qop-good.onnx', 'float-mlp.onnx', ['fc1_quant', 'fc2_quant']],
    ['dyn-good.onnx', 'float-mlp.onnx', ['fc1_MatMulInteger', 'fc2_MatMulInteger']],
    ['nbits-good.onnx', 'float-mlp.onnx', ['fc1_Q4', 'fc2_Q4']],
    ['dqw-good.onnx', 'float-mlp.onnx', ['fc1.weight_DQ_Q4']],
    ['gbq-good.onnx', 'float-embed.onnx', ['embed_Q4']],
    ['good-int8-per-tensor.onnx', 'float-qdq-mlp.onnx', ['fc1_w_q', 'fc2_w_q']],
  ];
  for (const [file, float, weights] of cases) {
    const rs = await audit(file, float);
    const fm = result(rs, undefined, 'float-model');
    assert.equal(fm.verdict, 'pass', `${file}: ${fm.witness?.summary}`);
    const rows = fm.evidence.tables![0]!.rows;
    for (const w of weights) {
      const row = rows.find((r) => r[0] === w);
      assert.ok(row && typeof row[4] === 'number' && row[4] > 10, `${file}: weight ${w} SQNR ${row?.[4]}`);
    }
    assert.ok(weights.includes(String(fm.evidence.measurements.worstWeight)), `${file}: worst ${fm.evidence.measurements.worstWeight}`);
    const out = Object.entries(fm.evidence.measurements).filter(([k]) => k.startsWith('outputSqnrDb.'));
    assert.equal(out.length, 1);
    assert.ok(typeof out[0]![1] === 'number' && out[0]![1] > 10, `${file}: output SQNR ${out[0]![1]}`);
  }
});

test('--float-model on a broken model: the broken weight is the worst, far below its reference, and the model departs at its op', async () => {
  const rs = await audit('nbits-bad-scale-x1000.onnx', 'float-mlp.onnx');
  const fm = result(rs, undefined, 'float-model');
  assert.equal(fm.verdict, 'fail');
  assert.equal(fm.evidence.measurements.worstWeight, 'fc1_Q4');
  assert.ok((fm.evidence.measurements.worstWeightSqnrDb as number) < 1);
  assert.equal(fm.evidence.measurements.firstPartingOp, 'fc1_Q4');
  assert.equal((fm as ProbeResult & { explainedBySite?: string }).explainedBySite, 'fc1_Q4', 'the parting is explained by the broken weight');
  // paired, the weight is judged as a QDQ weight site: dead groups and SQNR against the reference quantizer
  const rt = result(rs, 'fc1_Q4', 'roundtrip');
  assert.equal(rt.verdict, 'fail');
  assert.equal(rt.evidence.measurements.pairedBy, 'name');
  assert.equal(rt.evidence.measurements.floatTensor, 'fc1.weight');
  assert.equal(result(rs, 'fc2_Q4', 'roundtrip').verdict, 'pass');
  // a QDQ weight: its DequantizeLinear output against the float weight of the same name
  const qdq = result(await audit('bad-scale-x1000.onnx', 'float-qdq-mlp.onnx'), undefined, 'float-model');
  assert.equal(qdq.evidence.measurements.worstWeight, 'fc1_w_q');
  assert.ok((qdq.evidence.measurements.worstWeightSqnrDb as number) < 1);
  // the QOperator hidden activation h_quantized is compared with the float model's h
  const q = await audit('qop-good.onnx', 'float-mlp.onnx');
  const shared = result(q, undefined, 'float-model').evidence.tables![2]!.rows;
  const h = shared.find((r) => r[1] === 'h_quantized');
  assert.ok(h && typeof h[3] === 'number' && h[3] > 20, `h_quantized vs h: ${h?.[3]}`);
});

test('--float-model pairs QDQ weights the exporter renamed by position: the same per-weight SQNR as the same-name pair; a wrong-size candidate stays unpaired and listed', async () => {
  const rowsOf = (rs: ProbeResult[]) => new Map(result(rs, undefined, 'float-model').evidence.tables![0]!.rows.map((r) => [String(r[0]), r]));
  const same = await audit('good-int8-per-tensor.onnx', 'float-qdq-mlp.onnx');
  const renamed = await audit('qdq-renamed-weights.onnx', 'float-qdq-mlp.onnx');
  const [byName, byPosition] = [rowsOf(same), rowsOf(renamed)];
  // columns: site, form, float weight, paired by, SQNR dB, reference dB
  assert.deepEqual(byName.get('fc1_w_q')!.slice(1, 4), ['qdq', 'fc1.weight', 'name']);
  assert.deepEqual(byPosition.get('fc1_w_q')!.slice(1, 4), ['qdq', 'fc1.weight', 'position (1. Gemm input 1)']);
  assert.deepEqual(byPosition.get('fc2_w_q')!.slice(1, 4), ['qdq', 'fc2.weight', 'position (2. Gemm input 1)']);
  for (const site of ['fc1_w_q', 'fc2_w_q']) {
    const db = byName.get(site)![4];
    assert.ok(typeof db === 'number' && db > 40 && db < 50, `${site}: int8 per tensor ${db} dB`);
    assert.equal(byPosition.get(site)![4], db, `${site}: paired by position, the same SQNR as by name`);
  }
  const fm = result(renamed, undefined, 'float-model');
  assert.deepEqual([fm.verdict, fm.evidence.measurements.pairedWeights, fm.evidence.measurements.worstWeight], ['pass', 2, result(same, undefined, 'float-model').evidence.measurements.worstWeight]);
  // the float model's fc2 reads [h, h]: its weight [4, 16] is at fc2's position but not fc2's size [4, 8]
  const fc2Why: Record<string, string> = {
    'qdq-renamed-weights.onnx': "not paired: no float weight of its name; the float model's 2. Gemm input 1 (fc2.weight [4, 16]) is not its size [4, 8]",
    'good-int8-per-tensor.onnx': "not paired: the float fc2.weight [4, 16] is not its size [4, 8]; the float model's 2. Gemm input 1 (fc2.weight [4, 16]) is not its size [4, 8]",
  };
  for (const [file, why] of Object.entries(fc2Why)) {
    const wide = result(await audit(file, 'float-qdq-mlp-wide-fc2.onnx'), undefined, 'float-model');
    const rows = rowsOf([wide]);
    assert.equal(rows.get('fc1_w_q')![4], byName.get('fc1_w_q')![4], `${file}: fc1 still pairs`);
    assert.deepEqual(rows.get('fc2_w_q'), ['fc2_w_q', 'qdq', '(not paired)', why, null, null], file);
    assert.deepEqual([wide.evidence.measurements.pairedWeights, wide.evidence.measurements.weights], [1, 2], file);
  }
});

test('pairWeights: a weight read through DQ → Transpose → MatMul pairs with the float MatMul constant (square: transposed by layout); no position when the models have a different number of ops of the kind', () => {
  const K = 8;
  const w = new Rng(11).normalArray(K * K, 0.3); // fc.weight [N, K], as torch stores a Linear
  const wT = Float32Array.from({ length: K * K }, (_, i) => w[(i % K) * K + Math.floor(i / K)]!); // [K, N]
  const io = { inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', K] }], outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', K] }] };
  const q = indexGraph(decodeOnnxModel(makeModel({
    opset: 13, ...io,
    nodes: [
      { op: 'QuantizeLinear', name: 'fc_w_q', inputs: ['fc.weight', 's', 'z'], outputs: ['codes'] },
      { op: 'DequantizeLinear', name: 'fc_w_dq', inputs: ['codes', 's', 'z'], outputs: ['wd'] },
      { op: 'Transpose', name: 't', inputs: ['wd'], outputs: ['wt'] },
      { op: 'MatMul', name: 'fc', inputs: ['x', 'wt'], outputs: ['y'] },
    ],
    initializers: [
      { name: 'fc.weight', elemType: ELEM.FLOAT, dims: [K, K], values: w },
      { name: 's', elemType: ELEM.FLOAT, dims: [], values: [0.01] }, { name: 'z', elemType: ELEM.INT8, dims: [], values: [0] },
    ],
  }), 'q.onnx').model.graph!);
  const float = (extra: boolean): FloatModel => {
    const loaded = decodeOnnxModel(makeModel({
      opset: 13, ...io,
      nodes: [
        { op: 'MatMul', name: 'fc', inputs: ['x', 'onnx::MatMul_5'], outputs: [extra ? 'h' : 'y'] },
        ...(extra ? [{ op: 'MatMul', name: 'fc_extra', inputs: ['h', 'onnx::MatMul_5'], outputs: ['y'] }] : []),
      ],
      initializers: [{ name: 'onnx::MatMul_5', elemType: ELEM.FLOAT, dims: [K, K], values: wT }],
    }), 'f.onnx');
    return { path: 'f.onnx', loaded, index: indexGraph(loaded.model.graph!) };
  };
  const sites = discoverSites(q);
  const p = pairWeights(q, [], sites, float(false));
  const got = p.paired.get('fc_w_q')!;
  assert.deepEqual([got.tensor, got.how], ['onnx::MatMul_5', 'position (1. MatMul input 1)']);
  assert.deepEqual(Array.from(got.values), Array.from(w), 'the float [K, N] constant in the QDQ weight\'s [N, K] order');
  const off = pairWeights(q, [], sites, float(true));
  assert.equal(off.paired.size, 0);
  assert.equal(off.unpaired.get('fc_w_q'), 'no float weight of its name; no position: 1 MatMul/Gemm ops here, 2 in the float model');
});

test('runtime cross-check: a session that disagrees with the optimised one is an environment problem, naming runtime and setting', async () => {
  const bytes = readFileSync(join(FIX, 'env-int8-int4-mix.onnx'));
  const x = new ort.Tensor('float32', new Rng(7).fork('onnx-inputs').normalArray(8 * 32), [8, 32]);
  // the plain unoptimised session of this correct model returns garbage (the audit session, with tensors exposed, does not)
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  const plain = new Map([['y', (await s.run({ x })).y!.data as Float32Array]]);
  await s.release();
  const optimised = await optimisedOutputs({ bytes }, { x }, 'cpu', 'env fixture');
  assert.ok(plain.get('y')!.some((v) => !Number.isFinite(v)), 'onnxruntime-node 1.30 unoptimised: NaN in y');
  assert.ok(optimised.get('y')!.every((v) => Number.isFinite(v) && Math.abs(v) < 10));
  const cmp = compareOutputs(plain, optimised, 20);
  assert.equal(cmp[0]!.agree, false);
  const r = crossCheckResult(cmp, 'cpu', 7, DEFAULT_THRESHOLDS, 'repro');
  assert.equal(r.verdict, 'inconclusive');
  assert.match(r.reason!, /environment problem, not a finding about the model: onnxruntime-node 1\.30\.0 on the cpu execution provider with graphOptimizationLevel 'disabled' \(the audit session\) vs 'all' disagree on y/);
  // the audit itself: its session agrees with the optimised one here, so the model passes
  const rs = await audit('env-int8-int4-mix.onnx');
  assert.equal(result(rs, undefined, 'runtime-crosscheck').verdict, 'pass');
  assert.deepEqual(failing(rs), []);
});

test('CLI: run --target onnx:M.onnx --float-model F.onnx on a broken MatMulNBits model exits 1 and report.json names the site, the block and the worst weight', () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-forms-cli-'));
  const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'run', ...args, '--out', out, '--json', '--quiet'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const good = cli(['--target', 'onnx:fixtures/onnx/nbits-good.onnx']);
  assert.equal(good.status, 0, good.stderr);
  const bad = cli(['--target', 'onnx:fixtures/onnx/nbits-bad-dead-block.onnx', '--float-model', 'fixtures/onnx/float-mlp.onnx']);
  assert.equal(bad.status, 1, bad.stderr);
  const report = JSON.parse(bad.stdout) as { results: ProbeResult[] };
  const sc = report.results.find((r) => r.site === 'fc1_Q4' && r.probe === 'scale-collapse')!;
  assert.equal(sc.verdict, 'fail');
  assert.match(sc.witness!.summary, new RegExp(`groups ${deadGroup} \\[${DEAD.column}, ${DEAD.block}\\]`));
  const fm = report.results.find((r) => r.probe === 'float-model')!;
  assert.equal(fm.evidence.measurements.worstWeight, 'fc1_Q4');
  // the roll-ups follow from the broken site: one cause (at fc1_Q4), not three
  type Diagnosed = { results: ProbeResult[]; diagnosis: { format: string; site?: string; causes: { probe: string }[]; consequences: { probe: string }[] }[] };
  const rollUps = (r: Diagnosed, expected: string[]): void => {
    const atSite = r.diagnosis.find((d) => d.site === 'fc1_Q4')!.causes.map((c) => c.probe);
    for (const probe of expected) {
      const x = r.results.find((y) => y.probe === probe)!;
      assert.deepEqual([x.verdict, x.explainedBySite, x.gated], ['fail', 'fc1_Q4', false], probe);
      assert.ok(atSite.includes(x.explainedBy!), `${probe} follows from a cause at fc1_Q4 (${x.explainedBy} of ${atSite.join(', ')})`);
    }
    assert.deepEqual(r.diagnosis.filter((d) => d.site === undefined).flatMap((d) => d.causes.map((c) => c.probe)), [], 'no format-level cause');
    assert.deepEqual(r.diagnosis.find((d) => d.site === undefined)!.consequences.map((c) => c.probe).sort(), expected);
    assert.ok(r.diagnosis.find((d) => d.site === 'fc1_Q4')!.causes.some((c) => c.probe === 'scale-collapse'));
  };
  rollUps(report as Diagnosed, fm.verdict === 'fail' ? ['float-model', 'weight-audit'] : ['weight-audit']);
  const x1000 = cli(['--target', 'onnx:fixtures/onnx/nbits-bad-scale-x1000.onnx', '--float-model', 'fixtures/onnx/float-mlp.onnx']);
  assert.equal(x1000.status, 1, x1000.stderr);
  rollUps(JSON.parse(x1000.stdout) as Diagnosed, ['float-model', 'weight-audit']); // 0 dB against the float model, parting at fc1_Q4
  const missing = cli(['--target', 'onnx:fixtures/onnx/nbits-good.onnx', '--float-model', 'fixtures/onnx/float-embed.onnx']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--float-model '.*float-embed\.onnx' does not take the quantized model's inputs .*Give the float model the quantized one was made from\./);
});

test('CLI --float-model: the terminal and report.md print per-weight and per-output SQNR and name the worst weight (MatMulNBits, QDQ, broken MatMulNBits)', () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-forms-float-'));
  const cases: { file: string; float: string; status: number; weights: Record<string, [number, number]>; output: [number, number]; worst: string }[] = [
    // SQNR bounds in dB: a 4-bit block quantizer reaches ~22-23 dB on these weights, int8 per tensor ~45 dB; the x1000 scale sends fc1 to 0 dB
    { file: 'nbits-good.onnx', float: 'float-mlp.onnx', status: 0, weights: { fc1_Q4: [20, 26], fc2_Q4: [20, 26] }, output: [15, 30], worst: 'fc2_Q4' },
    { file: 'good-int8-per-tensor.onnx', float: 'float-qdq-mlp.onnx', status: 0, weights: { fc1_w_q: [40, 50], fc2_w_q: [40, 50] }, output: [30, 50], worst: 'fc1_w_q' },
    { file: 'nbits-bad-scale-x1000.onnx', float: 'float-mlp.onnx', status: 1, weights: { fc1_Q4: [-1, 1], fc2_Q4: [20, 26] }, output: [-5, 5], worst: 'fc1_Q4' },
  ];
  for (const k of cases) {
    const float = `fixtures/onnx/${k.float}`;
    const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'run', '--target', `onnx:fixtures/onnx/${k.file}`, '--float-model', float, '--out', out, '--json'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(run.status, k.status, `${k.file}: ${run.stderr}`);
    const terminal = run.stderr;
    const report = JSON.parse(run.stdout) as { run: { id: string }; results: ProbeResult[] };
    assert.ok(terminal.includes(`Against the float model ${float}`), `${k.file}: no float-model section`);
    for (const [w, [lo, hi]] of Object.entries(k.weights)) {
      const row = new RegExp(`^\\| ${w} +\\| \\S+ +\\| fc\\d\\.weight +\\| name +\\| (-?[\\d.]+) +\\|`, 'm').exec(terminal);
      assert.ok(row, `${k.file}: no per-weight row for ${w}`);
      const db = Number(row[1]);
      assert.ok(db >= lo && db <= hi, `${k.file}: ${w} SQNR ${db} dB outside [${lo}, ${hi}]`);
    }
    const y = /^\| y +\| y +\| (-?[\d.]+) +\| (yes|no) +\|/m.exec(terminal);
    assert.ok(y, `${k.file}: no per-output row`);
    assert.ok(Number(y[1]) >= k.output[0] && Number(y[1]) <= k.output[1], `${k.file}: output SQNR ${y[1]} dB`);
    assert.match(terminal, new RegExp(`^worst weight: ${k.worst} \\(`, 'm'));
    const fm = report.results.find((r) => r.probe === 'float-model')!;
    assert.equal(fm.evidence.measurements.worstWeight, k.worst);
    assert.equal(fm.verdict, k.status === 0 ? 'pass' : 'fail');
    if (fm.witness) assert.match(fm.witness.repro, /--float-model fixtures\/onnx\/float-mlp\.onnx/, 'the repro command keeps --float-model');
    const md = readFileSync(join(out, report.run.id, 'report.md'), 'utf8');
    assert.match(md, new RegExp(`## Against the float model \`${float.replace(/\./g, '\\.')}\``));
    assert.match(md, new RegExp(`^\\| ${k.worst} \\| `, 'm'));
    assert.match(md, new RegExp(`^- worst weight: ${k.worst} \\(`, 'm'));
  }
});

test('CLI --float-model that does not pair with the quantized model: exit 2 naming the file and what to do, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-forms-nopair-'));
  // same input as nbits-good.onnx, but no weight at all: nothing can pair with its two MatMulNBits weights
  const nopair = join(dir, 'nopair.onnx');
  writeFileSync(nopair, makeModel({
    opset: 21,
    nodes: [{ op: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', 64] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', 64] }],
    initializers: [],
  }));
  const cli = (float: string) => spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'run', '--target', 'onnx:fixtures/onnx/nbits-good.onnx', '--float-model', float, '--out', dir, '--quiet'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const todo = /Give the float model the quantized one was made from\./;
  const shapes = cli('fixtures/onnx/float-qdq-mlp.onnx');
  assert.equal(shapes.status, 2, shapes.stderr);
  assert.match(shapes.stderr, /--float-model 'fixtures\/onnx\/float-qdq-mlp\.onnx' does not take the quantized model's input shapes \(x: quantized \[\?, 64\], float \[\?, 16\]\)/);
  assert.match(shapes.stderr, todo);
  const none = cli(nopair);
  assert.equal(none.status, 2, none.stderr);
  assert.ok(none.stderr.includes(`--float-model '${nopair}': none of the quantized model's 2 weights pairs with a float weight`), none.stderr);
  assert.ok(none.stderr.includes('fc1_Q4: no float weight of its name; no position: 2 MatMul/Gemm ops here, 0 in the float model'), none.stderr);
  assert.match(none.stderr, todo);
  for (const r of [shapes, none]) assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
});

test('runtime cross-check: an optimised session that aborts its process ends the child, and is reported as an environment problem', async () => {
  // int4 weights stored per channel → DequantizeLinear → Transpose → MatMul: onnxruntime-node 1.30 aborts (C++ assertion) optimising it with 'all'
  const rng = new Rng(3);
  const codes = (n: number) => Array.from({ length: n }, () => rng.int(16) - 8);
  const spec: ModelSpec = {
    opset: 21,
    nodes: [
      { op: 'DequantizeLinear', name: 'w_dq', inputs: ['w', 's', 'z'], outputs: ['wd'], attrs: { axis: 0 } },
      { op: 'Transpose', name: 't', inputs: ['wd'], outputs: ['wt'] },
      { op: 'MatMul', name: 'mm', inputs: ['x', 'wt'], outputs: ['y'] },
    ],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', 16] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', 8] }],
    initializers: [
      { name: 'w', elemType: ELEM.INT4, dims: [8, 16], values: codes(128) },
      { name: 's', elemType: ELEM.FLOAT, dims: [8], values: new Array(8).fill(0.05) },
      { name: 'z', elemType: ELEM.INT4, dims: [8], values: new Array(8).fill(0) },
    ],
  };
  const x = new ort.Tensor('float32', new Rng(7).normalArray(8 * 16), [8, 16]);
  let crash: unknown;
  try {
    await optimisedOutputs({ bytes: makeModel(spec) }, { x }, 'cpu', 'the transpose model');
  } catch (e) {
    crash = e;
  }
  assert.ok(crash instanceof RuntimeCrash, `expected the child to die, got ${String(crash)}`);
  assert.match((crash as Error).message, /onnxruntime-node 1\.30\.0 ended the process running the transpose model with SIGABRT/);
  const r = crashResult((crash as Error).message, 'cpu', 7, 'repro');
  assert.equal(r.verdict, 'inconclusive');
  assert.match(r.reason!, /environment problem, not a finding about the model: .* graphOptimizationLevel 'all' on the cpu execution provider/);
});
