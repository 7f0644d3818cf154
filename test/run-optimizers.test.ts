/**
 * Per-optimizer settings: `--lr adamw=1e-4 --lr muon=0.0235` next to plain `--lr X`, the
 * `optimizers:` mapping in quant-audit.yaml, precedence, exit-2 messages that name the input,
 * and lane names and repro lines that carry the settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { parseConfig } from '../src/config.js';
import { buildPlan, type RunFlags } from '../src/run/plan.js';
import { reproCommand } from '../src/run/execute.js';
import { lrArgs, parseLrFlag, resolveOptimizerPlan } from '../src/run/optimizer-plan.js';
import { planLanes, lrsFor } from '../src/run/learnability.js';
import { laneName } from '../src/train/lane-name.js';
import { resolveSettings } from '../src/train/settings.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';

const usage = (pattern: RegExp) => (e: unknown): boolean => e instanceof UsageError && pattern.test(e.message);

function withConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qa-optimizers-'));
  const file = join(dir, 'quant-audit.yaml');
  writeFileSync(file, yaml);
  return file;
}

const plan = (flags: RunFlags) => buildPlan({ config: withConfig('{}\n'), ...flags });

test('--lr: plain values are every optimizer\'s, NAME=X one optimizer\'s; commas and repeats both work', () => {
  assert.deepEqual(parseLrFlag(['adamw=1e-4', 'muon=0.0235']), { all: [], byOptimizer: { adamw: [1e-4], muon: [0.0235] } });
  assert.deepEqual(parseLrFlag(['0.003,adamw=1e-4,adamw=3e-4']), { all: [0.003], byOptimizer: { adamw: [1e-4, 3e-4] } });
  assert.equal(parseLrFlag(undefined), undefined);
  const p = plan({ lr: ['adamw=1e-4', 'muon=0.0235'] });
  assert.deepEqual([p.lrs, p.lrsByOptimizer, p.probeLrs], [undefined, { adamw: [1e-4], muon: [0.0235] }, [1e-4, 0.0235]]);
  const mixed = plan({ lr: ['0.001', 'muon=0.0235'] });
  assert.deepEqual([lrsFor(mixed, 'adamw'), lrsFor(mixed, 'muon')], [[0.001], [0.0235]]);
  assert.deepEqual(lrsFor(plan({}), 'muon'), [0.003], 'no --lr: the trainer default');
});

test('--lr bad forms are usage errors naming the input', () => {
  assert.throws(() => plan({ lr: ['sgd=0.1'] }), usage(/^--lr "sgd=0\.1": unknown optimizer 'sgd'\. Valid optimizers: adamw, muon\./));
  assert.throws(() => plan({ lr: ['adamw=-1'] }), usage(/^--lr "adamw=-1": the learning rate "-1" is not a positive number\./));
  assert.throws(() => plan({ lr: ['adamw=0'] }), usage(/"adamw=0"/));
  assert.throws(() => plan({ lr: ['muon='] }), usage(/^--lr "muon=": the learning rate "" is not a positive number/));
  assert.throws(() => plan({ lr: ['fast'] }), usage(/^--lr "fast": .*Use --lr X for every optimizer or --lr NAME=X for one/));
  assert.throws(() => plan({ lr: ['muon=0.02'], optimizer: ['adamw'] }), usage(/^--lr muon=…: this run does not train muon \(optimizers: adamw\)/));
  assert.throws(() => plan({ optimizer: ['sgd'] }), usage(/unknown optimizer 'sgd'/));
});

test('quant-audit.yaml optimizers: a mapping selects the optimizers and sets their lr, momentum, nsSteps, weightDecay', () => {
  const file = withConfig('optimizers:\n  adamw: {lr: 1.0e-4}\n  muon: {lr: [0.0235, 0.01], momentum: 0.9, nsSteps: 3}\nlrs: [0.002]\n');
  const p = buildPlan({ config: file });
  assert.deepEqual(p.optimizers, ['adamw', 'muon']);
  assert.deepEqual(p.lrsByOptimizer, { adamw: [1e-4], muon: [0.0235, 0.01] });
  assert.deepEqual(p.optimizerSettings, { muon: { momentum: 0.9, nsSteps: 3 } });
  // flags beat the file: a plain --lr replaces the file's per-optimizer rates, --lr NAME=X replaces one
  assert.deepEqual(buildPlan({ config: file, lr: ['0.005'] }).lrsByOptimizer, {});
  assert.deepEqual(buildPlan({ config: file, lr: ['muon=0.03'] }).lrsByOptimizer, { adamw: [1e-4], muon: [0.03] });
  assert.deepEqual(buildPlan({ config: file, optimizer: ['muon'] }).optimizers, ['muon']);
  // the list form still works
  assert.deepEqual(buildPlan({ config: withConfig('optimizers: [muon]\n') }).optimizers, ['muon']);
  // an optimizer without its own rate takes the file's lrs
  assert.deepEqual(lrsFor(buildPlan({ config: withConfig('optimizers: {adamw: {}, muon: {lr: 0.0235}}\nlrs: [0.002]\n') }), 'adamw'), [0.002]);
});

test('quant-audit.yaml optimizers: wrong names, keys and values name the file, line and key', () => {
  assert.throws(() => parseConfig('optimizers:\n  sgd: {lr: 0.1}\n', 'q.yaml'), usage(/^q\.yaml:2:3: unknown key 'optimizers\.sgd'\..* Valid keys under 'optimizers': adamw, muon\./));
  assert.throws(() => parseConfig('optimizers:\n  adamw: {momentum: 0.9}\n', 'q.yaml'), usage(/^q\.yaml:2:11: unknown key 'optimizers\.adamw\.momentum'\..* Valid keys under 'optimizers\.adamw': lr, weightDecay\./));
  assert.throws(() => parseConfig('optimizers: {muon: {lr: -0.1}}\n', 'q.yaml'), usage(/^q\.yaml:1:25: 'optimizers\.muon\.lr' must be a number above 0, got number -0\.1\./));
  assert.throws(() => parseConfig('optimizers: {muon: {lr: [0.1, -1]}}\n', 'q.yaml'), usage(/^q\.yaml:1:31: 'optimizers\.muon\.lr\[1\]' must be a number above 0, got number -1\./));
  assert.throws(() => parseConfig('optimizers: {muon: {momentum: 1}}\n', 'q.yaml'), usage(/'optimizers\.muon\.momentum' must be a number from 0 to 0\.9999, got number 1\./));
  assert.throws(() => parseConfig('optimizers: {muon: {nsSteps: 2.5}}\n', 'q.yaml'), usage(/'optimizers\.muon\.nsSteps' must be an integer, got number 2\.5\./));
  assert.throws(() => parseConfig('optimizers: {muon: 1}\n', 'q.yaml'), usage(/'optimizers\.muon' must be a mapping, got number 1\./));
  assert.throws(() => parseConfig('optimizers: [adamw, 3]\n', 'q.yaml'), usage(/'optimizers\[1\]' must be a string, got number 3\./));
  assert.throws(() => buildPlan({ config: withConfig('optimizers: [adamw, muonn]\n') }), usage(/quant-audit\.yaml:1:\d+: unknown optimizer 'muonn'\..*Valid optimizers: adamw, muon\./));
});

test('lanes train each optimizer at its own rates, and names carry the rate and non-default settings', () => {
  assert.deepEqual(resolveOptimizerPlan(undefined, ['muon=0.0235'], { optimizers: { muon: { momentum: 0.9 } } }).optimizers, ['muon'], 'the mapping selects muon only');
  assert.throws(() => resolveOptimizerPlan(undefined, ['adamw=1e-4'], { optimizers: { muon: {} } }), usage(/this run does not train adamw/));
  const both = resolveOptimizerPlan(undefined, ['adamw=1e-4', 'muon=0.0235'], { optimizers: { adamw: {}, muon: { momentum: 0.9, nsSteps: 5 } } });
  const specs = planLanes({ ...both, formats: ['int8'], seeds: [1597], steps: 10, thresholds: DEFAULT_THRESHOLDS }, resolveSettings({}));
  assert.deepEqual(specs.map((s) => [s.name, s.lr]), [
    ['QA-fp32-h128-LR0.0001-rng1597-adamw', 1e-4],
    ['QA-fp32-h128-LR0.0235-rng1597-muon-m0.9', 0.0235],
    ['QA-int8-h128-LR0.0001-rng1597-adamw', 1e-4],
    ['QA-int8-h128-LR0.0235-rng1597-muon-m0.9', 0.0235],
  ]);
  assert.deepEqual(specs[3]!.optimizerSettings, { momentum: 0.9, nsSteps: 5 });
  assert.equal(laneName('int8', 128, 0.003, 1, 'adamw', { settings: { weightDecay: 0 }, targetUpdate: true }), 'QA-inplace-int8-h128-LR0.003-rng1-adamw-wd0');
});

test('repro lines carry the per-optimizer rates: all of them for the run, one optimizer\'s for its lane', () => {
  const p = plan({ target: 'mutant:in-place', lr: ['adamw=1e-4', 'muon=0.0235'], masterWeights: false });
  assert.deepEqual(lrArgs(p), ['--lr', 'adamw=0.0001', '--lr', 'muon=0.0235']);
  assert.match(reproCommand(p, 'lost-updates', 'int8'), /--lr adamw=0\.0001 --lr muon=0\.0235$/);
  assert.match(
    reproCommand({ ...p, optimizers: ['muon'] }, 'learnability', 'int8', ['--optimizer', 'muon']),
    /--probe learnability --format int8 --seed 1597 --config \S+ --lr muon=0\.0235 --no-master-weights --optimizer muon$/,
  );
  assert.match(reproCommand(plan({ lr: ['0.001'] }), 'lost-updates', 'int8'), /--lr 0\.001$/);
  assert.match(reproCommand(plan({ lr: ['0.001', 'muon=0.02'] }), ['lost-updates', 'learnability'], 'int8'), /--probe lost-updates learnability .*--lr 0\.001 --lr muon=0\.02$/);
});
