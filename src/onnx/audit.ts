/**
 * The QDQ site audit of one model: one onnxruntime run of a graph holding the model with every
 * site's tensors exposed as extra outputs (input, scale, zero-point, codes, dequantized output,
 * leaks) and, beside it, its float twin (every Q/DQ pair bypassed) exposed at the same points —
 * then per-site statistics, lint and verdicts. (Models with subgraphs run the twin separately.) Scales and zero-points computed in the graph
 * (Constant → Cast, Abs → ReduceMax → Div → Clip) come out of onnxruntime, not out of a
 * re-implementation of those ops. Order-only readers of codes (ArgMax…) run a second time on the
 * dequantized codes in the same session. When a site downstream of a broken one fails too, a second
 * run repairs the upstream site and judges the downstream one again (causal.ts).
 */
import { UsageError } from '../errors.js';
import type { ProbeResult } from '../report/types.js';
import { integerFraction, rms, sqnrDb } from '../stats.js';
import type { Thresholds } from '../thresholds.js';
import { constantTensor, elemType, type GraphIndex } from './graph.js';
import { fileFeeds, seededFeeds, DEFAULT_DYNAMIC_DIM, type Feeds } from './inputs.js';
import { applyRepairs, candidates, jointRepairs, singleRepairs, upstreamSites, type Repair, type RepairOutcome } from './causal.js';
import { judgeModel } from './headline.js';
import { judgeSite } from '../../probes/judge-site.js';
import type { LeakStats, OrderCheck, SiteContext, SiteFindings } from '../../probes/site.js';
import { fmt, lintSite } from './lint.js';
import type { LoadedModel } from './load.js';
import { DT, type NodeProto, tensorDims, tensorValues } from './proto.js';
import { EXPOSE_PREFIX, exposeTensors, floatTwinNodes, hasSubgraphs, twinCopy } from './rewrite.js';
import { createSession, type Ep } from './session.js';
import { channelZeroing, scaleGroupName, siteStats } from './site-stats.js';
import type { OrderReader, QdqSite } from './sites.js';

export interface AuditOptions {
  ep: Ep;
  seed: number;
  thresholds: Thresholds;
  /** `--input FILE.json|FILE.npy`; seeded inputs from the declared shapes when absent. */
  inputs?: string;
  maxTensorElements?: number;
  maxMemoryMB?: number;
  reproCommand(probe: string, format: string, site?: string): string;
  log(message: string): void;
}

export interface AuditOutcome {
  results: ProbeResult[];
  findings: SiteFindings<QdqSite>[];
  /** Session creation, the run(s), statistics and judging. */
  timings: { sessionMs: number; runMs: number; statsMs: number };
  /** The audit session's values of the model's own outputs, and the inputs it ran on (for the runtime cross-check). */
  outputs: Map<string, Float32Array>;
  feeds: Feeds;
}

/** Integer codes come out as they are (exact in float32 too); int32 codes read from the file exactly; everything else as float32. */
type Data = Float32Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

interface Value {
  data: Data;
  dims: number[];
}

function f32(v: Value | undefined): Float32Array | undefined {
  if (!v) return undefined;
  return v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
}

export function siteFormat(site: QdqSite): string {
  return site.codeType?.format ?? site.codeType?.name ?? 'unknown';
}

async function runExposed(bytes: Uint8Array, feeds: Feeds, outputFor: Map<string, string>, ep: Ep, what: string, timing: { session: number; run: number }): Promise<Map<string, Value>> {
  const t0 = performance.now();
  const { session } = await createSession(bytes, ep, what, { optimize: false });
  const t1 = performance.now();
  try {
    let out;
    try {
      out = await session.run(feeds);
    } catch (e) {
      throw new UsageError(`onnx: running ${what} failed: ${(e as Error).message.replace(/\s+/g, ' ').trim()}. Check the inputs (--input) against the model's declared inputs.`);
    }
    const values = new Map<string, Value>();
    for (const [tensor, output] of outputFor) {
      const t = out[output];
      if (!t) continue;
      const d = t.data;
      const data = d instanceof Float32Array || d instanceof Int8Array || d instanceof Uint8Array || d instanceof Int16Array || d instanceof Uint16Array ? d : Float32Array.from(d as ArrayLike<number>);
      values.set(tensor, { data, dims: [...t.dims] });
    }
    timing.session += t1 - t0;
    timing.run += performance.now() - t1;
    return values;
  } finally {
    await session.release();
  }
}

