/**
 * `python:PATH.py:FUNCTION` — a PyTorch or NumPy quantizer audited without writing a server:
 * quant-audit starts its own adapter (python/quant_audit_adapter.py, standard library only)
 * under a Python interpreter, and the adapter imports the user's module and serves it over
 * the exec protocol (binary tensor frames). docs/python.md is the user's side of it.
 *
 * This file picks the interpreter (trying the candidates in order when one cannot import a
 * module the user's code needs), turns load failures into usage errors that quote the Python
 * traceback, and builds an RpcTarget (src/targets/exec/) from the adapter's `describe`.
 */
import { fileURLToPath } from 'node:url';
import { TargetError, UsageError } from '../../errors.js';
import type { Capability, Target, TargetOptions } from '../types.js';
import { RpcTarget, startRpc, type ExecTuning } from '../exec/index.js';
import { RpcReplyError, type ExecRpc } from '../exec/rpc.js';
import { interpreterCandidates, type Interpreter } from './interpreter.js';
import { parsePythonSpec, type PythonSpec } from './spec.js';

/** The adapter shipped in the npm package (dist/src/targets/python → ../../../../python). */
const ADAPTER_PATH = fileURLToPath(new URL('../../../../python/quant_audit_adapter.py', import.meta.url));

const API_VALUES = ['auto', 'torch', 'numpy'] as const;
const CAPABILITIES: readonly Capability[] = ['forward', 'gradient', 'update'];
/** The adapter's code for "the user's module did not load" (python/quant_audit_adapter.py). */
const LOAD_ERROR = -32001;

/** What the adapter says about itself and its interpreter in `describe`. */
interface AdapterDescription {
  formats: string[] | null;
  capabilities: Capability[];
  tensors: 'binary' | 'base64';
  python: { executable: string; version: string; api: string; kind: string; torch?: string; numpy?: string };
}

/** One interpreter that was tried and could not load the module, for the report and for errors. */
interface Rejected {
  interpreter: Interpreter;
  reason: string;
  missingModule?: string;
}

export async function openPythonTarget(arg: string, opts: TargetOptions, tuning: ExecTuning = {}): Promise<Target> {
  const spec = parsePythonSpec(arg);
  const api = opts.pythonApi ?? 'auto';
  if (!API_VALUES.includes(api)) throw new UsageError(`--python-api must be one of ${API_VALUES.join(', ')}, got '${api}'.`);
  const candidates = interpreterCandidates(opts.python);
  if (candidates.length === 0) {
    throw new UsageError(`python target '${arg}': no python3 or python on PATH. Install Python 3, or name an interpreter with --python PATH (or QUANT_AUDIT_PYTHON).`);
  }
  const rejected: Rejected[] = [];
  for (const [i, interpreter] of candidates.entries()) {
    const last = i === candidates.length - 1;
    const argv = [interpreter.command, ADAPTER_PATH, '--target', spec.adapterTarget, '--api', api];
    if (opts.formats && opts.formats.length > 0) argv.push('--formats', opts.formats.join(','));
    const command = `${interpreter.command} ${ADAPTER_PATH} --target ${spec.adapterTarget}`;
    const rpc = startRpc(argv, command, opts, tuning);
    let raw: unknown;
    try {
      raw = await rpc.call('describe', '', undefined);
    } catch (e) {
      await rpc.close();
      const failure = describeFailure(e, interpreter, spec, opts);
      // Another interpreter may have what this one lacks; anything else would fail the same way there.
      if (failure.retry && !last && interpreter.source.endsWith('on PATH')) {
        rejected.push({ interpreter, reason: failure.message, missingModule: failure.missingModule });
        opts.log?.(`python: ${interpreter.command} cannot import ${failure.missingModule ?? 'what the module needs'}; trying the next interpreter on PATH.`);
        continue;
      }
      throw new UsageError(withRejected(failure.message, rejected));
    }
    return buildTarget(spec, interpreter, parseAdapterDescription(raw, rpc), rpc, rejected, opts, tuning);
  }
  throw new UsageError(withRejected(`python target '${arg}' could not be loaded`, rejected)); // unreachable: the last candidate throws
}

