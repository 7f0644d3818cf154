/**
 * The model's hand-written backward pass equals tfjs autodiff of the same formula.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initTf } from '../src/tf.js';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { crossEntropy, disposeBatch, makeBatch, type ModelShape } from '../src/train/model.js';
import { Rng } from '../src/rng.js';

before(async () => {
  await initTf('wasm');
});

test('crossEntropy: value and gradients match autodiff of the plain formula (tiny model)', () => {
  const shape: ModelShape = { vocab: 128, context: 3, embed: 4, hidden: 8, initStd: 0.05, headGain: 1 };
  const rng = new Rng(3);
  const tokens = Uint8Array.from({ length: 200 }, () => rng.int(128));
  const batch = makeBatch(tokens, [5, 17, 40, 99, 150], shape.context, shape.vocab);
  const e = tf.tensor2d(rng.normalArray(128 * 4, 0.05), [128, 4]);
  const w1 = tf.tensor2d(rng.normalArray(12 * 8, 0.05), [12, 8]);
  const w2 = tf.tensor2d(rng.normalArray(8 * 128, 0.05), [8, 128]);
  const plain = (a: Tensor, b: Tensor, c: Tensor): Tensor => {
    const emb = tf.matMul(batch.inputs, a as Tensor2D).reshape([5, 12]).mul(1 / 0.05);
    const pre = tf.matMul(emb as Tensor2D, b as Tensor2D).mul(1 / (0.05 * Math.sqrt(12)));
    const logits = tf.matMul(tf.relu(pre) as Tensor2D, c as Tensor2D).mul(1 / (0.05 * Math.sqrt(8)));
    return tf.neg(tf.mean(tf.sum(tf.mul(batch.labels, tf.logSoftmax(logits)), 1)));
  };
  const fused = (a: Tensor, b: Tensor, c: Tensor): Tensor => crossEntropy(shape, [a, b, c] as unknown as [Tensor2D, Tensor2D, Tensor2D], batch);
  const v1 = plain(e, w1, w2).dataSync()[0]!;
  const v2 = fused(e, w1, w2).dataSync()[0]!;
  assert.ok(Math.abs(v1 - v2) < 1e-5, `${v1} vs ${v2}`);
  assert.ok(Math.abs(v1 - Math.log(128)) < 0.5, 'near uniform at init');
  const ga = tf.grads(plain)([e, w1, w2]);
  const gb = tf.grads(fused)([e, w1, w2]);
  for (let i = 0; i < 3; i++) {
    const a = ga[i]!.dataSync();
    const b = gb[i]!.dataSync();
    let maxAbs = 0;
    let maxDiff = 0;
    for (let j = 0; j < a.length; j++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[j]!));
      maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
    }
    assert.ok(maxAbs > 0, `gradient ${i} is not all zero`);
    assert.ok(maxDiff <= 1e-5 * Math.max(1, maxAbs), `gradient ${i}: max |autodiff − fused| = ${maxDiff} (max |g| ${maxAbs})`);
  }
  disposeBatch(batch);
});