function asF64(v: Value | undefined): Float64Array | undefined {
  return v ? Float64Array.from(v.data) : undefined;
}

function constantValue(index: GraphIndex, name: string): Value | undefined {
  const t = constantTensor(index, name);
  if (!t) return undefined;
  const dims = tensorDims(t);
  const raw = t.rawData;
  if (t.dataType === DT.FLOAT && raw && raw.length > 0 && raw.length === 4 * dims.reduce((a, b) => a * b, 1)) {
    // A read-only view when aligned (the statistics never write; a 10M-parameter weight is not copied), else a
    // copy: a decoded raw_data is a view into the whole file buffer at any offset.
    const n = raw.length / 4;
    if (raw.byteOffset % 4 === 0) return { data: new Float32Array(raw.buffer, raw.byteOffset, n), dims };
    return { data: new Float32Array(Uint8Array.prototype.slice.call(raw).buffer), dims };
  }
  // int32 (bias codes) exactly: float32 would round 2^31 − 1 up to 2^31
  if (t.dataType === DT.INT32) return { data: Int32Array.from(tensorValues(t)), dims };
  return { data: Float32Array.from(tensorValues(t)), dims };
}

/** Reads a tensor: a constant from the file, else a value the run exposed. */
type Getter = (name: string | undefined) => Value | undefined;

/** The tensors that feed a site's statistics and lint. */
function siteTensorNames(index: GraphIndex, s: QdqSite): (string | undefined)[] {
  const d = dqParams(s);
  return [d.scale, d.zeroPoint, s.input, s.scale, s.zeroPoint, zpSource(index, s), s.codes, s.output, ...s.leaks.map((l) => l.tensor)];
}

function zpSource(index: GraphIndex, s: QdqSite): string | undefined {
  const p = s.zeroPoint ? index.producer.get(s.zeroPoint) : undefined;
  return p?.opType === 'Cast' ? p.input?.[0] ?? undefined : undefined;
}

/** The DequantizeLinear's own scale and zero-point, when they are other tensors than the Quantize's. */
function dqParams(s: QdqSite): { scale?: string; zeroPoint?: string } {
  const d = s.kind === 'qdq' ? s.dequantize[0] : undefined;
  if (!d) return {};
  const scale = d.input?.[1] || undefined;
  const zeroPoint = d.input?.[2] || undefined;
  return { scale: scale !== s.scale ? scale : undefined, zeroPoint: zeroPoint !== s.zeroPoint ? zeroPoint : undefined };
}

/** max(x, 0): a folded clamp's float function (the float twin computes it with onnxruntime's Relu). */
function clampAtZero(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
  return out;
}

/** Whether a site's scale is one number, known from the file (a per-tensor scale dequantizes codes of any shape). */
function scalarScale(index: GraphIndex, s: QdqSite): boolean {
  const t = constantTensor(index, s.scale);
  return t !== undefined && tensorDims(t).reduce((a, b) => a * b, 1) === 1;
}

const ORDER_PREFIX = `${EXPOSE_PREFIX}order/`;

/**
 * For each order-only reader of a site's codes: the same op run on DequantizeLinear(codes) (the site's own scale and
 * zero-point, and axis/block attributes), its indices exposed beside the original's. Not built — the reader is then a
 * leak — when the codes reach it through ops that move them and the scale is not one number (a per-channel
 * DequantizeLinear of reshaped codes is not defined).
 */
