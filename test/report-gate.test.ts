import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVerdict } from '../src/verdict/gate.js';
import type { FailOn, Lane, LaneStatus, ProbeResult, Verdict } from '../src/report/types.js';
import { lane } from './support/report-fixture.js';

function result(verdict: Verdict, format = 'int8', probe = 'broken-ste', hypothesis = 'H3'): ProbeResult {
  return {
    probe, hypothesis, format, verdict,
    statistic: { name: 'cosine', value: verdict === 'fail' ? 0 : 1, threshold: 0.9, comparator: '<' },
    evidence: { measurements: {} },
    ...(verdict === 'fail' ? { witness: { summary: 'zero gradient', repro: 'npx quant-audit run' } } : {}),
  };
}

const control = (status: LaneStatus = 'clean', optimizer = 'adamw'): Lane => lane('fp32', optimizer, status, status === 'clean' ? 2.6 : 6.99, { control: true });
const fmtLane = (status: LaneStatus, format = 'int8', optimizer = 'adamw'): Lane => lane(format, optimizer, status, 4);

interface Case {
  name: string;
  results: ProbeResult[];
  lanes: Lane[];
  expect: Record<FailOn, number>;
}

// The exit-code table documented in docs/reports.md.
const CASES: Case[] = [
  { name: 'nothing found', results: [result('pass'), result('skipped', 'nf4')], lanes: [control(), fmtLane('clean'), fmtLane('learns', 'int4')], expect: { dead: 0, partial: 0, fail: 0, never: 0 } },
  { name: 'a probe fails, lanes learn', results: [result('fail')], lanes: [control(), fmtLane('learns')], expect: { dead: 0, partial: 1, fail: 1, never: 0 } },
  { name: 'a partial lane', results: [result('pass')], lanes: [control(), fmtLane('partial')], expect: { dead: 0, partial: 1, fail: 0, never: 0 } },
  { name: 'a dead lane', results: [], lanes: [control(), fmtLane('dead')], expect: { dead: 1, partial: 1, fail: 1, never: 0 } },
  { name: 'the control did not learn', results: [result('pass')], lanes: [control('dead'), fmtLane('inconclusive')], expect: { dead: 3, partial: 3, fail: 3, never: 3 } },
  { name: 'a probe is inconclusive (target error)', results: [result('inconclusive')], lanes: [control(), fmtLane('clean')], expect: { dead: 0, partial: 3, fail: 3, never: 0 } },
  { name: 'dead lane and a failed control of another optimizer: 1 beats 3', results: [], lanes: [control(), fmtLane('dead'), control('partial', 'muon'), fmtLane('inconclusive', 'int8', 'muon')], expect: { dead: 1, partial: 1, fail: 1, never: 3 } },
  { name: 'probe fail and probe inconclusive', results: [result('fail'), result('inconclusive', 'nf4')], lanes: [], expect: { dead: 0, partial: 1, fail: 1, never: 0 } },
  { name: 'empty run', results: [], lanes: [], expect: { dead: 0, partial: 0, fail: 0, never: 0 } },
];

for (const c of CASES) {
  test(`exit codes: ${c.name}`, () => {
    const got = Object.fromEntries((['dead', 'partial', 'fail', 'never'] as const).map((f) => [f, buildVerdict(c.results, c.lanes, f).exitCode]));
    assert.deepEqual(got, c.expect);
  });
}

test('--fail-on never: witnesses are reported (falsified) but exit 0', () => {
  const v = buildVerdict([result('fail')], [control(), fmtLane('dead')], 'never');
  assert.equal(v.exitCode, 0);
  assert.equal(v.falsified, true);
  assert.match(v.summary, /^WITNESSES FOUND, NOT GATED/);
  assert.deepEqual(v.supported, { H3: ['int8'] });
});

test('verdict: supported formats are sorted and unique; dead lanes exclude controls', () => {
  const v = buildVerdict([result('fail', 'int8'), result('fail', 'int4'), result('fail', 'int8')], [control('dead'), fmtLane('dead', 'int4')], 'fail');
  assert.deepEqual(v.supported, { H3: ['int4', 'int8'] });
  assert.deepEqual(v.deadLanes, ['QA-int4-h128-LR0.003-rng1597-adamw']);
  assert.equal(v.inconclusive, true);
  assert.equal(v.exitCode, 1);
  assert.match(v.summary, /control did not learn: QA-fp32-h128-LR0.003-rng1597-adamw/);
});

test('verdict does not depend on the order of results and lanes', () => {
  const results = [result('fail', 'int8'), result('pass', 'int4'), result('inconclusive', 'nf4'), result('fail', 'posit8', 'lost-updates', 'H4')];
  const lanes = [control(), fmtLane('dead', 'int4'), fmtLane('partial', 'int8'), fmtLane('clean', 'nf4')];
  const a = buildVerdict(results, lanes, 'fail');
  const b = buildVerdict([...results].reverse(), [...lanes].reverse(), 'fail');
  assert.deepEqual(b, a);
  assert.equal(a.summary, 'FALSIFIED — supported: H3 for int8; H4 for posit8 · lanes: 1 dead, 1 partial, 1 clean of 3 · inconclusive: broken-ste nf4 (--fail-on fail → exit 1)');
});
