/**
 * `onnx:PATH` — an ONNX model run by onnxruntime-node (DESIGN.md, Targets). Two shapes:
 * (a) a quantizer model, one float input → one float output of the same shape, built only from
 *     quantization and elementwise ops (`--onnx-mode auto`; `quantizer` / `model` decide it
 *     outright): `forward` runs it, so every forward-only probe works on it; its formats are the
 *     ones its QDQ code types imply;
 * (b) any model with QuantizeLinear/DequantizeLinear: `audit` finds, lints and measures every
 *     site (src/onnx/audit.ts). A quantizer built from Q/DQ is both.
 * The execution provider is the one asked for (`--ep`), never a silent fallback; it is
 * recorded in `info.ep`.
 */
import { TargetError, UsageError } from '../../errors.js';
import type { ProbeResult } from '../../report/types.js';
import type { Capability, Target, TargetAuditContext, TargetOptions } from '../types.js';
import { declaredDims, elemType, indexGraph, type GraphIndex } from '../../onnx/graph.js';
import { loadOnnxModel, type LoadedModel } from '../../onnx/load.js';
import { DT, dataTypeName, onnx } from '../../onnx/proto.js';
import { createSession, ort, type Ep, type OpenSession } from '../../onnx/session.js';
import { discoverSites, type QdqSite } from '../../onnx/sites.js';
import { DEFAULT_LIMITS, elementCountOf, tensorOverLimit } from '../../limits.js';
import { auditModelForms } from '../../onnx/forms/target.js';
import { discoverWeightSites, type WeightSite } from '../../onnx/forms/weights.js';

/**
 * How a flat x of length L is laid out for a quantizer model's declared input dims:
 * the probe's own shape when it fits the declared one; else every dynamic dim is 1 except
 * the last, which takes L / (product of fixed dims); a fully fixed shape runs in chunks of
 * its size (the last chunk zero-padded). Returns the dims of one run and how many runs.
 */
export function layoutFor(declared: readonly (number | null)[], length: number, shape: readonly number[]): { dims: number[]; chunk: number } {
  if (declared.length === shape.length && declared.every((d, i) => d === null || d === shape[i])) {
    return { dims: [...shape], chunk: length };
  }
  const fixed = declared.reduce<number>((p, d) => p * (d ?? 1), 1);
  const lastDynamic = declared.lastIndexOf(null);
  if (lastDynamic >= 0 && length % fixed === 0) {
    return { dims: declared.map((d, i) => (i === lastDynamic ? length / fixed : d ?? 1)), chunk: length };
  }
  return { dims: declared.map((d) => d ?? 1), chunk: fixed };
}

class OnnxTarget implements Target {
  readonly kind = 'onnx' as const;
  readonly capabilities: ReadonlySet<Capability>;
  readonly formats: readonly string[] | undefined;
  readonly info: Record<string, string>;
  private closed = false;

  constructor(
    readonly spec: string,
    private readonly loaded: LoadedModel,
    private readonly index: GraphIndex,
    private readonly sites: QdqSite[],
    /** Stored weights of every form (QOperator, dynamic, MatMulNBits, GatherBlockQuantized, DequantizeLinear on initializers). */
    private readonly weightSites: WeightSite[],
    /** The model's own session (onnxruntime's default optimisations), for a quantizer model's `forward`. */
    private readonly plain: OpenSession | undefined,
    private readonly quantizer: { input: string; output: string; declared: (number | null)[] } | undefined,
    private readonly opts: TargetOptions & { ep: Ep },
    modeWhy: string,
  ) {
    this.capabilities = new Set<Capability>(quantizer ? ['forward'] : []);
    const implied = [...new Set([...sites, ...weightSites].map((s) => s.codeType?.format).filter((f): f is string => f !== undefined))];
    this.formats = implied.length > 0 ? implied : undefined;
    const m = loaded.model;
    this.info = {
      path: loaded.path,
      ep: opts.ep,
      opset: String(loaded.opset),
      producer: [m.producerName, m.producerVersion].filter((s) => s).join(' ') || 'unknown',
      shape: quantizer ? (sites.length > 0 ? 'quantizer (QDQ)' : 'quantizer') : sites.length > 0 ? 'QDQ model' : 'quantized model',
      readAs: modeWhy,
      qdqSites: String(sites.length),
      ...(weightSites.length > 0 ? { weightSites: String(weightSites.length), weightForms: [...new Set(weightSites.map((w) => w.form))].join(', ') } : {}),
      ...(quantizer ? { quantizerInput: `${quantizer.input} [${quantizer.declared.map((d) => d ?? '?').join(', ')}]` } : {}),
      ...(implied.length > 0 ? { impliedFormats: implied.join(', ') } : {}),
    };
  }