function orderExperiments(index: GraphIndex, sites: readonly QdqSite[]): { nodes: NodeProto[]; pairs: Map<OrderReader, [string, string]>; unbuilt: Map<OrderReader, string> } {
  const nodes: NodeProto[] = [];
  const pairs = new Map<OrderReader, [string, string]>();
  const unbuilt = new Map<OrderReader, string>();
  for (const s of sites) {
    const d = s.dequantize[0] ?? s.quantize;
    if (!d) continue;
    for (const r of s.orderReaders ?? []) {
      if (r.tensor !== s.codes && !scalarScale(index, s)) {
        unbuilt.set(r, `the codes reach it through ops that move them and ${s.name} has more than one scale: the result on dequantized values cannot be computed`);
        continue;
      }
      const dq = `${ORDER_PREFIX}${r.name}/dequantized`;
      const attrs = (d.attribute ?? []).filter((a) => a.name === 'axis' || a.name === 'block_size');
      const scale = s.dequantize[0]?.input?.[1] || s.scale;
      const zp = s.dequantize[0] ? s.dequantize[0].input?.[2] || '' : s.zeroPoint ?? '';
      nodes.push({ opType: 'DequantizeLinear', name: dq, input: zp ? [r.tensor, scale, zp] : [r.tensor, scale], output: [dq], attribute: attrs });
      const outputs = (r.node.output ?? []).map((o) => (o ? `${ORDER_PREFIX}${r.name}/${o}` : ''));
      nodes.push({ ...r.node, name: `${ORDER_PREFIX}${r.name}`, input: [dq, ...(r.node.input ?? []).slice(1)], output: outputs });
      pairs.set(r, [r.indices, `${ORDER_PREFIX}${r.name}/${r.indices}`]);
    }
  }
  return { nodes, pairs, unbuilt };
}

/** Output channels of a weight: the axis its consumer reads them on (negative from the end), normalised to dims. */
function channelsOf(s: QdqSite, dims: readonly number[]): { axis: number; count: number } | undefined {
  if (s.channelAxis === undefined || dims.length === 0) return undefined;
  const axis = s.channelAxis < 0 ? s.channelAxis + dims.length : s.channelAxis;
  return axis >= 0 && axis < dims.length ? { axis, count: dims[axis]! } : undefined;
}

interface EvaluateOptions {
  thresholds: Thresholds;
  /** The float twin's value at the site's output (activations); undefined when not run. */
  twin?: (name: string) => Value | undefined;
  /** Order-reader experiment outcomes of this site. */
  orderChecks?: OrderCheck[];
  orderLeaks?: LeakStats[];
}

/** Statistics, lint and leaks of one site from the tensors a run gave. Undefined when its codes or scale are missing. */
function evaluateSite(index: GraphIndex, s: QdqSite, get: Getter, o: EvaluateOptions): SiteFindings<QdqSite> | undefined {
  let x = s.kind === 'qdq' ? get(s.input) : undefined;
  const codes = get(s.codes);
  const scale = get(s.scale);
  if (!codes || !scale) return undefined;
  // A folded clamp is judged against its float function, max(x, 0).
  if (x && s.foldedClamp) x = { data: clampAtZero(f32(x)!), dims: x.dims };
  const zp = get(s.zeroPoint);
  const zpSrc = get(zpSource(index, s));
  const dq = get(s.output);
  const twin = s.inputKind === 'weight' ? f32(x) : s.output ? f32(o.twin?.(s.output)) : undefined;
  const stats = siteStats(
    {
      x: f32(x),
      dims: x?.dims ?? codes.dims,
      codes: codes.data,
      dq: f32(dq),
      twin,
      scale: Float64Array.from(scale.data),
      zeroPoint: zp ? Float64Array.from(zp.data) : undefined,
      axis: s.axis,
      blockSize: s.blockSize,
    },
    s.codeType,
  );
  const dqScaleName = dqParams(s).scale;
  const lint = lintSite(
    {
      scale: Float64Array.from(scale.data),
      zeroPoint: zp ? Float64Array.from(zp.data) : undefined,
      zeroPointSource: zpSrc ? Float64Array.from(zpSrc.data) : undefined,
      codeType: s.codeType,
      inputKind: s.inputKind,
      groups: stats.perGroup,
      dequantizeScale: asF64(get(dqScaleName)),
      dequantizeZeroPoint: asF64(get(dqParams(s).zeroPoint)),
      scaleType: elemType(index, s.scale),
      dequantizeScaleType: dqScaleName ? elemType(index, dqScaleName) : undefined,
      groupName: (g) => scaleGroupName(stats.dims, s.axis, s.blockSize, g),
      ...(s.bias ? { biasCodes: codes.data, biasScaleNote: biasScaleNote(index, s, get) } : {}),
    },
    o.thresholds,
  );
  const rx = x ? rms(f32(x)!) : 0;
  const leaks: LeakStats[] = [
    ...s.leaks.map((l) => {
      const v = f32(get(l.tensor));
      return {
        node: l.node, opType: l.opType, tensor: l.tensor, consumers: l.consumers,
        rmsRatio: v && rx > 0 ? rms(v) / rx : null,
        integerFraction: v ? integerFraction(v) : null,
      };
    }),
    ...(o.orderLeaks ?? []),
  ];
  // Dead output channels of a weight, whatever its scale granularity — unless its scale groups are those channels
  // (then the per-group check sees them against the reference).
  const xf = f32(x);
  const dqf = f32(dq);
  const ch = s.inputKind === 'weight' && xf && dqf ? channelsOf(s, x!.dims) : undefined;
  const perChannelOnIt = ch !== undefined && stats.groups > 1 && s.blockSize === 0 && (s.axis < 0 ? s.axis + x!.dims.length : s.axis) === ch.axis;
  const channels = ch && !perChannelOnIt ? ch : undefined;
  return {
    artifact: 'measured', site: s, format: siteFormat(s), stats, lint, leaks,
    orderChecks: o.orderChecks ?? [],
    deadChannels: channels ? channelZeroing(xf!, dqf!, x!.dims, channels.axis) : [],
    ...(channels ? { channels } : {}),
  };
}

