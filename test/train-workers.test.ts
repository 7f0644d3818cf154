/**
 * The whole probe on the main thread plus worker threads: lanes on the reference target give the
 * same bpb with 3 executors as with the main thread alone; a lane trained on a worker thread equals
 * the same lane on the main thread; a bad target spec is a usage error, also from a worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLearnability, type LearnabilityOptions } from '../src/run/learnability.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { UsageError } from '../src/errors.js';
import { loadCorpus } from '../src/corpus/index.js';
import { openExecutors, WorkerExecutor } from '../src/train/pool.js';
import { tinyLane } from './support/lane-support.js';

function options(over: Partial<LearnabilityOptions> = {}): LearnabilityOptions {
  return {
    target: 'reference',
    targetOptions: {},
    formats: ['int8', 'int4', 'fp32'],
    optimizers: ['adamw'],
    seeds: [1597],
    lrs: [0.01],
    steps: 10,
    corpus: 'builtin:markov',
    backend: 'wasm',
    learnability: { hidden: 16, context: 4, embed: 4, batch: 16, evalEvery: 5, evalTokens: 128 },
    thresholds: DEFAULT_THRESHOLDS,
    reproCommand: (f, o) => `quant-audit run --probe learnability --format ${f} --optimizer ${o}`,
    ...over,
  };
}

test('the main thread with 2 worker threads trains the same lanes to the same bpb as the main thread alone', async () => {
  const events: string[] = [];
  const threaded = await runLearnability(options({ workers: 3, onProgress: (p) => events.push(`${p.done}/${p.total}`) }));
  const inline = await runLearnability(options({ workers: 1 }));
  assert.deepEqual(
    threaded.lanes.map((l) => l.name),
    ['QA-fp32-h16-LR0.01-rng1597-adamw', 'QA-int8-h16-LR0.01-rng1597-adamw', 'QA-int4-h16-LR0.01-rng1597-adamw'],
  );
  assert.deepEqual(
    threaded.lanes.map((l) => [l.name, l.curve, l.status]),
    inline.lanes.map((l) => [l.name, l.curve, l.status]),
  );
  assert.equal(threaded.backend, 'wasm');
  assert.equal(threaded.results.length, 2, 'one result per format × optimizer; fp32 is the control');
  assert.equal(threaded.corpusInfo.floorBits, 1.411);
  assert.ok(threaded.lanes[0]!.bestBpb < threaded.lanes[0]!.curve[0]!.bpb, 'the control learns');
  assert.ok(events.includes('2/2') && events.every((e) => e.endsWith('/2')), `progress counts the 2 lanes under test, not the control: ${events.join(' ')}`);
  assert.match(threaded.notes.join('\n'), /entropy rate 1\.4110 bits\/byte/);
});

test('a target a worker cannot open is a usage error, not a hang', async () => {
  await assert.rejects(runLearnability(options({ target: 'mutant:no-such-bug', workers: 2 })), (e: unknown) => e instanceof UsageError && /unknown mutant/.test(e.message));
});

test('a lane on a worker thread is the same lane as on the main thread, bit for bit', async () => {
  const init = { target: 'reference', targetOptions: {}, backend: 'wasm' as const, corpus: loadCorpus('builtin:markov') };
  const executors = await openExecutors(2, init);
  try {
    assert.ok(executors[1] instanceof WorkerExecutor, 'the second executor is a worker thread');
    const spec = tinyLane({ name: 'QA-int4-worker', format: 'int4', steps: 10, evalEvery: 5 });
    const [main, worker] = await Promise.all(executors.map((e) => e.run(spec)));
    assert.deepEqual(worker!.curve, main!.curve);
    assert.ok(worker!.bestBpb < worker!.curve[0]!.bpb, 'it learns');
  } finally {
    await Promise.all(executors.map((e) => e.close()));
  }
});

test('a target a worker thread cannot open is a usage error from the worker', async () => {
  const init = { target: 'mutant:no-such-bug', targetOptions: {}, backend: 'wasm' as const, corpus: loadCorpus('builtin:markov') };
  await assert.rejects(WorkerExecutor.open(init), (e: unknown) => e instanceof UsageError && /unknown mutant/.test(e.message));
});
