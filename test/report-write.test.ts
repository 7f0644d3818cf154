import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestRunDir, newRunId, readReport, resolveReportPath, writeRunReport } from '../src/report/write.js';
import { serializeReport } from '../src/report/json.js';
import { appendStepSummary, fitMarkdown } from '../src/report/summary.js';
import { UsageError } from '../src/errors.js';
import { fixtureReport } from './support/report-fixture.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'qa-write-'));
}

test('newRunId: UTC second, then the label in kebab-case', () => {
  const t = new Date('2026-11-26T10:31:05.123Z');
  assert.equal(newRunId(t, 'mutant:in-place'), '20261126-103105-mutant-in-place');
  assert.equal(newRunId(t, 'exec:python3 /srv/quant server.py'), '20261126-103105-exec-python3-srv-quant-server-py');
  assert.equal(newRunId(t, '../../etc'), '20261126-103105-etc');
  assert.equal(newRunId(t, ''), '20261126-103105');
  assert.ok(newRunId(t, 'x'.repeat(200)).length <= 15 + 1 + 48);
});

test('writeRunReport: never overwrites a run directory, suffixes the id, updates latest', async () => {
  const dir = tmp();
  try {
    const first = await writeRunReport(fixtureReport(), dir);
    assert.equal(first.id, '20261126-103105-mutant-in-place');
    assert.deepEqual(readdirSync(first.dir).sort(), ['report.html', 'report.json', 'report.md', 'report.xml']);
    const firstJson = readFileSync(first.files.json, 'utf8');
    const again = fixtureReport();
    const second = await writeRunReport(again, dir);
    assert.equal(second.id, '20261126-103105-mutant-in-place-2');
    assert.equal(again.run.id, second.id, 'run.id follows the directory actually used');
    assert.equal(readReport(second.files.json).run.id, second.id);
    assert.equal(readFileSync(first.files.json, 'utf8'), firstJson, 'the first run is untouched');
    assert.equal(readFileSync(join(dir, 'latest'), 'utf8'), `${second.id}\n`);
    assert.equal(latestRunDir(dir), second.dir);
    assert.equal(resolveReportPath(join(dir, 'latest')), second.files.json);
    assert.equal(resolveReportPath(dir), second.files.json);
    assert.equal(resolveReportPath(first.dir, 'report.md'), first.files.md);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
    assert.deepEqual(readdirSync(second.dir).filter((f) => f.startsWith('.')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readReport: missing, empty, truncated, non-JSON, other schemaVersion and invalid files are clear UsageErrors', () => {
  const dir = tmp();
  try {
    const json = serializeReport(fixtureReport());
    const write = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const expectUsage = (path: string, re: RegExp): void => {
      assert.throws(() => readReport(path), (e: unknown) => e instanceof UsageError && re.test(e.message), `${path}: ${re}`);
    };
    expectUsage(join(dir, 'nope.json'), /no such file\. Pass the report\.json of a run/);
    expectUsage(write('empty.json', ''), /is empty/);
    expectUsage(write('cut.json', json.slice(0, 500)), /is truncated \(500 bytes, no closing brace\)/);
    expectUsage(write('report.md', '# R7 falsification witness\n'), /is not JSON .*not report\.md or report\.xml/);
    expectUsage(write('array.json', '[1,2]'), /not a quant-audit report/);
    expectUsage(write('v2.json', json.replace('"schemaVersion": 1', '"schemaVersion": 2')), /has schemaVersion 2; this quant-audit reads schemaVersion 1/);
    expectUsage(write('nov.json', '{"run": {}}'), /has no schemaVersion/);
    expectUsage(write('bad.json', json.replace('"kind": "run"', '"kind": "race"')), /does not match the report schema[\s\S]*\/kind: must be equal to one of the allowed values/);
    expectUsage(join(dir, 'latest'), /no .*latest: there is no run under/);
    assert.equal(readReport(write('ok.json', json)).run.target, 'mutant:in-place');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('appendStepSummary appends to $GITHUB_STEP_SUMMARY only when it is set', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'summary.md');
    writeFileSync(file, 'before\n');
    assert.equal(appendStepSummary('# one\n', { GITHUB_STEP_SUMMARY: file }), true);
    assert.equal(appendStepSummary('# two\n', { GITHUB_STEP_SUMMARY: file }), true);
    assert.equal(readFileSync(file, 'utf8'), 'before\n# one\n\n# two\n\n');
    assert.equal(appendStepSummary('# three\n', {}), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fitMarkdown drops whole trailing sections to fit a byte limit', () => {
  const md = `# T\n\nintro\n\n## A\n\n${'a'.repeat(100)}\n\n## B\n\n${'b'.repeat(100)}\n`;
  assert.equal(fitMarkdown(md, 1000, 'NOTE'), md);
  const cut = fitMarkdown(md, 150, 'NOTE');
  assert.equal(cut, `# T\n\nintro\n\n## A\n\n${'a'.repeat(100)}\n\nNOTE\n`);
  assert.ok(Buffer.byteLength(cut) <= 150);
});
