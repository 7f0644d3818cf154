/**
 * The two optimizers of the learnability lanes, written as tfjs ops on tf.Variables.
 *
 * adamw  Loshchilov & Hutter: Adam moments with bias correction, weight decay decoupled from
 *        the gradient (w ← w − lr·(m̂/(√v̂+ε) + wd·w)).
 * muon   Jordan et al.: Nesterov momentum (μ = 0.95) on the gradient, then the update matrix
 *        is orthogonalised by 5 Newton–Schulz iterations with the quintic coefficients
 *        (3.4445, −4.7750, 2.0315). Only 2-D hidden matrices take this path; embeddings and
 *        the output head use AdamW, as in the reference implementation. The orthogonalised
 *        update is rescaled to the RMS an AdamW step would have (0.2·√max(rows, cols),
 *        Moonshot 2025) so one learning rate serves both optimizers.
 */
import { tf } from '../tf.js';
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';

export type OptimizerName = 'adamw' | 'muon';
export const OPTIMIZERS: readonly OptimizerName[] = ['adamw', 'muon'];

export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface MuonHyper {
  momentum: number;
  nesterov: boolean;
  nsSteps: number;
  weightDecay: number;
  /** Target update RMS per unit lr (0.2 = AdamW-like). */
  rmsMatch: number;
}

export const ADAMW_DEFAULTS: AdamWHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
export const MUON_DEFAULTS: MuonHyper = { momentum: 0.95, nesterov: true, nsSteps: 5, weightDecay: 0.01, rmsMatch: 0.2 };

/** Quintic Newton–Schulz coefficients (Muon reference implementation). */
export const NS_COEFFS = [3.4445, -4.775, 2.0315] as const;

/** One parameter the optimizer updates; `kind` decides which rule a muon optimizer applies. */
export interface Param {
  name: string;
  variable: Variable;
  kind: 'hidden' | 'embedding' | 'head';
}

export interface Optimizer {
  readonly name: OptimizerName;
  /** Apply one step with these gradients (same order as the params). */
  step(grads: readonly Tensor[], lr: number): void;
  /** Sum of |state| over every slot: 0 means the optimizer has never seen a nonzero gradient. */
  stateIsZero(): boolean;
  dispose(): void;
}

export function parseOptimizer(name: string): OptimizerName {
  if ((OPTIMIZERS as readonly string[]).includes(name)) return name as OptimizerName;
  throw new UsageError(`unknown optimizer '${name}'. Valid: ${OPTIMIZERS.join(', ')}.`);
}

/**
 * Orthogonalise G with `steps` Newton–Schulz iterations: X ← aX + (b·XXᵀ + c·(XXᵀ)²)X on the
 * Frobenius-normalised matrix, iterating on the wide orientation so XXᵀ is the small side.
 * Each singular value s follows s ← a·s + b·s³ + c·s⁵.
 */
export function newtonSchulz(g: Tensor2D, steps = 5): Tensor2D {
  return tf.tidy(() => {
    const [a, b, c] = NS_COEFFS;
    const tall = g.shape[0] > g.shape[1];
    let x: Tensor2D = tall ? g.transpose() : g;
    x = x.div(tf.norm(x).add(1e-7));
    const n = x.shape[0];
    const bI = tf.eye(n).mul(b);
    const aI = tf.eye(n).mul(a);
    for (let i = 0; i < steps; i++) {
      // aX + (bG + cG²)X = (aI + G(bI + cG))X with G = XXᵀ: 7 kernels instead of 9.
      // Explicit transpose: the wasm backend's transposed matmul path is several times slower.
      const gram = tf.matMul(x, x.transpose());
      const m = tf.matMul(gram, gram.mul(c).add(bI)).add(aI);
      x = tf.matMul(m, x);
    }
    return tall ? x.transpose() : x;
  });
}

/** A zero-initialised optimizer slot (tidy: the initial tensor would otherwise outlive the variable). */
function zeroSlot(p: Variable): Variable {
  return tf.tidy(() => tf.variable(tf.zerosLike(p), false));
}

class AdamWState {
  readonly m: Variable;
  readonly v: Variable;
  constructor(p: Variable) {
    this.m = zeroSlot(p);
    this.v = zeroSlot(p);
  }
}

