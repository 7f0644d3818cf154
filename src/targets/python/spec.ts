/**
 * `python:PATH.py:FUNCTION` and `python:package.module:FUNCTION` → what the adapter loads.
 * FUNCTION defaults to `fake_quant`. A file path is resolved against the working directory and
 * must exist; a dotted module name is imported with the working directory on sys.path.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';

export interface PythonSpec {
  /** As the user wrote it (the report and repro commands use this). */
  raw: string;
  /** `fixtures/python/torch_quant.py` or `mypkg.quant`, as written. */
  module: string;
  /** Absolute path of the file, when the module is a file. */
  file?: string;
  function: string;
  /** What the adapter gets: an absolute file path (or the dotted name) and the function. */
  adapterTarget: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const EXAMPLE = 'python:fixtures/python/torch_quant.py:fake_quant or python:mypkg.quant:make_quantizer';

export function parsePythonSpec(arg: string, cwd = process.cwd()): PythonSpec {
  const raw = arg.trim();
  const colon = raw.lastIndexOf(':');
  const tail = colon >= 0 ? raw.slice(colon + 1) : '';
  const [module, fn] = colon >= 0 && IDENTIFIER.test(tail) ? [raw.slice(0, colon), tail] : [raw, 'fake_quant'];
  if (module === '') throw new UsageError(`python target '${arg}' names no module. Write ${EXAMPLE}.`);
  const isFile = module.endsWith('.py') || module.includes('/') || module.includes('\\');
  if (isFile) {
    const file = resolve(cwd, module);
    if (!existsSync(file)) throw new UsageError(`python target file '${module}' does not exist (looked for ${file}). Write ${EXAMPLE}.`);
    if (!statSync(file).isFile()) throw new UsageError(`python target '${module}' is not a file (${file}).`);
    return { raw, module, file, function: fn, adapterTarget: `${file}:${fn}` };
  }
  if (!DOTTED.test(module)) {
    throw new UsageError(`python target '${arg}': '${module}' is neither a .py file nor a dotted module name. Write ${EXAMPLE}.`);
  }
  return { raw, module, function: fn, adapterTarget: `${module}:${fn}` };
}
