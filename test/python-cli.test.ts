/**
 * The README's python quick start through the real CLI, on real PyTorch: `quant-audit run
 * --target "python:fixtures/python/torch_quant.py:fake_quant"` exits 0, every probe passes,
 * the lanes learn (two formats, one optimizer, few steps: the suite stays quick), the report
 * records Python and torch versions and the repro commands carry --python. A module that
 * cannot load is exit 2 with the traceback on stderr, not a stack trace of ours.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { Report } from '../src/report/types.js';
import { buildPlan } from '../src/run/plan.js';
import { reproCommand } from '../src/run/execute.js';
import { ROOT, scratchModule, TORCH, TORCH_PYTHON } from './support/python-support.js';
import { testWith } from './support/requirements.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function onlyReport(out: string): Report {
  const [dir] = readdirSync(out);
  return JSON.parse(readFileSync(join(out, dir!, 'report.json'), 'utf8')) as Report;
}

testWith(TORCH, 'run --target python:fixtures/python/torch_quant.py:fake_quant: exit 0, every probe passes, the lanes learn', () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-python-cli-'));
  const target = 'python:fixtures/python/torch_quant.py:fake_quant';
  const r = cli(['run', '--target', target, '--python', TORCH_PYTHON!, '--format', 'int8,int4', '--optimizer', 'adamw', '--steps', '60', '--workers', '1', '--out', out]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const report = onlyReport(out);
  assert.equal(report.run.target, target);
  assert.deepEqual(report.results.filter((x) => x.verdict !== 'pass').map((x) => `${x.probe} ${x.format} ${x.verdict}`), []);
  assert.deepEqual(report.results.filter((x) => x.probe !== 'learnability').length, 12); // 6 probes × 2 formats
  const lanes = report.lanes.filter((l) => !l.control);
  assert.deepEqual(lanes.map((l) => l.format).sort(), ['int4', 'int8']);
  for (const lane of lanes) assert.ok(['clean', 'learns'].includes(lane.status), `${lane.name}: ${lane.status} ${lane.bestBpb}`);
  assert.ok(lanes.every((l) => l.bestBpb < 6), lanes.map((l) => l.bestBpb).join(', '));
  assert.match(report.run.versions.torch!, /^\d+\.\d+/);
  assert.match(report.run.versions.python!, /^3\.\d+\.\d+ \(/);
  assert.equal(report.run.targetInfo!.api, 'torch');
  assert.equal(report.run.targetInfo!.tensors, 'binary frames');
});

test('repro commands of a python run carry --python and --python-api', () => {
  const plan = buildPlan({ target: 'python:q.py:fake_quant', python: '/opt/py 3/bin/python3', pythonApi: 'numpy' });
  assert.equal(reproCommand(plan, 'roundtrip', 'int8'), "npx quant-audit run --target python:q.py:fake_quant --probe roundtrip --format int8 --seed 1597 --python '/opt/py 3/bin/python3' --python-api numpy");
  assert.equal(reproCommand(buildPlan({ target: 'python:q.py', pythonApi: 'auto' }), undefined, undefined), 'npx quant-audit run --target python:q.py --seed 1597');
});

testWith(TORCH, 'a module that cannot load is exit 2 with the Python traceback, and a bad --python-api is exit 2', () => {
  const file = scratchModule('needs_scipy_like.py', 'import torch\nimport quant_audit_no_such_module\nFORMATS = ["int8"]\n');
  const r = cli(['run', '--target', `python:${file}:fake_quant`, '--python', TORCH_PYTHON!, '--probe', 'roundtrip', '--out', mkdtempSync(join(tmpdir(), 'qa-python-cli-'))]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /quant-audit: python target '.*needs_scipy_like\.py:fake_quant' could not be loaded by .*: importing .* failed: ModuleNotFoundError: No module named 'quant_audit_no_such_module' — traceback: File ".*needs_scipy_like\.py", line 2, in <module>/);
  assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/);
  const bad = cli(['run', '--target', 'python:fixtures/python/torch_quant.py', '--python-api', 'jax']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--python-api/);
});
