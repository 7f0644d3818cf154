// Each probe against the reference (pass), against the mutant that plants its hypothesis
// (fail, with a witness and a repro command) and against the other mutants (no blame), on a
// representative subset of formats. `quant-audit selftest` (test/selftest-matrix) covers all.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../src/tf.js';
import { defaultRegistry } from '../src/formats/index.js';
import { runSelftest, type SelftestRun } from '../src/selftest/run.js';
import { expectedCell } from '../src/selftest/matrix.js';
import { MUTANTS, plantedHypothesis } from '../src/targets/mutants/index.js';
import { PROBES } from '../probes/index.js';

const FORMATS = ['int8', 'int2', 'uint4', 'nf4', 'mxfp4', 'fp8-e4m3', 'posit8', 'fp16', 'fp32'];
let run: SelftestRun;

before(async () => {
  await initTf('cpu');
  run = await runSelftest({ registry: defaultRegistry, seed: 1, formats: FORMATS });
});

const verdicts = (row: string, probe: string) => run.results.filter((r) => r.row === row && r.probe === probe);

test('the reference passes every probe for every format, with the statistic shown', () => {
  for (const p of PROBES) {
    const rs = verdicts('reference', p.id);
    assert.equal(rs.length, FORMATS.length, p.id);
    for (const r of rs) {
      assert.equal(r.verdict, 'pass', `${p.id} ${r.format}: ${r.reason ?? JSON.stringify(r.statistic)}`);
      assert.ok(r.statistic.name.length > 0 && r.statistic.value !== undefined, `${p.id} ${r.format}`);
    }
  }
});

test('the reference int8 statistics: SQNR deficit 0 dB, gradient cosine 1, retained share 1', () => {
  const get = (probe: string) => verdicts('reference', probe).find((r) => r.format === 'int8')!;
  assert.equal(get('roundtrip').statistic.value, 0);
  assert.equal(get('broken-ste').statistic.value, 1);
  assert.equal(get('lost-updates').statistic.value, 1);
  assert.equal(get('format-applied').statistic.value, 0);
});

test('each mutant plants the hypothesis its probe tests (DESIGN.md H1–H5; the codec label for NaN/Inf)', () => {
  assert.deepEqual(Object.fromEntries(MUTANTS.map((m) => [m.name, plantedHypothesis(m)])), {
    'missing-dequant': 'H1', 'collapsed-scale': 'H2', 'round-no-ste': 'H3', 'vanishing-ste': 'H3', 'in-place': 'H4', 'fp32-fallback': 'H5',
    'uint8-zero-point': 'H2', 'sign-flip': 'H2', 'wrong-grid': 'H5', 'zero-point-clamp': 'H2', 'non-finite': 'codec',
  });
});

for (const m of MUTANTS) {
  test(`mutant ${m.name} fails ${m.probe} (${plantedHypothesis(m)}) with a witness, and is blamed on nothing unrelated`, () => {
    const row = run.rows.find((r) => r.name === m.name)!;
    assert.ok(row.formats.length > 0, 'applies to some of the subset');
    for (const r of verdicts(m.name, m.probe)) {
      assert.equal(r.verdict, 'fail', `${m.probe} ${r.format}: ${JSON.stringify(r.statistic)}`);
      assert.equal(r.hypothesis, plantedHypothesis(m));
      assert.ok(r.witness && r.witness.summary.length > 0, `${r.format} witness`);
      assert.ok((r.witness!.samples ?? []).length > 0, `${r.format} witness samples`);
      assert.equal(r.witness!.repro, `npx quant-audit run --target mutant:${m.name} --probe ${m.probe} --format ${r.format} --seed 1`);
    }
    for (const r of verdicts(m.name, m.probe)) assert.equal(r.explainedBy, undefined, `${m.probe} ${r.format} is the cause, not a consequence`);
    for (const p of PROBES) {
      const expected = expectedCell(row, p.id);
      if (expected === 'cause') continue;
      const unjudged = verdicts(m.name, p.id).filter((r) => r.verdict === 'fail' || r.verdict === 'inconclusive');
      // never blamed as a cause of its own: at most a consequence marked as following from the planted bug
      const blamed = unjudged.filter((r) => r.explainedBy !== m.probe);
      assert.deepEqual(blamed.map((r) => `${r.format}${r.explainedBy ? ` ← ${r.explainedBy}` : ''}`), [], `${m.name} must not blame ${p.id}`);
      if (expected === 'none') assert.deepEqual(unjudged.map((r) => r.format), [], `${m.name} must leave ${p.id} alone`);
      if (expected === 'consequence') assert.equal(unjudged.length, row.formats.length, `${m.name}: every ${p.id} result marked as a consequence`);
    }
  });
}

test('round-no-ste has (almost) no gradient, vanishing-ste a magnitude far below 0.5', () => {
  // int8 is literal tf.round code: only the absmax element gets a gradient (through the scale)
  const int8 = verdicts('round-no-ste', 'broken-ste').find((r) => r.format === 'int8')!;
  assert.equal(int8.statistic.name, 'gradient cosine vs STE');
  assert.ok(Math.abs(int8.statistic.value!) < 0.1, String(int8.statistic.value));
  // nf4 is quantized on the data, outside the tape: exactly zero
  assert.equal(verdicts('round-no-ste', 'broken-ste').find((r) => r.format === 'nf4')!.statistic.value, 0);
  const small = verdicts('vanishing-ste', 'broken-ste').find((r) => r.format === 'int8')!;
  assert.equal(small.statistic.name, 'gradient magnitude / STE magnitude');
  assert.ok(small.statistic.value! < 0.01, String(small.statistic.value));
});

test('fp32-fallback returns every non-representable value unchanged (statistic 1); lost-updates is skipped, not passed, without an update step', () => {
  const r = verdicts('fp32-fallback', 'format-applied').find((x) => x.format === 'nf4')!;
  assert.equal(r.statistic.value, 1);
  const lu = verdicts('fp32-fallback', 'lost-updates').find((x) => x.format === 'int8')!;
  assert.equal(lu.verdict, 'skipped');
  assert.match(lu.reason!, /no update step/);
  assert.equal(lu.statistic.name, 'movable fraction at lr 0.0001');
});

test('in-place on int8 retains none of 100 updates of 1e-4 (retained 0)', () => {
  const r = verdicts('in-place', 'lost-updates').find((x) => x.format === 'int8')!;
  assert.equal(r.statistic.value, 0);
  assert.match(r.witness!.summary, /100 updates of \+0\.0001 through the target.s update step kept 0 of the movement/);
});
