/**
 * The report commands end to end: `merge` (in process: exit code, run directory, job
 * summary, --json) and, through the real CLI binary, `report --format md` re-rendering
 * byte-identically and `merge` exiting with the merged verdict's code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { merge } from '../src/commands/merge.js';
import { parseReportJson } from '../src/report/json.js';
import { validateJson } from '../src/report/schema.js';
import { readReport, writeRunReport } from '../src/report/write.js';
import { Rng } from '../src/rng.js';
import { fixtureReport, shardOfReport } from './support/report-fixture.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function collect(): PassThrough & { text(): string } {
  const s = new PassThrough();
  let buf = '';
  s.on('data', (d: Buffer) => (buf += d.toString('utf8')));
  return Object.assign(s, { text: () => buf });
}

async function writeShards(dir: string, failOn: 'fail' | 'never' = 'fail'): Promise<string[]> {
  const full = fixtureReport(failOn);
  const rng = new Rng(11);
  const files: string[] = [];
  for (const i of [1, 2, 3, 4]) files.push((await writeRunReport(shardOfReport(full, i, 4, rng), join(dir, `shard-${i}`))).files.json);
  return files;
}

test('merge command: writes one run directory, prints, appends the job summary, returns the verdict code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-merge-'));
  try {
    const files = await writeShards(dir);
    const summary = join(dir, 'summary.md');
    writeFileSync(summary, '');
    const stdout = collect();
    const stderr = collect();
    const code = await merge(files, { out: join(dir, 'merged'), json: true }, { stdout, stderr, env: { GITHUB_STEP_SUMMARY: summary } });
    assert.equal(code, 1);
    const printed = parseReportJson(stdout.text());
    assert.deepEqual(validateJson(JSON.parse(stdout.text())), { valid: true, errors: [] });
    const merged = readReport(join(dir, 'merged', 'latest'));
    assert.deepEqual(printed, merged);
    assert.equal(merged.run.id, '20261126-103100-mutant-in-place');
    assert.equal(merged.results.length, fixtureReport().results.length);
    assert.match(stderr.text(), /merged 4 shards into .*merged\/20261126-103100-mutant-in-place\/report\.json/);
    assert.ok(readFileSync(summary, 'utf8').startsWith('# R7 falsification witness (R7: a reproducible counterexample to a claim about the quantizer) — mutant:in-place\n'));
    // Gate override: --fail-on never → the fixture's inconclusive lane still makes it 3.
    assert.equal(await merge(files, { out: join(dir, 'merged'), quiet: true, failOn: 'never' }, { stdout: collect(), stderr: collect(), env: {} }), 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', GITHUB_STEP_SUMMARY: '' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('CLI: `report --format md` re-renders byte-identically; `merge` exits with the verdict', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-cli-'));
  try {
    const written = await writeRunReport(fixtureReport(), join(dir, 'reports'));
    const files = await writeShards(dir);
    // Two processes only: loading the whole CLI takes seconds on a 2-core runner.
    const [md, merged] = await Promise.all([
      cli(['report', written.files.json, '--format', 'md']),
      cli(['merge', ...files, '--out', join(dir, 'merged'), '--quiet']),
    ]);
    assert.equal(md.code, 0, md.stderr);
    assert.equal(md.stdout, readFileSync(written.files.md, 'utf8'));
    assert.equal(merged.code, 1, merged.stderr);
    assert.match(merged.stdout, /^FALSIFIED — /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