/**
 * What a bias scale is made of: the Conv/Gemm it feeds reads an input and a weight dequantized with scales whose
 * product (× Gemm's beta) a quantizer uses as the bias scale — the message says which factor made it tiny.
 */
function biasScaleNote(index: GraphIndex, s: QdqSite, get: Getter): ((channel: number) => string) | undefined {
  const n = (index.consumers.get(s.output ?? '') ?? []).find((c) => /^(Conv|ConvTranspose|Gemm)$/.test(c.opType ?? '') && c.input?.[2] === s.output);
  if (!n) return undefined;
  const scaleOf = (t: string | undefined): Float64Array | undefined => {
    const p = t ? index.producer.get(t) : undefined;
    return p?.opType === 'DequantizeLinear' ? asF64(get(p.input?.[1])) : undefined;
  };
  const sx = scaleOf(n.input?.[0]);
  const sw = scaleOf(n.input?.[1]);
  if (!sx || !sw) return undefined;
  return (c) => {
    const w = sw.length > 1 ? sw[c] : sw[0];
    return `${n.opType} ${index.nodeName.get(n)}: input scale ${fmt(sx[0])} × weight scale ${fmt(w)}${sw.length > 1 ? ` (channel ${c})` : ''} = ${fmt((sx[0] ?? Number.NaN) * (w ?? Number.NaN))}`;
  };
}

/** Runs the order-reader experiments' outcome into checks (not leaks) and leaks (results differ, or not verifiable). */
function readOrderOutcomes(s: QdqSite, get: Getter, x: Float32Array | undefined, exp: ReturnType<typeof orderExperiments>): { checks: OrderCheck[]; leaks: LeakStats[] } {
  const checks: OrderCheck[] = [];
  const leaks: LeakStats[] = [];
  const codes = f32(get(s.codes));
  const rx = x ? rms(x) : 0;
  for (const r of s.orderReaders ?? []) {
    const pair = exp.pairs.get(r);
    const a = pair ? f32(get(pair[0])) : undefined;
    const b = pair ? f32(get(pair[1])) : undefined;
    let mismatched: number | null = null;
    if (a && b && a.length === b.length) {
      mismatched = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) mismatched++;
    }
    if (mismatched === 0) {
      checks.push({ node: r.name, opType: r.opType, compared: a!.length, mismatched });
      continue;
    }
    const why = exp.unbuilt.get(r) ?? (mismatched === null ? 'its indices were not available' : `${mismatched} of ${a!.length} indices differ from the same op on the dequantized codes (the codes' order is not the values' order)`);
    leaks.push({
      node: r.name, opType: r.opType, tensor: r.tensor,
      consumers: [`${r.opType} ${r.name}: ${why}`],
      rmsRatio: codes && rx > 0 ? rms(codes) / rx : null,
      integerFraction: codes ? integerFraction(codes) : null,
    });
  }
  return { checks, leaks };
}

