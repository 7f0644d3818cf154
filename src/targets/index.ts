/**
 * Target specs on the command line and their openers:
 *   reference | mutant:NAME | tfjs:PATH | onnx:PATH | exec:COMMAND | python:PATH.py:FUNCTION
 * onnx, exec and python live in their own modules and are imported on demand (onnxruntime-node
 * and child processes only when asked for).
 */
import { UsageError } from '../errors.js';
import type { Target, TargetKind, TargetOptions, TargetSpec } from './types.js';
import { openReferenceTarget } from './reference/index.js';
import { MUTANT_NAMES, openMutantTarget } from './mutants/index.js';
import { openTfjsTarget } from './tfjs/index.js';

const TARGET_KINDS: readonly TargetKind[] = ['reference', 'mutant', 'tfjs', 'onnx', 'exec', 'python'];

const USAGE = `Valid targets: reference, mutant:NAME (${MUTANT_NAMES.join(', ')}), tfjs:PATH (.js/.mjs/.ts module or model.json), onnx:PATH (.onnx), exec:COMMAND, python:PATH.py:FUNCTION (or python:package.module:FUNCTION)`;

export function parseTargetSpec(raw: string): TargetSpec {
  const text = raw.trim();
  if (text === 'reference') return { kind: 'reference', arg: '', raw };
  const colon = text.indexOf(':');
  if (colon < 0) throw new UsageError(`target '${raw}' is not a target spec. ${USAGE}.`);
  const kind = text.slice(0, colon) as TargetKind;
  const arg = text.slice(colon + 1).trim();
  if (!TARGET_KINDS.includes(kind) || kind === 'reference') {
    throw new UsageError(`unknown target kind '${text.slice(0, colon)}' in '${raw}'. ${USAGE}.`);
  }
  if (arg === '') throw new UsageError(`target '${raw}' names no ${kind === 'exec' ? 'command' : kind === 'mutant' ? 'mutant' : kind === 'python' ? 'module' : 'path'}. ${USAGE}.`);
  if (kind === 'mutant' && !MUTANT_NAMES.includes(arg)) {
    throw new UsageError(`unknown mutant '${arg}'. Known mutants: ${MUTANT_NAMES.join(', ')}.`);
  }
  return { kind, arg, raw };
}

/**
 * onnxruntime-node is an optional dependency: on Linux x64 its install script downloads CUDA
 * libraries, and where that download fails npm drops the package instead of failing the install.
 */
export const ONNX_RUNTIME_MISSING =
  'onnx: targets need onnxruntime-node, which is not installed here (it is an optional dependency: npm drops it when its install script, ' +
  'which downloads CUDA libraries on Linux x64, fails). Its CPU binaries ship in the package, so install it without that script: ' +
  'add "allowScripts": { "onnxruntime-node": false } to your package.json and run `npm install onnxruntime-node` ' +
  '(older npm: `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`).';

/** A target kind's module, loaded when asked for; a missing onnxruntime-node is a usage error that says how to install it. */
async function load<T>(importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes("'onnxruntime-node'")) throw new UsageError(ONNX_RUNTIME_MISSING);
    throw e;
  }
}

export async function openTarget(raw: string, opts: TargetOptions): Promise<Target> {
  const spec = parseTargetSpec(raw);
  switch (spec.kind) {
    case 'reference':
      return openReferenceTarget(opts);
    case 'mutant':
      return openMutantTarget(spec.arg, opts);
    case 'tfjs':
      return openTfjsTarget(spec.arg, opts);
    case 'onnx':
      return (await load(() => import('./onnx/index.js'))).openOnnxTarget(spec.arg, opts);
    case 'exec':
      return (await load(() => import('./exec/index.js'))).openExecTarget(spec.arg, opts);
    case 'python':
      return (await load(() => import('./python/index.js'))).openPythonTarget(spec.arg, opts);
  }
}
