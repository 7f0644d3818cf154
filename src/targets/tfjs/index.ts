/**
 * `tfjs:PATH` targets: an ES module whose default export is
 *   (tf) => ({ formats?: string[], fakeQuant(x: tf.Tensor, format: string): tf.Tensor,
 *              update?(w: tf.Tensor, delta: tf.Tensor, steps: number, format: string): tf.Tensor })
 * or a tfjs model.json (LayersModel or GraphModel) mapping a float tensor to its fake-quantized
 * self. We pass our own `tf` (one engine), so gradients are real tfjs autodiff: a quantizer
 * built on tf.round without tf.customGrad really has a zero gradient. The built-in mutants
 * are modules of the same shape and go through this same adapter.
 *
 * Here: the opener. adapter.ts wraps a quantizer object as a Target; module.ts loads an ES
 * (or TypeScript) module; model-json.ts loads a model.json; guarded-call.ts bounds every call
 * into foreign code.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Target, TargetOptions } from '../types.js';
import { DEFAULT_TFJS_TIMEOUT_MS, tfjsTarget } from './adapter.js';
import { loadModel } from './model-json.js';
import { loadModule } from './module.js';

export { DEFAULT_TFJS_TIMEOUT_MS, tfjsTarget, type BuiltinModuleContext, type TfjsModuleFactory, type TfjsQuantizer, type TfjsTargetOptions } from './adapter.js';

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
