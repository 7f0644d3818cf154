/**
 * diagnose(): which failures are causes, which follow from them, and which cause explains
 * each lane that did not learn — decided on plain results and lanes, no target needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose, diagnosisLine, downstreamPhrase, foldDownstream } from '../src/verdict/diagnosis.js';
import type { ProbeResult } from '../src/report/types.js';
import { lane } from './support/report-fixture.js';

function result(probe: string, hypothesis: string, format: string, verdict: ProbeResult['verdict'], extra: Partial<ProbeResult> = {}): ProbeResult {
  return {
    probe,
    hypothesis,
    format,
    seed: 1,
    verdict,
    statistic: { name: 's', value: 0, threshold: 1, comparator: '<' },
    evidence: { measurements: {} },
    durationMs: 1,
    ...extra,
  };
}

test('a dead lane is explained by a lane-killing cause on its format; lost-updates only without master weights', () => {
  const results = [
    result('missing-dequant', 'H1', 'uint8', 'fail'),
    result('scale-collapse', 'H2', 'uint8', 'fail', { explainedBy: 'missing-dequant', explanation: 'passes once dequantized' }),
    result('lost-updates', 'H4', 'int8', 'fail'),
    result('format-applied', 'H5', 'nf4', 'fail'),
  ];
  const lanes = [
    lane('uint8', 'adamw', 'dead', 7.3),
    lane('int8', 'adamw', 'dead', 7.3, { masterWeights: false }),
    lane('int8', 'muon', 'dead', 7.3, { masterWeights: true, name: 'QA-int8-master-muon' }),
    lane('nf4', 'adamw', 'dead', 7.2),
    lane('fp16', 'adamw', 'clean', 5.4),
  ];
  const d = diagnose(results, lanes);
  const by = Object.fromEntries(d.lanes.map((l) => [l.name, l.explainedBy]));
  assert.deepEqual(by['QA-uint8-h128-LR0.003-rng1597-adamw'], ['missing-dequant']); // H2 follows from H1: not a second killer
  assert.deepEqual(by['QA-int8-h128-LR0.003-rng1597-adamw'], ['lost-updates']);
  assert.deepEqual(by['QA-int8-master-muon'], []); // fp32 master weights: lost updates cannot kill it, so nothing explains it
  assert.deepEqual(by['QA-nf4-h128-LR0.003-rng1597-adamw'], []); // a format silently not applied still learns
  assert.equal(by['QA-fp16-h128-LR0.003-rng1597-adamw'], undefined);
  const uint8 = d.diagnosis.find((e) => e.format === 'uint8')!;
  assert.deepEqual(uint8.causes.map((c) => c.probe), ['missing-dequant']);
  assert.deepEqual(uint8.consequences.map((c) => [c.probe, c.explainedBy]), [['scale-collapse', 'missing-dequant']]);
  assert.deepEqual(d.diagnosis.map((e) => e.format).sort(), ['int8', 'nf4', 'uint8']);
});

test('a failing learnability result follows from the cause that explains its lane; one that nothing explains stays a cause', () => {
  const l = lane('int8', 'adamw', 'dead', 7.3);
  const other = lane('posit8', 'adamw', 'dead', 7.3);
  const results = [
    result('lost-updates', 'H4', 'int8', 'fail'),
    result('learnability', 'learnability', 'int8', 'fail', { optimizer: 'adamw', evidence: { measurements: { lane: l.name } } }),
    result('learnability', 'learnability', 'posit8', 'fail', { optimizer: 'adamw', evidence: { measurements: { lane: other.name } } }),
  ];
  const d = diagnose(results, [l, other]);
  const [, int8, posit8] = d.results;
  assert.equal(int8!.explainedBy, 'lost-updates');
  assert.match(int8!.explanation!, /did not learn; lost-updates failed on int8/);
  assert.equal(posit8!.explainedBy, undefined);
  // a lane that learned and then diverged is not said to have not learned
  const up = lane('int4', 'muon', 'diverged', 5.05);
  const dv = diagnose([result('lost-updates', 'H4', 'int4', 'fail'), result('learnability', 'learnability', 'int4', 'fail', { optimizer: 'muon', evidence: { measurements: { lane: up.name } } })], [up]);
  assert.match(dv.results[1]!.explanation!, /diverged \(its loss ended non-finite or above the uniform baseline\); lost-updates failed on int4, which can make a lane diverge/);
  // idempotent: a merge re-runs it on its own output
  assert.deepEqual(diagnose(d.results, d.lanes), d);
});

test('diagnosisLine names each consequence once however many optimizers ran, and what explains the dead lanes', () => {
  const lanes = [lane('int8', 'adamw', 'dead', 7.3), lane('int8', 'muon', 'dead', 7.3)];
  const results = [
    result('lost-updates', 'H4', 'int8', 'fail'),
    ...lanes.map((l) => result('learnability', 'learnability', 'int8', 'fail', { optimizer: l.optimizer, evidence: { measurements: { lane: l.name } } })),
  ];
  const d = diagnose(results, lanes);
  const line = diagnosisLine(d.diagnosis[0]!, (p) => (p === 'lost-updates' ? 'H4' : p));
  assert.equal(line, 'int8: H4 (lost-updates) — learnability follows from H4 — 2 lanes that did not learn, explained by H4');
  const unexplained = diagnose([], [lane('posit8', 'adamw', 'diverged', 9)]);
  assert.equal(diagnosisLine(unexplained.diagnosis[0]!), 'posit8: no primary cause — 1 lane that did not learn and no probe explains');
});

test('a format-level result that follows from an ONNX site names the probe that failed there; a site with no failure explains nothing', () => {
  const results = [
    result('scale-collapse', 'H2', 'uint4', 'fail', { site: 'fc1_Q4' }),
    result('roundtrip', 'codec', 'uint4', 'fail', { site: 'fc1_Q4', explainedBy: 'scale-collapse' }),
    result('float-model', 'float', 'uint4', 'fail', { explainedBySite: 'fc1_Q4', explanation: 'the models part at fc2' }),
    result('weight-audit', 'weights', 'uint4', 'fail', { explainedBySite: 'fc9_Q4' }),
  ];
  const d = diagnose(results, []);
  const by = Object.fromEntries(d.results.map((r) => [`${r.probe}@${r.site ?? ''}`, r.explainedBy]));
  assert.equal(by['float-model@'], 'scale-collapse'); // the site's primary cause, not its consequence
  assert.equal(by['weight-audit@'], undefined); // fc9_Q4 did not fail: it stays a cause
  const format = d.diagnosis.find((e) => e.site === undefined)!;
  assert.deepEqual(format.causes.map((c) => c.probe), ['weight-audit']);
  assert.deepEqual(format.consequences.map((c) => [c.probe, c.explainedBy, c.explainedBySite]), [['float-model', 'scale-collapse', 'fc1_Q4']]);
  assert.equal(diagnosisLine(format, (p) => (p === 'scale-collapse' ? 'H2' : p)), 'uint4: weights (weight-audit) — float (float-model) follows from H2 at fc1_Q4');
});

test('views fold a site whose every failure follows from one upstream cause into that cause, through same-site links; a site with a cause of its own stays', () => {
  const c = (probe: string, explainedBy: string, explainedBySite?: string) => ({ probe, hypothesis: probe === 'roundtrip' ? 'codec' : 'H2', explainedBy, ...(explainedBySite ? { explainedBySite } : {}) });
  const entries = [
    { format: 'int8', site: 'conv1', causes: [{ probe: 'scale-collapse', hypothesis: 'H2', summary: 's' }], consequences: [c('roundtrip', 'scale-collapse')], deadLanes: [] },
    // roundtrip at conv2 follows from conv2's scale-collapse, which follows from conv1: all of it is conv1's
    { format: 'int8', site: 'conv2', causes: [], consequences: [c('roundtrip', 'scale-collapse'), c('scale-collapse', 'scale-collapse', 'conv1')], deadLanes: [] },
    { format: 'int8', causes: [], consequences: [c('qdq-audit', 'scale-collapse', 'conv1')], deadLanes: [] },
    { format: 'int8', site: 'fc', causes: [{ probe: 'missing-dequant', hypothesis: 'H1', summary: 's' }], consequences: [c('scale-collapse', 'scale-collapse', 'conv1')], deadLanes: [] },
    // follows from a site that has no cause entry: stays as it is
    { format: 'int8', site: 'x', causes: [], consequences: [c('roundtrip', 'scale-collapse', 'nowhere')], deadLanes: [] },
  ];
  const views = foldDownstream(entries);
  assert.deepEqual(views.map((v) => v.entry.site ?? '(model)'), ['conv1', 'fc', 'x']);
  assert.deepEqual(views[0]!.downstream, [{ probe: 'roundtrip', site: 'conv2' }, { probe: 'scale-collapse', site: 'conv2' }, { probe: 'qdq-audit' }]);
  assert.equal(
    diagnosisLine(views[0]!.entry, (p) => (p === 'scale-collapse' ? 'H2' : p), views[0]!.downstream),
    'int8 at conv1: H2 (scale-collapse) — codec (roundtrip) follows from H2 — 3 failures downstream follow from it: roundtrip at conv2, scale-collapse at conv2, qdq-audit (the model)',
  );
  assert.equal(downstreamPhrase([{ probe: 'a', site: '1' }, { probe: 'a', site: '2' }, { probe: 'a', site: '3' }], (s) => s, 2), '3 failures downstream follow from it: a at 1, a at 2 and 1 more');
});
