/**
 * The onnx target as a quantizer (forward), its execution-provider rule, and every way a
 * model file can be wrong: each is a UsageError (exit 2) that says what and where, never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parse as parseShell } from 'shell-quote';
import { openOnnxTarget, layoutFor } from '../src/targets/onnx/index.js';
import { defaultRegistry } from '../src/formats/registry.js';
import { UsageError } from '../src/errors.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { ELEM, makeModel, modelProto, type ModelSpec } from '../src/onnx/builder.js';
import { cudaProviderInstalled } from '../src/onnx/session.js';
import { onnx } from '../src/onnx/proto.js';
import { quantizerSpec } from '../fixtures/onnx/generate.js';
import { Rng } from '../src/rng.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = join(ROOT, 'fixtures', 'onnx');
const opts = { registry: defaultRegistry, ep: 'cpu' as const };

async function rejectsUsage(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, pattern);
    return true;
  });
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'qa-onnx-'));
}

test('quantizer model: forward is DequantizeLinear(QuantizeLinear(x)) with an in-graph absmax/127 scale', async () => {
  const t = await openOnnxTarget(join(FIX, 'quantizer-int8.onnx'), opts);
  try {
    assert.deepEqual([...t.capabilities], ['forward']);
    assert.deepEqual(t.formats, ['int8']);
    assert.equal(t.info.ep, 'cpu');
    assert.equal(t.info.shape, 'quantizer (QDQ)');
    const x = new Float32Array([0.5, -1, 0.25, 1, 0.004, -0.3]);
    const y = await t.forward('int8', x, [6]);
    const s = Math.fround(1 / 127);
    // 0.5·127 = 63.5 rounds half to even → 64; 0.25·127 = 31.75 → 32; 0.004·127 = 0.508 → 1
    assert.deepEqual([...y], [64, -127, 32, 127, 1, -38].map((q) => Math.fround(q * s)));
    // a 2-D probe shape is flattened onto the declared [n]
    const y2 = await t.forward('int8', x, [2, 3]);
    assert.deepEqual([...y2], [...y]);
  } finally {
    await t.close();
    await t.close(); // idempotent
  }
});

test('layoutFor: the probe shape when it fits, else the last dynamic dim takes the rest, else fixed-size chunks', () => {
  assert.deepEqual(layoutFor([null], 12, [3, 4]), { dims: [12], chunk: 12 });
  assert.deepEqual(layoutFor([null, null], 12, [3, 4]), { dims: [3, 4], chunk: 12 });
  assert.deepEqual(layoutFor([1, null], 12, [12]), { dims: [1, 12], chunk: 12 });
  assert.deepEqual(layoutFor([null, 4], 12, [12]), { dims: [3, 4], chunk: 12 });
  assert.deepEqual(layoutFor([1, 8], 12, [12]), { dims: [1, 8], chunk: 8 });
});

test('a fixed-shape quantizer runs in chunks; a QDQ model that is not a quantizer has no forward', async () => {
  const spec: ModelSpec = { ...quantizerSpec(), inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: [1, 4] }], outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: [1, 4] }] };
  const dir = tmp();
  writeFileSync(join(dir, 'fixed.onnx'), makeModel(spec));
  const t = await openOnnxTarget(join(dir, 'fixed.onnx'), opts);
  const y = await t.forward('int8', new Float32Array([1, 0.5, 0, 0, 2, 1, 0, 0, 3]), [9]);
  assert.equal(y.length, 9);
  // each chunk of 4 has its own absmax: 0.5 of 1 → 64/127, 1 of 2 → 64/127·2
  assert.equal(y[1], Math.fround(64 * Math.fround(1 / 127)));
  assert.equal(y[8], 3, 'the last chunk [3, 0, 0, 0] is zero-padded and trimmed');
  await t.close();

  const mlp = await openOnnxTarget(join(FIX, 'good-int8-per-tensor.onnx'), opts);
  assert.equal(mlp.capabilities.size, 0);
  await assert.rejects(mlp.forward('int8', new Float32Array(16), [16]), /not a quantizer model/);
  await mlp.close();
});

test('--ep cuda without the CUDA provider exits 2 and says how to install it (never a CPU fallback)', async (t) => {
  if (cudaProviderInstalled()) {
    t.skip('this machine has the CUDA provider');
    return;
  }
  await rejectsUsage(openOnnxTarget(join(FIX, 'quantizer-int8.onnx'), { ...opts, ep: 'cuda' }), /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/);
});

test('not ONNX, empty, truncated, missing or a folder: UsageError naming the file', async () => {
  const dir = tmp();
  const good = readFileSync(join(FIX, 'good-int8-per-tensor.onnx'));
  writeFileSync(join(dir, 'empty.onnx'), '');
  writeFileSync(join(dir, 'text.onnx'), 'this is not a model\n');
  writeFileSync(join(dir, 'truncated.onnx'), good.subarray(0, Math.floor(good.length / 2)));
  const noise = new Uint8Array(4096);
  let s = 12345;
  for (let i = 0; i < noise.length; i++) noise[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  writeFileSync(join(dir, 'noise.onnx'), noise);
  await rejectsUsage(openOnnxTarget(join(dir, 'empty.onnx'), opts), /empty\.onnx' is not a valid ONNX model \(the file is empty\)/);
  await rejectsUsage(openOnnxTarget(join(dir, 'text.onnx'), opts), /text\.onnx' is not a valid ONNX model/);
  await rejectsUsage(openOnnxTarget(join(dir, 'truncated.onnx'), opts), /truncated\.onnx' is not a valid ONNX model/);
  await rejectsUsage(openOnnxTarget(join(dir, 'noise.onnx'), opts), /noise\.onnx' is not a valid ONNX model/);
  await rejectsUsage(openOnnxTarget(join(dir, 'missing.onnx'), opts), /cannot read model .*missing\.onnx/);
  await rejectsUsage(openOnnxTarget(dir, opts), /cannot read model/);
});

test('unsupported opsets and models onnxruntime rejects: UsageError', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'opset99.onnx'), makeModel({ ...quantizerSpec(), opset: 99 }));
  await rejectsUsage(openOnnxTarget(join(dir, 'opset99.onnx'), opts), /opset 99; quant-audit reads opsets 7–23/);
  writeFileSync(join(dir, 'opset5.onnx'), makeModel({ ...quantizerSpec(), opset: 5 }));
  await rejectsUsage(openOnnxTarget(join(dir, 'opset5.onnx'), opts), /opset 5/);
  // QuantizeLinear does not exist at opset 9: onnxruntime refuses the model
  writeFileSync(join(dir, 'q-at-9.onnx'), makeModel({ ...quantizerSpec(), opset: 9 }));
  await rejectsUsage(openOnnxTarget(join(dir, 'q-at-9.onnx'), opts), /onnxruntime cannot load/);
  // neither a quantizer nor QDQ
  writeFileSync(join(dir, 'add.onnx'), makeModel({
    opset: 13, nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['c'] }],
    inputs: [{ name: 'a', elemType: ELEM.FLOAT, shape: [2] }, { name: 'b', elemType: ELEM.FLOAT, shape: [2] }],
    outputs: [{ name: 'c', elemType: ELEM.FLOAT, shape: [2] }],
  }));
  await rejectsUsage(openOnnxTarget(join(dir, 'add.onnx'), opts), /neither a quantizer model .* nor a quantized model \(QuantizeLinear\/DequantizeLinear nodes, or quantized weights read by QLinear\*, MatMulInteger\/ConvInteger, MatMulNBits/);
});

function withExternalQmax(location: string): Uint8Array {
  const m = modelProto(quantizerSpec());
  const qmax = m.graph!.initializer!.find((t) => t.name === 'qmax')!;
  qmax.rawData = new Uint8Array();
  qmax.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  qmax.externalData = [{ key: 'location', value: location }, { key: 'offset', value: '0' }, { key: 'length', value: '4' }];
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

test('external data: read when next to the model, refused when it points outside the folder', async () => {
  const dir = tmp();
  const sub = join(dir, 'model');
  mkdirSync(sub);
  writeFileSync(join(sub, 'weights.bin'), new Uint8Array(new Float32Array([127]).buffer));
  writeFileSync(join(sub, 'ok.onnx'), withExternalQmax('weights.bin'));
  const t = await openOnnxTarget(join(sub, 'ok.onnx'), opts);
  assert.equal((await t.forward('int8', new Float32Array([1, 0.5]), [2]))[1], Math.fround(64 * Math.fround(1 / 127)));
  await t.close();
  writeFileSync(join(dir, 'secret.bin'), new Uint8Array(4));
  writeFileSync(join(sub, 'escape.onnx'), withExternalQmax('../secret.bin'));
  await rejectsUsage(openOnnxTarget(join(sub, 'escape.onnx'), opts), /points its external data at '\.\.\/secret\.bin', outside the model's folder/);
  writeFileSync(join(sub, 'absolute.onnx'), withExternalQmax(join(dir, 'secret.bin')));
  await rejectsUsage(openOnnxTarget(join(sub, 'absolute.onnx'), opts), /outside the model's folder/);
  writeFileSync(join(sub, 'gone.onnx'), withExternalQmax('nope.bin'));
  await rejectsUsage(openOnnxTarget(join(sub, 'gone.onnx'), opts), /external data file 'nope\.bin' .* is missing|cannot read external data 'nope\.bin'/);
});

test('maxTensorElements: refuses big tensors and big forwards with the numbers', async () => {
  await rejectsUsage(
    openOnnxTarget(join(FIX, 'good-int8-per-tensor.onnx'), { ...opts, maxTensorElements: 100 }),
    /tensor 'fc1\.weight' .* has 128 elements \(dims \[8, 16\]\), over the limit of 100/,
  );
  const t = await openOnnxTarget(join(FIX, 'quantizer-int8.onnx'), { ...opts, maxTensorElements: 8 });
  await rejectsUsage(t.forward('int8', new Float32Array(9), [9]), /9 elements exceeds maxTensorElements \(8\)/);
  await t.close();
});

test('bad --input files: UsageError before anything runs', async () => {
  const dir = tmp();
  const ctx = { seed: 1, thresholds: DEFAULT_THRESHOLDS, formats: [], reproCommand: () => '', log: () => {} };
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['x.json', '{"x": [[1, 2]]}', /input 'x' has dims \[1, 2\], the model declares \[\?, 16\]/],
    ['y.json', '{"nope": [1]}', /names 'nope', which is not a model input/],
    ['z.json', '{oops', /is not valid JSON/],
    ['w.npy', new Uint8Array([1, 2, 3]), /not a readable \.npy file/],
    ['v.txt', 'x', /must be a \.json or \.npy file/],
  ];
  for (const [name, body, pattern] of cases) {
    writeFileSync(join(dir, name), body);
    const t = await openOnnxTarget(join(FIX, 'good-int8-per-tensor.onnx'), { ...opts, inputs: join(dir, name) });
    await rejectsUsage(t.audit!(ctx), pattern);
    await t.close();
  }
});

test('an ONNX audit through the CLI: the markdown names the node and the numbers; every repro line runs as written and reproduces the failure (exit 1, not 2)', async () => {
  const out = tmp();
  const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), ...args, '--out', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const first = cli(['run', '--target', 'onnx:fixtures/onnx/bad-dead-block.onnx']);
  assert.equal(first.status, 1, first.stderr);
  const runId = readFileSync(join(out, 'latest'), 'utf8').trim();
  const report = JSON.parse(readFileSync(join(out, runId, 'report.json'), 'utf8')) as { results: { witness?: { repro: string } }[] };
  // The markdown report names the node and the numbers.
  const md = readFileSync(join(out, runId, 'report.md'), 'utf8');
  assert.match(md, /## Quantization sites/);
  assert.match(md, /\| fc1_w_q \|/);
  assert.match(md, /site fc1_w_q/);
  assert.match(md, /representable range \/ observed range = 1\.276e\+4 \(scale 343\.4, \|x\| max 0\.2404, group 4 \[1, 1\]/);
  const repros = [...new Set(report.results.flatMap((r) => (r.witness ? [r.witness.repro] : [])))];
  assert.ok(repros.length >= 2, `a site witness and the headline: ${repros.join(' | ')}`);
  for (const repro of repros) {
    const words = parseShell(repro) as string[];
    assert.deepEqual(words.slice(0, 3), ['npx', 'quant-audit', 'run'], repro);
    const again = cli(words.slice(2));
    assert.equal(again.status, 1, `${repro}\n${again.stderr}`);
  }
});

/**
 * A real network whose single output has its input's shape (a QDQ "denoiser": x[b, 3, 8, 8] → Conv 3→3 → y[b, 3, 8, 8]):
 * `auto` must not mistake it for a one-tensor quantizer.
 */
