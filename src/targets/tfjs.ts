/**
 * `tfjs:PATH` targets: an ES module whose default export is
 *   (tf) => ({ formats?: string[], fakeQuant(x: tf.Tensor, format: string): tf.Tensor,
 *              update?(w: tf.Tensor, delta: tf.Tensor, steps: number, format: string): tf.Tensor })
 * or a tfjs model.json (LayersModel or GraphModel) mapping a float tensor to its fake-quantized
 * self. We pass our own `tf` (one engine), so gradients are real tfjs autodiff: a quantizer
 * built on tf.round without tf.customGrad really has a zero gradient. The built-in mutants
 * are modules of the same shape and go through this same adapter.
 *
 * A module that throws, returns a non-tensor, the wrong shape or NaN for a format gets a
 * TargetError naming that format; the other formats still run.
 */
import { existsSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf, type Tf } from '../tf.js';
import { TargetError, UsageError } from '../errors.js';
import type { Capability, Target, TargetKind, TargetOptions } from './types.js';
import { tensorOverLimit } from '../limits.js';
import { guardedCall } from './tfjs/guarded-call.js';

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

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isTensor(v: unknown): v is Tensor {
  if (v instanceof tf.Tensor) return true;
  // a tensor from a second copy of tfjs would fail instanceof; it is still not ours to use
  return false;
}

function describeValue(v: unknown): string {
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

/** Wrap a quantizer object (from a file, a model or a built-in mutant) as a Target. */
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

/** `.ts` modules: transpile with the TypeScript compiler next to the source, import, delete. */
async function importTypeScript(abs: string): Promise<unknown> {
  let ts: typeof import('typescript');
  try {
    ts = (await import('typescript')).default;
  } catch {
    throw new UsageError(`tfjs:${abs}: loading a .ts module needs the 'typescript' package; compile it to .js/.mjs or install typescript.`);
  }
  const source = readFileSync(abs, 'utf8');
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: abs,
  }).outputText;
  // next to the source so its relative imports resolve; hidden and removed right after
  const tmp = join(dirname(abs), `.${basename(abs, extname(abs))}.${process.pid}.quant-audit.mjs`);
  writeFileSync(tmp, js);
  try {
    return await import(pathToFileURL(tmp).href);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

async function loadModule(abs: string, timeoutMs: number): Promise<TfjsQuantizer> {
  let mod: { default?: unknown };
  try {
    mod = (extname(abs) === '.ts' || extname(abs) === '.mts' ? await importTypeScript(abs) : await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`tfjs:${abs}: the module could not be loaded: ${message(e)}`);
  }
  const factory = mod.default;
  if (typeof factory !== 'function') {
    throw new UsageError(`tfjs:${abs}: the default export must be a function (tf) => ({ formats?, fakeQuant(x, format) }); got ${describeValue(factory)}.`);
  }
  try {
    return guardedCall(() => (factory as TfjsModuleFactory)(tf), timeoutMs, `tfjs:${abs}: the default export`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`tfjs:${abs}: the default export threw when called with tf: ${message(e)}`);
  }
}

interface ModelJson {
  format?: string;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
  [k: string]: unknown;
}

/** A file:// IO handler written with fs (tfjs-node, which has one, is not a dependency). */
export function fileIoHandler(abs: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(abs, 'utf8')) as ModelJson;
      const manifest = json.weightsManifest ?? [];
      const weightSpecs = manifest.flatMap((g) => g.weights);
      const buffers = manifest.flatMap((g) => g.paths.map((p) => readFileSync(resolve(dirname(abs), p))));
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      const weightData = new Uint8Array(total);
      let off = 0;
      for (const b of buffers) {
        weightData.set(b, off);
        off += b.byteLength;
      }
      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs,
        weightData: weightData.buffer,
        format: json.format,
        generatedBy: json.generatedBy as string | undefined,
        convertedBy: json.convertedBy as string | null | undefined,
        userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
      };
      if (json.signature) artifacts.signature = json.signature as object;
      if (json.modelInitializer) artifacts.modelInitializer = json.modelInitializer as object;
      if (json.trainingConfig) artifacts.trainingConfig = json.trainingConfig as tf.io.TrainingConfig;
      return artifacts;
    },
  };
}

