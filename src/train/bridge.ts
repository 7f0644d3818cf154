/**
 * How a lane's weights reach the target's quantizer.
 *
 * autodiff  in-process targets (reference, mutants, tfjs modules) hand over a differentiable
 *           tfjs function: the training gradient is whatever tfjs autodiff makes of it, so a
 *           quantizer that rounds without an STE really trains with a zero gradient.
 * external  out-of-process targets (onnx, exec): each step w_q = forward(w) is a leaf of the
 *           graph, dL/dw_q is computed there, and dL/dw = gradient(w, dL/dw_q) when the target
 *           has a gradient — otherwise the identity straight-through estimator (said in the lane note).
 * The fp32 control uses the identity (autodiff) and never touches the target.
 * Either kind carries the target's own training step (`update`) when it has one: lanes that
 * train the way the target's update behaves (in place) apply each optimizer step through it.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Target } from '../targets/types.js';
import { TargetError } from '../errors.js';

/** One step of the target's own update: w ← update(w, delta, 1), returned as the model uses it. */
export type TargetUpdate = (w: Float32Array, shape: readonly number[], delta: Float32Array) => Promise<Float32Array>;

export type QuantizerBridge =
  | { kind: 'autodiff'; fakeQuant: (x: Tensor) => Tensor; note?: string; update?: TargetUpdate }
  | {
      kind: 'external';
      forward(w: Float32Array, shape: readonly number[]): Promise<Float32Array>;
      gradient?(w: Float32Array, shape: readonly number[], dy: Float32Array): Promise<Float32Array>;
      note: string;
      update?: TargetUpdate;
    };

export const IDENTITY_BRIDGE: QuantizerBridge = { kind: 'autodiff', fakeQuant: (x) => x };

export function bridgeFor(target: Target, format: string): QuantizerBridge {
  const checked = (what: string, n: number, y: Float32Array): Float32Array => {
    if (!(y instanceof Float32Array) || y.length !== n) {
      throw new TargetError(`${target.spec} ${what}(${format}) returned ${y?.length ?? 'nothing'} values for ${n} inputs`);
    }
    return y;
  };
  const targetUpdate = target.update && target.capabilities.has('update') ? target.update.bind(target) : undefined;
  const update: TargetUpdate | undefined = targetUpdate
    ? async (w, shape, delta) => checked('update', w.length, await targetUpdate(format, w, shape, delta, 1))
    : undefined;
  const inProcess = target.tfFakeQuant?.(format);
  if (inProcess) return { kind: 'autodiff', fakeQuant: inProcess, ...(update ? { update } : {}) };
  const gradient = target.gradient && target.capabilities.has('gradient') ? target.gradient.bind(target) : undefined;
  return {
    kind: 'external',
    forward: async (w, shape) => checked('forward', w.length, await target.forward(format, w, shape)),
    gradient: gradient ? async (w, shape, dy) => checked('gradient', w.length, await gradient(format, w, shape, dy)) : undefined,
    ...(update ? { update } : {}),
    note: gradient
      ? `weights quantized by ${target.kind} forward each step; gradient from the target's own gradient`
      : `weights quantized by ${target.kind} forward each step; the target has no gradient, so training used an identity straight-through estimator`,
  };
}

/**
 * Independent target calls (one per weight matrix) kept in flight together — an exec target
 * pipelines them, so the server can start on the next matrix while quant-audit decodes the
 * last — with the results in call order and, if any failed, the first failure in call order
 * thrown, as a loop that awaited them one by one would have.
 */
export async function allInOrder<T>(calls: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
