/**
 * QDQ models laid out the way real exporters write them (fixtures/onnx/exporters.ts, and a real
 * torch.onnx.export of a prepare_qat CNN): correct ones have zero findings — a ReLU folded into a
 * QuantizeLinear with zero-point at the code minimum, ArgMax on the logits' codes, float16 scales
 * in the DequantizeLinear, int32 bias sites — and each broken one is blamed on exactly one site and
 * hypothesis, every other failure marked as following from it by a repair experiment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOnnxTarget } from '../src/targets/onnx/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { defaultRegistry } from '../src/formats/registry.js';
import type { ProbeResult } from '../src/report/types.js';
import { ELEM, makeModel, type ModelSpec } from '../src/onnx/builder.js';
import { floatCode } from '../src/onnx/proto.js';
import { exporterFixtures, ortQdqSpec, trtSpec } from '../fixtures/onnx/exporters.js';
import { compareOutputs } from '../src/onnx/forms/crosscheck.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = join(ROOT, 'fixtures', 'onnx');

async function auditPath(path: string, seed = 7): Promise<ProbeResult[]> {
  const target = await openOnnxTarget(path, { registry: defaultRegistry, ep: 'cpu' });
  try {
    return await target.audit!({ seed, thresholds: DEFAULT_THRESHOLDS, formats: [], reproCommand: (p, f, s) => `repro ${p} ${f} ${s ?? ''}`, log: () => {} });
  } finally {
    await target.close();
  }
}
const audit = (file: string): Promise<ProbeResult[]> => auditPath(join(FIX, file));
async function auditSpec(spec: ModelSpec): Promise<ProbeResult[]> {
  const path = join(mkdtempSync(join(tmpdir(), 'qa-onnx-exp-')), 'model.onnx');
  writeFileSync(path, makeModel(spec));
  return auditPath(path);
}

const failing = (rs: ProbeResult[]): ProbeResult[] => rs.filter((r) => r.site && r.verdict === 'fail');
const primary = (rs: ProbeResult[]): string[] => failing(rs).filter((r) => !r.explainedBy).map((r) => `${r.site} ${r.probe}`);
const find = (rs: ProbeResult[], site: string, probe: string): ProbeResult => rs.find((r) => r.site === site && r.probe === probe)!;
const headline = (rs: ProbeResult[]): ProbeResult => rs.find((r) => r.site === undefined)!;

test('the exporter-layout fixtures are exactly what exporters.ts writes', async () => {
  for (const [name, spec] of Object.entries(await exporterFixtures())) {
    assert.ok(Buffer.from(makeModel(spec)).equals(readFileSync(join(FIX, name))), `${name} is stale: run node dist/fixtures/onnx/generate.js`);
  }
});

for (const file of ['ort-qdq-u8-per-channel.onnx', 'ort-qdq-s8-qdq-weights.onnx', 'torch-qat-cnn.onnx', 'torch-qat-cnn-export.onnx', 'trt-int8-cnn.onnx', 'trt-int8-fp16-dq-scales.onnx']) {
  test(`${file}: a correct exporter layout has zero findings`, async () => {
    const rs = await audit(file);
    assert.deepEqual(rs.filter((r) => r.verdict === 'fail' || r.verdict === 'inconclusive').map((r) => `${r.site} ${r.probe}`), []);
    assert.equal(headline(rs).verdict, 'pass');
    assert.equal(headline(rs).statistic.value, 0);
  });
}

test('onnxruntime layout: the ReLU folded into the uint8 QuantizeLinear (zero-point 0) is judged against max(x, 0), not as sign loss', async () => {
  const rs = await audit('ort-qdq-u8-per-channel.onnx');
  const m = find(rs, 'relu1_out_QuantizeLinear', 'scale-collapse').evidence.measurements;
  assert.equal(m.foldedClamp, true);
  assert.equal(m.zeroPoint, 0);
  assert.equal(m.signLoss, 0, 'max(x, 0) has nothing negative to lose');
  assert.ok((m.localSqnrDb as number) > 40, String(m.localSqnrDb));
  // int8 activations: the folded clamp sits at zero-point −128
  const s8 = await audit('ort-qdq-s8-qdq-weights.onnx');
  const m8 = find(s8, 'relu2_out_QuantizeLinear', 'scale-collapse').evidence.measurements;
  assert.equal(m8.foldedClamp, true);
  assert.equal(m8.zeroPoint, -128);
  assert.equal(m8.codeType, 'int8');
  // the logits are signed: not a folded clamp, and still judged as they are
  assert.equal(find(rs, 'y_QuantizeLinear', 'scale-collapse').evidence.measurements.foldedClamp, undefined);
});

test('onnxruntime layout: ArgMax on the logits\' codes gives the dequantized logits\' indices, so it is no leak', async () => {
  const rs = await audit('ort-qdq-u8-per-channel.onnx');
  const r = find(rs, 'y_QuantizeLinear', 'missing-dequant');
  assert.equal(r.verdict, 'pass');
  assert.equal(r.statistic.value, 0);
  assert.deepEqual(r.evidence.notes, ['ArgMax predicted_class reads the codes: run on the dequantized codes it gives the same 8 indices (order-preserving, not a leak)']);
});

test('ArgMax over codes with a different scale per compared element is a leak: its indices differ from the dequantized values\'', async () => {
  // x[b, 4] quantized per column (axis 1) with scales 1, 0.01, 1, 1: code 100 in column 1 is 1.0, code 3 in column 0 is 3.0
  const spec: ModelSpec = {
    opset: 13,
    nodes: [
      { op: 'QuantizeLinear', name: 'q', inputs: ['x', 'scale', 'zp'], outputs: ['codes'], attrs: { axis: 1 } },
      { op: 'DequantizeLinear', name: 'dq', inputs: ['codes', 'scale', 'zp'], outputs: ['y'], attrs: { axis: 1 } },
      { op: 'ArgMax', name: 'pick', inputs: ['codes'], outputs: ['label'], attrs: { axis: 1, keepdims: 0 } },
    ],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', 4] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', 4] }, { name: 'label', elemType: ELEM.INT64, shape: ['batch'] }],
    initializers: [
      { name: 'scale', elemType: ELEM.FLOAT, dims: [4], values: [0.04, 0.0004, 0.04, 0.04] },
      { name: 'zp', elemType: ELEM.INT8, dims: [4], values: [0, 0, 0, 0] },
    ],
  };
  const rs = await auditSpec(spec);
  const r = find(rs, 'q', 'missing-dequant');
  assert.equal(r.verdict, 'fail');
  assert.equal(r.statistic.value, 1);
  assert.match(r.witness!.summary, /ArgMax pick: \d+ of 8 indices differ from the same op on the dequantized codes/);
});

test('float16 scale in the DequantizeLinear: equal to the QuantizeLinear\'s float32 scale at float16 precision, so no lint', async () => {
  const rs = await audit('trt-int8-fp16-dq-scales.onnx');
  const sc = find(rs, '/conv1/input_quantizer/QuantizeLinear', 'scale-collapse');
  assert.equal(sc.verdict, 'pass');
  assert.equal(sc.evidence.measurements['lint.scale-mismatch'], undefined);
  // The same layout with one DequantizeLinear scale 1 % off: a real mismatch, named with both values.
  const spec = await trtSpec({ float16DequantizeScales: true });
  const fp16 = spec.initializers!.find((i) => i.name === '/fc.input_quantizer.scale_fp16')!;
  const fp32 = spec.initializers!.find((i) => i.name === '/fc.input_quantizer.scale')!;
  const off = { ...spec, initializers: spec.initializers!.map((i) => (i === fp16 ? { ...i, values: [floatCode(ELEM.FLOAT16, Number(fp32.values[0]) * 1.01)] } : i)) };
  const bad = await auditSpec(off);
  const r = find(bad, '/fc/input_quantizer/QuantizeLinear', 'scale-collapse');
  assert.equal(r.verdict, 'fail');
  assert.match(r.evidence.notes!.join('\n'), /scale-mismatch: DequantizeLinear uses scale .* \(compared at float16 precision: /);
  assert.deepEqual(primary(bad), ['/fc/input_quantizer/QuantizeLinear scale-collapse']);
});

test('onnxruntime layout: int32 bias DequantizeLinears are sites (scale = input scale × weight scale, zero-point 0)', async () => {
  const rs = await audit('ort-qdq-u8-per-channel.onnx');
  const bias = rs.filter((r) => r.probe === 'scale-collapse' && r.evidence.measurements.bias === true);
  assert.deepEqual(bias.map((r) => r.site), ['conv1.bias_quantized_DequantizeLinear', 'conv2.bias_quantized_DequantizeLinear', 'fc.bias_quantized_DequantizeLinear']);
  assert.ok(bias.every((r) => r.verdict === 'pass' && r.evidence.measurements.codeType === 'int32' && r.evidence.measurements.kind === 'dq-only'));
});

test('bad-ort-bias-saturated: the conv2 bias codes clip at the int32 limit — the one finding, named with the tiny weight scale behind it', async () => {
  const rs = await audit('bad-ort-bias-saturated.onnx');
  assert.deepEqual(failing(rs).map((r) => `${r.site} ${r.probe}`), ['conv2.bias_quantized_DequantizeLinear scale-collapse']);
  const r = find(rs, 'conv2.bias_quantized_DequantizeLinear', 'scale-collapse');
  assert.equal(r.hypothesis, 'H2');
  assert.equal(r.evidence.measurements['lint.bias-saturated'], -2147483648);
  assert.match(r.witness!.summary, /1 of 8 int32 bias codes sit at the int32 limit \(first: element 5 = -2147483648, bias scale [\d.e-]+, Conv conv2: input scale 0\.0242 × weight scale [\d.e-]+ \(channel 5\)/);
  assert.equal(headline(rs).statistic.value, 1);
});

test('bad-ort-per-tensor-dead-channel: one scale for the tensor zeroes conv1\'s channel 2 — a collapse though the per-tensor reference zeroes it too', async () => {
  const rs = await audit('bad-ort-per-tensor-dead-channel.onnx');
  assert.deepEqual(primary(rs), ['conv1.weight_QuantizeLinear scale-collapse']);
  const r = find(rs, 'conv1.weight_QuantizeLinear', 'scale-collapse');
  assert.equal(r.evidence.measurements.granularity, 'per-tensor');
  const checks = r.evidence.tables![0]!.rows;
  assert.deepEqual(checks.find((c) => c[0] === 'dead output channels (every weight sent to 0)'), ['dead output channels (every weight sent to 0)', 1, 0, 'fail']);
  assert.deepEqual(checks.find((c) => c[0] === 'dead scale groups (channels/blocks sent to 0)'), ['dead scale groups (channels/blocks sent to 0)', 0, 0, 'pass'], 'the reference (per-tensor) zeroes it too');
  assert.match(r.witness!.summary, /1 of 8 output channels \(axis 0\) send ≥ 99 % of their nonzero weights to 0 under one scale for the tensor \(channel 2: /);
  assert.ok(failing(rs).every((x) => !x.explainedBy || x.explainedBySite === 'conv1.weight_QuantizeLinear' || x.site === 'conv1.weight_QuantizeLinear'));
});

/** Every failing result is the planted cause, a consequence at the same site, or explained by the planted site. */
function assertOneCause(rs: ProbeResult[], site: string, probe: string): void {
  assert.deepEqual(primary(rs), [`${site} ${probe}`]);
  for (const r of failing(rs)) {
    if (r.site === site) continue;
    assert.ok(r.explainedBy, `${r.site} ${r.probe} should be explained`);
    if (r.explainedBySite) {
      assert.equal(r.explainedBySite, site);
      assert.equal(r.explainedBy, probe);
      assert.match(r.explanation!, new RegExp(`^with ${site.replace(/[/.]/g, '\\$&')} repaired .* passes ${r.probe}: `));
    } else {
      // a same-site consequence (roundtrip ← scale-collapse) of a site that is itself explained by the planted one
      assert.equal(find(rs, r.site!, r.explainedBy).explainedBySite, site);
    }
  }
  const h = headline(rs);
  assert.equal(h.statistic.value, 1);
  assert.equal(h.evidence.measurements.firstBrokenNode, site);
  assert.equal(h.explainedBySite, site);
}

