/**
 * `--float-model ORIGINAL.onnx`: the float model the quantized one was made from, beside it. Weights — stored and QDQ
 * alike (pairWeights) — are paired by initializer name (the quantizers' suffixes `_quantized`, `_Q4`, `_DQ_Q4`, …
 * removed), else by the consuming op's position among ops of its kind and the weight's size; both models run on the same inputs (seeded or `--input`) and every tensor they
 * share by name — and each QOperator activation `X_quantized`, dequantized, against the float `X` — is compared:
 * per-weight SQNR, per-output SQNR, and the first op (graph order) where they part. onnxruntime's qdq_loss_debug
 * (Python) does this for QDQ models; here it is one table for every form.
 */
import { UsageError } from '../../errors.js';
import type { ProbeResult } from '../../report/types.js';
import { FLOAT_MODEL_PROBE } from '../../report/text.js';
import { sqnrDb } from '../../stats.js';
import { numberThreshold } from '../../thresholds.js';
import type { AuditOptions } from '../audit.js';
import { constantTensor, declaredDims, elemType, indexGraph, isFloatType, type GraphIndex } from '../graph.js';
import { fileFeeds, seededFeeds, type Feeds } from '../inputs.js';
import { fmt } from '../lint.js';
import { loadOnnxModel, type LoadedModel } from '../load.js';
import { DT, attrInt, tensorDims, tensorValues, type NodeProto, type TensorProto } from '../proto.js';
import { exposeTensors } from '../rewrite.js';
import { createSession, type Ep } from '../session.js';
import type { QdqSite } from '../sites.js';
import { floatOpsOf, type WeightSite } from './weights.js';

export const FLOAT_PROBE = FLOAT_MODEL_PROBE;
const UNPAIRED = '(not paired)';

export interface FloatModel {
  path: string;
  loaded: LoadedModel;
  index: GraphIndex;
}

export function openFloatModel(path: string, quantized: GraphIndex, opts: { maxTensorElements?: number; maxMemoryMB?: number }): FloatModel {
  const loaded = loadOnnxModel(path, opts);
  const index = indexGraph(loaded.model.graph!);
  const names = new Set(index.inputs.map((v) => v.name));
  const missing = quantized.inputs.filter((v) => !names.has(v.name)).map((v) => v.name);
  const extra = index.inputs.filter((v) => !quantized.inputs.some((q) => q.name === v.name)).map((v) => v.name);
  if (missing.length > 0 || extra.length > 0) {
    throw new UsageError(
      `onnx: --float-model '${path}' does not take the quantized model's inputs (quantized: ${quantized.inputs.map((v) => v.name).join(', ')}; float: ${index.inputs.map((v) => v.name).join(', ')}). ` +
        `Give the float model the quantized one was made from.`,
    );
  }
  const shape = (d: readonly (number | null)[]): string => `[${d.map((x) => x ?? '?').join(', ')}]`;
  const clash = quantized.inputs.flatMap((qv) => {
    const fv = index.inputs.find((v) => v.name === qv.name)!;
    const [a, b] = [declaredDims(qv), declaredDims(fv)];
    const differs = a.length > 0 && b.length > 0 && (a.length !== b.length || a.some((d, i) => d !== null && b[i] !== null && d !== b[i]));
    return differs ? [`${qv.name}: quantized ${shape(a)}, float ${shape(b)}`] : [];
  });
  if (clash.length > 0) {
    throw new UsageError(`onnx: --float-model '${path}' does not take the quantized model's input shapes (${clash.join('; ')}). Give the float model the quantized one was made from.`);
  }
  return { path, loaded, index };
}

/** Initializer-name suffixes quantizers add to a weight's name (onnxruntime's quantize_static/dynamic, MatMulNBitsQuantizer, QDQ weight-only). */
const SUFFIXES = /(_quantized|_DQ_Q[248]|_Q[248]|_QNbits|_zero_point|_int8|_uint8|_int4|_uint4)$/;

/** Ops of one kind for positional pairing: MatMul and Gemm are one (quantizers and optimisers turn one into the other). */
const KINDS: readonly (readonly string[])[] = [['MatMul', 'Gemm']];
/** Ops between a QDQ weight's DequantizeLinear and the op that uses it that only move its values (torch exports Linear as DQ → Transpose → MatMul). */
const LAYOUT_OPS = new Set(['Transpose', 'Reshape', 'Identity', 'Flatten', 'Squeeze', 'Unsqueeze']);

