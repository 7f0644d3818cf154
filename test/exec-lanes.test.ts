/**
 * Learnability lanes through an exec target: each step's forward (and gradient) calls, one per
 * weight matrix, are in flight together, and the curve is bit-identical to the same quantizer
 * answering in process — in whatever order the replies come back. A failure is the first one
 * in matrix order, as when the calls were awaited one by one.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../src/tf.js';
import { loadCorpus, type Corpus } from '../src/corpus/index.js';
import { trainLane, type LaneSpec } from '../src/train/lane.js';
import { allInOrder, bridgeFor } from '../src/train/bridge.js';
import { openExecTarget } from '../src/targets/exec/index.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import type { Target } from '../src/targets/types.js';
import { nodeServer } from './support/exec-support.js';
import { tinyLane } from './support/lane-support.js';

let corpus: Corpus;

before(async () => {
  await initTf('wasm');
  corpus = loadCorpus('builtin:markov');
});

const spec = (over: Partial<LaneSpec> = {}): LaneSpec => tinyLane({ name: 'QA-exec-lane', format: 'int8', steps: 12, evalEvery: 4, ...over });

const int8 = defaultRegistry.get('int8');

/**
 * The Node example server's int8 in process: the reference fakeQuant and its straight-through
 * gradient. `delayMs(call)` makes replies come back in another order than the calls were made.
 */
function inProcessInt8(delayMs: (call: number) => number = () => 0): Target {
  let calls = 0;
  const later = <T>(value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), delayMs(calls++)));
  return {
    spec: 'exec:in-process int8',
    kind: 'exec',
    capabilities: new Set(['forward', 'gradient']),
    formats: ['int8'],
    info: {},
    forward: async (_format, x) => later(fakeQuant(int8, x)),
    gradient: async (_format, x, _shape, dy) => {
      let absmax = 0;
      for (const v of x) if (Math.abs(v) > absmax && Math.abs(v) !== Infinity) absmax = Math.abs(v);
      return later(dy.map((g, i) => (Math.abs(x[i]!) <= absmax ? g : 0)));
    },
    close: async () => {},
  };
}

/**
 * Wraps a target's forward and gradient to record, for every call, how many calls were in
 * flight once it had started: calls awaited one by one all record 1, three in flight 1, 2, 3.
 */
function countingInFlight(target: Target): { target: Target; started: number[] } {
  let now = 0;
  const started: number[] = [];
  const track = async <T>(call: Promise<T>): Promise<T> => {
    started.push(++now);
    try {
      return await call;
    } finally {
      now--;
    }
  };
  const wrapped: Target = {
    ...target,
    forward: (f, x, s) => track(target.forward(f, x, s)),
    gradient: (f, x, s, dy) => track(target.gradient!(f, x, s, dy)),
    close: () => target.close(),
  };
  return { target: wrapped, started };
}

test('a lane through the Node exec server: the three matrices go out together, the curve is the in-process one bit for bit', async () => {
  const server = await openExecTarget(nodeServer(), { registry: defaultRegistry, timeoutMs: 10_000 });
  try {
    const counted = countingInFlight(server);
    const viaExec = await trainLane(spec(), bridgeFor(counted.target, 'int8'), corpus);
    // 4 evaluations + 12 steps × (forward + gradient), every one a batch of three
    assert.equal(counted.started.length, (4 + 12 * 2) * 3);
    assert.deepEqual(new Set(counted.started.map((n, i) => `${i % 3}:${n}`)), new Set(['0:1', '1:2', '2:3']));
    const inProcess = await trainLane(spec(), bridgeFor(inProcessInt8(), 'int8'), corpus);
    assert.deepEqual(viaExec.curve, inProcess.curve);
    assert.match(viaExec.notes[0]!, /gradient from the target's own gradient/);
    // without master weights the rounding after each step goes out together too
    const inPlace = countingInFlight(server);
    const rounded = await trainLane(spec({ masterWeights: false }), bridgeFor(inPlace.target, 'int8'), corpus);
    assert.equal(inPlace.started.filter((n) => n === 3).length * 3, inPlace.started.length);
    assert.deepEqual(rounded.curve, (await trainLane(spec({ masterWeights: false }), bridgeFor(inProcessInt8(), 'int8'), corpus)).curve);
  } finally {
    await server.close();
  }
});

test('replies that come back in reverse order still land on their own matrices', async () => {
  const inOrder = await trainLane(spec({ steps: 6 }), bridgeFor(inProcessInt8(), 'int8'), corpus);
  const reversed = await trainLane(spec({ steps: 6 }), bridgeFor(inProcessInt8((call) => 6 - (call % 3) * 3), 'int8'), corpus);
  assert.deepEqual(reversed.curve, inOrder.curve);
});

test('calls in flight together: results in call order, the first failure in call order is thrown', async () => {
  const after = <T>(ms: number, outcome: () => T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(outcome()), ms));
  assert.deepEqual(await allInOrder([after(20, () => 'E'), after(0, () => 'W1'), after(10, () => 'W2')]), ['E', 'W1', 'W2']);
  const failing = (ms: number, what: string): Promise<never> => new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} failed`)), ms));
  // W2 fails first in time, but W1 comes first in the loop the calls replace
  await assert.rejects(allInOrder([after(0, () => 'E'), failing(30, 'W1'), failing(0, 'W2')]), /^Error: W1 failed$/);
});
