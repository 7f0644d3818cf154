/**
 * Loading a `tfjs:` ES module (.js/.mjs, or .ts/.mts transpiled by the TypeScript compiler)
 * and calling its default export with quant-audit's own `tf`, under the call guard.
 */
import { readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf } from '../../tf.js';
import { UsageError } from '../../errors.js';
import { describeValue, message, type TfjsModuleFactory, type TfjsQuantizer } from './adapter.js';
import { guardedCall } from './guarded-call.js';

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

export async function loadModule(abs: string, timeoutMs: number): Promise<TfjsQuantizer> {
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
