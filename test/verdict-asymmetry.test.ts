/**
 * The asymmetry verdict from measured numbers alone: H4 when in-place lanes' proposed updates
 * are below half a step for the dead optimizer and larger for the learning one; H3 only when
 * broken-ste failed; neither (said so) otherwise — never the STE by default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findAsymmetries } from '../src/verdict/asymmetry.js';
import type { Lane, LaneStatus, ProbeResult } from '../src/report/types.js';

function lane(format: string, optimizer: string, status: LaneStatus, ratio: number | undefined, over: Partial<Lane> = {}): Lane {
  const lr = optimizer === 'adamw' ? 0.0001 : 0.0235;
  return {
    name: `QA-${over.weightUpdate === 'target-update' ? 'inplace-' : ''}${format}-h128-LR${lr}-rng1597-${optimizer}`,
    format,
    optimizer,
    seed: 1597,
    lr,
    hidden: 128,
    steps: 100,
    bpb: status === 'dead' ? 7.3 : 4.4,
    bestBpb: status === 'dead' ? 7.3 : 4.4,
    curve: [],
    status,
    masterWeights: false,
    weightUpdate: 'in-place',
    ...(ratio !== undefined ? { updateToStep: { median: ratio, survives: ratio >= 0.5 ? 0.6 : 0, byMatrix: {}, steps: [1], samples: 384 } } : {}),
    ...over,
  };
}

const control = (optimizer: string): Lane => ({ ...lane('fp32', optimizer, 'learns', undefined), name: `QA-fp32-${optimizer}`, control: true, masterWeights: true, weightUpdate: 'master', bestBpb: 5.4 });

function probe(id: string, format: string, verdict: ProbeResult['verdict'], name: string, value: number): ProbeResult {
  return { probe: id, hypothesis: id === 'broken-ste' ? 'H3' : 'H4', format, verdict, statistic: { name, value, threshold: 0.9, comparator: '<' }, evidence: { measurements: {} } };
}

const steOk = probe('broken-ste', 'int8', 'pass', 'gradient cosine vs STE', 1);
const lostFail = probe('lost-updates', 'int8', 'fail', 'update retained', 0);

test('adamw dead / muon learns in place, ratios 0.004 vs 0.9, STE passes: lost updates (H4), not the STE', () => {
  const lanes = [control('adamw'), control('muon'), lane('int8', 'adamw', 'dead', 0.004), lane('int8', 'muon', 'learns', 0.9)];
  const [a, ...rest] = findAsymmetries(lanes, [steOk, lostFail], ['int8']);
  assert.equal(rest.length, 0);
  assert.deepEqual(a!.explainedBy, ['H4']);
  assert.deepEqual([a!.deadOptimizers, a!.learningOptimizers], [['adamw'], ['muon']]);
  assert.equal(
    a!.summary,
    'adamw dead / muon learns on int8 (weights rounded in place, no fp32 master weights) is explained by lost updates ' +
      '(update/step 0.004 vs 0.9; 0 % vs 60 % of updates at or above ½ step), not by the STE (gradient cosine vs STE 1)',
  );
  assert.deepEqual(a!.ratios, { 'QA-int8-h128-LR0.0001-rng1597-adamw': 0.004, 'QA-int8-h128-LR0.0235-rng1597-muon': 0.9 });
  assert.ok(a!.evidence.some((e) => e === 'lost-updates fails on int8 (update retained 0)'));
  assert.ok(a!.evidence.some((e) => /the fp32 control of adamw at lr 0.0001 learns/.test(e)));
});

test('with fp32 master weights lost updates cannot explain a dead lane; without a failing STE probe nothing is blamed', () => {
  const master = { masterWeights: true, weightUpdate: 'master' as const };
  const lanes = [lane('int8', 'adamw', 'dead', 0.004, master), lane('int8', 'muon', 'learns', 0.9, master)];
  const [a] = findAsymmetries(lanes, [steOk]);
  assert.deepEqual(a!.explainedBy, []);
  assert.match(a!.summary, /^adamw dead \/ muon learns on int8 is explained neither by lost updates \(.*fp32 master weights\) nor by the STE \(gradient cosine vs STE 1\)$/);
});

test('a failing STE probe is H3; with in-place ratios that also fit, both are named', () => {
  const steBad = probe('broken-ste', 'int8', 'fail', 'gradient cosine vs STE', -1);
  const master = { masterWeights: true, weightUpdate: 'master' as const };
  const [onlyH3] = findAsymmetries([lane('int8', 'adamw', 'dead', 0.004, master), lane('int8', 'muon', 'partial', 0.9, master)], [steBad]);
  assert.deepEqual(onlyH3!.explainedBy, ['H3']);
  assert.match(onlyH3!.summary, /^adamw dead \/ muon partial on int8 is explained by a broken STE \(gradient cosine vs STE -1\), not by lost updates/);
  const [both] = findAsymmetries([lane('int8', 'adamw', 'dead', 0.004), lane('int8', 'muon', 'learns', 0.9)], [steBad]);
  assert.deepEqual(both!.explainedBy, ['H4', 'H3']);
});

test('in place but the learning lane does not move more than the dead one: not H4', () => {
  const [a] = findAsymmetries([lane('int8', 'adamw', 'dead', 0.3), lane('int8', 'muon', 'learns', 0.2)], [steOk]);
  assert.deepEqual(a!.explainedBy, []);
  const [unmeasured] = findAsymmetries([lane('int8', 'adamw', 'dead', undefined), lane('int8', 'muon', 'learns', 0.9)], []);
  assert.deepEqual(unmeasured!.explainedBy, []);
  assert.match(unmeasured!.summary, /nor by the STE \(broken-ste not run\)$/);
});

test('no asymmetry: every optimizer learns, every optimizer is dead, an optimizer is mixed, or the lanes differ by weight update only', () => {
  assert.deepEqual(findAsymmetries([lane('int8', 'adamw', 'learns', 0.9), lane('int8', 'muon', 'clean', 0.9)], []), []);
  assert.deepEqual(findAsymmetries([lane('int8', 'adamw', 'dead', 0.004), lane('int8', 'muon', 'dead', 0.004)], []), []);
  const mixed = [lane('int8', 'adamw', 'dead', 0.004), { ...lane('int8', 'adamw', 'learns', 0.9), seed: 2, name: 'other seed' }, lane('int8', 'muon', 'learns', 0.9)];
  assert.deepEqual(findAsymmetries(mixed, []), []);
  const byMode = [lane('int8', 'adamw', 'dead', 0.004, { weightUpdate: 'target-update' }), lane('int8', 'muon', 'learns', 0.9, { masterWeights: true, weightUpdate: 'master' })];
  assert.deepEqual(findAsymmetries(byMode, []), []);
  assert.deepEqual(findAsymmetries([lane('int8', 'adamw', 'inconclusive', 0.004), lane('int8', 'muon', 'learns', 0.9)], []), []);
});

test('one finding per format and weight update, in the run\'s format order', () => {
  const lanes = [
    lane('int4', 'adamw', 'dead', 0.0015), lane('int4', 'muon', 'partial', 0.06),
    lane('int8', 'adamw', 'dead', 0.03), lane('int8', 'muon', 'learns', 0.6),
    lane('int8', 'adamw', 'dead', 0.03, { weightUpdate: 'target-update' }), lane('int8', 'muon', 'learns', 0.6, { weightUpdate: 'target-update' }),
  ];
  const found = findAsymmetries(lanes, [], ['int8', 'int4']);
  assert.deepEqual(found.map((a) => [a.format, a.weightUpdate, a.explainedBy.join()]), [['int8', 'in-place', 'H4'], ['int8', 'target-update', 'H4'], ['int4', 'in-place', 'H4']]);
  assert.match(found[1]!.summary, /on int8 \(weights updated by the target's own update step\)/);
});

test('views: the markdown headline and the terminal line under the verdict carry each finding from report.json', async () => {
  const { fixtureReport } = await import('./support/report-fixture.js');
  const { renderMarkdown } = await import('../src/report/markdown.js');
  const { renderTerminal } = await import('../src/report/terminal.js');
  const r = fixtureReport();
  assert.deepEqual(r.asymmetries!.map((a) => [a.format, a.explainedBy.join()]), [['int4', 'H4'], ['int8', 'H4'], ['posit8', '']]);
  const md = renderMarkdown(r);
  assert.ok(
    md.includes(
      '- ⚖️ **Optimizer asymmetry** — adamw dead / muon learns on int8 (weights rounded in place, no fp32 master weights) is explained by lost updates ' +
        '(update/step 0.027 vs 0.35; 0 % vs 44 % of updates at or above ½ step), not by the STE (cosine 0.9998) (**H4**).',
    ),
    md.split('\n').filter((l) => l.includes('asymmetry')).join('\n'),
  );
  assert.match(md, /- ⚖️ \*\*Optimizer asymmetry\*\* — muon dead \/ adamw partial on posit8 .* is explained neither by lost updates \(update\/step 0\.18 vs 0\.0096.*\) nor by/);
  const term = renderTerminal(r, { color: false }).split('\n');
  // under the verdict: the diagnosis lines, then the asymmetries, before the lane table
  const at = term.findIndex((l) => l.startsWith('asymmetry:'));
  assert.ok(at > 2 && term.slice(2, at).every((l) => l.startsWith('  ● ')), term.slice(0, at + 1).join('\n'));
  assert.equal(term[at], 'asymmetry: adamw dead / muon learns on int4 (weights rounded in place, no fp32 master weights) is explained by lost updates (update/step 0.0015 vs 0.061; 0 % vs 9 % of updates at or above ½ step), not by the STE (cosine 0.9998) [H4]');
});

test('the one judging path: judgeRun names the asymmetry with the cause report.diagnosis gives its dead lanes, and the gate counts the dead lanes once', async () => {
  const { judgeRun } = await import('../src/verdict/gate.js');
  const lanes = [control('adamw'), control('muon'), lane('int8', 'adamw', 'dead', 0.004), lane('int8', 'muon', 'learns', 0.9)];
  const withAsym = judgeRun([steOk, lostFail], lanes, 'fail', ['int8']);
  const [a] = withAsym.asymmetries;
  assert.deepEqual([a!.explainedBy, a!.causes], [['H4'], ['lost-updates']]);
  const dead = withAsym.diagnosis.find((d) => d.format === 'int8')!.deadLanes;
  assert.deepEqual(dead.map((d) => d.explainedBy), [a!.causes]);
  assert.deepEqual(withAsym.lanes.find((l) => l.name === a!.dead[0])!.explainedBy, ['lost-updates']);
  // the same lanes with the asymmetry removed (muon dead too): the verdict counts the same dead adamw lane, plus muon's
  const noAsym = judgeRun([steOk, lostFail], [...lanes.slice(0, 3), lane('int8', 'muon', 'dead', 0.9)], 'fail', ['int8']);
  assert.equal(noAsym.asymmetries.length, 0);
  assert.deepEqual(withAsym.verdict.deadLanes, [a!.dead[0]]);
  assert.equal(withAsym.verdict.exitCode, 1);
  assert.equal(withAsym.lanes.filter((l) => l.gated).length, 1, 'one dead lane, counted once');
});

test('lost-updates as the primary cause names H4 even when the ratios do not separate the optimizers; a broken-ste that another failure explains is not H3', () => {
  const [a] = findAsymmetries([lane('int8', 'adamw', 'dead', 0.3), lane('int8', 'muon', 'learns', 0.2)], [steOk, lostFail]);
  assert.deepEqual([a!.explainedBy, a!.causes], [['H4'], ['lost-updates']]);
  assert.ok(a!.evidence.includes('the diagnosis names lost-updates for the dead lane'), a!.evidence.join('\n'));
  const steFollows: ProbeResult = { ...probe('broken-ste', 'int8', 'fail', 'gradient cosine vs STE', -1), explainedBy: 'missing-dequant' };
  const master = { masterWeights: true, weightUpdate: 'master' as const };
  const [b] = findAsymmetries([lane('int8', 'adamw', 'dead', 0.004, master), lane('int8', 'muon', 'learns', 0.9, master)], [steFollows]);
  assert.deepEqual([b!.explainedBy, b!.causes], [[], []]);
  assert.ok(b!.evidence.includes('broken-ste fails, explained by missing-dequant on int8 (gradient cosine vs STE -1)'), b!.evidence.join('\n'));
});

test('in-place lanes of a target whose own update keeps small steps: H4 from the ratios, no probe cause, and the report says the run chose the rounding', () => {
  const lostPass = probe('lost-updates', 'int8', 'pass', 'update retained', 1);
  const [a] = findAsymmetries([lane('int8', 'adamw', 'dead', 0.004), lane('int8', 'muon', 'learns', 0.9)], [steOk, lostPass]);
  assert.deepEqual([a!.explainedBy, a!.causes], [['H4'], []]);
  assert.ok(a!.evidence.some((e) => /in-place rounding this run chose \(--no-master-weights\)/.test(e)), a!.evidence.join('\n'));
});

test('lanes that do not say how their weights were kept (a fleet witness): the asymmetry is reported, explained by nothing measured', () => {
  const unknown = { masterWeights: undefined, weightUpdate: undefined };
  const [a] = findAsymmetries([lane('int8', 'adamw', 'dead', undefined, unknown), lane('int8', 'muon', 'partial', undefined, unknown)], []);
  assert.equal(a!.weightUpdate, 'unknown');
  assert.deepEqual(a!.explainedBy, []);
  assert.equal(a!.summary, 'adamw dead / muon partial on int8 is explained neither by lost updates (update/step not measured, master weights unknown) nor by the STE (broken-ste not run)');
});