  async forward(format: string, x: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    void format; // the model is one quantizer: the format is whatever it implements
    if (!this.quantizer || !this.plain) {
      throw new TargetError(`${this.spec} is not a quantizer model (one float input → one float output); forward probes cannot run on it. Its QDQ sites are audited instead.`);
    }
    const limit = this.opts.maxTensorElements ?? DEFAULT_LIMITS.maxTensorElements;
    if (x.length > limit) {
      throw new UsageError(`onnx: forward of ${x.length} elements exceeds maxTensorElements (${limit}); set limits.maxTensorElements in quant-audit.yaml to raise it.`);
    }
    const { input, output, declared } = this.quantizer;
    const { dims, chunk } = layoutFor(declared, x.length, shape);
    const y = new Float32Array(x.length);
    for (let start = 0; start < x.length; start += chunk) {
      const part = new Float32Array(chunk);
      part.set(x.subarray(start, Math.min(start + chunk, x.length)));
      let out;
      try {
        out = await this.plain.session.run({ [input]: new ort.Tensor('float32', part, dims) });
      } catch (e) {
        throw new TargetError(`onnx: ${this.spec} failed on input dims [${dims.join(', ')}]: ${(e as Error).message.replace(/\s+/g, ' ').trim()}`);
      }
      const t = out[output]!;
      if (t.type !== 'float32' || t.data.length !== chunk) {
        throw new TargetError(`onnx: ${this.spec} returned ${t.type} with ${t.data.length} values for ${chunk} inputs (dims [${dims.join(', ')}]); a quantizer model must return float32 of its input's shape.`);
      }
      y.set((t.data as Float32Array).subarray(0, Math.min(chunk, x.length - start)), start);
    }
    return y;
  }

  async audit(ctx: TargetAuditContext): Promise<ProbeResult[]> {
    if (this.sites.length === 0 && this.weightSites.length === 0) {
      ctx.log(`onnx: ${this.spec} has no QuantizeLinear/DequantizeLinear and no stored quantized weights: no site audit`);
      return [];
    }
    return auditModelForms(this.loaded, this.index, this.sites, this.weightSites, {
      ep: this.opts.ep,
      seed: ctx.seed,
      thresholds: ctx.thresholds,
      inputs: this.opts.inputs,
      floatModel: this.opts.floatModel,
      maxTensorElements: this.opts.maxTensorElements,
      maxMemoryMB: this.opts.maxMemoryMB,
      reproCommand: (p, f, s) => ctx.reproCommand(p, f, s),
      log: (m) => ctx.log(m),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.plain?.session.release();
  }
}

export type OnnxMode = 'auto' | 'quantizer' | 'model';
export const ONNX_MODES: readonly OnnxMode[] = ['auto', 'quantizer', 'model'];

/**
 * Ops a quantizer model is made of: Q/DQ, casts, elementwise arithmetic and rounding, the reductions and shape ops
 * an in-graph scale or a block layout needs, and codebook lookups. A network has ops outside this list (Conv,
 * MatMul, Gemm, normalisations, attention, softmax, …), so its single output having its input's shape does not make
 * it a quantizer.
 */
const QUANTIZER_OPS = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'Cast', 'CastLike', 'Identity', 'Constant', 'ConstantOfShape',
  'Abs', 'Neg', 'Sign', 'Reciprocal', 'Sqrt', 'Pow', 'Exp', 'Log', 'Add', 'Sub', 'Mul', 'Div', 'Mod', 'Max', 'Min',
  'Clip', 'Round', 'Floor', 'Ceil', 'Relu', 'Where', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual',
  'Not', 'And', 'Or', 'IsNaN', 'IsInf', 'ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceSum', 'ReduceL2',
  'Reshape', 'Shape', 'Size', 'Flatten', 'Squeeze', 'Unsqueeze', 'Expand', 'Tile', 'Slice', 'Concat', 'Split', 'Pad',
  'Transpose', 'Gather', 'GatherElements', 'ArgMin', 'ArgMax', 'Range',
]);