function denoiserSpec(): ModelSpec {
  const rng = new Rng(11);
  return {
    opset: 13,
    nodes: [
      { op: 'QuantizeLinear', name: 'x_q', inputs: ['x', 'x_scale', 'x_zp'], outputs: ['x_codes'] },
      { op: 'DequantizeLinear', name: 'x_dq', inputs: ['x_codes', 'x_scale', 'x_zp'], outputs: ['x_deq'] },
      { op: 'QuantizeLinear', name: 'w_q', inputs: ['w', 'w_scale', 'w_zp'], outputs: ['w_codes'], attrs: { axis: 0 } },
      { op: 'DequantizeLinear', name: 'w_dq', inputs: ['w_codes', 'w_scale', 'w_zp'], outputs: ['w_deq'], attrs: { axis: 0 } },
      { op: 'Conv', name: 'conv', inputs: ['x_deq', 'w_deq'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    ],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', 3, 8, 8] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', 3, 8, 8] }],
    initializers: [
      { name: 'x_scale', elemType: ELEM.FLOAT, dims: [], values: [4 / 127] },
      { name: 'x_zp', elemType: ELEM.INT8, dims: [], values: [0] },
      { name: 'w', elemType: ELEM.FLOAT, dims: [3, 3, 3, 3], values: rng.normalArray(81, 0.3) },
      { name: 'w_scale', elemType: ELEM.FLOAT, dims: [3], values: [1.2 / 127, 1.2 / 127, 1.2 / 127] },
      { name: 'w_zp', elemType: ELEM.INT8, dims: [3], values: [0, 0, 0] },
    ],
  };
}