function kindOf(opTypes: readonly string[]): string[] {
  return [...new Set(opTypes.flatMap((t) => KINDS.find((k) => k.includes(t)) ?? [t]))];
}

/** A quantized weight to pair with the float original's: a stored weight site (weights.ts) or a QDQ weight (QuantizeLinear on a float constant). */
interface ToPair {
  site: string;
  /** Its name in the quantized model: the stored codes (matched with the quantizers' suffixes removed) or the QDQ weight's float tensor. */
  tensor: string;
  /** Dims in storage order; undefined when only a run tells (a QDQ weight computed in the graph). */
  dims: number[] | undefined;
  /**
   * The op of the quantized model that stands for the float op this weight belongs to, the float op types and which input;
   * `nk`: a MatMul/Gemm B stored as [N, K] (the float MatMul's [K, N] transposed). Undefined when no op reads it.
   */
  role: { reader: NodeProto; opTypes: readonly string[]; input: number; nk: boolean } | undefined;
}

export interface FloatPair {
  tensor: string;
  /** 'name', or `position (k. OpType input i)`. */
  how: string;
  /** The float weight in the site's storage order and dims. */
  values: Float32Array;
}

export interface WeightPairing {
  /** By site name (stored weight sites and QDQ weight sites). */
  paired: Map<string, FloatPair>;
  /** Why a site is not paired, by site name. */
  unpaired: Map<string, string>;
}

const isMatMulB = (opTypes: readonly string[], input: number): boolean => input === 1 && opTypes.some((t) => t === 'MatMul' || t === 'Gemm');

/** The op reading a DequantizeLinear output (through ops that only move values), which input, and whether the stored layout is [N, K]. */
function readerOf(q: GraphIndex, dqOutput: string): ToPair['role'] {
  let t = dqOutput;
  let transposes = 0;
  for (let hop = 0; hop < 4; hop++) {
    const c = (q.consumers.get(t) ?? [])[0];
    if (!c) return undefined;
    const op = c.opType ?? '';
    if (LAYOUT_OPS.has(op) && c.input?.[0] === t && c.output?.[0]) {
      if (op === 'Transpose') transposes++;
      t = c.output[0];
      continue;
    }
    const input = (c.input ?? []).indexOf(t);
    const readsNK = op === 'Gemm' && input === 1 && attrInt(c, 'transB', 0) === 1;
    return { reader: c, opTypes: [op], input, nk: readsNK !== (transposes % 2 === 1) };
  }
  return undefined;
}

function storedToPair(q: GraphIndex, s: WeightSite): ToPair {
  if (s.form === 'dq-weight') return { site: s.name, tensor: s.codes, dims: s.dims, role: readerOf(q, s.node.output?.[0] ?? '') };
  return { site: s.name, tensor: s.codes, dims: s.dims, role: { reader: s.node, opTypes: s.float.opTypes, input: s.float.input, nk: s.float.transposed } };
}

function qdqToPair(q: GraphIndex, s: QdqSite): ToPair {
  const t = constantTensor(q, s.input);
  return { site: s.name, tensor: s.input, dims: t ? tensorDims(t) : undefined, role: s.output ? readerOf(q, s.output) : undefined };
}

/** QDQ weight sites: a QuantizeLinear on a float constant. */
export function qdqWeightSites(sites: readonly QdqSite[]): QdqSite[] {
  return sites.filter((s) => s.kind === 'qdq' && s.inputKind === 'weight');
}

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
const dimsText = (d: readonly number[]): string => `[${d.join(', ')}]`;

/**
 * The float weight's values in the site's storage order, or undefined when the sizes differ. A 2-D weight whose dims
 * are the site's swapped is transposed; a square one when the layouts say so (`nk` of the site and of the float op).
 */
function inSiteOrder(t: TensorProto, dims: readonly number[], transposeSquare: boolean): Float32Array | undefined {
  const fd = tensorDims(t);
  if (count(fd) !== count(dims)) return undefined;
  const v = Float32Array.from(tensorValues(t));
  if (dims.length !== 2 || fd.length !== 2 || fd[0] !== dims[1] || fd[1] !== dims[0]) return v;
  if (dims[0] === dims[1] && !transposeSquare) return v;
  const [rows, cols] = dims as [number, number];
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = v[c * rows + r]!;
  return out;
}

