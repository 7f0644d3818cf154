/**
 * Determinism: the same seed and inputs give the same report.json, apart from the run id,
 * timestamps and durations — on every probe and on the learnability lanes (DESIGN.md,
 * "Reports"). Two real CLI runs, a small --steps and two formats so it stays fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, ROOT } from './support/fuzz-support.js';
import { ALL_PROBE_IDS } from '../src/run/plan.js';

const run = promisify(execFile);

/** report.json without what legitimately differs between two runs. */
function comparable(text: string): unknown {
  return JSON.parse(text, (key, v: unknown) => (['id', 'startedAt', 'finishedAt', 'durationMs'].includes(key) ? undefined : v));
}

test('two runs with --seed 7 write identical report.json (timestamps, durations, run id aside), on every probe and the lanes', async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-det-'));
  try {
    const args = [CLI, 'run', '--format', 'int8', 'nf4', '--steps', '10', '--seed', '7', '--out', out, '--quiet'];
    for (let i = 0; i < 2; i++) await run(process.execPath, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    const dirs = readdirSync(out).filter((d) => d !== 'latest').sort();
    assert.equal(dirs.length, 2, `two run directories: ${dirs.join(', ')}`);
    const [a, b] = dirs.map((d) => readFileSync(join(out, d, 'report.json'), 'utf8'));
    const ra = comparable(a!) as { results: { probe: string; format: string }[]; lanes: { name: string; bpb: number; curve: unknown[] }[] };
    const rb = comparable(b!);
    // the runs covered what the claim is about
    assert.deepEqual([...new Set(ra.results.map((r) => r.probe))].sort(), [...ALL_PROBE_IDS].sort());
    assert.equal(ra.lanes.length, 6, 'int8 and nf4 lanes and the fp32 control, each for adamw and muon');
    assert.ok(ra.lanes.every((l) => Number.isFinite(l.bpb) && l.curve.length > 0));
    assert.deepEqual(rb, ra);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
