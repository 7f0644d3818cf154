// Target specs, the tfjs adapter and its fixtures (fixtures/tfjs/).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../src/tf.js';
import { defaultRegistry } from '../src/formats/index.js';
import { TargetError, UsageError } from '../src/errors.js';
import { openTarget, parseTargetSpec } from '../src/targets/index.js';
import { runProbeOn } from '../probes/run.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { PROBES, probeById } from '../probes/index.js';
import type { ProbeContext } from '../probes/types.js';
import type { Target } from '../src/targets/types.js';

const opts = { registry: defaultRegistry };
const ctx: ProbeContext = {
  seed: 1,
  thresholds: DEFAULT_THRESHOLDS,
  lrs: [1e-4, 1e-3],
  resolveFormat: (n) => defaultRegistry.get(n),
  reproCommand: (p, f) => `repro ${p} ${f}`,
  log: () => undefined,
};
const fixture = (name: string) => `tfjs:fixtures/tfjs/${name}`;

async function verdicts(target: Target, format: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of PROBES) out[p.id] = (await runProbeOn(p, target, format, ctx)).verdict;
  return out;
}

before(async () => {
  await initTf('cpu');
});

test('parseTargetSpec: the five kinds; bad specs are UsageErrors that list the kinds and the mutants', () => {
  assert.deepEqual(parseTargetSpec('reference'), { kind: 'reference', arg: '', raw: 'reference' });
  assert.deepEqual(parseTargetSpec('mutant:in-place'), { kind: 'mutant', arg: 'in-place', raw: 'mutant:in-place' });
  assert.deepEqual(parseTargetSpec('exec:python3 q.py --x'), { kind: 'exec', arg: 'python3 q.py --x', raw: 'exec:python3 q.py --x' });
  assert.equal(parseTargetSpec('onnx:m.onnx').kind, 'onnx');
  assert.equal(parseTargetSpec('tfjs:./q.mjs').arg, './q.mjs');
  assert.throws(() => parseTargetSpec('mutant:nope'), (e: unknown) => e instanceof UsageError && /missing-dequant, collapsed-scale, round-no-ste, vanishing-ste, in-place, fp32-fallback, uint8-zero-point/.test(e.message));
  assert.throws(() => parseTargetSpec('torch:x.pt'), (e: unknown) => e instanceof UsageError && /reference, mutant:NAME .*tfjs:PATH.*onnx:PATH.*exec:COMMAND/.test(e.message));
  assert.throws(() => parseTargetSpec('refrence'), UsageError);
  assert.throws(() => parseTargetSpec('tfjs:'), UsageError);
});

test('openTarget: a missing tfjs file and a module without a factory are UsageErrors', async () => {
  await assert.rejects(openTarget('tfjs:fixtures/tfjs/does-not-exist.mjs', opts), (e: unknown) => e instanceof UsageError && /no such file/.test(e.message));
  await assert.rejects(openTarget(fixture('not-a-factory.mjs'), opts), (e: unknown) => e instanceof UsageError && /default export must be a function/.test(e.message));
});

test('reference target: capabilities forward, gradient, update; int8(1.0 in [1, -0.5]) round trip', async () => {
  const t = await openTarget('reference', opts);
  assert.deepEqual([...t.capabilities], ['forward', 'gradient', 'update']);
  const y = await t.forward('int8', Float32Array.from([1, -0.5]), [2]);
  assert.deepEqual([...y], [1, Math.fround(Math.fround(1 / 127) * -64)]);
  const w = await t.update!('int8', Float32Array.from([1, 0]), [2], Float32Array.from([0, 0.001]), 10);
  assert.equal(w[1], Math.fround(1 / 127)); // 0.01 accumulated in fp32 = 1.27 steps of 1/127 → code 1
});

test('good tfjs module passes every probe for int8 and int4; lost-updates is skipped (no update step)', async () => {
  const t = await openTarget(fixture('good-int.mjs'), opts);
  assert.deepEqual(t.formats, ['int8', 'int4']);
  assert.ok(!t.capabilities.has('update'));
  for (const f of ['int8', 'int4']) {
    assert.deepEqual(await verdicts(t, f), { roundtrip: 'pass', 'missing-dequant': 'pass', 'scale-collapse': 'pass', 'broken-ste': 'pass', 'lost-updates': 'skipped', 'format-applied': 'pass' });
  }
});

