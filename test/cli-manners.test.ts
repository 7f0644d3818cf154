/**
 * CLI manners: `run --help` shows the defaults, examples and exit codes; the output-view flag
 * is `--as` (the old `--format` still works where it meant a view); colour obeys FORCE_COLOR=0;
 * progress never animates in CI or into a pipe but prints a line per group of finished lanes;
 * no TensorFlow.js banner on stderr; a mistyped format name gets a suggestion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../src/cli.js';
import { useColor } from '../src/color.js';
import { createLaneLines, laneProgressFor } from '../src/train/progress.js';
import { writeRunReport } from '../src/report/write.js';
import { fixtureReport } from './support/report-fixture.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env }, timeout: 300_000 });
}

test('run --help shows the defaults, two examples and the exit codes', () => {
  const run = buildProgram().commands.find((c) => c.name() === 'run')!;
  let help = '';
  run.configureOutput({ writeOut: (s) => void (help += s) });
  run.outputHelp();
  for (const shown of ['(default: 100)', '(default: 1597)', '(default: adamw muon)', 'lanes 0.003, lost-updates 0.0001 0.001', '(default: fail)', '(default: reference)']) {
    assert.ok(help.replace(/\s+/g, ' ').includes(shown), `run --help lacks ${shown}:\n${help}`);
  }
  assert.equal((help.match(/^ {2}\$ quant-audit run /gm) ?? []).length, 2, 'two examples');
  for (const code of ['0 ', '1 ', '2 ', '3 ', '130']) assert.match(help, new RegExp(`^ {2}${code}`, 'm'));
});

test('the output view is --as; --format still works for report and witness but is not shown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-manners-'));
  try {
    const written = await writeRunReport(fixtureReport(), join(dir, 'reports'));
    const as = cli(['report', written.files.json, '--as', 'md']);
    const old = cli(['report', written.files.json, '--format', 'md']);
    assert.equal(as.status, 0, as.stderr);
    assert.equal(as.stdout, old.stdout);
    assert.ok(as.stdout.length > 500);
    const report = buildProgram().commands.find((c) => c.name() === 'report')!;
    assert.deepEqual(report.options.filter((o) => !o.hidden).map((o) => o.long), ['--as']);
    const witness = buildProgram().commands.find((c) => c.name() === 'witness')!;
    assert.ok(witness.options.some((o) => o.long === '--as' && !o.hidden));
    assert.ok(witness.options.some((o) => o.long === '--format' && o.hidden));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('colour: FORCE_COLOR=0 turns it off even on a terminal; NO_COLOR wins; otherwise only on a TTY', () => {
  const tty = { isTTY: true };
  assert.equal(useColor(tty, { FORCE_COLOR: '0' }), false);
  assert.equal(useColor(tty, { FORCE_COLOR: 'false' }), false);
  assert.equal(useColor({ isTTY: false }, { FORCE_COLOR: '1' }), true);
  assert.equal(useColor(tty, { NO_COLOR: '1', FORCE_COLOR: '1' }), false);
  assert.equal(useColor(tty, {}), true);
  assert.equal(useColor({ isTTY: false }, {}), false);
});

test('lane progress: a line per tenth of the lanes in CI or a pipe, the count without the controls', () => {
  let text = '';
  const sink = { write: (s: string) => void (text += s) } as unknown as NodeJS.WritableStream;
  const lines = createLaneLines(sink);
  for (let done = 0; done <= 60; done++) lines.update({ done, total: 60, lane: `QA-int8-${done}`, bpb: 5 + done / 100 });
  const printed = text.trim().split('\n');
  assert.equal(printed.length, 10);
  assert.equal(printed[0], 'lanes 6/60 done (last: QA-int8-6, bpb 5.060)');
  assert.equal(printed[9], 'lanes 60/60 done (last: QA-int8-60, bpb 5.600)');
  // a terminal in CI gets lines, not the animated bar
  const fakeTty = Object.assign(sink, { isTTY: true }) as unknown as NodeJS.WriteStream;
  text = '';
  const ci = laneProgressFor(fakeTty, { CI: 'true' });
  ci.update({ done: 3, total: 3, lane: 'x', bpb: 1 });
  assert.equal(text, 'lanes 3/3 done (last: x, bpb 1.000)\n');
});

test('no TensorFlow.js banner on stderr; a mistyped format gets "did you mean"', () => {
  const selftest = cli(['selftest', '--format', 'int8', '--quiet']);
  assert.equal(selftest.status, 0, selftest.stderr);
  assert.equal(selftest.stderr, '');
  const typo = cli(['run', '--format', 'int9', '--probe', 'roundtrip']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /^quant-audit: unknown format 'int9'\. Did you mean 'int8'\? Valid formats: /);
});
