/**
 * Shared pieces of the built-in mutants. Each mutant is a tfjs quantizer module with the
 * same contract as `tfjs:PATH` (so the tfjs adapter is exercised by the selftest), plants one
 * bug the way it shows up in real code, and behaves like the reference for formats the bug
 * does not apply to.
 */
import type { Tf } from '../../tf.js';
import type { tf as tfNs } from '../../tf.js';
import { tfFakeQuant } from '../../formats/tf.js';
import type { FormatSpec } from '../../formats/types.js';
import type { FormatRegistry } from '../../formats/registry.js';
import type { ProbeId } from '../../../probes/types.js';
import type { TfjsModuleFactory } from '../tfjs/index.js';

type Tensor = tfNs.Tensor;

export interface MutantDefinition {
  name: string;
  /** The probe that must catch it (the hypothesis it plants is that probe's: `plantedHypothesis`). */
  probe: ProbeId;
  /** One line: what the bug is, in the words of a bug report. */
  description: string;
  /** Formats where the bug is real; for the others the module behaves like the reference. */
  appliesTo(spec: FormatSpec): boolean;
  module: TfjsModuleFactory;
}

/** Every mutant leaves fp32 (the identity control) alone: there is nothing to break. */
export function quantized(spec: FormatSpec): boolean {
  return spec.family !== 'identity';
}

/** The reference fake-quant op per format, cached. */
export function referenceOps(registry: FormatRegistry): (format: string) => (x: Tensor) => Tensor {
  const ops = new Map<string, (x: Tensor) => Tensor>();
  return (format) => {
    let op = ops.get(format);
    if (!op) {
      op = tfFakeQuant(registry.get(format));
      ops.set(format, op);
    }
    return op;
  };
}

function floatData(x: Tensor): Float32Array {
  return (x.dtype === 'float32' ? x.dataSync() : Float32Array.from(x.dataSync() as ArrayLike<number>)) as Float32Array;
}

/**
 * A differentiable op whose forward and backward run on typed arrays (as the reference's
 * tfFakeQuant does); the mutants use it to plant a bug in one of the two halves.
 */
export function arrayOp(
  tf: Tf,
  forward: (x: Float32Array, shape: number[]) => Float32Array,
  backward: (x: Float32Array, shape: number[], dy: Float32Array) => Float32Array,
): (x: Tensor) => Tensor {
  const op = tf.customGrad((...args: (Tensor | tfNs.GradSaveFunc)[]) => {
    const x = args[0] as Tensor;
    const save = args[1] as tfNs.GradSaveFunc;
    save([x]);
    const y = forward(floatData(x), x.shape);
    return {
      value: tf.tensor(y, x.shape, 'float32'),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const xs = saved[0]!;
        return tf.tensor(backward(floatData(xs), xs.shape, floatData(dy)), xs.shape, 'float32');
      },
    };
  });
  return (x) => op(x) as Tensor;
}

/** The straight-through estimator in its common `x + stopGradient(q − x)` form: dx = dy, unclipped. */
export function identityBackward(_x: Float32Array, _shape: number[], dy: Float32Array): Float32Array {
  return Float32Array.from(dy);
}

/**
 * The module of a mutant whose bug lives in its fake-quant: `plant` builds the buggy op for a
 * format the bug applies to; every other format gets the reference op.
 */
export function buggyFakeQuant(
  appliesTo: (spec: FormatSpec) => boolean,
  plant: (tf: Tf, spec: FormatSpec, x: Tensor) => Tensor,
  opts: { masterWeights?: boolean } = {},
): TfjsModuleFactory {
  return (tf, ctx) => {
    const registry = ctx!.registry;
    const reference = referenceOps(registry);
    return {
      fakeQuant(x, format) {
        const spec = registry.get(format);
        return appliesTo(spec) ? plant(tf, spec, x) : reference(format)(x);
      },
      // a training step that is correct (so lost-updates has something to judge): the bug is in the forward pass only
      ...(opts.masterWeights ? { update: (w: Tensor, delta: Tensor, steps: number, format: string) => masterWeightStep(tf, reference(format), w, delta, steps) } : {}),
    };
  };
}

/**
 * The module of a mutant whose bug lives in its forward pass, computed on typed arrays; the
 * gradient is the straight-through estimator (identityBackward), so only the forward probes see it.
 */
export function buggyForward(
  appliesTo: (spec: FormatSpec) => boolean,
  forward: (spec: FormatSpec, x: Float32Array, shape: number[]) => Float32Array,
  opts: { masterWeights?: boolean } = {},
): TfjsModuleFactory {
  return buggyFakeQuant(appliesTo, (tf, spec, x) => arrayOp(tf, (data, shape) => forward(spec, data, shape), identityBackward)(x), opts);
}

/** Correct QAT: accumulate `steps` updates in fp32, quantize once for use. */
export function masterWeightStep(tf: Tf, fq: (x: Tensor) => Tensor, w: Tensor, delta: Tensor, steps: number): Tensor {
  return tf.tidy(() => fq(tf.add(w, tf.mul(delta, steps))));
}
