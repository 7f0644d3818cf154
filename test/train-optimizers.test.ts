/**
 * The lane optimizers against steps computed by hand (numpy, float64) on tiny matrices.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initTf } from '../src/tf.js';
import type { Tensor2D } from '@tensorflow/tfjs';
import { createAdamW, createMuon, newtonSchulz, NS_COEFFS, parseOptimizer, type Param } from '../src/train/optimizers.js';
import { UsageError } from '../src/errors.js';

before(async () => {
  await initTf('cpu');
});

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

function param(name: string, values: number[], shape: [number, number], kind: Param['kind']): Param {
  return { name, variable: tf.variable(tf.tensor2d(values, shape), true, `${name}-${Math.round(values[0]! * 1e6)}-${kind}`), kind };
}

test('adamw: two steps on [1, -2] with g = [0.5, -1] then [0.5, 0.5] (lr 0.1, wd 0.01)', () => {
  const p = param('w', [1, -2], [1, 2], 'head');
  const opt = createAdamW([p]);
  // step 1: m̂ = g, √v̂ = |g| → update ≈ sign(g) + wd·w = [1.01, -1.02]
  opt.step([tf.tensor2d([0.5, -1], [1, 2])], 0.1);
  close(p.variable.dataSync(), [0.899, -1.898]);
  // step 2: m̂ = [0.5, -0.210526], √v̂ = [0.5, 0.790451]
  opt.step([tf.tensor2d([0.5, 0.5], [1, 2])], 0.1);
  close(p.variable.dataSync(), [0.798101, -1.8694683]);
  assert.equal(opt.stateIsZero(), false);
  opt.dispose();
  p.variable.dispose();
});

test('adamw: zero gradients leave the state zero and only decay the weights (decoupled)', () => {
  const p = param('z', [2, -4], [1, 2], 'head');
  const opt = createAdamW([p]);
  opt.step([tf.zeros([1, 2])], 0.5);
  close(p.variable.dataSync(), [2 * (1 - 0.5 * 0.01), -4 * (1 - 0.5 * 0.01)]);
  assert.equal(opt.stateIsZero(), true);
  opt.dispose();
  p.variable.dispose();
});

test('newton-schulz: singular values follow s ← 3.4445s − 4.775s³ + 2.0315s⁵ (diag(3,4) → 0.72288, 1.11920)', () => {
  assert.deepEqual([...NS_COEFFS], [3.4445, -4.775, 2.0315]);
  const out = newtonSchulz(tf.tensor2d([3, 0, 0, 4], [2, 2]) as Tensor2D, 5);
  // normalised: diag(0.6, 0.8); after 5 iterations (numpy): 0.72287617, 1.11920393
  close(out.dataSync(), [0.72287617, 0, 0, 1.11920393], 2e-5);
  out.dispose();
});

test('newton-schulz: a full 2×2 and a tall 3×2 matrix match numpy', () => {
  const g = newtonSchulz(tf.tensor2d([1, 2, 3, 4], [2, 2]) as Tensor2D);
  close(g.dataSync(), [-0.680661, 0.82553961, 0.74129541, 0.25944001], 2e-5);
  const tall = newtonSchulz(tf.tensor2d([1, 0, 0, 2, 1, 1], [3, 2]) as Tensor2D);
  assert.deepEqual(tall.shape, [3, 2]);
  close(tall.dataSync(), [0.60240459, -0.07129351, -0.14258702, 0.77704813, 0.53111108, 0.31723055], 2e-5);
  g.dispose();
  tall.dispose();
});

test('muon: hidden matrix takes Nesterov momentum + Newton–Schulz, scaled 0.2·√max(rows, cols)', () => {
  const w = param('hid', [1, 0, 0, 1], [2, 2], 'hidden');
  const head = param('head', [1, -2], [1, 2], 'head');
  const opt = createMuon([w, head]);
  // buf = g; Nesterov direction = g + 0.95·buf = 1.95·diag(3, 4) → normalised diag(0.6, 0.8)
  opt.step([tf.tensor2d([3, 0, 0, 4], [2, 2]), tf.tensor2d([0.5, -1], [1, 2])], 0.1);
  // W·(1 − 0.1·0.01) − 0.1·0.2·√2·NS5 = diag(0.97855397, 0.96734413)
  close(w.variable.dataSync(), [0.97855397, 0, 0, 0.96734413], 2e-5);
  // the head is not a hidden matrix: plain AdamW (same numbers as the adamw test)
  close(head.variable.dataSync(), [0.899, -1.898]);
  opt.dispose();
  w.variable.dispose();
  head.variable.dispose();
});

test('parseOptimizer: adamw and muon; anything else is a usage error naming the valid ones', () => {
  assert.equal(parseOptimizer('muon'), 'muon');
  assert.throws(() => parseOptimizer('sgd'), (e: unknown) => e instanceof UsageError && /adamw, muon/.test(e.message));
});
