/**
 * The exporter-layout fixtures through the whole run pipeline (buildPlan → executePlan → judgeRun →
 * views), as `quant-audit run --target onnx:FILE` runs them: a correct layout exits 0 with no
 * diagnosis; a broken one names one cause, and every site downstream of it that fails only because
 * of it is a consequence (explainedBySite) in report.diagnosis, the terminal and the markdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlan } from '../src/run/plan.js';
import { executePlan } from '../src/run/execute.js';
import { validate } from '../src/report/schema.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderTerminal } from '../src/report/terminal.js';
import type { Report } from '../src/report/types.js';

const FIX = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'fixtures', 'onnx');
const OUT = mkdtempSync(join(tmpdir(), 'qa-onnx-exp-run-'));

async function run(file: string): Promise<Report> {
  const plan = buildPlan({ target: `onnx:${join(FIX, file)}`, out: OUT, config: undefined });
  const report = await executePlan(plan, { log: () => undefined }, []);
  assert.deepEqual(validate(report).errors, [], `${file}: report.json must match the schema`);
  return report;
}

// onnxruntime quantize_static (QDQ, uint8 per-channel / int8 with QDQ weights), PyTorch QAT (as written and as
// torch.onnx.export writes it), TensorRT-style (int8, float16 DequantizeLinear scales): correct, so nothing to report.
for (const file of ['ort-qdq-u8-per-channel.onnx', 'ort-qdq-s8-qdq-weights.onnx', 'torch-qat-cnn.onnx', 'torch-qat-cnn-export.onnx', 'trt-int8-cnn.onnx', 'trt-int8-fp16-dq-scales.onnx']) {
  test(`run onnx:${file} (correct exporter layout): exit 0, no failing or inconclusive result, empty diagnosis`, async () => {
    const report = await run(file);
    assert.equal(report.verdict.exitCode, 0, report.verdict.summary);
    assert.equal(report.verdict.falsified, false);
    assert.equal(report.verdict.inconclusive, false);
    assert.deepEqual(report.verdict.supported, {});
    assert.deepEqual(report.results.filter((r) => r.verdict === 'fail' || r.verdict === 'inconclusive').map((r) => `${r.site ?? ''} ${r.probe}`), []);
    assert.deepEqual(report.diagnosis ?? [], []);
    assert.ok(report.results.filter((r) => r.site !== undefined && r.verdict === 'pass').length >= 9, 'the sites were judged, not skipped');
    assert.match(report.verdict.summary, /^NO WITNESS — /);
  });
}

test('run onnx:bad-trt-weight-scale-x1000.onnx: one cause (conv1\'s weight site); the collapsed activations after it are consequences in the diagnosis and the views', async () => {
  const report = await run('bad-trt-weight-scale-x1000.onnx');
  const upstream = '/conv1/weight_quantizer/QuantizeLinear';
  assert.equal(report.verdict.exitCode, 1);
  assert.deepEqual(report.verdict.supported, { H2: ['int8'] });
  const diagnosis = report.diagnosis ?? [];
  // exactly one entry has a cause: the upstream weight site, H2
  assert.deepEqual(diagnosis.filter((d) => d.causes.length > 0).map((d) => [d.site, d.causes.map((c) => c.probe)]), [[upstream, ['scale-collapse']]]);
  // the downstream activation site whose zero fraction collapsed is a consequence of the upstream site, not a second H2
  const conv2 = diagnosis.find((d) => d.site === '/conv2/input_quantizer/QuantizeLinear')!;
  assert.deepEqual(conv2.causes, []);
  assert.deepEqual(conv2.consequences.filter((c) => c.probe === 'scale-collapse').map((c) => [c.explainedBy, c.explainedBySite]), [['scale-collapse', upstream]]);
  // every failing result is the cause or carries explainedBy; the gate counts the cause only
  const failing = report.results.filter((r) => r.verdict === 'fail');
  assert.deepEqual(failing.filter((r) => r.gated).map((r) => `${r.site} ${r.probe}`), [`${upstream} scale-collapse`]);
  assert.ok(failing.length >= 5, String(failing.length));
  assert.ok(failing.every((r) => r.gated || r.explainedBy !== undefined));
  assert.deepEqual([...new Set(failing.filter((r) => r.explainedBySite !== undefined).map((r) => r.explainedBySite))], [upstream]);

  const term = renderTerminal(report, { color: false });
  assert.match(term, /^FALSIFIED — supported: H2 for int8 · \d+ failures follow from them/m);
  // downstream sites fold into the cause's line: no "no primary cause" line per site
  assert.match(term, /int8 at \/conv1\/weight_quantizer\/QuantizeLinear: H2 \(scale-collapse\) — .*\d+ failures downstream follow from it: .*scale-collapse at \/conv2\/input_quantizer\/QuantizeLinear/);
  assert.doesNotMatch(term, /no primary cause/);
  assert.equal((term.match(/: H2 \(scale-collapse\)/g) ?? []).length, 1, 'one site named as an H2 cause');
  assert.match(term, /Witnesses \(1\)/);
  const md = renderMarkdown(report);
  assert.match(md, /1 hypothesis supported as a cause, \d+ failures following from it/);
  assert.match(md, /`\/conv1\/weight_quantizer\/QuantizeLinear` \(`int8`\): \*\*H2 · scale-collapse\*\* — .*\d+ failures downstream follow from it: .*scale-collapse at `\/conv2\/input_quantizer\/QuantizeLinear`/);
  assert.doesNotMatch(md, /no primary cause/);
  assert.match(md, /\| `\/conv2\/input_quantizer\/QuantizeLinear` \| `int8` \| .* \| ↳ FAIL ← H2 0\.4 \|/);
});