function describeFailure(e: unknown, interpreter: Interpreter, spec: PythonSpec, opts: TargetOptions): { message: string; retry: boolean; missingModule?: string } {
  const who = `${interpreter.command} (${interpreter.source})`;
  if (e instanceof RpcReplyError && e.code === LOAD_ERROR) {
    const data = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as { traceback?: unknown; missingModule?: unknown };
    const missing = typeof data.missingModule === 'string' ? data.missingModule : undefined;
    const trace = typeof data.traceback === 'string' && data.traceback !== '' ? ` — traceback: ${data.traceback}` : '';
    const hint = missing
      ? ` Install ${missing} for that interpreter${missing === 'torch' ? ' (Debian: apt-get install python3-torch, for /usr/bin/python3)' : ''}, or choose one that has it with --python PATH.`
      : ' Fix the module (docs/python.md lists what the adapter expects).';
    return { message: `python target '${spec.raw}' could not be loaded by ${who}: ${String(e.rpcMessage)}${trace}.${hint}`, retry: missing !== undefined, missingModule: missing };
  }
  const why = e instanceof TargetError ? e.message.replace(/^describe: /, '') : (e as Error).message;
  if (/could not be started/.test(why)) {
    return { message: `python target '${spec.raw}': the interpreter ${who} ${why.replace(/^the server /, '').replace(/\.$/, '')}. Pass an interpreter that exists with --python PATH.`, retry: true };
  }
  if (/no reply within/.test(why)) {
    const limit = Math.max(opts.timeoutMs ?? 0, 0);
    return {
      message:
        `python target '${spec.raw}': loading ${spec.module} under ${who} did not finish (${why}). Something at import time hangs or waits ` +
        `(a download, input(), a lock); make importing the module quick, or raise --timeout-ms${limit ? ` (now ${limit} ms)` : ''}.`,
      retry: false,
    };
  }
  return { message: `python target '${spec.raw}' did not start under ${who}: ${why}`, retry: false };
}

function withRejected(message: string, rejected: readonly Rejected[]): string {
  if (rejected.length === 0) return message;
  return `${message} Also tried: ${rejected.map((r) => `${r.interpreter.command} (${r.missingModule ? `no module '${r.missingModule}'` : r.reason})`).join('; ')}.`;
}

function parseAdapterDescription(result: unknown, rpc: ExecRpc): AdapterDescription {
  const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
  const python = (typeof r.python === 'object' && r.python !== null ? r.python : {}) as AdapterDescription['python'];
  const caps = Array.isArray(r.capabilities) ? (r.capabilities.filter((c) => (CAPABILITIES as readonly unknown[]).includes(c)) as Capability[]) : [];
  const formats = Array.isArray(r.formats) && r.formats.every((f) => typeof f === 'string') ? (r.formats as string[]) : null;
  if (!caps.includes('forward') || typeof python.version !== 'string') {
    void rpc.close();
    throw new UsageError(`the quant-audit Python adapter answered describe with ${JSON.stringify(result).slice(0, 200)}; reinstall quant-audit (its python/ folder may be from another version).`);
  }
  return { formats, capabilities: caps, tensors: r.tensors === 'binary' ? 'binary' : 'base64', python };
}

function buildTarget(spec: PythonSpec, interpreter: Interpreter, d: AdapterDescription, rpc: ExecRpc, rejected: readonly Rejected[], opts: TargetOptions, tuning: ExecTuning): Target {
  const formats = d.formats ?? (opts.formats && opts.formats.length > 0 ? [...opts.formats] : undefined);
  if (formats === undefined) {
    void rpc.close();
    throw new UsageError(
      `python target '${spec.raw}' declares no formats: add FORMATS = ['int8', …] (or a formats() function) to ${spec.module}, ` +
        `or name them with --format. Format names are quant-audit's (quant-audit formats).`,
    );
  }
  const unknown = formats.filter((f) => !opts.registry.has(f));
  if (unknown.length > 0) opts.log?.(`python: ${spec.module} names formats quant-audit does not know: ${unknown.join(', ')}; they are not audited (quant-audit formats lists the known names).`);
  const p = d.python;
  const info: Record<string, string> = {
    module: spec.module,
    function: spec.function,
    kind: p.kind === 'factory' ? 'factory (called for every request)' : p.kind === 'module' ? 'nn.Module (deep-copied for every request)' : 'fake_quant(x, fmt)',
    api: p.api,
    interpreter: `${p.executable} (Python ${p.version})`,
  };
  if (rejected.length > 0) {
    info['interpreter choice'] =
      rejected.map((r) => `${r.interpreter.command} cannot import ${r.missingModule ?? 'the module'}`).join('; ') + `; used ${interpreter.command}, the next ${interpreter.source}`;
  } else if (interpreter.source !== '--python') {
    info['interpreter choice'] = `${interpreter.command} (${interpreter.source})`;
  }
  if (!d.capabilities.includes('gradient')) info.gradient = 'none: a NumPy function needs fake_quant_grad(x, dy, fmt) in the module';
  if (!d.capabilities.includes('update')) info.update = 'none: define update(w, delta, steps, fmt) or train_step(param, grad, fmt) for the lost-updates experiment';
  const versions: Record<string, string> = { python: `${p.version} (${p.executable})` };
  if (p.torch) versions.torch = p.torch;
  if (p.numpy) versions.numpy = p.numpy;
  return new RpcTarget({
    kind: 'python',
    spec: `python:${spec.raw}`,
    info,
    description: { formats, capabilities: d.capabilities, tensors: d.tensors },
    rpc,
    maxTensorElements: opts.maxTensorElements,
    binary: d.tensors === 'binary' && tuning.tensors !== 'base64',
    versions,
    // Workers (learnability lanes) start the same interpreter without trying the others again.
    reopenWith: { python: p.executable, pythonApi: p.api === 'numpy' ? 'numpy' : 'torch' },
    log: opts.log,
  });
}
