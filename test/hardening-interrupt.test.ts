/**
 * Interruption (src/process/interrupt.ts): SIGINT / SIGTERM in the middle of a run stops the lane
 * workers and every exec server (no orphans), writes no run directory at all, leaves an
 * earlier report byte-identical, and exits 130 / 143.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from './support/fuzz-support.js';

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Start a run; send `signal` once `ready(stderr)` is true; collect how it ended. */
function runAndInterrupt(args: string[], signal: NodeJS.Signals, ready: (stderr: string) => boolean, env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && ready(stderr)) {
        sent = true;
        child.kill(signal);
      }
    }, 50);
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, signal: sig, stderr });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie still answers kill(0): look at its state
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], ms = 5000): Promise<number[]> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pids.every((p) => !alive(p))) return [];
    await new Promise((r) => setTimeout(r, 50));
  }
  return pids.filter(alive);
}

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const p = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
      out.set(p, readFileSync(p, 'utf8'));
    }
  }
  return out;
}

test('SIGINT during the learnability lanes: exit 130, no new run directory, the earlier report intact', async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-int-'));
  try {
    // an earlier report
    const first = await runAndInterrupt(['run', '--probe', 'roundtrip', '--format', 'int8', '--out', out, '--quiet'], 'SIGINT', () => false);
    assert.equal(first.code, 0, first.stderr);
    const before = snapshot(out);
    assert.equal(before.size, 5, `report.json/.md/.xml/.html + latest, got ${[...before.keys()].join(', ')}`);

    // lanes only, long enough that the signal lands while workers train
    const r = await runAndInterrupt(
      ['run', '--probe', 'learnability', '--format', 'int8', 'nf4', '--steps', '5000', '--workers', '2', '--out', out],
      'SIGINT',
      (s) => s.includes('learnability: training lanes'),
    );
    assert.equal(r.code, 130, `exit code ${r.code} (signal ${r.signal}); stderr: ${r.stderr}`);
    assert.match(r.stderr, /interrupted by SIGINT: no report was written\. Earlier reports are untouched\./);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.deepEqual(snapshot(out), before, 'the earlier report and latest are byte-identical, nothing new was written');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('SIGTERM during an exec target run with lanes: exit 143, every exec server (main thread and workers) is gone', async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-term-'));
  const pidFile = join(out, 'pids');
  try {
    const server = join(ROOT, 'fixtures', 'fuzz', 'pid-server.mjs');
    const r = await runAndInterrupt(
      ['run', '--target', `exec:${process.execPath} ${server}`, '--format', 'int8', '--steps', '5000', '--workers', '2', '--out', join(out, 'reports')],
      'SIGTERM',
      // main-thread server + one per lane worker have started
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().split('\n').length >= 3,
      { QA_PID_FILE: pidFile },
    );
    assert.equal(r.code, 143, `exit code ${r.code} (signal ${r.signal}); stderr: ${r.stderr}`);
    assert.match(r.stderr, /interrupted by SIGTERM/);
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    assert.ok(pids.length >= 3, `servers started: ${pids.join(', ')}`);
    assert.deepEqual(await waitGone(pids), [], 'no exec server outlives quant-audit');
    assert.equal(existsSync(join(out, 'reports')), false, 'no reports directory was created');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