/** Whether the float model's op reading `tensor` as a MatMul/Gemm B holds it as [N, K] (Gemm transB); undefined for other readers. */
function floatNK(f: GraphIndex, tensor: string): boolean | undefined {
  const c = (f.consumers.get(tensor) ?? []).find((n) => isMatMulB([n.opType ?? ''], (n.input ?? []).indexOf(tensor)));
  return c ? c.opType === 'Gemm' && attrInt(c, 'transB', 0) === 1 : undefined;
}

function floatConstant(f: GraphIndex, name: string | undefined): TensorProto | undefined {
  const t = name ? constantTensor(f, name) : undefined;
  return t && isFloatType(t.dataType ?? undefined) ? t : undefined;
}

/**
 * Every quantized weight — stored (QOperator, dynamic, MatMulNBits, GatherBlockQuantized, weight-only DequantizeLinear)
 * and QDQ (QuantizeLinear on a float constant) — paired with the float original's weight: by initializer name (the
 * quantizers' suffixes removed), else by position — its op is the k-th of its kind (MatMul and Gemm one kind) in the
 * quantized model, the float weight is the k-th such op's same input — when both models have as many ops of the kind and
 * the sizes agree (a transposed 2-D layout counts). A weight that does not pair gets the reason.
 */
export function pairWeights(q: GraphIndex, stored: readonly WeightSite[], qdq: readonly QdqSite[], f: FloatModel): WeightPairing {
  const all = [...stored.map((s) => storedToPair(q, s)), ...qdqWeightSites(qdq).map((s) => qdqToPair(q, s))];
  const paired = new Map<string, FloatPair>();
  const unpaired = new Map<string, string>();
  const used = new Map<string, string>();
  const squareTranspose = (w: ToPair, tensor: string): boolean => {
    const fnk = floatNK(f.index, tensor);
    return w.role !== undefined && isMatMulB(w.role.opTypes, w.role.input) && fnk !== undefined && w.role.nk !== fnk;
  };
  const rest: ToPair[] = [];
  /** Why a weight in `rest` did not pair by name. */
  const noName = new Map<string, string>();
  for (const w of all) {
    const base = w.tensor.replace(SUFFIXES, '');
    const tensor = floatConstant(f.index, base) ? base : w.tensor;
    const t = floatConstant(f.index, tensor);
    const values = t && (w.dims ? inSiteOrder(t, w.dims, squareTranspose(w, tensor)) : Float32Array.from(tensorValues(t)));
    if (values) {
      paired.set(w.site, { tensor, how: 'name', values });
      used.set(tensor, w.site);
    } else {
      rest.push(w);
      noName.set(w.site, t && w.dims ? `the float ${tensor} ${dimsText(tensorDims(t))} is not its size ${dimsText(w.dims)}` : 'no float weight of its name');
    }
  }
  const opsOf = (nodes: readonly NodeProto[], kind: readonly string[], stands: (n: NodeProto) => readonly string[]): NodeProto[] =>
    nodes.filter((n) => stands(n).some((t) => kind.includes(t)));
  for (const w of rest) {
    const why = (position: string): void => void unpaired.set(w.site, `${noName.get(w.site)}; ${position}`);
    if (!w.role || w.role.input < 0) {
      why('no op in the main graph reads it, so it has no position');
      continue;
    }
    const kind = kindOf(w.role.opTypes);
    const kindName = kind.join('/');
    const qOps = opsOf(q.nodes, kind, (n) => floatOpsOf(n.opType ?? ''));
    const fOps = opsOf(f.index.nodes, kind, (n) => [n.opType ?? '']);
    const k = qOps.indexOf(w.role.reader);
    if (k < 0 || qOps.length !== fOps.length) {
      why(`no position: ${qOps.length} ${kindName} ops here, ${fOps.length} in the float model`);
      continue;
    }
    const fop = fOps[k]!;
    const at = `${k + 1}. ${fop.opType} input ${w.role.input}`;
    const name = fop.input?.[w.role.input];
    const t = floatConstant(f.index, name);
    if (!t || !name) {
      why(`the float model's ${at} is not a float constant`);
    } else if (used.has(name)) {
      why(`the float model's ${at} (${name}) is paired with ${used.get(name)}`);
    } else if (!w.dims) {
      why(`its size is known only at run time, so the float model's ${at} (${name}) is not paired by position`);
    } else {
      const values = inSiteOrder(t, w.dims, squareTranspose(w, name));
      if (values) {
        paired.set(w.site, { tensor: name, how: `position (${at})`, values });
        used.set(name, w.site);
      } else {
        why(`the float model's ${at} (${name} ${dimsText(tensorDims(t))}) is not its size ${dimsText(w.dims)}`);
      }
    }
  }
  return { paired, unpaired };
}

