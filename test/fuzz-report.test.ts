/**
 * report.json fuzz for `quant-audit report`: truncated files, other schema versions, wrong
 * types, flipped bytes, deep arrays, markdown passed by mistake. readReport must return a
 * valid report or throw a UsageError that says what is wrong — and rendering whatever it
 * accepts must not crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan } from '../src/run/plan.js';
import { executePlan } from '../src/run/execute.js';
import { serializeReport } from '../src/report/json.js';
import { readReport } from '../src/report/write.js';
import { renderAs } from '../src/commands/report.js';
import { classify, reportCase, Tally, writeCase } from './fuzz-support.js';

export const SHORT_REPORT_CASES = 150;

test(`${SHORT_REPORT_CASES} damaged report.json files: read and rendered, or refused with a UsageError`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-fuzz-rep-'));
  try {
    const report = await executePlan(buildPlan({ probe: ['roundtrip', 'missing-dequant'], format: ['int8', 'nf4'], seed: ['3'] }), { log: () => undefined }, []);
    report.run.id = '20261126-000000-fuzz';
    const valid = serializeReport(report);
    const tally = new Tally();
    for (let i = 0; i < SHORT_REPORT_CASES; i++) {
      const c = reportCase(20261126, i, valid);
      const file = writeCase(dir, c, '.json');
      tally.add(
        c,
        await classify(async () => {
          const r = readReport(file);
          for (const f of ['md', 'junit', 'terminal', 'json'] as const) renderAs(r, f, { isTTY: false });
        }, 10_000),
      );
    }
    assert.deepEqual(tally.bad.map((b) => `${b.name}: ${b.outcome.kind}: ${b.outcome.message.slice(0, 300)}`), []);
    const row = tally.byCategory.get('report')!;
    assert.ok(row.usage > SHORT_REPORT_CASES / 2, JSON.stringify(row));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