function isLayersModel(json: ModelJson): boolean {
  if (json.format === 'layers-model') return true;
  if (json.format === 'graph-model') return false;
  const topo = json.modelTopology ?? {};
  return 'class_name' in topo || 'model_config' in topo || 'config' in topo;
}

/** Reshape x to what the model's input accepts: [n/d, d] for a fixed last dim d, else [1, …, n]. */
function modelInput(x: Tensor, inputShape: readonly (number | null)[] | undefined): Tensor {
  const n = x.size;
  if (!inputShape || inputShape.length === 0) return x.reshape([n]);
  const last = inputShape[inputShape.length - 1];
  if (typeof last === 'number' && last > 0) {
    if (n % last !== 0) throw new TargetError(`the model's input has a fixed last dimension ${last}, which does not divide ${n} elements`);
    return x.reshape([...new Array(inputShape.length - 2).fill(1), n / last, last]);
  }
  return x.reshape([...new Array(inputShape.length - 1).fill(1), n]);
}

async function loadModel(abs: string): Promise<TfjsQuantizer & { info: Record<string, string> }> {
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(abs, 'utf8')) as ModelJson;
  } catch (e) {
    throw new UsageError(`tfjs:${abs}: not a readable model.json: ${message(e)}`);
  }
  const meta = json.userDefinedMetadata ?? {};
  const declared = (meta.quantAudit as { formats?: unknown } | undefined)?.formats ?? meta.formats ?? (typeof meta.format === 'string' ? [meta.format] : undefined);
  const formats = Array.isArray(declared) ? declared.map(String) : undefined;
  const handler = fileIoHandler(abs);
  try {
    if (isLayersModel(json)) {
      const model = await tf.loadLayersModel(handler);
      const inputShape = model.inputs[0]?.shape;
      return {
        formats,
        info: { model: 'LayersModel' },
        fakeQuant: (x) => (model.apply(modelInput(x, inputShape)) as Tensor).reshape(x.shape),
      };
    }
    const model = await tf.loadGraphModel(handler);
    const inputShape = model.inputs[0]?.shape;
    return {
      formats,
      info: { model: 'GraphModel' },
      fakeQuant: (x) => (model.predict(modelInput(x, inputShape)) as Tensor).reshape(x.shape),
    };
  } catch (e) {
    throw new UsageError(`tfjs:${abs}: tfjs could not load the model: ${message(e)}`);
  }
}

/** Open `tfjs:PATH` (module or model.json). Missing or unloadable files are a UsageError. */
export async function openTfjsTarget(path: string, opts: TargetOptions): Promise<Target> {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw new UsageError(`tfjs:${path}: no such file. Give a .js/.mjs/.ts module (default export (tf) => ({ fakeQuant })) or a tfjs model.json.`);
  }
  const label = `tfjs:${path}`;
  if (extname(abs) === '.json') {
    const m = await loadModel(abs);
    return tfjsTarget(label, 'tfjs', label, m, { path: abs, ...m.info }, { ...opts, guard: true });
  }
  if (!['.js', '.mjs', '.ts', '.mts'].includes(extname(abs))) {
    throw new UsageError(`tfjs:${path}: unsupported file type '${extname(abs)}'. Use .js, .mjs, .ts or a model.json.`);
  }
  const impl = await loadModule(abs, opts.timeoutMs ?? DEFAULT_TFJS_TIMEOUT_MS);
  return tfjsTarget(label, 'tfjs', label, impl, { path: abs, module: 'ES module' }, { ...opts, guard: true });
}