test('--onnx-mode auto: a network whose output has its input\'s shape is a QDQ model (Conv is no quantizer op); quantizer forces forward', async () => {
  const dir = tmp();
  const path = join(dir, 'denoiser.onnx');
  writeFileSync(path, makeModel(denoiserSpec()));
  const auto = await openOnnxTarget(path, opts);
  try {
    assert.equal(auto.capabilities.size, 0);
    assert.equal(auto.info.shape, 'QDQ model');
    assert.match(auto.info.readAs!, /^model \(one float input → output of its shape, but Conv conv is no quantizer op; --onnx-mode quantizer to run it as one\)$/);
    await assert.rejects(auto.forward('int8', new Float32Array(192), [1, 3, 8, 8]), /not a quantizer model/);
  } finally {
    await auto.close();
  }
  const forced = await openOnnxTarget(path, { ...opts, onnxMode: 'quantizer' });
  try {
    assert.deepEqual([...forced.capabilities], ['forward']);
    assert.equal(forced.info.readAs, 'quantizer (--onnx-mode quantizer)');
    const y = await forced.forward('int8', new Float32Array(192).fill(0.5), [1, 3, 8, 8]);
    assert.equal(y.length, 192);
  } finally {
    await forced.close();
  }
  // The quantizer fixture (Abs → ReduceMax → Div → Q → DQ) passes the structure test; `model` turns forward off.
  const q = await openOnnxTarget(join(FIX, 'quantizer-int8.onnx'), opts);
  assert.equal(q.info.readAs, 'quantizer (one float input → output of its shape, quantization and elementwise ops only)');
  await q.close();
  const asModel = await openOnnxTarget(join(FIX, 'quantizer-int8.onnx'), { ...opts, onnxMode: 'model' });
  assert.equal(asModel.capabilities.size, 0);
  assert.equal(asModel.info.readAs, 'model (--onnx-mode model)');
  await asModel.close();
  // `quantizer` on a model of another output shape is refused with both shapes named.
  await rejectsUsage(openOnnxTarget(join(FIX, 'good-int8-per-tensor.onnx'), { ...opts, onnxMode: 'quantizer' }), /--onnx-mode quantizer: .* is not one float32 input → one float32 output of the same shape \(inputs: x \[\?, 16\]; outputs: y \[\?, 4\]\)/);
});

