/**
 * Judging lanes from numbers alone: statuses against the control, inconclusive controls,
 * probe results with witnesses, the early-stopping rule, and the lane plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { judgeLanes, laneResults } from '../probes/learnability.js';
import { laneName } from '../src/train/lane-name.js';
import { earlyStopReason, type EarlyStopState } from '../src/train/early-stop.js';
import { planLanes } from '../src/run/learnability.js';
import { resolveSettings } from '../src/train/settings.js';
import { parseConfig } from '../src/config.js';
import { inShard } from '../src/report/shard.js';
import { UsageError } from '../src/errors.js';
import type { Lane } from '../src/report/types.js';
import { laneSettings } from './support/report-fixture.js';

type RawLane = Omit<Lane, 'status'>;

function lane(format: string, bestBpb: number, over: Partial<RawLane> = {}): RawLane {
  const optimizer = over.optimizer ?? 'adamw';
  return {
    ...laneSettings(format, optimizer),
    bpb: bestBpb,
    bestBpb,
    curve: [
      { step: 0, bpb: 7.12 },
      { step: 100, bpb: bestBpb },
    ],
    ...(format === 'fp32' ? { control: true } : {}),
    ...over,
  };
}

test('lane names follow QA-{format}-h{hidden}-LR{lr}-rng{seed}-{opt}', () => {
  assert.equal(laneName('int8', 128, 0.003, 1597, 'adamw'), 'QA-int8-h128-LR0.003-rng1597-adamw');
  assert.equal(laneName('posit16', 128, 1e-4, 7, 'muon'), 'QA-posit16-h128-LR0.0001-rng7-muon');
});

test('statuses against a control at 4.00: 6.95 dead, 4.03 clean, 4.40 learns, 5.00 partial, NaN diverged', () => {
  const judged = judgeLanes(
    [lane('fp32', 4.0), lane('int2', 6.95), lane('int8', 4.03), lane('int4', 4.4), lane('fp4-e2m1', 5.0), lane('nf4', Number.NaN)],
    { thresholds: DEFAULT_THRESHOLDS },
  );
  assert.deepEqual(
    judged.map((l) => [l.format, l.status]),
    [
      ['fp32', 'learns'],
      ['int2', 'dead'],
      ['int8', 'clean'],
      ['int4', 'learns'],
      ['fp4-e2m1', 'partial'],
      ['nf4', 'diverged'],
    ],
  );
});

test('a control that stays above 7 − 0.3 = 6.7 makes its lanes inconclusive, not the other optimizer', () => {
  const judged = judgeLanes(
    [lane('fp32', 6.8), lane('fp32', 4.0, { optimizer: 'muon' }), lane('int8', 6.8), lane('int8', 4.01, { optimizer: 'muon' })],
    { thresholds: DEFAULT_THRESHOLDS },
  );
  assert.deepEqual(
    judged.map((l) => l.status),
    ['partial', 'learns', 'inconclusive', 'clean'],
  );
});

test('results: dead lane fails with the dead line as threshold, a witness and the repro; clean passes', () => {
  const judged = judgeLanes([lane('fp32', 4.0), lane('int2', 6.99), lane('int8', 4.02)], { thresholds: DEFAULT_THRESHOLDS });
  const results = laneResults(judged, {
    thresholds: DEFAULT_THRESHOLDS,
    perLane: false,
    reproCommand: (f, o) => `quant-audit run --probe learnability --format ${f} --optimizer ${o} --seed 1597`,
  });
  assert.equal(results.length, 2);
  const [dead, clean] = results;
  assert.equal(dead!.verdict, 'fail');
  assert.deepEqual(dead!.statistic, { name: 'bpb', value: 6.99, threshold: 6.9, comparator: '>=', unit: 'bits/byte' });
  assert.equal(dead!.evidence.measurements.controlBestBpb, 4);
  assert.match(dead!.witness!.summary, /QA-int2-h128-LR0.003-rng1597-adamw is dead: best bpb 6.990 .* control .* reached 4.000/);
  assert.equal(dead!.witness!.repro, 'quant-audit run --probe learnability --format int2 --optimizer adamw --seed 1597');
  assert.deepEqual(dead!.witness!.samples![1], { x: 100, y: 6.99, expected: 4, note: 'step → bpb (expected: control)' });
  assert.equal(clean!.verdict, 'pass');
  assert.equal(clean!.witness, undefined);
  assert.equal(clean!.seed, undefined);
});

test('early stop: diverged, clean, frozen — and nothing while the status can still change', () => {
  const s: EarlyStopState = {
    lastBpb: 6.95,
    bestBpb: 6.95,
    deadLine: 6.9,
    controlBestBpb: 4.0,
    cleanMargin: 0.05,
    zeroGradientStreak: 10,
    optimizerStateZero: true,
    patience: 10,
  };
  assert.equal(earlyStopReason(s), 'frozen');
  assert.equal(earlyStopReason({ ...s, zeroGradientStreak: 9 }), undefined);
  assert.equal(earlyStopReason({ ...s, optimizerStateZero: false }), undefined);
  assert.equal(earlyStopReason({ ...s, bestBpb: 6.5, lastBpb: 6.5 }), undefined, 'below the dead line: it may still improve');
  assert.equal(earlyStopReason({ ...s, lastBpb: Number.NaN }), 'diverged');
  assert.equal(earlyStopReason({ ...s, bestBpb: 4.05, lastBpb: 4.05, zeroGradientStreak: 0 }), 'clean');
  assert.equal(earlyStopReason({ ...s, bestBpb: 4.06, lastBpb: 4.06, zeroGradientStreak: 0 }), undefined);
  assert.equal(earlyStopReason({ ...s, bestBpb: 4.0, lastBpb: 4.0, zeroGradientStreak: 0, controlBestBpb: undefined }), undefined);
});

test('plan: one control per optimizer × seed × lr first, fp32 never a lane, shards split the lanes', () => {
  const settings = resolveSettings({});
  const base = { formats: ['int8', 'fp32', 'int4'], optimizers: ['adamw', 'muon'], seeds: [1597], lrs: undefined, steps: 100, thresholds: DEFAULT_THRESHOLDS };
  const all = planLanes(base, settings);
  assert.deepEqual(
    all.map((s) => s.name),
    [
      'QA-fp32-h128-LR0.003-rng1597-adamw',
      'QA-fp32-h128-LR0.003-rng1597-muon',
      'QA-int8-h128-LR0.003-rng1597-adamw',
      'QA-int8-h128-LR0.003-rng1597-muon',
      'QA-int4-h128-LR0.003-rng1597-adamw',
      'QA-int4-h128-LR0.003-rng1597-muon',
    ],
  );
  assert.deepEqual(all.map((s) => s.control), [true, true, false, false, false, false]);
  // Shards partition the lanes by the hash of the lane name (1-based), and each trains the controls.
  const lanesOf = (index: number): string[] => planLanes({ ...base, shard: { index, count: 2 } }, settings).filter((s) => !s.control).map((s) => s.name);
  const [shard1, shard2] = [lanesOf(1), lanesOf(2)];
  assert.deepEqual(shard1, all.filter((s) => !s.control && inShard(s.name, { index: 1, count: 2 })).map((s) => s.name));
  assert.deepEqual([...shard1, ...shard2].sort(), all.filter((s) => !s.control).map((s) => s.name).sort(), 'the union of the shards is every lane, once');
  assert.ok(shard1.length > 0 && shard2.length > 0, 'both shards have work');
  assert.equal(planLanes({ ...base, shard: { index: 2, count: 2 } }, settings).filter((s) => s.control).length, 2);
  assert.throws(() => planLanes({ ...base, optimizers: ['sgd'] }, settings), UsageError);
  assert.throws(() => planLanes({ ...base, steps: 0 }, settings), UsageError);
  assert.throws(() => parseConfig('learnability:\n  hidden: 0\n', 'q.yaml'), (e: unknown) => e instanceof UsageError && e.message === "q.yaml:2:11: 'learnability.hidden' must be an integer from 1 to 4096, got number 0.");
  const inPlace = planLanes(base, resolveSettings({ masterWeights: false }));
  assert.deepEqual(inPlace.map((s) => s.masterWeights), [true, true, false, false, false, false], 'the control keeps master weights');
});
