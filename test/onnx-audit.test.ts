/**
 * The QDQ site audit on the checked-in fixtures: each broken model is blamed on the right
 * hypothesis at the right node, each good one passes, and the real PyTorch export is audited
 * without help (in-graph scales, Constant → Cast zero-points, Q → Clip → DQ, Gemm, dynamic batch).
 * Also: opset-21 block-quantized weights, and models with an If (the two-session path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOnnxTarget } from '../src/targets/onnx/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { defaultRegistry } from '../src/formats/registry.js';
import type { ProbeResult } from '../src/report/types.js';
import type { Target } from '../src/targets/types.js';
import { makeModel } from '../src/onnx/builder.js';
import { indexGraph } from '../src/onnx/graph.js';
import { loadOnnxModel } from '../src/onnx/load.js';
import { hasSubgraphs } from '../src/onnx/rewrite.js';
import { fixtures } from '../fixtures/onnx/generate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = join(ROOT, 'fixtures', 'onnx');

async function audit(file: string, inputs?: string, seed = 7): Promise<{ target: Target; results: ProbeResult[] }> {
  const target = await openOnnxTarget(join(FIX, file), { registry: defaultRegistry, ep: 'cpu', inputs });
  try {
    const results = await target.audit!({
      seed,
      thresholds: DEFAULT_THRESHOLDS,
      formats: [],
      reproCommand: (p, f, s) => `quant-audit run --target onnx:${file} --probe ${p} --format ${f}${s ? ` --site ${s}` : ''} --seed ${seed}`,
      log: () => {},
    });
    return { target, results };
  } finally {
    await target.close();
  }
}

const verdictOf = (rs: ProbeResult[], site: string, probe: string): string | undefined => rs.find((r) => r.site === site && r.probe === probe)?.verdict;
const headline = (rs: ProbeResult[]): ProbeResult => rs.find((r) => r.site === undefined)!;
const failingSites = (rs: ProbeResult[]): string[] => [...new Set(rs.filter((r) => r.site && r.verdict === 'fail').map((r) => r.site!))];

test('the checked-in fixtures are exactly what generate.ts writes', () => {
  for (const [name, spec] of Object.entries(fixtures())) {
    assert.ok(Buffer.from(makeModel(spec)).equals(readFileSync(join(FIX, name))), `${name} is stale: run node dist/fixtures/onnx/generate.js`);
  }
});

for (const file of ['good-int8-per-tensor.onnx', 'good-int8-per-channel.onnx', 'good-int4.onnx', 'good-fp8.onnx', 'good-int4-block.onnx', 'good-int8-if.onnx', 'torch-qat-mlp.onnx']) {
  test(`${file}: every site passes and the headline passes`, async () => {
    const { results } = await audit(file);
    const sites = results.filter((r) => r.site);
    assert.equal(sites.length, 12, '4 sites × 3 hypotheses');
    assert.deepEqual(failingSites(results), []);
    assert.ok(sites.every((r) => r.verdict === 'pass'), JSON.stringify(sites.filter((r) => r.verdict !== 'pass').map((r) => [r.site, r.probe, r.verdict])));
    assert.equal(headline(results).verdict, 'pass');
    assert.equal(headline(results).statistic.value, 0);
  });
}

test('good-int4 and good-fp8: code types resolved, formats implied, SQNR in the expected band', async () => {
  const int4 = await audit('good-int4.onnx');
  assert.deepEqual(int4.target.formats, ['int8', 'int4', 'uint4']);
  const w = int4.results.find((r) => r.site === 'fc1_w_q' && r.probe === 'roundtrip')!;
  assert.equal(w.evidence.measurements.codeType, 'int4');
  assert.equal(w.evidence.measurements.granularity, 'per-channel axis 0');
  // int4 per-channel absmax on N(0, 0.3²) weights: ~22 dB, equal to the reference quantizer.
  assert.ok(Math.abs((w.evidence.measurements.localSqnrDb as number) - 22.01) < 0.01, String(w.evidence.measurements.localSqnrDb));
  assert.equal(w.evidence.measurements.localSqnrDb, w.evidence.measurements.refSqnrDb);
  const fp8 = await audit('good-fp8.onnx');
  assert.deepEqual(fp8.target.formats, ['fp8-e4m3', 'fp8-e5m2']);
  const f = fp8.results.find((r) => r.site === 'fc1_w_q' && r.probe === 'roundtrip')!;
  assert.equal(f.evidence.measurements.codeType, 'float8e4m3fn');
  assert.ok((f.evidence.measurements.localSqnrDb as number) > 29 && (f.evidence.measurements.localSqnrDb as number) < 33);
});

test('bad-cast-not-dq: missing-dequant at fc1_w_q, through Cast fc1_w_cast into Gemm fc1', async () => {
  const { results } = await audit('bad-cast-not-dq.onnx');
  const r = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'missing-dequant')!;
  assert.equal(r.verdict, 'fail');
  assert.equal(r.statistic.value, 1);
  assert.match(r.witness!.summary, /Cast fc1_w_cast/);
  assert.match(r.witness!.summary, /Gemm fc1/);
  // codes are integers and ~1/scale times the weights
  assert.equal(r.evidence.measurements.integerFraction, 1);
  assert.ok((r.evidence.measurements.rmsRatio as number) > 100);
  assert.equal(verdictOf(results, 'act_in_q', 'missing-dequant'), 'pass');
  assert.equal(verdictOf(results, 'fc2_w_q', 'missing-dequant'), 'pass');
  assert.equal(headline(results).evidence.measurements.firstBrokenNode, 'fc1_w_q');
  assert.equal(headline(results).evidence.measurements.firstBrokenBecause, 'missing-dequant');
});

test('bad-scale-x1000: scale-collapse and roundtrip at fc1_w_q, coverage ≈ 1000', async () => {
  const { results } = await audit('bad-scale-x1000.onnx');
  const sc = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'scale-collapse')!;
  assert.equal(sc.verdict, 'fail');
  const coverage = sc.evidence.measurements['lint.absurd-scale'] as number;
  assert.ok(coverage > 900 && coverage < 1100, `coverage ${coverage}`);
  assert.equal(sc.evidence.measurements.zeroFraction, 1);
  assert.equal(verdictOf(results, 'fc1_w_q', 'roundtrip'), 'fail');
  assert.equal(verdictOf(results, 'fc1_w_q', 'missing-dequant'), 'pass');
  assert.equal(verdictOf(results, 'act_in_q', 'scale-collapse'), 'pass');
  assert.equal(verdictOf(results, 'fc2_w_q', 'scale-collapse'), 'pass');
  assert.equal(headline(results).evidence.measurements.firstBrokenNode, 'fc1_w_q');
  assert.match(headline(results).witness!.repro, /--probe qdq-audit/);
});

test('bad-dead-channel: scale-collapse at fc1_w_q names channel 3', async () => {
  const { results } = await audit('bad-dead-channel.onnx');
  const sc = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'scale-collapse')!;
  assert.equal(sc.verdict, 'fail');
  assert.match(sc.witness!.summary, /groups 3\)/);
  const table = sc.evidence.tables!.find((t) => t.headings[0] === 'group')!;
  assert.equal(table.rows[0]![0], 3);
  assert.equal(table.rows[0]![5], 1, 'channel 3 sends every value to 0');
  assert.equal(verdictOf(results, 'fc2_w_q', 'scale-collapse'), 'pass');
  assert.equal(verdictOf(results, 'act_in_q', 'roundtrip'), 'pass');
});

test('bad-uint8-zero-point: unsigned codes on signed weights at fc1_w_q, every negative weight loses its sign', async () => {
  const { results } = await audit('bad-uint8-zero-point.onnx');
  const sc = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'scale-collapse')!;
  assert.equal(sc.verdict, 'fail');
  assert.equal(sc.evidence.measurements['lint.unsigned-on-signed'], 0);
  assert.equal(sc.evidence.measurements.signLoss, 1);
  assert.equal(sc.evidence.measurements.refSignLoss, 0);
  assert.equal(sc.evidence.measurements.codeType, 'uint8');
  assert.deepEqual(failingSites(results), ['fc1_w_q']);
});

test('bad-zero-scale: zero-scale lint at fc1_w_q; downstream act_h_q is explained by it', async () => {
  const { results } = await audit('bad-zero-scale.onnx');
  const sc = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'scale-collapse')!;
  assert.equal(sc.verdict, 'fail');
  assert.equal(sc.evidence.measurements['lint.zero-scale'], 0);
  const h = headline(results);
  assert.equal(h.evidence.measurements.firstBrokenNode, 'fc1_w_q');
  const rows = h.evidence.tables![0]!.rows;
  assert.equal(rows.find((r) => r[0] === 'fc1_w_q')![8], 'first broken node');
  assert.equal(rows.find((r) => r[0] === 'act_in_q')![8], '');
  assert.equal(rows.find((r) => r[0] === 'act_h_q')![8], 'explained by fc1_w_q');
  // every failure at act_h_q follows from fc1_w_q: its own scale-collapse by the repair, its roundtrip from that
  const act = results.filter((r) => r.site === 'act_h_q' && r.verdict === 'fail').map((r) => [r.probe, r.explainedBy, r.explainedBySite ?? null]);
  assert.deepEqual(act, [['roundtrip', 'scale-collapse', null], ['scale-collapse', 'scale-collapse', 'fc1_w_q']]);
});

test('bad-nan-scale: the hidden activation act_h_q is the first broken node; its outputs are NaN', async () => {
  const { results } = await audit('bad-nan-scale.onnx');
  assert.deepEqual(failingSites(results), ['act_h_q']);
  const rt = results.find((x) => x.site === 'act_h_q' && x.probe === 'roundtrip')!;
  assert.equal(rt.verdict, 'fail');
  assert.equal(rt.evidence.measurements.nonFiniteOutput, 64, '8 × 8 hidden values');
  assert.ok(Number.isNaN(results.find((x) => x.site === 'act_h_q' && x.probe === 'scale-collapse')!.evidence.measurements['lint.nonfinite-scale'] as number));
  assert.equal(headline(results).evidence.measurements.firstBrokenNode, 'act_h_q');
  assert.equal(verdictOf(results, 'fc1_w_q', 'roundtrip'), 'pass');
});

const measurementsOf = (rs: ProbeResult[], site: string, probe = 'roundtrip') => rs.find((r) => r.site === site && r.probe === probe)!.evidence.measurements;
const groupRows = (rs: ProbeResult[], site: string) => {
  const t = rs.find((r) => r.site === site && r.probe === 'scale-collapse')!.evidence.tables!.find((x) => x.headings[0] === 'group')!;
  return { title: t.title ?? '', rows: t.rows };
};

test('good-int4-block: int4 weights in blocks of 6 along axis 1 are audited per block, at the reference SQNR', async () => {
  const { target, results } = await audit('good-int4-block.onnx');
  assert.deepEqual(target.formats, ['int8', 'int4', 'uint8']);
  for (const site of ['fc1_w_q', 'fc2_w_q']) {
    assert.equal(measurementsOf(results, site).granularity, 'per-block(6) axis 1');
    assert.equal(measurementsOf(results, site).codeType, 'int4');
    // the scales are each block's absmax / 7, exactly what the reference quantizer computes
    assert.equal(measurementsOf(results, site).localSqnrDb, measurementsOf(results, site).refSqnrDb);
  }
  assert.equal(measurementsOf(results, 'fc1_w_q').localSqnrDb, 24.3);
  assert.equal(measurementsOf(results, 'act_in_q').granularity, 'per-tensor');
  // ceil(16 / 6) = 3 blocks per row of fc1 [8, 16], ceil(8 / 6) = 2 per row of fc2 [4, 8] (the last block is short)
  assert.match(groupRows(results, 'fc1_w_q').title, /of 24\)$/);
  assert.match(groupRows(results, 'fc2_w_q').title, /of 8\)$/);
  // group g is scale element g (row-major [rows, blocks]): its |x| max is its block's, so scale × 7 = |x| max
  for (const row of groupRows(results, 'fc1_w_q').rows) {
    const scale = Number(row[1]);
    const absmax = Number(row[3]);
    assert.ok(Math.abs(scale * 7 - absmax) / absmax < 1e-3, `group ${row[0]}: scale ${scale} × 7 vs |x| max ${absmax}`);
  }
});

test('bad-dead-block: scale-collapse at fc1_w_q names block 4 (row 1, block 1) as dead; roundtrip alone would miss it', async () => {
  const { results } = await audit('bad-dead-block.onnx');
  const sc = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'scale-collapse')!;
  assert.equal(sc.verdict, 'fail');
  assert.equal(sc.evidence.measurements.granularity, 'per-block(6) axis 1');
  assert.match(sc.witness!.summary, /1 of 24 scale groups send ≥ 99 % of their nonzero inputs to 0 \(groups 4 \[1, 1\]\)/);
  assert.match(sc.witness!.summary, /group 4 \[1, 1\]; allowed \[0\.1, 10\]/);
  // scale ×10⁴: coverage ≈ 10⁴ × 15/14 · |x| max / range
  assert.ok((sc.evidence.measurements['lint.absurd-scale'] as number) > 5000);
  const { rows } = groupRows(results, 'fc1_w_q');
  assert.equal(rows[0]![0], '4 [1, 1]', 'the dead block is listed first, with its index in the scale tensor (row 1, block 1)');
  assert.equal(rows[0]![5], 1, 'block 4 sends every value to 0');
  assert.equal(rows[0]![6], 0.1667, 'the int4 reference rounds 1 of the block\'s 6 weights to 0');
  assert.ok(Math.abs(Number(rows[0]![1]) * 7 / Number(rows[0]![3]) - 1e4) < 10, 'scale = 10⁴ × |x| max / 7');
  // one dead block of 24 costs ~6 dB: inside the roundtrip allowance (10 dB), so only the per-group check catches it
  assert.equal(verdictOf(results, 'fc1_w_q', 'roundtrip'), 'pass');
  assert.equal(verdictOf(results, 'fc1_w_q', 'missing-dequant'), 'pass');
  assert.deepEqual(failingSites(results), ['fc1_w_q']);
  assert.equal(headline(results).evidence.measurements.firstBrokenNode, 'fc1_w_q');
  assert.equal(headline(results).evidence.measurements.firstBrokenBecause, 'scale-collapse');
});

test('good-int8-if: an If whose branches read the DQ outputs; the two-session audit gives the plain MLP\'s numbers', async () => {
  const graphOf = (file: string) => indexGraph(loadOnnxModel(join(FIX, file)).model.graph!);
  assert.equal(hasSubgraphs(graphOf('good-int8-if.onnx')), true, 'the audit takes the two-session path');
  assert.equal(hasSubgraphs(graphOf('good-int8-per-tensor.onnx')), false);
  const branchy = await audit('good-int8-if.onnx');
  const plain = await audit('good-int8-per-tensor.onnx');
  assert.equal(measurementsOf(branchy.results, 'fc1_w_q').consumers, 'If fc1_if (in its subgraph)');
  assert.equal(measurementsOf(branchy.results, 'act_in_q').consumers, 'If fc1_if (in its subgraph)');
  // seeded relu6 = false: the else branch (Gemm → ReLU) is the plain MLP's fc1 → relu1, and x is drawn first, so the
  // same x; the float twin must bypass the Q/DQ the branch reads from the outer graph, or act_h_q's cumulative SQNR
  // comes out as its local 43.91 dB and the output's as 41.08 dB.
  const sqnr = (rs: ProbeResult[]) => rs.filter((r) => r.site && r.probe === 'roundtrip').map((r) => [r.site, r.evidence.measurements.localSqnrDb, r.evidence.measurements.cumulativeSqnrDb]);
  assert.deepEqual(sqnr(branchy.results), sqnr(plain.results));
  assert.equal(measurementsOf(branchy.results, 'act_h_q').cumulativeSqnrDb, 35.96);
  assert.equal(headline(branchy.results).evidence.measurements['outputSqnrDb.y'], 35.92);
  assert.equal(headline(branchy.results).evidence.measurements['outputSqnrDb.y'], headline(plain.results).evidence.measurements['outputSqnrDb.y']);
});

test('bad-if-scale-x1000: diagnosed at fc1_w_q as with no If; act_h_q in the branch\'s output is explained by it (repair run in a session of its own)', async () => {
  const { results } = await audit('bad-if-scale-x1000.onnx');
  assert.equal(verdictOf(results, 'fc1_w_q', 'scale-collapse'), 'fail');
  assert.equal(verdictOf(results, 'fc1_w_q', 'roundtrip'), 'fail');
  assert.equal(measurementsOf(results, 'fc1_w_q', 'scale-collapse').zeroFraction, 1);
  assert.equal(verdictOf(results, 'fc1_w_q', 'missing-dequant'), 'pass');
  // every fc1 weight is 0, so the hidden layer is ReLU(bias): nothing of the float twin's signal is left
  assert.ok((measurementsOf(results, 'act_h_q').cumulativeSqnrDb as number) < 1);
  assert.ok((headline(results).evidence.measurements['outputSqnrDb.y'] as number) < 1);
  const m = headline(results).evidence.measurements;
  assert.equal(m.firstBrokenNode, 'fc1_w_q');
  assert.equal(m.firstBrokenBecause, 'scale-collapse, roundtrip');
  const rows = headline(results).evidence.tables![0]!.rows;
  assert.equal(rows.find((r) => r[0] === 'act_h_q')![8], 'explained by fc1_w_q');
  const down = results.find((r) => r.site === 'act_h_q' && r.probe === 'scale-collapse')!;
  assert.equal(down.verdict, 'fail');
  assert.equal(down.explainedBy, 'scale-collapse');
  assert.equal(down.explainedBySite, 'fc1_w_q');
  assert.match(down.explanation!, /^with fc1_w_q repaired .* act_h_q passes scale-collapse: /);
  assert.equal(m.brokenSites, 2);
  assert.equal(m.primaryBrokenSites, 1);
  assert.equal(headline(results).statistic.value, 1);
  assert.equal(verdictOf(results, 'fc2_w_q', 'scale-collapse'), 'pass');
});

test('bad-if-cast-not-dq: codes cast to float inside both If branches are missing-dequant at fc1_w_q', async () => {
  const { results } = await audit('bad-if-cast-not-dq.onnx');
  const r = results.find((x) => x.site === 'fc1_w_q' && x.probe === 'missing-dequant')!;
  assert.equal(r.verdict, 'fail');
  assert.equal(r.statistic.value, 2, 'one Cast per branch');
  assert.match(r.witness!.summary, /reach Cast relu6\/fc1_w_cast in a subgraph of If fc1_if through If fc1_if without DequantizeLinear/);
  const leaks = r.evidence.tables![0]!.rows.map((row) => row[2]);
  assert.deepEqual(leaks, ['Cast relu6/fc1_w_cast in a subgraph of If fc1_if', 'Cast relu/fc1_w_cast in a subgraph of If fc1_if']);
  assert.equal(r.evidence.measurements.integerFraction, 1);
  assert.ok((r.evidence.measurements.rmsRatio as number) > 100);
  assert.equal(headline(results).evidence.measurements.firstBrokenNode, 'fc1_w_q');
  assert.equal(headline(results).evidence.measurements.firstBrokenBecause, 'missing-dequant');
  // the hidden activation fed by the integer-valued weights collapses too; with the codes replaced by the float
  // weight inside the branches (the repair), it passes
  const down = results.find((x) => x.site === 'act_h_q' && x.probe === 'scale-collapse')!;
  assert.equal(down.verdict, 'fail');
  assert.deepEqual([down.explainedBy, down.explainedBySite], ['missing-dequant', 'fc1_w_q']);
});

test('torch-qat-mlp (torch.onnx.export): sites, in-graph scales and Cast zero-points resolved by onnxruntime', async () => {
  const { target, results } = await audit('torch-qat-mlp.onnx');
  assert.equal(target.info.producer, 'pytorch 1.13.0');
  assert.equal(target.info.shape, 'QDQ model');
  const sites = [...new Set(results.filter((r) => r.site).map((r) => r.site))];
  assert.deepEqual(sites, ['/QuantizeLinear', '/QuantizeLinear_1', '/QuantizeLinear_2', '/QuantizeLinear_3']);
  const m = (site: string) => results.find((r) => r.site === site && r.probe === 'roundtrip')!.evidence.measurements;
  // per-tensor activation: Constant(double 0.025) → Cast(float); zero-point Constant(int64 128) → Cast(uint8)
  assert.equal(m('/QuantizeLinear').scale, Math.fround(0.025));
  assert.equal(m('/QuantizeLinear').zeroPoint, 128);
  assert.equal(m('/QuantizeLinear').codeType, 'uint8');
  // per-channel weight, scale = clip(max|w| / 127) computed in the graph
  assert.equal(m('/QuantizeLinear_1').granularity, 'per-channel axis 0');
  assert.equal(m('/QuantizeLinear_1').inputKind, 'weight');
  // reduced-range activation: Q → Clip(0, 127) → DQ is followed to its DequantizeLinear
  assert.equal(m('/QuantizeLinear_2').dequantizeLinear, '/DequantizeLinear_2');
  assert.equal(m('/QuantizeLinear_3').scale !== null, true);
  // the per-channel scale group table shows absmax/127 for each channel
  const sc = results.find((r) => r.site === '/QuantizeLinear_1' && r.probe === 'scale-collapse')!;
  const groups = sc.evidence.tables!.find((t) => t.headings[0] === 'group')!;
  for (const row of groups.rows) {
    const scale = Number(row[1]);
    const absmax = Number(row[3]);
    assert.ok(Math.abs(scale - absmax / 127) / scale < 1e-3, `channel ${row[0]}: scale ${scale} vs absmax/127 ${absmax / 127}`);
  }
  assert.equal(headline(results).verdict, 'pass');
});

test('same seed, same results; user inputs from .json and .npy are used', async () => {
  const strip = (rs: ProbeResult[]) => JSON.stringify(rs.map(({ durationMs: _d, ...r }) => r));
  const a = await audit('good-int8-per-tensor.onnx', undefined, 11);
  const b = await audit('good-int8-per-tensor.onnx', undefined, 11);
  assert.equal(strip(a.results), strip(b.results));

  const dir = mkdtempSync(join(tmpdir(), 'qa-onnx-'));
  const rows = Array.from({ length: 3 }, (_, r) => Array.from({ length: 16 }, (_, c) => ((r * 16 + c) % 7) / 2 - 1.5));
  const json = join(dir, 'x.json');
  writeFileSync(json, JSON.stringify({ x: rows }));
  const j = await audit('good-int8-per-tensor.onnx', json);
  assert.match(String(headline(j.results).evidence.measurements.inputs), /^file .*x\.json$/);
  assert.equal(j.results.find((r) => r.site === 'act_in_q' && r.probe === 'roundtrip')!.evidence.measurements.elements, 48);

  // the same values as float32 .npy
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  const h = header + ' '.repeat(pad) + '\n';
  const npy = new Uint8Array(10 + h.length + 48 * 4);
  npy.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, h.length & 0xff, h.length >> 8]);
  npy.set(new TextEncoder().encode(h), 10);
  new Float32Array(npy.buffer, 10 + h.length, 48).set(rows.flat());
  const npyPath = join(dir, 'x.npy');
  writeFileSync(npyPath, npy);
  const n = await audit('good-int8-per-tensor.onnx', npyPath);
  const pick = (rs: ProbeResult[]) => rs.filter((r) => r.site).map((r) => [r.site, r.probe, r.verdict, r.statistic.value]);
  assert.deepEqual(pick(n.results), pick(j.results));
});