export async function auditQdqModel(loaded: LoadedModel, index: GraphIndex, sites: readonly QdqSite[], opts: AuditOptions): Promise<AuditOutcome> {
  const feeds = opts.inputs ? fileFeeds(index, opts.inputs, opts.maxTensorElements) : seededFeeds(index, opts.seed, opts.maxTensorElements, opts.maxMemoryMB);
  const inputsFrom = opts.inputs ? `file ${opts.inputs}` : `seeded N(0,1) from declared shapes (seed ${opts.seed}, dynamic dims = ${DEFAULT_DYNAMIC_DIM})`;
  const timing = { session: 0, run: 0 };

  // Which tensors the model must expose: everything a site needs that is not a constant in the file.
  const want = new Set<string>();
  const need = (name: string | undefined): void => {
    if (name && !constantTensor(index, name)) want.add(name);
  };
  for (const s of sites) siteTensorNames(index, s).forEach(need);
  const order = orderExperiments(index, sites);
  for (const [a, b] of order.pairs.values()) {
    want.add(a);
    want.add(b);
  }
  for (const o of index.outputs) want.add(o);
  // The float twin at each activation site's output (a weight's twin value is the weight itself).
  const twinWant = new Set<string>([...index.outputs]);
  for (const s of sites) {
    if (s.inputKind === 'activation' && s.output) twinWant.add(s.output);
    for (const l of s.leaks) if (s.inputKind === 'activation') twinWant.add(l.tensor);
  }
  opts.log(`onnx: ${sites.length} QDQ sites; exposing ${want.size} tensors of the model and ${twinWant.size} of its float twin`);
  let values: Map<string, Value>;
  let twinValues: Map<string, Value>;
  if (!hasSubgraphs(index)) {
    // One session, one run: the model and its renamed float twin side by side, initializers shared.
    const copy = twinCopy(index, sites, twinWant);
    const twinNames = new Map([...twinWant].map((t) => [copy.rename(t), t]));
    // Appended to the file's bytes when we have them (the weights are not re-encoded).
    const exposed = exposeTensors(loaded.model, index, [...want, ...twinNames.keys()], index.nodes, [...copy.nodes, ...order.nodes], loaded.bytes, loaded.room);
    const all = await runExposed(exposed.bytes, feeds, exposed.outputFor, opts.ep, `'${loaded.path}' with site tensors and its float twin exposed`, timing);
    values = all;
    twinValues = new Map([...twinNames].map(([renamed, name]) => [name, all.get(renamed)!]).filter(([, v]) => v !== undefined) as [string, Value][]);
  } else {
    // Subgraphs may read outer tensors by name: keep the twin in a session of its own.
    const exposed = exposeTensors(loaded.model, index, want, index.nodes, order.nodes);
    values = await runExposed(exposed.bytes, feeds, exposed.outputFor, opts.ep, `'${loaded.path}' with site tensors exposed`, timing);
    const twin = exposeTensors(loaded.model, index, twinWant, floatTwinNodes(index, sites));
    twinValues = await runExposed(twin.bytes, feeds, twin.outputFor, opts.ep, `the float twin of '${loaded.path}'`, timing);
  }

  const statsStart = performance.now();
  const get: Getter = (name) => (name ? constantValue(index, name) ?? values.get(name) : undefined);
  const findings: SiteFindings<QdqSite>[] = [];
  for (const s of sites) {
    const orderOutcome = readOrderOutcomes(s, get, f32(s.kind === 'qdq' ? get(s.input) : undefined), order);
    const f = evaluateSite(index, s, get, { thresholds: opts.thresholds, twin: (t) => twinValues.get(t), orderChecks: orderOutcome.checks, orderLeaks: orderOutcome.leaks });
    if (!f) {
      opts.log(`onnx: site ${s.name}: codes or scale not available, skipped`);
      continue;
    }
    findings.push(f);
  }
  const ctx = { thresholds: opts.thresholds, seed: opts.seed, reproCommand: opts.reproCommand };
  const results = findings.flatMap((f) => judgeSite(f, ctx));
  const statsMs = performance.now() - statsStart;

  await explainByRepairs(loaded, index, sites, findings, results, feeds, opts, ctx, timing);

  const outputSqnrDb: Record<string, number | null> = {};
  for (const o of index.outputs) {
    const q = f32(values.get(o));
    const f = f32(twinValues.get(o));
    outputSqnrDb[o] = q && f ? sqnrDb(f, q) : null;
  }
  const formats = [...new Set(findings.map((f) => f.format))];
  const headline = judgeModel({ path: loaded.path, opset: loaded.opset, sites: findings, outputSqnrDb, inputsFrom }, results, ctx, formats.join('+') || 'unknown');
  return {
    results: [headline, ...results],
    findings,
    timings: { sessionMs: timing.session, runMs: timing.run, statsMs },
    outputs: new Map([...index.outputs].map((o) => [o, f32(values.get(o))]).filter((e): e is [string, Float32Array] => e[1] !== undefined)),
    feeds,
  };
}

