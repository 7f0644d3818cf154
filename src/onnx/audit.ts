/**
 * The QDQ site audit of one model: one onnxruntime run of a graph holding the model with every
 * site's tensors exposed as extra outputs (input, scale, zero-point, codes, dequantized output,
 * leaks) and, beside it, its float twin (every Q/DQ pair bypassed) exposed at the same points —
 * then per-site statistics, lint and verdicts. (Models with subgraphs run the twin separately.) Scales and zero-points computed in the graph
 * (Constant → Cast, Abs → ReduceMax → Div → Clip) come out of onnxruntime, not out of a
 * re-implementation of those ops.
 */
import { UsageError } from '../errors.js';
import type { ProbeResult } from '../report/types.js';
import { integerFraction, rms, sqnrDb } from '../stats.js';
import type { Thresholds } from '../thresholds.js';
import { constantTensor, type GraphIndex } from './graph.js';
import { fileFeeds, seededFeeds, DEFAULT_DYNAMIC_DIM, type Feeds } from './inputs.js';
import { judgeModel, judgeSite, type LeakStats, type SiteFindings } from './judge.js';
import { lintSite } from './lint.js';
import type { LoadedModel } from './load.js';
import { DT, tensorDims, tensorValues } from './proto.js';
import { exposeTensors, floatTwinNodes, hasSubgraphs, twinCopy } from './rewrite.js';
import { createSession, type Ep } from './session.js';
import { scaleGroupName, siteStats } from './site-stats.js';
import type { QdqSite } from './sites.js';

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
  findings: SiteFindings[];
  /** Session creation, the run(s), statistics and judging. */
  timings: { sessionMs: number; runMs: number; statsMs: number };
  /** The audit session's values of the model's own outputs, and the inputs it ran on (for the runtime cross-check). */
  outputs: Map<string, Float32Array>;
  feeds: Feeds;
}

/** Integer codes come out as they are (exact in float32 too); everything else as float32. */
type Data = Float32Array | Int8Array | Uint8Array | Int16Array | Uint16Array;

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
  return { data: Float32Array.from(tensorValues(t)), dims };
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
  const zpSource = (s: QdqSite): string | undefined => {
    const p = s.zeroPoint ? index.producer.get(s.zeroPoint) : undefined;
    return p?.opType === 'Cast' ? p.input?.[0] ?? undefined : undefined;
  };
  const dqParams = (s: QdqSite): { scale?: string; zeroPoint?: string } => {
    const d = s.kind === 'qdq' ? s.dequantize[0] : undefined;
    if (!d) return {};
    const scale = d.input?.[1] || undefined;
    const zeroPoint = d.input?.[2] || undefined;
    return { scale: scale !== s.scale ? scale : undefined, zeroPoint: zeroPoint !== s.zeroPoint ? zeroPoint : undefined };
  };
  for (const s of sites) {
    need(dqParams(s).scale);
    need(dqParams(s).zeroPoint);
    need(s.input);
    need(s.scale);
    need(s.zeroPoint);
    need(zpSource(s));
    need(s.codes);
    need(s.output);
    for (const l of s.leaks) need(l.tensor);
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
    const exposed = exposeTensors(loaded.model, index, [...want, ...twinNames.keys()], index.nodes, copy.nodes, loaded.bytes, loaded.room);
    const all = await runExposed(exposed.bytes, feeds, exposed.outputFor, opts.ep, `'${loaded.path}' with site tensors and its float twin exposed`, timing);
    values = all;
    twinValues = new Map([...twinNames].map(([renamed, name]) => [name, all.get(renamed)!]).filter(([, v]) => v !== undefined) as [string, Value][]);
  } else {
    // Subgraphs may read outer tensors by name: keep the twin in a session of its own.
    const exposed = exposeTensors(loaded.model, index, want);
    values = await runExposed(exposed.bytes, feeds, exposed.outputFor, opts.ep, `'${loaded.path}' with site tensors exposed`, timing);
    const twin = exposeTensors(loaded.model, index, twinWant, floatTwinNodes(index, sites));
    twinValues = await runExposed(twin.bytes, feeds, twin.outputFor, opts.ep, `the float twin of '${loaded.path}'`, timing);
  }

  const statsStart = performance.now();
  const get = (name: string | undefined): Value | undefined => (name ? constantValue(index, name) ?? values.get(name) : undefined);
  const findings: SiteFindings[] = [];
  for (const s of sites) {
    const x = s.kind === 'qdq' ? get(s.input) : undefined;
    const codes = get(s.codes);
    const scale = get(s.scale);
    if (!codes || !scale) {
      opts.log(`onnx: site ${s.name}: codes or scale not available, skipped`);
      continue;
    }
    const zp = get(s.zeroPoint);
    const zpSrc = get(zpSource(s));
    const dq = get(s.output);
    const stats = siteStats(
      {
        x: f32(x),
        dims: x?.dims ?? codes.dims,
        codes: codes.data,
        dq: f32(dq),
        twin: s.inputKind === 'weight' ? f32(x) : s.output ? f32(twinValues.get(s.output)) : undefined,
        scale: Float64Array.from(scale.data),
        zeroPoint: zp ? Float64Array.from(zp.data) : undefined,
        axis: s.axis,
        blockSize: s.blockSize,
      },
      s.codeType,
    );
    const lint = lintSite(
      {
        scale: Float64Array.from(scale.data),
        zeroPoint: zp ? Float64Array.from(zp.data) : undefined,
        zeroPointSource: zpSrc ? Float64Array.from(zpSrc.data) : undefined,
        codeType: s.codeType,
        inputKind: s.inputKind,
        groups: stats.perGroup,
        dequantizeScale: asF64(get(dqParams(s).scale)),
        dequantizeZeroPoint: asF64(get(dqParams(s).zeroPoint)),
        groupName: (g) => scaleGroupName(stats.dims, s.axis, s.blockSize, g),
      },
      opts.thresholds,
    );
    const leaks: LeakStats[] = s.leaks.map((l) => {
      const v = f32(values.get(l.tensor));
      const rx = x ? rms(f32(x)!) : 0;
      return {
        node: l.node, opType: l.opType, tensor: l.tensor, consumers: l.consumers,
        rmsRatio: v && rx > 0 ? rms(v) / rx : null,
        integerFraction: v ? integerFraction(v) : null,
      };
    });
    findings.push({ site: s, format: siteFormat(s), stats, lint, leaks });
  }
  const ctx = { thresholds: opts.thresholds, seed: opts.seed, reproCommand: opts.reproCommand };
  const results = findings.flatMap((f) => judgeSite(f, ctx));
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
    timings: { sessionMs: timing.session, runMs: timing.run, statsMs: performance.now() - statsStart },
    outputs: new Map([...index.outputs].map((o) => [o, f32(values.get(o))]).filter((e): e is [string, Float32Array] => e[1] !== undefined)),
    feeds,
  };
}
