/**
 * The tfjs adapter: a quantizer object `{ formats?, fakeQuant(x, format), update? }` (from a
 * user's module, a model.json or a built-in mutant) as a Target. We pass our own `tf` (one
 * engine), so gradients are real tfjs autodiff: a quantizer built on tf.round without
 * tf.customGrad really has a zero gradient.
 *
 * A module that throws, returns a non-tensor, the wrong shape or NaN for a format gets a
 * TargetError naming that format; the other formats still run.
 */
import { tf, type Tf } from '../../tf.js';
import { TargetError, UsageError } from '../../errors.js';
import type { Capability, Target, TargetKind, TargetOptions } from '../types.js';
import { tensorOverLimit } from '../../limits.js';
import { guardedCall } from './guarded-call.js';

type Tensor = tf.Tensor;

/** What a tfjs quantizer module's default export returns. */
export interface TfjsQuantizer {
  formats?: readonly string[];
  fakeQuant(x: Tensor, format: string): Tensor;
  update?(w: Tensor, delta: Tensor, steps: number, format: string): Tensor;
}

/** Extra context built-in modules receive (user modules are called with `tf` only). */
export interface BuiltinModuleContext {
  registry: TargetOptions['registry'];
}

export type TfjsModuleFactory = (tfNamespace: Tf, builtin?: BuiltinModuleContext) => TfjsQuantizer;

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isTensor(v: unknown): v is Tensor {
  if (v instanceof tf.Tensor) return true;
  // a tensor from a second copy of tfjs would fail instanceof; it is still not ours to use
  return false;
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof Promise) return 'a Promise (fakeQuant must be synchronous)';
  if (typeof v === 'object' && v !== null && 'dataSync' in v) return 'a tensor from another copy of @tensorflow/tfjs (use the tf passed to your default export)';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The tfjs message when f's output does not depend on x at all (the tape never saw the op). */
const NOT_DIFFERENTIABLE = /Cannot compute gradient of y=f\(x\)/;

/** Default bound on one call into a user's module (config exec.timeoutMs / --timeout-ms override it). */
export const DEFAULT_TFJS_TIMEOUT_MS = 30_000;

export interface TfjsTargetOptions extends Pick<TargetOptions, 'maxTensorElements' | 'log' | 'timeoutMs'> {
  /**
   * Foreign code (a user's module): every call runs under guardedCall (src/targets/tfjs/guarded-call.ts), so a
   * module that never returns is stopped after timeoutMs and Ctrl-C works while it runs.
   * Built-in mutants and the reference are ours and run unguarded.
   */
  guard?: boolean;
}