/** A float model none of whose weights pairs is not the quantized model's original: exit 2 before anything runs. */
export function requirePairing(pairing: WeightPairing, f: FloatModel): void {
  const weights = pairing.paired.size + pairing.unpaired.size;
  if (weights === 0 || pairing.paired.size > 0) return;
  const why = [...pairing.unpaired].slice(0, 3).map(([site, reason]) => `${site}: ${reason}`).join('; ');
  throw new UsageError(
    `onnx: --float-model '${f.path}': none of the quantized model's ${weights} weights pairs with a float weight of '${f.path}' ` +
      `(by initializer name, else by the consuming op's position and the weight's size — ${why}${weights > 3 ? '; …' : ''}). Give the float model the quantized one was made from.`,
  );
}

async function runWith(bytes: Uint8Array, feeds: Feeds, outputFor: Map<string, string>, ep: Ep, what: string): Promise<Map<string, { data: ArrayLike<number>; dims: number[] }>> {
  const { session } = await createSession(bytes, ep, what, { optimize: false });
  try {
    let out;
    try {
      out = await session.run(feeds);
    } catch (e) {
      throw new UsageError(`onnx: running ${what} failed: ${(e as Error).message.replace(/\s+/g, ' ').trim()}. Check the inputs (--input) against both models' declared inputs.`);
    }
    const values = new Map<string, { data: ArrayLike<number>; dims: number[] }>();
    for (const [tensor, output] of outputFor) {
      const t = out[output];
      if (t) values.set(tensor, { data: t.data as ArrayLike<number>, dims: [...t.dims] });
    }
    return values;
  } finally {
    await session.release();
  }
}

/** QLinear* ops: (output codes, y_scale input, y_zero_point input). */
const QLINEAR_OUTPUT: Record<string, [number, number]> = {
  QLinearConv: [6, 7], QLinearMatMul: [6, 7], QGemm: [7, 8], QLinearAdd: [6, 7], QLinearMul: [6, 7], QLinearSigmoid: [3, 4],
  QLinearLeakyRelu: [3, 4], QLinearAveragePool: [3, 4], QLinearGlobalAveragePool: [3, 4], QLinearSoftmax: [3, 4], QLinearReduceMean: [3, 4],
  QLinearConcat: [0, 1], QuantizeLinear: [1, 2],
};

interface Pair {
  /** Tensor in the quantized model (float, or QOperator codes to dequantize) and in the float model. */
  q: string;
  f: string;
  node: NodeProto | undefined;
  order: number;
  dequant?: { scale: number; zeroPoint: number };
  kind: 'activation' | 'output' | 'qdq-weight';
  /** qdq-weight: the site and its float weight (pairWeights), in the DequantizeLinear output's order. */
  weight?: { site: string; how: string; values: Float32Array };
}

/** The same run settings as the QDQ audit's (session, seed, inputs, limits). */
export type FloatCompareOptions = AuditOptions;

function db(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(2));
}

