/**
 * `--float-model ORIGINAL.onnx`: the float model the quantized one was made from, beside it. Weights are paired by
 * initializer name (the quantizers' suffixes `_quantized`, `_Q4`, `_DQ_Q4`, … removed), else by the consuming op's
 * position among ops of its kind; both models run on the same inputs (seeded or `--input`) and every tensor they
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
import { constantTensor, declaredDims, elemType, indexGraph, type GraphIndex } from '../graph.js';
import { fileFeeds, seededFeeds, type Feeds } from '../inputs.js';
import { fmt } from '../lint.js';
import { loadOnnxModel, type LoadedModel } from '../load.js';
import { DT, tensorDims, tensorValues, type NodeProto } from '../proto.js';
import { exposeTensors } from '../rewrite.js';
import { createSession, type Ep } from '../session.js';
import type { QdqSite } from '../sites.js';
import type { WeightSite } from './weights.js';

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

interface FloatWeight {
  tensor: string;
  dims: number[];
}

/** The op family and input position a weight has in the float model. */
function floatRole(q: GraphIndex, s: WeightSite): { opTypes: readonly string[]; input: number } | undefined {
  if (s.form !== 'dq-weight') return s.float;
  const out = s.node.output?.[0] ?? '';
  const c = (q.consumers.get(out) ?? [])[0];
  if (!c) return undefined;
  return { opTypes: [c.opType ?? ''], input: (c.input ?? []).indexOf(out) };
}

/** Each float op's constant weight at `input`, in graph order, for ops of the family. */
function floatWeightsOf(f: GraphIndex, opTypes: readonly string[], input: number): FloatWeight[] {
  const out: FloatWeight[] = [];
  for (const n of f.nodes) {
    if (!opTypes.includes(n.opType ?? '')) continue;
    const name = n.input?.[input];
    const t = name ? constantTensor(f, name) : undefined;
    if (t && (t.dataType === DT.FLOAT || t.dataType === DT.FLOAT16 || t.dataType === DT.DOUBLE || t.dataType === DT.BFLOAT16)) out.push({ tensor: name!, dims: tensorDims(t) });
  }
  return out;
}

/** The float weight's values in the site's storage order (a 2-D transpose when the site stores W^T), or undefined. */
function inSiteOrder(f: GraphIndex, w: FloatWeight, dims: readonly number[]): Float32Array | undefined {
  const n = dims.reduce((a, b) => a * b, 1);
  if (w.dims.reduce((a, b) => a * b, 1) !== n) return undefined;
  const v = Float32Array.from(tensorValues(constantTensor(f, w.tensor)!));
  const same = w.dims.length === dims.length && w.dims.every((d, i) => d === dims[i]);
  if (same || dims.length !== 2 || w.dims.length !== 2 || w.dims[0] !== dims[1] || w.dims[1] !== dims[0]) return v;
  const [rows, cols] = dims as [number, number];
  const t = new Float32Array(n);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[r * cols + c] = v[c * rows + r]!;
  return t;
}

/** Stored weights paired with the float original's weights: by name, else by position among ops of the same kind. */
export function pairWeights(q: GraphIndex, sites: readonly WeightSite[], f: FloatModel): Map<string, { tensor: string; how: string; values: Float32Array }> {
  const out = new Map<string, { tensor: string; how: string; values: Float32Array }>();
  const used = new Set<string>();
  const byFamily = new Map<string, WeightSite[]>();
  for (const s of sites) {
    const base = s.codes.replace(SUFFIXES, '');
    const t = constantTensor(f.index, base) ?? constantTensor(f.index, s.codes);
    const tensor = constantTensor(f.index, base) ? base : s.codes;
    if (t && (t.dataType === DT.FLOAT || t.dataType === DT.FLOAT16 || t.dataType === DT.DOUBLE)) {
      const values = inSiteOrder(f.index, { tensor, dims: tensorDims(t) }, s.dims);
      if (values) {
        out.set(s.name, { tensor, how: 'name', values });
        used.add(tensor);
        continue;
      }
    }
    const role = floatRole(q, s);
    if (!role) continue;
    const key = `${role.opTypes.join('|')}#${role.input}`;
    if (!byFamily.has(key)) byFamily.set(key, []);
    byFamily.get(key)!.push(s);
  }
  for (const [key, list] of byFamily) {
    const [ops, input] = key.split('#') as [string, string];
    const candidates = floatWeightsOf(f.index, ops.split('|'), Number(input)).filter((w) => !used.has(w.tensor));
    list.sort((a, b) => a.order - b.order).forEach((s, k) => {
      const w = candidates[k];
      const values = w ? inSiteOrder(f.index, w, s.dims) : undefined;
      if (w && values) out.set(s.name, { tensor: w.tensor, how: `position (${k + 1}. ${ops.split('|')[0]} input ${input})`, values });
    });
  }
  return out;
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
}

