/**
 * report.json fuzz for `quant-audit report`: truncated files, other schema versions, wrong
 * types, flipped bytes, deep arrays, markdown passed by mistake. readReport must return a
 * valid report or throw a UsageError that says what is wrong — and whatever it accepts renders
 * to views that say what the report says (renderedFaithfully): the JSON view is the report, the
 * JUnit view has one testcase per result and lane and one failure per failed result, the markdown
 * names every probe and format and keeps every table rectangular, the terminal view leads with the target and the verdict, and rendering twice
 * gives the same bytes.
 */
import { test } from 'node:test';
import { isGated } from '../src/report/text.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan } from '../src/run/plan.js';
import { executePlan } from '../src/run/execute.js';
import { parseReportJson, serializeReport } from '../src/report/json.js';
import { readReport } from '../src/report/write.js';
import { EAGER_VIEWS, renderAs, type EagerView } from '../src/report/renderers.js';
import type { Report } from '../src/report/types.js';
import { classify, HOSTILE_TEXT, reportCase, Tally, writeCase } from './support/fuzz-support.js';

export const SHORT_REPORT_CASES = 150;

/** Every view loaded at start-up (html, lazily loaded, has its own tests). */
const VIEWS = EAGER_VIEWS;
type Views = Record<EagerView, string>;

function renderAll(r: Report): Views {
  return Object.fromEntries(VIEWS.map((f) => [f, renderAs(r, f, { isTTY: false })])) as Views;
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Blocks of consecutive markdown lines that are table rows. */
function markdownTables(md: string): string[][] {
  const tables: string[][] = [];
  let current: string[] = [];
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) current.push(line);
    else if (current.length > 0) {
      tables.push(current);
      current = [];
    }
  }
  if (current.length > 0) tables.push(current);
  return tables;
}

/** What each view must say about the report it rendered; [] when all hold. */
export function renderedFaithfully(r: Report, v: Views): string[] {
  const problems: string[] = [];
  const again = renderAll(r);
  for (const f of VIEWS) if (again[f] !== v[f]) problems.push(`${f}: a second render differs`);
  try {
    assert.deepEqual(parseReportJson(v.json), r);
  } catch {
    problems.push('json: the JSON view is not the report that was read');
  }
  const cases = r.results.length + r.lanes.length;
  if (count(v.junit, '<testcase') !== cases) problems.push(`junit: ${count(v.junit, '<testcase')} testcases for ${cases} results and lanes`);
  // JUnit failures are the gate's decisions: failed results the gate counted (their mark, or the gate's rule for unmarked ones)
  const failed = r.results.filter((x) => x.verdict === 'fail' && isGated(x, r)).length;
  if (count(v.junit, 'type="falsified"') !== failed) problems.push(`junit: ${count(v.junit, 'type="falsified"')} falsified testcases for ${failed} gated failed results`);
  for (const name of new Set(r.results.flatMap((x) => [x.probe, x.format]))) if (!v.md.includes(name)) problems.push(`md: does not name ${name}`);
  for (const table of markdownTables(v.md)) {
    const widths = new Set(table.map((row) => row.split(/(?<!\\)\|/).length));
    if (widths.size > 1) problems.push(`md: a table's rows have different cell counts (${[...widths].join(', ')}): ${table[0]}`);
  }
  const [title, verdict] = v.terminal.split('\n');
  if (!title!.includes(r.run.target)) problems.push(`terminal: the title does not name the target ${r.run.target}`);
  if (!verdict!.includes(r.verdict.summary)) problems.push(`terminal: the second line is not the verdict (${r.verdict.summary})`);
  return problems;
}

test(`${SHORT_REPORT_CASES} damaged report.json files: read and rendered, or refused with a UsageError`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-fuzz-rep-'));
  try {
    const report = await executePlan(buildPlan({ probe: ['roundtrip', 'missing-dequant'], format: ['int8', 'nf4'], seed: ['3'] }), { log: () => undefined }, []);
    report.run.id = '20261126-000000-fuzz';
    const valid = serializeReport(report);
    const validFile = join(dir, 'valid.json');
    writeFileSync(validFile, valid);
    // the file read back renders byte for byte as the report in memory, and faithfully
    const readBack = readReport(validFile);
    const fromFile = renderAll(readBack);
    assert.deepEqual(fromFile, renderAll(report));
    assert.deepEqual(renderedFaithfully(readBack, fromFile), []);
    assert.ok(report.results.some((r) => r.verdict === 'fail') || report.results.length === 4, 'the fixture report has results to render');
    const tally = new Tally();
    const unfaithful: string[] = [];
    let accepted = 0;
    for (let i = 0; i < SHORT_REPORT_CASES; i++) {
      const c = reportCase(20261126, i, valid);
      const file = writeCase(dir, c, '.json');
      tally.add(
        c,
        await classify(async () => {
          const r = readReport(file);
          accepted++;
          unfaithful.push(...renderedFaithfully(r, renderAll(r)).map((p) => `${c.name}: ${p}`));
        }, 10_000),
      );
    }
    assert.deepEqual(tally.bad.map((b) => `${b.name}: ${b.outcome.kind}: ${b.outcome.message.slice(0, 300)}`), []);
    assert.deepEqual(unfaithful, []);
    assert.ok(accepted >= 10, `${accepted} damaged reports were accepted and rendered`);
    const row = tally.byCategory.get('report')!;
    assert.ok(row.usage > SHORT_REPORT_CASES / 2, JSON.stringify(row));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reports whose text markdown, XML and the terminal must escape: every view still says what the report says', async () => {
  const report = await executePlan(buildPlan({ probe: ['roundtrip', 'missing-dequant'], format: ['int8', 'nf4'], seed: ['3'] }), { log: () => undefined }, []);
  report.run.id = '20261126-000000-hostile';
  const verdicts = ['fail', 'inconclusive', 'skipped', 'pass'] as const;
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'qa-fuzz-hostile-'));
  try {
    for (const hostile of HOSTILE_TEXT) {
      const r = JSON.parse(serializeReport(report)) as Report;
      r.results.forEach((x, i) => {
        x.verdict = verdicts[i % verdicts.length]!;
        x.reason = hostile;
        x.evidence.notes = [hostile];
        x.witness = { summary: hostile, samples: [{ x: 1, y: 2, note: hostile }], repro: hostile };
      });
      const file = join(dir, 'hostile.json');
      writeFileSync(file, serializeReport(r));
      const read = readReport(file);
      problems.push(...renderedFaithfully(read, renderAll(read)).map((p) => `${JSON.stringify(hostile)}: ${p}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(problems, []);
});

