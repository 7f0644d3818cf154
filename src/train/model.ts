/**
 * The learnability model: a char-level MLP language model.
 *   previous `context` tokens → one-hot · E (V×e) → concat (c·e) → ·W1 (c·e×h) → relu → ·W2 (h×V) → logits
 * No biases: every parameter is a weight matrix, and every weight matrix goes through the
 * quantizer, so a quantizer with a zero gradient leaves nothing trainable (a dead lane sits at
 * the baseline instead of learning the unigram through a bias).
 *
 * Weights are initialised N(0, initStd²) and each matmul is followed by a fixed gain that makes
 * activations unit-scale. The quantizer therefore sees weights of a fixed, known magnitude
 * (initStd) whatever the layer width. No tf.gather: the embedding lookup is one-hot · E
 * because the wasm backend has no gradient kernel for gather.
 */
import { tf } from '../tf.js';
import type { GradSaveFunc, Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import type { Param } from './optimizers.js';

export interface ModelShape {
  vocab: number;
  context: number;
  embed: number;
  hidden: number;
  /** Standard deviation of every weight matrix at init (what the quantizer sees). */
  initStd: number;
  /** Logit scale at init (small: the untrained model is close to uniform, bpb ≈ log2 V). */
  headGain: number;
}

/** Weights as the forward pass uses them (after fake-quant), in Param order: embedding, hidden, head. */
export type EffectiveWeights = readonly [Tensor2D, Tensor2D, Tensor2D];

export interface Model {
  shape: ModelShape;
  params: Param[];
  dispose(): void;
}

let modelCount = 0;

export function createModel(shape: ModelShape, seed: number): Model {
  const rng = new Rng(seed).fork('init');
  const { vocab, context, embed, hidden, initStd } = shape;
  const matrix = (name: string, rows: number, cols: number): Variable =>
    tf.tidy(() => tf.variable(tf.tensor2d(rng.normalArray(rows * cols, initStd), [rows, cols]), true, name));
  // Variable names must be unique per engine; lanes in one thread run one after another.
  const id = `${seed}-${++modelCount}`;
  const params: Param[] = [
    { name: 'embedding', variable: matrix(`E-${id}`, vocab, embed), kind: 'embedding' },
    { name: 'hidden', variable: matrix(`W1-${id}`, context * embed, hidden), kind: 'hidden' },
    { name: 'head', variable: matrix(`W2-${id}`, hidden, vocab), kind: 'head' },
  ];
  return {
    shape,
    params,
    dispose: () => params.forEach((p) => p.variable.dispose()),
  };
}

/** A batch as tensors: one-hot inputs ((B·c)×V) and one-hot labels (B×V). */
export interface Batch {
  inputs: Tensor2D;
  /** inputsᵀ (V×(B·c)), for the embedding gradient without a transposed matmul. */
  inputsT: Tensor2D;
  labels: Tensor2D;
  size: number;
}

/**
 * Positions p (each predicts tokens[p] from tokens[p−c … p−1]) → one-hot tensors, built in JS:
 * cheaper than oneHot + cast + transpose kernels at these sizes.
 */
export function makeBatch(tokens: Uint8Array, positions: ArrayLike<number>, context: number, vocab: number): Batch {
  const n = positions.length;
  const rows = n * context;
  const inputs = new Float32Array(rows * vocab);
  const inputsT = new Float32Array(rows * vocab);
  const labels = new Float32Array(n * vocab);
  for (let b = 0; b < n; b++) {
    const p = positions[b]!;
    for (let k = 0; k < context; k++) {
      const row = b * context + k;
      const tok = tokens[p - context + k]!;
      inputs[row * vocab + tok] = 1;
      inputsT[tok * rows + row] = 1;
    }
    labels[b * vocab + tokens[p]!] = 1;
  }
  return {
    inputs: tf.tensor2d(inputs, [rows, vocab]),
    inputsT: tf.tensor2d(inputsT, [vocab, rows]),
    labels: tf.tensor2d(labels, [n, vocab]),
    size: n,
  };
}

export function disposeBatch(b: Batch): void {
  b.inputs.dispose();
  b.inputsT.dispose();
  b.labels.dispose();
}

/**
 * Mean cross-entropy in nats of the batch under the given effective weights, as one tfjs op
 * with a hand-written backward pass (tested against autodiff in test/train-model.test.ts).
 * Why by hand: autodiff of this graph costs ~70 small kernels a step, and on the wasm backend
 * each costs tens of µs; the fused version needs ~35, all untransposed matmuls on explicit
 * transposes (the wasm transposed-matmul path is several times slower).
 *   raw = one-hot·E (reshaped B × c·e); pre = raw·W1·g1; act = relu(pre); logits = act·W2·g2
 *   g1 = 1/(σ²·√(c·e)) (embedding gain 1/σ and W1 gain 1/(σ√fan-in) folded), g2 = headGain/(σ√h)
 */
export function crossEntropy(shape: ModelShape, w: EffectiveWeights, batch: Batch): Scalar {
  const { context, embed, hidden, initStd, headGain } = shape;
  const g1 = 1 / (initStd * initStd * Math.sqrt(context * embed));
  const g2 = headGain / (initStd * Math.sqrt(hidden));
  const n = batch.size;
  const loss = tf.customGrad((...args) => {
    const [e, w1, w2, save] = args as [Tensor2D, Tensor2D, Tensor2D, GradSaveFunc];
    const raw = tf.matMul(batch.inputs, e).reshape([n, context * embed]) as Tensor2D;
    const pre = tf.matMul(raw, w1).mul(g1) as Tensor2D;
    const act = tf.relu(pre);
    const logits = tf.matMul(act, w2).mul(g2) as Tensor2D;
    const shifted = logits.sub(logits.max(1, true));
    const lse = shifted.exp().sum(1, true).log();
    // −log p(y) = lse − shifted[y]; labels are one-hot
    const value = tf.mean(lse.sub(shifted.mul(batch.labels).sum(1, true))) as Scalar;
    save([raw, pre, act, shifted, lse, w1, w2]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sRaw, sPre, sAct, sShifted, sLse, sW1, sW2] = saved as Tensor2D[];
        const scale = dy.mul(g2 / n);
        const dz = sShifted.sub(sLse!).exp().sub(batch.labels).mul(scale) as Tensor2D; // (softmax − y)·g2/B
        const dW2 = tf.matMul(sAct!.transpose(), dz);
        const dPre = tf.matMul(dz, sW2!.transpose()).mul(tf.step(sPre!)).mul(g1) as Tensor2D;
        const dW1 = tf.matMul(sRaw!.transpose(), dPre);
        const dRaw = tf.matMul(dPre, sW1!.transpose()).reshape([n * context, embed]) as Tensor2D;
        const dE = tf.matMul(batch.inputsT, dRaw);
        return [dE, dW1, dW2];
      },
    };
  });
  return loss(w[0], w[1], w[2]) as Scalar;
}
