/**
 * Report hygiene: no matrix of `skip` rows, site columns that name their statistic, labelled
 * lost-updates samples, an H4 retained share outside [0, 1] flagged instead of passed, merged
 * reports that record the merge and its gate, and an environment with versions and the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgedOnly, runState, siteColumnLabel } from '../src/report/text.js';
import { renderHtml } from '../src/report/html.js';
import { renderTerminal } from '../src/report/terminal.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { mergeReports, withFailOn } from '../src/report/merge.js';
import { judgeLostUpdates, retainedShare } from '../probes/lost-updates.js';
import { machineInfo, runVersions } from '../src/run/environment.js';
import { buildVerdict } from '../src/verdict/gate.js';
import { fixtureReport } from './support/report-fixture.js';
import type { ProbeResult } from '../src/report/types.js';

function result(probe: string, format: string, verdict: ProbeResult['verdict'], extra: Partial<ProbeResult> = {}): ProbeResult {
  return { probe, hypothesis: probe, format, verdict, statistic: { name: 'local SQNR (dB) of DQ(Q(x)) vs x', value: verdict === 'skipped' ? null : 30, threshold: 20, comparator: '<', unit: 'dB' }, evidence: { measurements: {} }, durationMs: 1, ...extra } as ProbeResult;
}

test('rows and columns in which every result was skipped leave the matrix', () => {
  const results = [
    result('roundtrip', 'int8', 'skipped'), result('broken-ste', 'int8', 'skipped'),
    result('roundtrip', 'nf4', 'pass'), result('broken-ste', 'nf4', 'skipped'),
    result('qdq-audit', 'int8+uint8', 'fail'),
  ];
  assert.deepEqual(judgedOnly(results).map((r) => `${r.probe}/${r.format}`), ['roundtrip/nf4', 'qdq-audit/int8+uint8']);
  const report = { ...fixtureReport(), results, lanes: [], asymmetries: undefined, verdict: buildVerdict(results, [], 'fail') };
  const term = renderTerminal(report, { color: false, compact: true });
  assert.doesNotMatch(term, /\| int8 +\|/, 'no row of skips for int8');
  assert.doesNotMatch(term, /broken-ste/, 'no column of skips');
  assert.match(term, /\| nf4 +\| pass 30 dB/);
});

test('a sites column names the statistic its cells show and which way is better', () => {
  const sites = [result('roundtrip', 'int8', 'pass', { site: 'fc1' }), result('roundtrip', 'int8', 'fail', { site: 'fc2' })];
  assert.equal(siteColumnLabel('roundtrip', sites), 'roundtrip: local SQNR (dB), higher is better');
  const mixed = [...sites, result('roundtrip', 'int8', 'pass', { site: 'fc3', statistic: { name: 'other', value: 1, threshold: 0, comparator: '>' } })];
  assert.equal(siteColumnLabel('roundtrip', mixed), 'roundtrip', 'different statistics in one column: no single name');
});

test('H4: a retained share above 1 is flagged inconclusive with the reason, not passed; below 0 fails', () => {
  const over = { lr: 1e-3, gap: 1, distToInPlace: 1.8, distToMaster: 0.8, masterMovement: 1 };
  assert.equal(Number(retainedShare(over).toFixed(6)), 1.8);
  const j = judgeLostUpdates([over], 0.5);
  assert.equal(j.verdict, 'inconclusive');
  assert.match(j.reason!, /^retained 1\.80 at lr 0\.001 is above 1: the target's update moved the weights further than fp32 master weights would/);
  const against = { lr: 1e-3, gap: 1, distToInPlace: 0.5, distToMaster: 1.5, masterMovement: 1 };
  assert.equal(retainedShare(against), -0.5);
  assert.equal(judgeLostUpdates([against], 0.5).verdict, 'fail');
  assert.equal(judgeLostUpdates([{ lr: 1e-3, gap: 1, distToInPlace: 1, distToMaster: 0, masterMovement: 1 }], 0.5).verdict, 'pass');
});

test('witness samples carry their column names into markdown and the terminal', () => {
  const base = fixtureReport();
  const r = base.results.find((x) => x.verdict === 'fail' && x.witness)!;
  r.witness = { ...r.witness!, samples: [{ x: 0.01, y: 0, expected: 0.02 }], sampleLabels: { x: 'w before', y: 'target after 100 updates', expected: 'fp32 master weights' } };
  const md = renderMarkdown(base);
  assert.match(md, /\| w before \| target after 100 updates \| fp32 master weights \|/);
  assert.match(renderTerminal(base, { color: false }), /w before 0\.01 · target after 100 updates 0 · fp32 master weights 0\.02/);
});

test('a merged report records the merge command, and its run command carries the merged gate', () => {
  assert.equal(withFailOn('quant-audit run --all --fail-on never', 'fail'), 'quant-audit run --all --fail-on fail');
  assert.equal(withFailOn('quant-audit run --all', 'fail'), 'quant-audit run --all');
  assert.equal(withFailOn('quant-audit run --all', 'partial'), 'quant-audit run --all --fail-on partial');
  const a = fixtureReport('never');
  a.run.command = 'quant-audit run --target mutant:in-place --fail-on never';
  const merged = mergeReports([a], { failOn: 'fail', command: 'quant-audit merge a.json --fail-on fail' });
  assert.equal(merged.run.command, 'quant-audit run --target mutant:in-place --fail-on fail');
  assert.equal(merged.run.mergeCommand, 'quant-audit merge a.json --fail-on fail');
  assert.match(renderMarkdown(merged), /\| Merged by \| `quant-audit merge a\.json --fail-on fail` \|/);
});

test('the environment names tfjs and onnxruntime-node versions when they ran, and the machine', () => {
  const both = runVersions({ tfjs: true, onnx: true });
  assert.match(both.tfjs ?? '', /^4\.\d+\.\d+$/);
  assert.match(both['onnxruntime-node'] ?? '', /^1\.\d+\.\d+$/);
  assert.deepEqual(Object.keys(runVersions({ tfjs: false, onnx: false })), ['quant-audit', 'node']);
  const m = machineInfo();
  assert.match(m.os!, /\S+ \S+ \((x64|arm64|[a-z0-9]+)\)/);
  assert.match(m.cpu!, / × \d+$/);
});

test('one headline state for every view: markdown and report.html say the word runState gives for the verdict', async () => {
  const cases: [0 | 1 | 2 | 3, boolean, string][] = [[1, true, 'Falsified'], [3, false, 'Inconclusive'], [0, true, 'Witnesses found, below the gate'], [0, false, 'No witness']];
  for (const [exitCode, falsified, word] of cases) {
    assert.equal(runState({ exitCode, falsified }).word, word);
    const report = fixtureReport();
    report.verdict = { ...report.verdict, exitCode, falsified };
    assert.match(renderMarkdown(report), new RegExp(`\\*\\*${word}\\*\\* \\(exit ${exitCode} at`), word);
    assert.match(await renderHtml(report), new RegExp(`${word}`), word);
  }
  assert.equal(runState({ exitCode: 3, falsified: false }).note, 'the control or the environment failed, so not everything could be judged');
});
