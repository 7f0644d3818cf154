/**
 * A tfjs model.json (LayersModel or GraphModel) mapping a float tensor to its fake-quantized
 * self, read with fs (no tfjs-node) and wrapped as a quantizer object.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { tf } from '../../tf.js';
import { TargetError, UsageError } from '../../errors.js';
import { message, type TfjsQuantizer } from './adapter.js';

type Tensor = tf.Tensor;

interface ModelJson {
  format?: string;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
  [k: string]: unknown;
}

/** A file:// IO handler written with fs (tfjs-node, which has one, is not a dependency). */
function fileIoHandler(abs: string): tf.io.IOHandler {
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

export async function loadModel(abs: string): Promise<TfjsQuantizer & { info: Record<string, string> }> {
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
    // A LayersModel runs its layers with apply (inference mode, no batching); a GraphModel runs with predict.
    const loaded = isLayersModel(json)
      ? await tf.loadLayersModel(handler).then((m) => ({ kind: 'LayersModel', inputShape: m.inputs[0]?.shape, run: (t: Tensor) => m.apply(t) as Tensor }))
      : await tf.loadGraphModel(handler).then((m) => ({ kind: 'GraphModel', inputShape: m.inputs[0]?.shape, run: (t: Tensor) => m.predict(t) as Tensor }));
    return {
      formats,
      info: { model: loaded.kind },
      fakeQuant: (x) => loaded.run(modelInput(x, loaded.inputShape)).reshape(x.shape),
    };
  } catch (e) {
    throw new UsageError(`tfjs:${abs}: tfjs could not load the model: ${message(e)}`);
  }
}