function adamwStep(p: Variable, g: Tensor, s: AdamWState, t: number, lr: number, h: AdamWHyper): void {
  // Bias corrections folded into two scalars: lr·m̂/(√v̂+ε) = stepSize·m/(√v + ε·√(1−β2ᵗ)).
  const c1 = 1 - Math.pow(h.beta1, t);
  const c2 = 1 - Math.pow(h.beta2, t);
  const stepSize = (lr * Math.sqrt(c2)) / c1;
  const epsHat = h.eps * Math.sqrt(c2);
  tf.tidy(() => {
    const m = s.m.mul(h.beta1).add(g.mul(1 - h.beta1));
    const v = s.v.mul(h.beta2).add(g.square().mul(1 - h.beta2));
    s.m.assign(m);
    s.v.assign(v);
    // decoupled weight decay: w ← w·(1 − lr·wd) − lr·m̂/(√v̂+ε)
    p.assign(p.mul(1 - lr * h.weightDecay).sub(m.div(v.sqrt().add(epsHat)).mul(stepSize)));
  });
}

function anyNonZero(vars: readonly Variable[]): boolean {
  return tf.tidy(() => {
    let total = tf.scalar(0);
    for (const v of vars) total = total.add(v.abs().sum());
    return total.dataSync()[0] !== 0;
  });
}

export function createAdamW(params: readonly Param[], hyper: Partial<AdamWHyper> = {}): Optimizer {
  const h = { ...ADAMW_DEFAULTS, ...hyper };
  const states = params.map((p) => new AdamWState(p.variable));
  let t = 0;
  return {
    name: 'adamw',
    step(grads, lr) {
      t++;
      params.forEach((p, i) => adamwStep(p.variable, grads[i]!, states[i]!, t, lr, h));
    },
    stateIsZero: () => !anyNonZero(states.flatMap((s) => [s.m, s.v])),
    dispose() {
      for (const s of states) {
        s.m.dispose();
        s.v.dispose();
      }
    },
  };
}

export function createMuon(params: readonly Param[], hyper: Partial<MuonHyper> = {}, adamHyper: Partial<AdamWHyper> = {}): Optimizer {
  const h = { ...MUON_DEFAULTS, ...hyper };
  const ah = { ...ADAMW_DEFAULTS, ...adamHyper };
  const buffers = params.map((p) => (p.kind === 'hidden' && p.variable.rank === 2 ? zeroSlot(p.variable) : undefined));
  const adam = params.map((p, i) => (buffers[i] ? undefined : new AdamWState(p.variable)));
  let t = 0;
  return {
    name: 'muon',
    step(grads, lr) {
      t++;
      params.forEach((p, i) => {
        const buf = buffers[i];
        const g = grads[i]!;
        if (!buf) {
          adamwStep(p.variable, g, adam[i]!, t, lr, ah);
          return;
        }
        tf.tidy(() => {
          const next = buf.mul(h.momentum).add(g);
          buf.assign(next);
          const direction = (h.nesterov ? g.add(next.mul(h.momentum)) : next) as Tensor2D;
          const ortho = newtonSchulz(direction, h.nsSteps);
          const [rows, cols] = p.variable.shape as [number, number];
          const scale = h.rmsMatch * Math.sqrt(Math.max(rows, cols));
          const decayed = p.variable.mul(1 - lr * h.weightDecay);
          p.variable.assign(decayed.sub(ortho.mul(lr * scale)));
        });
      });
    },
    stateIsZero: () =>
      !anyNonZero([...buffers.filter((b): b is Variable => b !== undefined), ...adam.flatMap((s) => (s ? [s.m, s.v] : []))]),
    dispose() {
      for (const b of buffers) b?.dispose();
      for (const s of adam) {
        s?.m.dispose();
        s?.v.dispose();
      }
    },
  };
}

/**
 * Per-optimizer settings a run may change (`optimizers:` in quant-audit.yaml); the learning
 * rate travels separately (it names the lane). Anything unset keeps the defaults above.
 */
export interface OptimizerSettings {
  /** muon: momentum μ of the Nesterov buffer. */
  momentum?: number;
  /** muon: Newton–Schulz iterations. */
  nsSteps?: number;
  /** Decoupled weight decay (both optimizers, and muon's AdamW part). */
  weightDecay?: number;
}

export function createOptimizer(name: OptimizerName, params: readonly Param[], settings: OptimizerSettings = {}): Optimizer {
  const wd = settings.weightDecay !== undefined ? { weightDecay: settings.weightDecay } : {};
  if (name === 'adamw') return createAdamW(params, wd);
  return createMuon(
    params,
    { ...wd, ...(settings.momentum !== undefined ? { momentum: settings.momentum } : {}), ...(settings.nsSteps !== undefined ? { nsSteps: settings.nsSteps } : {}) },
    wd,
  );
}