/** Wrap a quantizer object (from a file, a model or a built-in mutant) as a Target. */
export function tfjsTarget(spec: string, kind: TargetKind, label: string, impl: TfjsQuantizer, info: Record<string, string>, opts: TfjsTargetOptions = {}): Target {
  if (typeof impl?.fakeQuant !== 'function') {
    throw new UsageError(`${label}: the default export must return an object with fakeQuant(x, format); got ${describeValue(impl?.fakeQuant)} for fakeQuant.`);
  }
  let formats: string[] | undefined;
  if (impl.formats !== undefined) {
    if (!Array.isArray(impl.formats) || !impl.formats.every((f) => typeof f === 'string')) {
      throw new UsageError(`${label}: 'formats' must be an array of format names, got ${describeValue(impl.formats)}.`);
    }
    formats = [...impl.formats];
  }
  const hasUpdate = typeof impl.update === 'function';
  const capabilities = new Set<Capability>(['forward', 'gradient', ...(hasUpdate ? (['update'] as const) : [])]);
  const checkSize = (n: number) => {
    const over = tensorOverLimit(n, 'the tensor', opts.maxTensorElements);
    if (over) throw new TargetError(`${label}: ${over}`);
  };

  /**
   * Validate what the module returned for one call and copy it out as float32. NaN and ±Inf
   * values are data, as over the exec protocol: the probes judge them (the roundtrip probe
   * counts NaN/Inf from finite input as a codec failure), never a crash of the target.
   */
  const readResult = (what: string, format: string, v: unknown, shape: readonly number[]): Float32Array => {
    if (!isTensor(v)) throw new TargetError(`${label}: ${what} for format ${format} returned ${describeValue(v)}, not a tf.Tensor`);
    if (!sameShape(v.shape, shape)) throw new TargetError(`${label}: ${what} for format ${format} returned shape [${v.shape.join(', ')}], expected [${shape.join(', ')}]`);
    const data = v.dtype === 'float32' ? (v.dataSync() as Float32Array) : Float32Array.from(v.dataSync() as ArrayLike<number>);
    return Float32Array.from(data);
  };

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TFJS_TIMEOUT_MS;
  /** Run user code: bounded in time when guarded. */
  const run = <T>(what: string, format: string, f: () => T): T => (opts.guard ? guardedCall(f, timeoutMs, `${label}: ${what} for format ${format}`) : f());

  const call = <T>(what: string, format: string, f: () => T): T => {
    try {
      return run(what, format, f);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (e instanceof TargetError) throw e;
      throw new TargetError(`${label}: ${what} for format ${format} threw: ${message(e)}`);
    }
  };

  const target: Target = {
    spec,
    kind,
    capabilities,
    formats,
    info,
    async forward(format, x, shape) {
      checkSize(x.length);
      let out: Float32Array | undefined;
      tf.tidy(() => {
        const xt = tf.tensor(x, [...shape], 'float32');
        const y = call('fakeQuant(x)', format, () => impl.fakeQuant(xt, format));
        out = readResult('fakeQuant(x)', format, y, shape);
      });
      return out!;
    },
    async gradient(format, x, shape, dy) {
      checkSize(x.length);
      let out: Float32Array | undefined;
      tf.tidy(() => {
        const xt = tf.tensor(x, [...shape], 'float32');
        const dyt = tf.tensor(dy, [...shape], 'float32');
        const f = (v: Tensor): Tensor => {
          const y = impl.fakeQuant(v, format);
          if (!isTensor(y)) throw new TargetError(`${label}: fakeQuant(x) for format ${format} returned ${describeValue(y)}, not a tf.Tensor`);
          if (!sameShape(y.shape, shape)) throw new TargetError(`${label}: fakeQuant(x) for format ${format} returned shape [${y.shape.join(', ')}], expected [${shape.join(', ')}]`);
          // `(x) => x` hands back the input tensor itself: no op on the tape, but its gradient is dy, not 0
          return y === v ? tf.clone(v) : y;
        };
        try {
          const g = run('the gradient of fakeQuant(x)', format, () => tf.grad(f)(xt, dyt));
          out = readResult('the gradient of fakeQuant(x)', format, g, shape);
        } catch (e) {
          if (e instanceof TargetError || e instanceof UsageError) throw e;
          // The output does not depend on x on the tape (quantized on the data, outside autodiff):
          // training through it gets no gradient at all, which is what we report.
          if (NOT_DIFFERENTIABLE.test(message(e))) {
            out = new Float32Array(x.length);
            return;
          }
          throw new TargetError(`${label}: the gradient of fakeQuant(x) for format ${format} threw: ${message(e)}`);
        }
      });
      return out!;
    },
    tfFakeQuant(format) {
      if (formats && !formats.includes(format)) return undefined;
      return (x: Tensor) => {
        const y = call('fakeQuant(x)', format, () => impl.fakeQuant(x, format));
        if (!isTensor(y)) throw new TargetError(`${label}: fakeQuant(x) for format ${format} returned ${describeValue(y)}, not a tf.Tensor`);
        return y;
      };
    },
    async close() {},
  };
  if (hasUpdate) {
    target.update = async (format, w, shape, delta, steps) => {
      checkSize(w.length);
      let out: Float32Array | undefined;
      tf.tidy(() => {
        const wt = tf.tensor(w, [...shape], 'float32');
        const dt = tf.tensor(delta, [...shape], 'float32');
        const y = call(`update(w, delta, ${steps})`, format, () => impl.update!(wt, dt, steps, format));
        out = readResult(`update(w, delta, ${steps})`, format, y, shape);
      });
      return out!;
    };
  }
  return target;
}

// ---------------------------------------------------------------- loading from a path