test('the same module as TypeScript (.ts) loads and passes', async () => {
  const t = await openTarget(fixture('good-int8.ts'), opts);
  assert.equal((await runProbeOn(probeById('broken-ste'), t, 'int8', ctx)).verdict, 'pass');
  assert.equal((await runProbeOn(probeById('roundtrip'), t, 'int8', ctx)).verdict, 'pass');
});

test('broken fixtures are blamed on their own hypothesis only', async () => {
  const cases: [string, string, string][] = [
    ['round-no-ste.mjs', 'int8', 'broken-ste'],
    ['passthrough.mjs', 'nf4', 'format-applied'],
    ['missing-dequant.mjs', 'int8', 'missing-dequant'],
    ['in-place.mjs', 'int8', 'lost-updates'],
  ];
  for (const [file, format, probe] of cases) {
    const v = await verdicts(await openTarget(fixture(file), opts), format);
    const failed = Object.entries(v).filter(([, x]) => x === 'fail').map(([k]) => k);
    // a missing dequant also ruins the round trip (docs/selftest.md)
    assert.deepEqual(failed, probe === 'missing-dequant' ? ['roundtrip', 'missing-dequant'] : [probe], file);
  }
});

test('a module that throws / returns the wrong shape / a non-tensor gets a TargetError naming the format; NaN is data for the probes; int8 still runs', async () => {
  const t = await openTarget(fixture('misbehaving.mjs'), opts);
  const x = Float32Array.from([0.5, -0.25, 1, 0]);
  const expectations: [string, RegExp][] = [
    ['int4', /fakeQuant\(x\) for format int4 threw: int4 kernel not implemented/],
    ['int2', /for format int2 returned shape \[4\], expected \[2, 2\]/],
    ['fp8-e4m3', /for format fp8-e4m3 returned an array, not a tf\.Tensor/],
  ];
  for (const [format, message] of expectations) {
    await assert.rejects(t.forward(format, x, [2, 2]), (e: unknown) => e instanceof TargetError && message.test(e.message), format);
  }
  const r = await runProbeOn(probeById('roundtrip'), t, 'int4', ctx);
  assert.equal(r.verdict, 'inconclusive');
  assert.match(r.reason!, /int4 kernel not implemented/);
  assert.equal((await runProbeOn(probeById('roundtrip'), t, 'int8', ctx)).verdict, 'pass');
  // NaN from finite input is what the quantizer computed: the roundtrip probe's witness, as over the exec protocol
  assert.ok(Number.isNaN((await t.forward('uint8', x, [2, 2]))[0]!));
  const nan = await runProbeOn(probeById('roundtrip'), t, 'uint8', ctx);
  assert.equal(nan.verdict, 'fail');
  assert.equal(nan.statistic.name, 'non-finite outputs from finite inputs');
  assert.equal(nan.statistic.value, 12 * 2048); // every output of each of the 12 roundtrip inputs
});

test('a tfjs GraphModel (model.json) is accepted: right values, and its Round has no STE', async () => {
  const t = await openTarget(fixture('int8-graph-model/model.json'), opts);
  assert.deepEqual(t.formats, ['int8']);
  assert.equal(t.info.model, 'GraphModel');
  const y = await t.forward('int8', Float32Array.from([1, -0.5, 0.25, 0]), [2, 2]);
  const s = Math.fround(1 / 127);
  assert.deepEqual([...y], [127, -64, 32, 0].map((q) => Math.fround(q * s)));
  const v = await verdicts(t, 'int8');
  assert.deepEqual([v.roundtrip, v['broken-ste'], v['format-applied']], ['pass', 'fail', 'pass']);
});

test('onnx/exec targets open through a dynamic import (a missing module would be a UsageError, not a crash)', async () => {
  await assert.rejects(openTarget('onnx:fixtures/none.onnx', opts), (e: unknown) => e instanceof UsageError);
});
