/**
 * ONNX fuzz, short form (the long form with ≥ 1000 cases is bench/fuzz.ts): fixtures damaged
 * byte-wise (flips, truncation, splices) and structurally through onnx-proto (absurd dims,
 * wrong dtypes, cycles, missing inputs, hostile external data paths…), each run through the
 * real run pipeline (buildPlan + executePlan). Every case must end as a report or a clear
 * UsageError — never an internal error, never a hang. Seeded: a failure names its case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan } from '../src/run/plan.js';
import { executePlan } from '../src/run/execute.js';
import { decodeOnnxModel, loadOnnxModel } from '../src/onnx/load.js';
import { onnx } from '../src/onnx/proto.js';
import { UsageError } from '../src/errors.js';
import { classify, onnxCase, onnxFixtures, ONNX_FIXTURES, Tally, writeCase } from './support/fuzz-support.js';
import { readFileSync } from 'node:fs';

export const SHORT_ONNX_CASES = 120;

test('the case generator itself never throws over the long form\'s seeds 1–3 × 1000 cases, absurd dims before a bad scale included', () => {
  const fixtures = onnxFixtures();
  const names: string[] = [];
  for (const seed of [1, 2, 3]) for (let i = 0; i < 1000; i++) names.push(onnxCase(seed, i, fixtures).name);
  assert.equal(names.length, 3000);
  // seed 2 once drew absurdDims (a 1e15-element scale) then badScale, and sized a Float32Array from those dims
  assert.ok(names.some((n) => n.startsWith('onnx/absurdDims+badScale#')), 'the combination under test was not generated');
});

test(`${SHORT_ONNX_CASES} mutated ONNX models through the run pipeline: reports or clear errors, nothing else`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-fuzz-onnx-'));
  const fixtures = onnxFixtures();
  const tally = new Tally();
  try {
    for (let i = 0; i < SHORT_ONNX_CASES; i++) {
      const c = onnxCase(20261126, i, fixtures);
      const file = writeCase(dir, c, '.onnx');
      const outcome = await classify(async () => {
        const plan = buildPlan({ target: `onnx:${file}`, probe: ['roundtrip'], format: ['int8'], out: join(dir, 'reports'), config: undefined });
        await executePlan(plan, { log: () => undefined }, []);
      }, 20_000);
      tally.add(c, outcome);
    }
    assert.deepEqual(tally.bad.map((b) => `${b.name}: ${b.outcome.kind}: ${b.outcome.message.slice(0, 300)}`), []);
    assert.equal(tally.total(), SHORT_ONNX_CASES);
    // the fuzz reaches both ends: some damaged models still run, most are refused with a message
    const row = tally.byCategory.get('onnx')!;
    assert.ok(row.usage > SHORT_ONNX_CASES / 2 && row.ok > 0, JSON.stringify(row));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function withExternal(location: string, extra: { key: string; value: string }[] = []): Uint8Array {
  const m = onnx.ModelProto.decode(readFileSync(join(ONNX_FIXTURES, 'good-int8-per-tensor.onnx')));
  const t = m.graph!.initializer!.find((x) => x.name === 'fc1.weight')!;
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.rawData = new Uint8Array(0);
  t.externalData = [{ key: 'location', value: location }, ...extra];
  return onnx.ModelProto.encode(m).finish();
}

test('external data stays confined to the model folder: ../, absolute paths and symlinks leading out are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-ext-'));
  try {
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'secret.bin'), new Uint8Array(512));
    for (const location of ['../secret.bin', '/etc/passwd', 'sub/../../secret.bin', join(dir, 'secret.bin')]) {
      const file = join(dir, 'models', 'm.onnx');
      writeFileSync(file, withExternal(location));
      assert.throws(() => loadOnnxModel(file), (e: unknown) => e instanceof UsageError && /outside the model's folder/.test(e.message), location);
    }
    // a symlink inside the folder that leads out of it (regression: was followed)
    symlinkSync(join(dir, 'secret.bin'), join(dir, 'models', 'link.bin'));
    writeFileSync(join(dir, 'models', 'link.onnx'), withExternal('link.bin'));
    assert.throws(() => loadOnnxModel(join(dir, 'models', 'link.onnx')), /a link that leads outside the model's folder/);
    // inside the folder it is read, and offsets/lengths are checked
    writeFileSync(join(dir, 'models', 'w.bin'), new Uint8Array(16 * 8 * 4));
    writeFileSync(join(dir, 'models', 'ok.onnx'), withExternal('w.bin'));
    const loaded = loadOnnxModel(join(dir, 'models', 'ok.onnx'));
    assert.equal(loaded.model.graph!.initializer!.find((x) => x.name === 'fc1.weight')!.rawData!.length, 512);
    writeFileSync(join(dir, 'models', 'bad.onnx'), withExternal('w.bin', [{ key: 'offset', value: '-1' }]));
    assert.throws(() => loadOnnxModel(join(dir, 'models', 'bad.onnx')), /bad external data offset\/length|cannot read external data/);
    writeFileSync(join(dir, 'models', 'long.onnx'), withExternal('w.bin', [{ key: 'length', value: '99999999999' }]));
    // regression: a length of 10^11 was allocated before reading (RangeError: Invalid typed array length)
    assert.throws(() => loadOnnxModel(join(dir, 'models', 'long.onnx')), (e: unknown) => e instanceof UsageError && /asks for 99999999999 bytes of external data at offset 0, but 'w\.bin' has 512 bytes/.test(e.message));
    assert.equal(existsSync(join(dir, 'models', 'secret.bin')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limits: absurd initializer dims are refused with the numbers before anything is allocated (regression: RangeError)', () => {
  const m = onnx.ModelProto.decode(readFileSync(join(ONNX_FIXTURES, 'good-int8-per-tensor.onnx')));
  m.graph!.initializer![0]!.dims = [2 ** 40];
  const bytes = onnx.ModelProto.encode(m).finish();
  assert.throws(() => decodeOnnxModel(bytes, 'big.onnx'), /tensor '.*' in 'big\.onnx' has 1099511627776 elements \(dims \[1099511627776\]\), over the limit of 67108864/);
  m.graph!.initializer![0]!.dims = [-3];
  assert.throws(() => decodeOnnxModel(onnx.ModelProto.encode(m).finish(), 'neg.onnx'), /impossible dims \[-3\]/);
  m.graph!.initializer![0]!.dims = [1000, 1000];
  assert.throws(() => decodeOnnxModel(onnx.ModelProto.encode(m).finish(), 'lim.onnx', { maxTensorElements: 999_999 }), /has 1000000 elements \(dims \[1000, 1000\]\), over the limit of 999999/);
  assert.throws(() => decodeOnnxModel(onnx.ModelProto.encode(m).finish(), 'mem.onnx', { maxMemoryMB: 1 }), /needs 7\.6 MB, over the limit of 1 MB/);
});