test('a run on that network reports site findings only: the forward probes are skipped, never run on the whole network', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'denoiser.onnx'), makeModel(denoiserSpec()));
  const out = join(dir, 'out');
  const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'run', '--target', `onnx:${join(dir, 'denoiser.onnx')}`, '--probe', 'roundtrip,scale-collapse,missing-dequant', '--format', 'int8', '--out', out, '--json', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { results: { probe: string; site?: string; verdict: string }[] };
  // the forward probes asked for have no site: skipped (the model-level audit rows — the headline, the runtime
  // cross-check — are the only other results without a site, and nothing fails)
  const forwardRows = report.results.filter((r) => r.site === undefined && ['roundtrip', 'scale-collapse', 'missing-dequant'].includes(r.probe));
  assert.equal(forwardRows.length, 3);
  assert.ok(forwardRows.every((r) => r.verdict === 'skipped'), JSON.stringify(forwardRows));
  assert.deepEqual(report.results.filter((r) => r.verdict === 'fail'), []);
  assert.ok(report.results.some((r) => r.site === 'w_q' && r.verdict === 'pass'));
  // forced to a quantizer, the same probes run forward on the whole network (the user asked for it)
  const forced = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'run', '--target', `onnx:${join(dir, 'denoiser.onnx')}`, '--onnx-mode', 'quantizer', '--probe', 'roundtrip', '--format', 'int8', '--out', out, '--json', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  const forcedReport = JSON.parse(forced.stdout) as { results: { probe: string; site?: string; verdict: string }[]; run: { command: string } };
  assert.ok(forcedReport.results.some((r) => r.site === undefined && r.probe === 'roundtrip' && r.verdict !== 'skipped'));
});
