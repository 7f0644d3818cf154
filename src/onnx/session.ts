/**
 * onnxruntime-node sessions on the execution provider the user asked for. `--ep cuda` never
 * falls back to the CPU silently: when the CUDA provider is not installed (onnxruntime-node
 * ships it as a separate download) the user gets a UsageError that says how to install it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../errors.js';

export type Ep = 'cpu' | 'cuda';

export const CUDA_HINT =
  'The CUDA execution provider of onnxruntime-node is not installed here. On a machine with an NVIDIA GPU and CUDA 12, ' +
  'download its CUDA provider libraries with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` ' +
  '(npm does not run that install script: package.json denies it), or run with `--ep cpu`.';

/** Whether this onnxruntime-node build has the CUDA provider library next to its binding. */
export function cudaProviderInstalled(): boolean {
  const listed = ort.listSupportedBackends().some((b) => b.name === 'cuda');
  if (!listed) return false;
  try {
    const req = createRequire(import.meta.url);
    const pkg = dirname(req.resolve('onnxruntime-node/package.json'));
    const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(dir, lib));
  } catch {
    return false;
  }
}

export interface OpenSession {
  session: ort.InferenceSession;
  ep: Ep;
}

/**
 * `optimize: false` runs the graph as written (no graph optimisations): what the audit wants — every exposed tensor
 * is its own op's result, not a fused kernel's — and session creation is ~3× faster on large models
 * (bench/results/onnx.md). Plain inference keeps onnxruntime's default ('all').
 */
export async function createSession(bytes: Uint8Array, ep: Ep, what: string, opts: { optimize?: boolean } = {}): Promise<OpenSession> {
  if (ep === 'cuda' && !cudaProviderInstalled()) throw new UsageError(`onnx: --ep cuda requested for ${what}. ${CUDA_HINT}`);
  try {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [ep],
      graphOptimizationLevel: opts.optimize === false ? 'disabled' : 'all',
      // 4 = fatal only: onnxruntime's own error lines (with C++ source paths) would precede our
      // message on stderr; the error text itself is in the UsageError below.
      logSeverityLevel: 4,
    });
    return { session, ep };
  } catch (e) {
    const msg = (e as Error).message.replace(/\s+/g, ' ').trim();
    if (ep === 'cuda' && /cuda|provider|libcu/i.test(msg)) throw new UsageError(`onnx: the CUDA provider failed to start for ${what} (${msg}). ${CUDA_HINT}`);
    throw new UsageError(`onnx: onnxruntime cannot load ${what}: ${msg}. Check that the model is valid ONNX (e.g. onnx.checker) for an opset onnxruntime supports.`);
  }
}

export { ort };