test('bad-trt-weight-scale-x1000: conv1\'s weights all round to 0; the activations after it fail too, each explained by conv1\'s weight site', async () => {
  const rs = await audit('bad-trt-weight-scale-x1000.onnx');
  assertOneCause(rs, '/conv1/weight_quantizer/QuantizeLinear', 'scale-collapse');
  const down = find(rs, '/conv2/input_quantizer/QuantizeLinear', 'scale-collapse');
  assert.equal(down.verdict, 'fail');
  assert.equal(down.explainedBySite, '/conv1/weight_quantizer/QuantizeLinear');
  assert.match(down.explanation!, /passes scale-collapse: zero fraction above reference 0\.4 → 0 \(fail when > 0\.25\)$/);
  const rows = headline(rs).evidence.tables![0]!.rows;
  assert.equal(rows.find((r) => r[0] === '/conv2/input_quantizer/QuantizeLinear')![8], 'explained by /conv1/weight_quantizer/QuantizeLinear');
  assert.equal(rows.find((r) => r[0] === '/conv1/weight_quantizer/QuantizeLinear')![8], 'first broken node');
  assert.equal(find(rs, '/conv1/weight_quantizer/QuantizeLinear', 'roundtrip').explainedBy, 'scale-collapse');
});

test('bad-ort-weight-scale-x1000: the folded-ReLU activation and the logits after the broken conv1 weight are explained by it', async () => {
  const rs = await audit('bad-ort-weight-scale-x1000.onnx');
  assertOneCause(rs, 'conv1.weight_QuantizeLinear', 'scale-collapse');
  assert.equal(find(rs, 'relu1_out_QuantizeLinear', 'roundtrip').explainedBySite, 'conv1.weight_QuantizeLinear');
});