/** Per-weight, per-tensor and per-output SQNR of the quantized model against its float original. */
export async function compareWithFloat(
  loaded: LoadedModel, q: GraphIndex, qdqSites: readonly QdqSite[], weightSites: readonly WeightSite[], f: FloatModel, pairing: WeightPairing,
  storedSqnr: Map<string, { sqnrDb: number | null; refSqnrDb: number | null; tensor: string; how: string }>, opts: FloatCompareOptions,
): Promise<ProbeResult[]> {
  const qdqWeights = qdqWeightSites(qdqSites);
  const feeds = opts.inputs ? fileFeeds(q, opts.inputs, opts.maxTensorElements) : seededFeeds(q, opts.seed, opts.maxTensorElements, opts.maxMemoryMB);
  const floatProduced = new Set<string>();
  for (const n of f.index.nodes) for (const o of n.output ?? []) if (o) floatProduced.add(o);
  const pairs: Pair[] = [];
  const seen = new Set<string>();
  q.nodes.forEach((n, order) => {
    const op = n.opType ?? '';
    for (const o of n.output ?? []) {
      if (!o || seen.has(o)) continue;
      if (floatProduced.has(o) && elemType(q, o) === DT.FLOAT && !q.constant.has(o)) {
        pairs.push({ q: o, f: o, node: n, order, kind: 'activation' });
        seen.add(o);
      }
    }
    const io = QLINEAR_OUTPUT[op];
    const codes = io ? n.output?.[0] : undefined;
    if (io && codes && op !== 'QuantizeLinear') {
      const base = codes.replace(/_quantized$/, '');
      const s = constantTensor(q, n.input?.[io[0]] ?? '');
      const z = n.input?.[io[1]] ? constantTensor(q, n.input[io[1]]!) : undefined;
      if (base !== codes && floatProduced.has(base) && s) {
        pairs.push({ q: codes, f: base, node: n, order, kind: 'activation', dequant: { scale: tensorValues(s)[0]!, zeroPoint: z ? tensorValues(z)[0]! : 0 } });
      }
    }
  });
  for (const s of qdqWeights) {
    const w = pairing.paired.get(s.name);
    if (w && s.output) pairs.push({ q: s.output, f: w.tensor, node: s.quantize, order: s.order, kind: 'qdq-weight', weight: { site: s.name, how: w.how, values: w.values } });
  }
  const qOutputs = [...(q.graph.output ?? [])].map((v) => v.name ?? '');
  const fOutputs = [...(f.index.graph.output ?? [])].map((v) => v.name ?? '');
  qOutputs.forEach((o, i) => {
    const fo = fOutputs.includes(o) ? o : fOutputs[i];
    if (fo) pairs.push({ q: o, f: fo, node: q.producer.get(o), order: q.nodes.length + i, kind: 'output' });
  });
  opts.log(`onnx: comparing ${pairs.length} tensors with the float model ${f.path}`);
  const qExposed = exposeTensors(loaded.model, q, pairs.map((p) => p.q), q.nodes, [], loaded.bytes, loaded.room);
  const qValues = await runWith(qExposed.bytes, feeds, qExposed.outputFor, opts.ep, `'${loaded.path}' with tensors exposed for --float-model`);
  const fNames = pairs.filter((p) => p.kind !== 'qdq-weight').map((p) => p.f);
  const fExposed = exposeTensors(f.loaded.model, f.index, fNames, f.index.nodes, [], f.loaded.bytes, f.loaded.room);
  const fValues = await runWith(fExposed.bytes, feeds, fExposed.outputFor, opts.ep, `the float model '${f.path}'`);

  const part = numberThreshold(opts.thresholds, 'onnx.partSqnrDb');
  const measured = pairs.map((p) => {
    const qv = qValues.get(p.q);
    let a: Float32Array | undefined = qv ? Float32Array.from(qv.data) : undefined;
    if (a && p.dequant) a = a.map((c) => (c - p.dequant!.zeroPoint) * p.dequant!.scale);
    const fv = p.weight ? p.weight.values : fValues.get(p.f) ? Float32Array.from(fValues.get(p.f)!.data) : undefined;
    const sq = a && fv && a.length === fv.length ? sqnrDb(fv, a) : null;
    const nonFinite = a ? a.some((v) => !Number.isFinite(v)) : false;
    return { ...p, sqnr: sq, nonFinite, nodeName: p.node ? q.nodeName.get(p.node) ?? '' : '' };
  });

  // Per weight: stored forms (measured in audit.ts) and QDQ weights (DQ output vs the float weight).
  const weightRows: { site: string; form: string; tensor: string; how: string; sqnr: number | null; ref: number | null; order: number }[] = [];
  // Every weight is a row, paired or not (a weight that does not pair says why in 'paired by').
  const row = (site: string, form: string, order: number, sqnr: number | null, ref: number | null): (typeof weightRows)[number] => {
    const w = pairing.paired.get(site);
    return { site, form, tensor: w?.tensor ?? UNPAIRED, how: w?.how ?? `not paired: ${pairing.unpaired.get(site) ?? 'no float weight'}`, sqnr: w ? sqnr : null, ref: w ? ref : null, order };
  };
  for (const s of weightSites) {
    const m = storedSqnr.get(s.name);
    weightRows.push(row(s.name, s.form, s.order, m?.sqnrDb ?? null, m?.refSqnrDb ?? null));
  }
  for (const s of qdqWeights) {
    const m = measured.find((x) => x.weight?.site === s.name);
    weightRows.push(row(s.name, 'qdq', s.order, m?.sqnr ?? null, null));
  }
  weightRows.sort((a, b) => a.order - b.order);
  const scored = weightRows.filter((w) => w.sqnr !== null && !Number.isNaN(w.sqnr));
  const worst = scored.reduce<(typeof scored)[number] | undefined>((w, x) => (!w || x.sqnr! < w.sqnr! ? x : w), undefined);
  const activations = measured.filter((m) => m.kind === 'activation').sort((a, b) => a.order - b.order);
  const parting = activations.find((m) => m.nonFinite || (m.sqnr !== null && m.sqnr < part));
  const outputs = measured.filter((m) => m.kind === 'output');
  const deficit = numberThreshold(opts.thresholds, 'onnx.maxSqnrDeficitDb');
  const belowRef = scored.filter((w) => w.ref !== null && Number.isFinite(w.ref) && w.ref - w.sqnr! > deficit);
  const brokenOutputs = outputs.filter((o) => o.nonFinite && !(fValues.get(o.f) && Array.from(fValues.get(o.f)!.data).some((v) => !Number.isFinite(v))));
  const failing = belowRef.length + brokenOutputs.length;
  const result: ProbeResult = {
    probe: FLOAT_PROBE, hypothesis: 'float', format: [...new Set(weightSites.map((s) => s.codeType.format ?? s.codeType.name))].join('+') || 'qdq', seed: opts.seed,
    verdict: failing > 0 ? 'fail' : 'pass',
    statistic: { name: `weights below the reference quantizer's SQNR by > ${deficit} dB, plus outputs non-finite where the float model's are finite`, value: failing, threshold: 0, comparator: '>' },
    evidence: {
      measurements: {
        floatModel: f.path,
        pairedWeights: scored.length,
        weights: weightRows.length,
        worstWeight: worst?.site ?? null,
        worstWeightSqnrDb: db(worst?.sqnr),
        firstPartingOp: parting ? parting.nodeName : null,
        firstPartingTensor: parting ? parting.q : null,
        firstPartingSqnrDb: parting ? db(parting.sqnr) : null,
        partSqnrDb: part,
        ...Object.fromEntries(outputs.map((o) => [`outputSqnrDb.${o.q}`, db(o.sqnr)])),
      },
      tables: [
        { title: 'per-weight SQNR against the float model (graph order)', headings: ['site', 'form', 'float weight', 'paired by', 'SQNR dB', 'reference quantizer dB'], rows: weightRows.map((w) => [w.site, w.form, w.tensor, w.how, db(w.sqnr), db(w.ref)]) },
        { title: 'per-output SQNR against the float model', headings: ['output', 'float output', 'SQNR dB', 'non-finite'], rows: outputs.map((o) => [o.q, o.f, db(o.sqnr), o.nonFinite ? 'yes' : 'no']) },
        { title: `tensors shared with the float model (graph order; they part below ${part} dB)`, headings: ['op', 'tensor', 'float tensor', 'SQNR dB'], rows: activations.slice(0, 64).map((m) => [m.nodeName, m.q, m.f, db(m.sqnr)]) },
      ],
      notes: [
        `inputs: ${opts.inputs ? `file ${opts.inputs}` : `seeded from the declared shapes (seed ${opts.seed})`}; both models run unoptimised on the same inputs`,
        ...(pairing.unpaired.size > 0 ? [`${pairing.unpaired.size} of ${weightRows.length} weights not paired with a float weight (why: the 'paired by' column)`] : []),
        ...(worst ? [`worst weight: ${worst.site} (${worst.form}, float ${worst.tensor}) at ${fmt(worst.sqnr)} dB`] : ['no weight could be paired with the float model']),
        parting ? `they part at ${parting.nodeName} (${parting.q}: ${fmt(parting.sqnr)} dB${parting.nonFinite ? ', non-finite values' : ''})` : `no shared tensor falls below ${part} dB`,
      ],
    },
  };
  if (failing > 0) {
    const why = [
      ...belowRef.map((w) => `${w.site}: ${fmt(w.sqnr)} dB against the float weight ${w.tensor}, a correct ${w.form} quantizer reaches ${fmt(w.ref)} dB`),
      ...brokenOutputs.map((o) => `output ${o.q} has non-finite values, the float model's does not`),
    ];
    result.witness = { summary: why.join('; '), repro: opts.reproCommand(FLOAT_PROBE, result.format) };
  }
  return [result];
}
