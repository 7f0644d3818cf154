/**
 * action.yml and report.html: the composite action runs quant-audit, uploads the run's
 * report.html as an artifact, links it from the job summary, and only then gates on the exit
 * code. The bash steps are run here as GitHub would run them (inputs as environment variables,
 * GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files), with a stand-in `npx` that writes a run directory
 * and exits 1 like a falsified run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

interface Step {
  id?: string;
  if?: string;
  uses?: string;
  shell?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}

const action = parse(readFileSync('action.yml', 'utf8')) as { inputs: Record<string, { default: string }>; runs: { steps: Step[] } };
const steps = action.runs.steps;

/** Replace `${{ … }}` with values from a table (what the runner does before a step runs). */
function expand(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    if (!(expr in values)) throw new Error(`test has no value for \${{ ${expr} }}`);
    return values[expr]!;
  });
}

function runStep(step: Step, values: Record<string, string>, env: Record<string, string>): { status: number | null; stdout: string } {
  const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(v, values)]));
  const r = spawnSync('bash', ['-e', '-c', step.run!], { env: { ...process.env, ...env, ...stepEnv }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout + r.stderr };
}

function outputs(file: string): Record<string, string> {
  return Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

test('action: inputs reach run scripts only through the environment', () => {
  for (const s of steps) if (s.run) assert.doesNotMatch(s.run, /\$\{\{/, `step ${s.id ?? s.run.slice(0, 30)} splices an expression into its script`);
});

test('action: report.html is uploaded and linked from the job summary before the gate step fails the job', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-action-'));
  try {
    // A stand-in npx: writes reports/<id>/report.html and `latest`, exits 1 (falsified).
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'npx'), '#!/usr/bin/env bash\nmkdir -p "$QA_OUT/20261126-103105-x"\necho "<!doctype html>" > "$QA_OUT/20261126-103105-x/report.html"\necho 20261126-103105-x > "$QA_OUT/latest"\necho "argv: $*"\nexit 1\n');
    chmodSync(join(bin, 'npx'), 0o755);
    const githubOutput = join(dir, 'output');
    const summary = join(dir, 'summary.md');
    writeFileSync(githubOutput, '');
    writeFileSync(summary, '');
    const env = { PATH: `${bin}:${process.env.PATH}`, GITHUB_OUTPUT: githubOutput, GITHUB_STEP_SUMMARY: summary };
    const inputs: Record<string, string> = Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [`inputs.${k}`, v.default]));
    Object.assign(inputs, { 'inputs.target': 'mutant:in-place', 'inputs.shard': '2/4', 'inputs.out': join(dir, 'reports') });

    const [run, upload, link, gate] = [steps.find((s) => s.id === 'run')!, steps.find((s) => s.id === 'upload')!, steps[steps.indexOf(steps.find((s) => s.id === 'upload')!) + 1]!, steps.at(-1)!];
    const r = runStep(run, inputs, env);
    assert.equal(r.status, 0, `the run step records the exit code instead of failing: ${r.stdout}`);
    assert.match(r.stdout, /argv: --yes --package quant-audit quant-audit run --out \S+ --target mutant:in-place --shard 2\/4/);
    const out = outputs(githubOutput);
    assert.deepEqual(out, { 'exit-code': '1', 'report-dir': `${join(dir, 'reports')}/20261126-103105-x`, 'html-artifact': 'quant-audit-report-html-shard-2-of-4' });

    // The upload step sends exactly that report.html, under that name, when uploads are on.
    assert.equal(upload.uses, 'actions/upload-artifact@v4');
    const values = { ...inputs, 'steps.run.outputs.html-artifact': out['html-artifact']!, 'steps.run.outputs.report-dir': out['report-dir']!, 'steps.run.outputs.exit-code': out['exit-code']!, 'steps.upload.outputs.artifact-url': 'https://github.example/artifacts/42' };
    assert.deepEqual({ name: expand(upload.with!.name!, values), path: expand(upload.with!.path!, values) }, { name: 'quant-audit-report-html-shard-2-of-4', path: `${out['report-dir']}/report.html` });
    assert.equal(upload.if, "inputs.upload-html == 'true' && steps.run.outputs.report-dir != ''");

    // The summary step links the artifact; the gate step comes last and fails with the run's code.
    assert.equal(link.if, "steps.upload.outputs.artifact-url != ''");
    assert.equal(runStep(link, values, env).status, 0);
    assert.equal(readFileSync(summary, 'utf8'), '\n**[report.html](https://github.example/artifacts/42)** — the report with its charts and witness cards (artifact `quant-audit-report-html-shard-2-of-4`: download, unzip, open in a browser; it loads nothing from the network).\n');
    assert.equal(gate.if, undefined);
    assert.equal(runStep(gate, values, env).status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
