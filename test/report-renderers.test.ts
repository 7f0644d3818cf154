/**
 * The renderer table (src/report/renderers.ts) is the one list of report views: a view renderer
 * in src/report/ that is not a row fails here; the `report --as` choices and help, the files a
 * run writes and the library's renderReport all follow the rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildProgram } from '../src/cli.js';
import { serializeReport } from '../src/report/json.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { EAGER_VIEWS, RENDERERS, renderReport, REPORT_VIEWS, WRITTEN_VIEWS, type ReportView } from '../src/report/renderers.js';
import { readReport, writeRunReport } from '../src/report/write.js';
import { UsageError } from '../src/errors.js';
import { cliParseError } from './support/cli-parse.js';
import { fixtureReport } from './support/report-fixture.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Report renderers that are not views of their own, and why. */
const NOT_VIEWS: Record<string, string> = {
  renderComment: '`attach` posts it: report.md cut to a PR comment size limit, not a view of its own',
};

test('renderers: the table lists md, junit, terminal, json, html; html is the one loaded lazily; four of them are files', () => {
  assert.deepEqual(REPORT_VIEWS, ['md', 'junit', 'terminal', 'json', 'html']);
  assert.deepEqual(EAGER_VIEWS, ['md', 'junit', 'terminal', 'json']);
  assert.deepEqual(RENDERERS.filter((r) => 'load' in r).map((r) => r.view), ['html']);
  assert.deepEqual(WRITTEN_VIEWS.map((v) => [v.view, v.file]), [['md', 'report.md'], ['junit', 'report.xml'], ['json', 'report.json'], ['html', 'report.html']]);
});

test('renderers: every view renderer exported from src/report/ is a row of the table', () => {
  const table = readFileSync(join(ROOT, 'src', 'report', 'renderers.ts'), 'utf8');
  const found: string[] = [];
  for (const file of readdirSync(join(ROOT, 'src', 'report')).filter((f) => f.endsWith('.ts') && f !== 'renderers.ts')) {
    const text = readFileSync(join(ROOT, 'src', 'report', file), 'utf8');
    // A view renders a whole Report to text: `export function NAME(report: Report[, options]): string {`.
    for (const m of text.matchAll(/^export (?:async )?function (\w+)\(report: Report\b[^)]*\): (?:Promise<)?string>? \{/gm)) found.push(m[1]!);
  }
  const missing = found.filter((name) => !(name in NOT_VIEWS) && !new RegExp(`\\b${name}\\b`).test(table));
  assert.deepEqual(missing, [], `add a row to src/report/renderers.ts for ${missing.join(', ')} (or say in NOT_VIEWS why it is not a view)`);
  assert.deepEqual(found.sort(), ['renderComment', 'renderHtml', 'renderJunit', 'renderMarkdown', 'renderTerminal', 'serializeReport']);
});

test('renderers: a run writes exactly the rows with a file, and each file is its view re-rendered from report.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-renderers-'));
  try {
    const report = fixtureReport();
    const written = await writeRunReport(report, dir);
    assert.deepEqual(readdirSync(written.dir).sort(), ['report.html', 'report.json', 'report.md', 'report.xml']);
    assert.deepEqual(written.files, { md: join(written.dir, 'report.md'), xml: join(written.dir, 'report.xml'), json: join(written.dir, 'report.json'), html: join(written.dir, 'report.html') });
    assert.equal(readFileSync(written.files.json, 'utf8'), serializeReport(report), 'report.json is the in-memory report');
    const back = readReport(written.files.json);
    for (const v of WRITTEN_VIEWS) assert.equal(await renderReport(back, v.view), readFileSync(join(written.dir, v.file), 'utf8'), v.file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report --as: its choices and default are the table; an unknown view exits 2 naming every view', async () => {
  const report = buildProgram().commands.find((c) => c.name() === 'report')!;
  const as = report.options.find((o) => o.long === '--as')!;
  assert.deepEqual(as.argChoices, REPORT_VIEWS);
  assert.equal(as.description, 'view to print (default: terminal)');
  assert.deepEqual(report.options.find((o) => o.long === '--format')!.argChoices, REPORT_VIEWS);
  assert.match((await cliParseError(['report', 'r.json', '--as', 'pdf']))!, /argument 'pdf' is invalid\. Allowed choices are md, junit, terminal, json, html\./);
  const run = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'report', 'r.json', '--as', 'pdf'], (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr })),
  );
  assert.equal(run.code, 2);
  assert.match(run.stderr, /Allowed choices are md, junit, terminal, json, html\./);
});

test('library: renderReport reaches every view of the table by name; an unknown one is a UsageError naming them', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string };
  const lib = (await import(pathToFileURL(join(ROOT, pkg.main)).href)) as typeof import('../src/index.js');
  assert.deepEqual(lib.REPORT_VIEWS, REPORT_VIEWS);
  const report = fixtureReport();
  assert.equal(await lib.renderReport(report, 'md'), renderMarkdown(report));
  assert.match(await lib.renderReport(report, 'html'), /^<!doctype html>/);
  assert.match(await lib.renderReport(report, 'terminal', { isTTY: false }), /exit 1 \(--fail-on fail\)\n$/);
  await assert.rejects(lib.renderReport(report, 'pdf' as ReportView), (e: unknown) => e instanceof UsageError && /unknown report view 'pdf': one of md, junit, terminal, json, html\./.test(e.message));
});
