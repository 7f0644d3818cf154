/**
 * What a report says about where it ran: the versions of what did the work (quant-audit, Node,
 * tfjs, ONNX Runtime when an ONNX model ran) and the machine (OS, CPU model × cores). Read from
 * the installed packages' package.json, so nothing heavy is loaded to ask.
 */
import { arch, cpus, release, type } from 'node:os';
import { createRequire } from 'node:module';
import { VERSION } from '../version.js';

const require = createRequire(import.meta.url);

/** The installed version of a package, or undefined when it is not installed. */
function packageVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function runVersions(opts: { tfjs: boolean; onnx: boolean }): Record<string, string> {
  const versions: Record<string, string> = { 'quant-audit': VERSION, node: process.versions.node };
  const tfjs = opts.tfjs ? packageVersion('@tensorflow/tfjs') : undefined;
  if (tfjs) versions.tfjs = tfjs;
  const ort = opts.onnx ? packageVersion('onnxruntime-node') : undefined;
  if (ort) versions['onnxruntime-node'] = ort;
  return versions;
}

export function machineInfo(): Record<string, string> {
  const cores = cpus();
  const model = cores[0]?.model.replace(/\s+/g, ' ').trim() || 'unknown CPU';
  return { os: `${type()} ${release()} (${arch()})`, cpu: `${model} × ${cores.length}` };
}