const REPAIR_PREFIX = 'quant_audit_repair';

/**
 * Repair experiments (causal.ts): for failing sites downstream of failing ones, run the model again with each failing
 * upstream site bypassed (one renamed copy of the graph per repair, all in one session; models with subgraphs: one
 * session per repair) and judge the downstream sites again on what they see then. Failures that pass are marked
 * explained by the upstream site. Runs only when some failing site has a failing site upstream of it.
 */
async function explainByRepairs(
  loaded: LoadedModel, index: GraphIndex, sites: readonly QdqSite[], findings: SiteFindings<QdqSite>[], results: ProbeResult[],
  feeds: Feeds, opts: AuditOptions, ctx: SiteContext, timing: { session: number; run: number },
): Promise<void> {
  const judged = new Set(findings.map((f) => f.site));
  const cands = candidates(results, sites.filter((s) => judged.has(s)), upstreamSites(index, sites));
  if (cands.size === 0) return;
  const outcomes: RepairOutcome[] = [];
  const run = async (repairs: Repair[]): Promise<void> => {
    if (repairs.length === 0) return;
    opts.log(`onnx: ${repairs.length} repair experiment(s): ${repairs.map((r) => `${r.bypass.map((u) => u.name).join('+')} → ${r.evaluate.map((s) => s.name).join(', ')}`).join('; ')}`);
    const names = (r: Repair): string[] => r.evaluate.flatMap((s) => siteTensorNames(index, s)).filter((t): t is string => t !== undefined && !constantTensor(index, t));
    const valuesOf: Map<string, Value>[] = [];
    if (!hasSubgraphs(index)) {
      const copies = repairs.map((r, k) => twinCopy(index, sites, names(r), { only: new Set(r.bypass), prefix: `${REPAIR_PREFIX}${k}/` }));
      const exposedNames = repairs.flatMap((r, k) => names(r).map((t) => copies[k]!.rename(t)));
      const exposed = exposeTensors(loaded.model, index, exposedNames, index.nodes, copies.flatMap((c) => c.nodes), loaded.bytes, loaded.room);
      const all = await runExposed(exposed.bytes, feeds, exposed.outputFor, opts.ep, `'${loaded.path}' with upstream sites repaired`, timing);
      repairs.forEach((r, k) => valuesOf.push(new Map(names(r).map((t) => [t, all.get(copies[k]!.rename(t))!]).filter(([, v]) => v !== undefined) as [string, Value][])));
    } else {
      for (const r of repairs) {
        const exposed = exposeTensors(loaded.model, index, names(r), floatTwinNodes(index, sites, new Set(r.bypass)));
        valuesOf.push(await runExposed(exposed.bytes, feeds, exposed.outputFor, opts.ep, `'${loaded.path}' with ${r.bypass.map((u) => u.name).join(', ')} repaired`, timing));
      }
    }
    repairs.forEach((r, k) => {
      const get: Getter = (name) => (name ? constantValue(index, name) ?? valuesOf[k]!.get(name) : undefined);
      for (const s of r.evaluate) {
        const f = evaluateSite(index, s, get, { thresholds: opts.thresholds });
        if (f) outcomes.push({ repair: r, site: s, results: judgeSite(f, ctx) });
      }
    });
  };
  await run(singleRepairs(cands));
  applyRepairs(results, cands, outcomes);
  await run(jointRepairs(results, cands));
  applyRepairs(results, cands, outcomes);
}