test('bad-torch-qat-scale-never-observed: a weight fake-quant left at its initial scale 1.0 is the one cause', async () => {
  const rs = await audit('bad-torch-qat-scale-never-observed.onnx');
  assertOneCause(rs, '/conv1/weight_fake_quant/QuantizeLinear', 'scale-collapse');
  assert.equal(find(rs, '/conv1/weight_fake_quant/QuantizeLinear', 'scale-collapse').evidence.measurements['lint.absurd-scale'] !== undefined, true);
});

test('a downstream site broken on its own stays a cause: the repair of the upstream site does not clear it', async () => {
  // conv1's weight scale ×1000 (upstream) and, independently, relu2_out's activation scale NaN
  const spec = await ortQdqSpec({ activation: 'int8', perChannel: false, weightsAsQdqPair: true, weightScaleFactor: { layer: 'conv1', factor: 1000 } });
  const broken = { ...spec, initializers: spec.initializers!.map((i) => (i.name === 'relu2_out_scale' ? { ...i, values: [Number.NaN] } : i)) };
  const rs = await auditSpec(broken);
  assert.deepEqual(primary(rs).sort(), ['conv1.weight_QuantizeLinear scale-collapse', 'relu2_out_QuantizeLinear scale-collapse']);
  assert.equal(find(rs, 'relu2_out_QuantizeLinear', 'roundtrip').explainedBy, 'scale-collapse', 'NaN outputs follow from the NaN scale at the same site');
  assert.equal(headline(rs).statistic.value, 2);
});

test('runtime cross-check: sessions that differ far less than the model differs from its float twin agree; a real torch export onnxruntime cannot optimise is not cross-checked', async () => {
  const a = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
  const b = Float32Array.from(a, (v, i) => v + (i % 2 ? 0.2 : -0.2)); // ~14 dB apart
  const session = new Map([['y', a]]);
  const optimised = new Map([['y', b]]);
  assert.equal(compareOutputs(session, optimised, 20)[0]!.agree, false);
  assert.equal(compareOutputs(session, optimised, 20, new Map([['y', 0.5]]))[0]!.agree, true, 'the model is 0.5 dB from its twin: a collapsed output');
  assert.equal(compareOutputs(session, optimised, 20, new Map([['y', 37]]))[0]!.agree, false, 'a healthy model: the sessions really disagree');
  const rs = await audit('torch-qat-cnn-export.onnx');
  const check = rs.find((r) => r.probe === 'runtime-crosscheck')!;
  assert.equal(check.verdict, 'skipped');
  assert.match(check.reason!, /^not cross-checked: .*QLinearAdd.*Scale and Zero-point must be a scalar/);
});
