/**
 * One tfjs engine per thread, on the fastest backend that loads here:
 * `auto` = tfjs-node-gpu or tfjs-node if one imports (native TensorFlow), else wasm, else cpu.
 * Callers get the same `tf` namespace that user tfjs modules receive (no dual-package hazard).
 */
// The union package: tfjs-core's node bundle alone registers neither gradients nor chained
// ops (x.sum()), and user modules expect both, plus tf.loadLayersModel / loadGraphModel.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { UsageError } from './errors.js';

export type Tf = typeof tf;
export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

const require = createRequire(import.meta.url);

// tfjs prints a banner on stderr ("Hi, looks like you are running TensorFlow.js in Node.js…") the first
// time its cpu backend holds a tensor. quant-audit chooses its backend itself and reports it, so the
// banner is noise in every command's output. PROD only silences tfjs warnings: its correctness checks
// hang on the DEBUG flag, which stays off either way.
tf.env().set('PROD', true);
let initialised: Promise<string> | undefined;
let initialisedWith: BackendName | undefined;

async function tryNative(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // The native packages register the 'tensorflow' backend on import.
      require(pkg);
      if (await tf.setBackend('tensorflow')) return true;
    } catch {
      // not installed or its native library is missing: try the next one
    }
  }
  return false;
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

async function tryCpu(): Promise<boolean> {
  // the union package registers the cpu backend itself
  return tf.setBackend('cpu');
}

/** Initialise the engine once per thread; returns the backend that actually runs. */
export function initTf(backend: BackendName = 'auto'): Promise<string> {
  if (!BACKENDS.includes(backend)) {
    return Promise.reject(new UsageError(`unknown backend '${backend}'. Valid: ${BACKENDS.join(', ')}.`));
  }
  if (initialised && initialisedWith === backend) return initialised;
  initialisedWith = backend;
  initialised = (async () => {
    const order: Record<BackendName, (() => Promise<boolean>)[]> = {
      auto: [tryNative, tryWasm, tryCpu],
      tensorflow: [tryNative],
      wasm: [tryWasm],
      cpu: [tryCpu],
    };
    for (const attempt of order[backend]) {
      if (await attempt()) {
        await tf.ready();
        return tf.getBackend();
      }
    }
    throw new UsageError(
      backend === 'tensorflow'
        ? "backend 'tensorflow' is not available: @tensorflow/tfjs-node did not load (its install downloads libtensorflow). Use --backend auto, wasm or cpu."
        : `backend '${backend}' could not be initialised. Use --backend auto.`,
    );
  })();
  return initialised;
}

export { tf };