/** The same run settings as the QDQ audit's (session, seed, inputs, limits). */
export type FloatCompareOptions = AuditOptions;

function db(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(2));
}

/** Per-weight, per-tensor and per-output SQNR of the quantized model against its float original. */
export async function compareWithFloat(
  loaded: LoadedModel, q: GraphIndex, qdqSites: readonly QdqSite[], weightSites: readonly WeightSite[], f: FloatModel,
  storedSqnr: Map<string, { sqnrDb: number | null; refSqnrDb: number | null; tensor: string; how: string }>, opts: FloatCompareOptions,
): Promise<ProbeResult[]> {
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
  for (const s of qdqSites) {
    if (s.kind === 'qdq' && s.inputKind === 'weight' && s.output && constantTensor(f.index, s.input)) {
      pairs.push({ q: s.output, f: s.input, node: s.quantize, order: s.order, kind: 'qdq-weight' });
    }
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
    const fv = p.kind === 'qdq-weight' ? Float32Array.from(tensorValues(constantTensor(f.index, p.f)!)) : fValues.get(p.f) ? Float32Array.from(fValues.get(p.f)!.data) : undefined;
    const sq = a && fv && a.length === fv.length ? sqnrDb(fv, a) : null;
    const nonFinite = a ? a.some((v) => !Number.isFinite(v)) : false;
    return { ...p, sqnr: sq, nonFinite, nodeName: p.node ? q.nodeName.get(p.node) ?? '' : '' };
  });

  // Per weight: stored forms (measured in audit.ts) and QDQ weights (DQ output vs the float weight).
  const weightRows: { site: string; form: string; tensor: string; how: string; sqnr: number | null; ref: number | null; order: number }[] = [];
  for (const s of weightSites) {
    const m = storedSqnr.get(s.name);
    weightRows.push({ site: s.name, form: s.form, tensor: m?.tensor ?? UNPAIRED, how: m?.how ?? '', sqnr: m?.sqnrDb ?? null, ref: m?.refSqnrDb ?? null, order: s.order });
  }
  for (const m of measured.filter((x) => x.kind === 'qdq-weight')) {
    weightRows.push({ site: m.nodeName, form: 'qdq', tensor: m.f, how: 'name', sqnr: m.sqnr, ref: null, order: m.order });
  }
  weightRows.sort((a, b) => a.order - b.order);
  const scored = weightRows.filter((w) => w.sqnr !== null && !Number.isNaN(w.sqnr));
  const qdqWeights = qdqSites.filter((x) => x.kind === 'qdq' && x.inputKind === 'weight').length;
  if (weightRows.every((w) => w.tensor === UNPAIRED) && weightSites.length + qdqWeights > 0) {
    throw new UsageError(
      `onnx: --float-model '${f.path}': none of the quantized model's ${weightSites.length + qdqWeights} weights pairs with a float weight of '${f.path}' ` +
        `(by initializer name, else by the consuming op's position and the weight's size). Give the float model the quantized one was made from.`,
    );
  }
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