/** The first node that no quantizer is made of, as `OpType name`; undefined when every node is a quantizer op. */
function nonQuantizerNode(index: GraphIndex): string | undefined {
  const n = index.nodes.find((m) => (m.domain ?? '') !== '' || !QUANTIZER_OPS.has(m.opType ?? ''));
  return n ? `${n.opType} ${index.nodeName.get(n)}` : undefined;
}

/** The quantizer shape: exactly one fed float input and one float output. */
function quantizerShape(index: GraphIndex): { input: string; output: string; declared: (number | null)[] } | undefined {
  const outs = index.graph.output ?? [];
  if (index.inputs.length !== 1 || outs.length !== 1) return undefined;
  const input = index.inputs[0]!;
  const inType = input.type?.tensorType?.elemType;
  const outType = outs[0]!.type?.tensorType?.elemType || elemType(index, outs[0]!.name ?? '');
  if (inType !== DT.FLOAT || (outType !== undefined && outType !== DT.FLOAT)) return undefined;
  // fq(x) keeps the shape of x: an output declared with other dims (an MLP's [batch, 4]) is not a quantizer.
  const outDims = outs[0]!.type?.tensorType?.shape?.dim ?? [];
  const inDims = input.type?.tensorType?.shape?.dim ?? [];
  if (outDims.length > 0 && inDims.length > 0) {
    if (outDims.length !== inDims.length) return undefined;
    const same = inDims.every((d, i) => {
      const o = outDims[i]!;
      const a = declaredDims(input)[i];
      const b = declaredDims(outs[0]!)[i];
      return a === null || b === null ? (d.dimParam || '') === (o.dimParam || '') || !d.dimParam || !o.dimParam : a === b;
    });
    if (!same) return undefined;
  }
  return { input: input.name!, output: outs[0]!.name!, declared: declaredDims(input) };
}

export async function openOnnxTarget(path: string, opts: TargetOptions): Promise<Target> {
  const ep: Ep = opts.ep ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new UsageError(`onnx: unknown execution provider '${String(ep)}'; use --ep cpu or --ep cuda.`);
  const loaded = loadOnnxModel(path, { maxTensorElements: opts.maxTensorElements, maxMemoryMB: opts.maxMemoryMB });
  const index = indexGraph(loaded.model.graph!);
  const weightSites = discoverWeightSites(index);
  // A DequantizeLinear on an initializer is a stored weight: audited with the other stored forms.
  const storedDq = new Set(weightSites.filter((w) => w.form === 'dq-weight').map((w) => w.node));
  const sites = discoverSites(index).filter((s) => !(s.kind === 'dq-only' && s.dequantize.every((d) => storedDq.has(d))));
  const mode: OnnxMode = opts.onnxMode ?? 'auto';
  if (!ONNX_MODES.includes(mode)) throw new UsageError(`onnx: unknown --onnx-mode '${String(mode)}'; use auto, quantizer or model.`);
  const shape = mode === 'model' ? undefined : quantizerShape(index);
  const foreign = shape ? nonQuantizerNode(index) : undefined;
  if (mode === 'quantizer' && !shape) {
    const ins = index.inputs.map((v) => `${v.name} [${declaredDims(v).map((d) => d ?? '?').join(', ')}]`).join(', ');
    const outs = (index.graph.output ?? []).map((v) => `${v.name} [${declaredDims(v).map((d) => d ?? '?').join(', ')}]`).join(', ');
    throw new UsageError(
      `onnx: --onnx-mode quantizer: '${path}' is not one float32 input → one float32 output of the same shape (inputs: ${ins || 'none'}; outputs: ${outs || 'none'}). ` +
        'Export the quantizer alone (y = fq(x)), or audit the model with --onnx-mode model.',
    );
  }
  // auto: the shape and a graph made of quantizer ops only; quantizer: the shape is enough (the user says so).
  const quantizer = shape && (mode === 'quantizer' || foreign === undefined) ? shape : undefined;
  const modeWhy =
    mode === 'model' ? 'model (--onnx-mode model)'
      : mode === 'quantizer' ? 'quantizer (--onnx-mode quantizer)'
        : quantizer ? 'quantizer (one float input → output of its shape, quantization and elementwise ops only)'
          : shape ? `model (one float input → output of its shape, but ${foreign} is no quantizer op; --onnx-mode quantizer to run it as one)`
            : 'model';
  if (quantizer) {
    // A fully fixed declared shape is the chunk every forward allocates: refuse absurd ones up front.
    const fixed = quantizer.declared.map((d) => d ?? 1);
    const over = tensorOverLimit(elementCountOf(fixed), `the quantizer input '${quantizer.input}' (declared dims [${quantizer.declared.map((d) => d ?? '?').join(', ')}])`, opts.maxTensorElements);
    if (over) throw new UsageError(`onnx: ${over} in '${path}'. Re-export it with dynamic dims or a smaller fixed shape.`);
  }
  if (!quantizer && sites.length === 0 && weightSites.length === 0) {
    const ins = index.inputs.map((v) => `${v.name}: ${dataTypeName(v.type?.tensorType?.elemType ?? undefined)}`).join(', ');
    throw new UsageError(
      `onnx: '${path}' is neither a quantizer model (one float input → one float output; it has inputs ${ins || 'none'} and ${(index.graph.output ?? []).length} outputs) ` +
        `nor a quantized model (QuantizeLinear/DequantizeLinear nodes, or quantized weights read by QLinear*, MatMulInteger/ConvInteger, MatMulNBits or GatherBlockQuantized). ` +
        `Export the fake-quant as QDQ (e.g. torch.fake_quantize_* at opset ≥ 13), or quantize the model with onnxruntime's quantize_static / quantize_dynamic / MatMulNBitsQuantizer.`,
    );
  }
  // onnxruntime checks the model now, so a model it cannot load fails before any probe runs. Only a quantizer model
  // keeps this session (forward runs it); a QDQ model's is checked without graph optimisations (≈ 3× faster to
  // create on large models) and released: the audit opens its own.
  const bytes = loaded.bytes ?? onnx.ModelProto.encode(loaded.model).finish();
  const opened = await createSession(bytes, ep, `'${path}'`, { optimize: quantizer !== undefined });
  opts.log?.(`onnx: opened ${path} (opset ${loaded.opset}, ${index.nodes.length} nodes, ${sites.length} QDQ sites, ${weightSites.length} stored weights) on ${opened.ep}; read as ${modeWhy}`);
  let plain: OpenSession | undefined = opened;
  if (!quantizer) {
    await opened.session.release();
    plain = undefined;
  }
  return new OnnxTarget(`onnx:${path}`, loaded, index, sites, weightSites, plain, quantizer, { ...opts, ep }, modeWhy);
}
