/**
 * The whole audit of one ONNX model for the `onnx:` target: stored weights of every form (audit.ts), QDQ sites
 * (src/onnx/audit.ts), the comparison with the float original when given (float-model.ts), and the cross-check of the
 * audit session against onnxruntime's optimised session (crosscheck.ts), so a runtime fault is never reported as a
 * finding about the model.
 */
import type { ProbeResult } from '../../report/types.js';
import type { AuditOptions } from '../audit.js';
import { auditQdqModel } from '../audit.js';
import type { GraphIndex } from '../graph.js';
import type { NodeProto } from '../proto.js';
import type { LoadedModel } from '../load.js';
import type { QdqSite } from '../sites.js';
import { onnx } from '../proto.js';
import { auditWeights } from './audit.js';
import { discoverActivationSites } from './activations.js';
import { RuntimeCrash, compareOutputs, crashResult, crossCheckResult, demoteSessionFailures, optimisedOutputs } from './crosscheck.js';
import { numberThreshold } from '../../thresholds.js';
import { compareWithFloat, openFloatModel, pairWeights, requirePairing } from './float-model.js';
import type { WeightSite } from './weights.js';

export interface FormsAuditOptions extends AuditOptions {
  /** `--float-model`: the float original to pair weights and outputs with. */
  floatModel?: string;
}

export async function auditModelForms(loaded: LoadedModel, index: GraphIndex, sites: readonly QdqSite[], weightSites: readonly WeightSite[], opts: FormsAuditOptions): Promise<ProbeResult[]> {
  const float = opts.floatModel ? openFloatModel(opts.floatModel, index, opts) : undefined;
  const pairing = float ? pairWeights(index, weightSites, sites, float) : undefined;
  if (float && pairing) {
    requirePairing(pairing, float);
    opts.log(`onnx: --float-model ${float.path}: ${pairing.paired.size} of ${pairing.paired.size + pairing.unpaired.size} weights paired`);
  }
  const floatWeights = pairing?.paired;
  const weights = auditWeights(index, weightSites, { seed: opts.seed, thresholds: opts.thresholds, model: loaded.path, floatWeights, reproCommand: opts.reproCommand }, discoverActivationSites(index));
  let sessionResults: ProbeResult[] = [];
  let check: ProbeResult | undefined;
  if (sites.length > 0) {
    const qdq = await auditQdqModel(loaded, index, sites, {
      ep: opts.ep, seed: opts.seed, thresholds: opts.thresholds, inputs: opts.inputs, maxTensorElements: opts.maxTensorElements,
      maxMemoryMB: opts.maxMemoryMB, reproCommand: opts.reproCommand, log: opts.log,
    });
    sessionResults = qdq.results;
    // The audit session (no graph optimisations) against the optimised one, same inputs: a runtime fault is not the model's.
    const source = loaded.bytes ? { path: loaded.path } : { bytes: onnx.ModelProto.encode(loaded.model).finish() };
    const repro = opts.reproCommand('runtime-crosscheck', 'any');
    const twin = Object.entries(qdq.results[0]?.evidence.measurements ?? {}).filter(([k]) => k.startsWith('outputSqnrDb.'));
    const twinSqnr = new Map(twin.map(([k, v]) => [k.slice('outputSqnrDb.'.length), typeof v === 'number' ? v : null]));
    let optimised: Map<string, Float32Array> | undefined;
    try {
      optimised = await optimisedOutputs(source, qdq.feeds, opts.ep, `'${loaded.path}' (optimised, for the cross-check)`);
    } catch (e) {
      if (e instanceof RuntimeCrash) {
        check = crashResult(e.message, opts.ep, opts.seed, repro);
      } else {
        // onnxruntime's optimiser can reject a valid model (it fuses torch's [1]-shaped scales into a QLinearAdd that
        // wants scalars): no cross-check then — the model's own findings stand.
        check = { ...crossCheckResult([], opts.ep, opts.seed, opts.thresholds, repro), verdict: 'skipped', reason: `not cross-checked: ${(e as Error).message} (a deployment with graphOptimizationLevel 'all' fails the same way)` };
      }
    }
    if (optimised) check = crossCheckResult(compareOutputs(qdq.outputs, optimised, numberThreshold(opts.thresholds, 'onnx.crossCheckSqnrDb'), twinSqnr), opts.ep, opts.seed, opts.thresholds, repro);
    check = check!;
    if (twin.length > 0) (check.evidence.notes ??= []).push(`the audit session's outputs against its float twin (every Q/DQ bypassed, same session): ${twin.map(([k, v]) => `${k.slice('outputSqnrDb.'.length)} ${v} dB`).join(', ')}`);
    if (check.verdict === 'inconclusive' && optimised) {
      // Scales that are NaN, Inf, zero or negative in the file are undefined behaviour: fused and unfused kernels differ on them.
      const own = sessionResults.filter((r) => r.verdict === 'fail' && ['lint.nonfinite-scale', 'lint.zero-scale', 'lint.negative-scale'].some((k) => k in r.evidence.measurements));
      if (own.length > 0) {
        check = { ...check, verdict: 'skipped', reason: `the outputs differ between the unoptimised and optimised sessions, as expected for a model whose scales are NaN, Inf, zero or negative (${[...new Set(own.map((r) => r.site))].join(', ')})` };
      } else {
        opts.log(`onnx: ${check.reason}`);
        sessionResults = demoteSessionFailures(sessionResults, check.reason!);
      }
    }
  }
  let floatResults: ProbeResult[] = [];
  if (float) {
    floatResults = await compareWithFloat(loaded, index, sites, weightSites, float, pairing!, weights.sqnrDb, opts);
    linkParting(index, floatResults, [...sessionResults, ...weights.results], [...weightSites.map((w) => ({ site: w.name, node: w.node })), ...sites.map((q) => ({ site: q.name, node: q.quantize ?? q.dequantize[0]! }))]);
    if (check?.verdict === 'inconclusive') floatResults = demoteSessionFailures(floatResults, check.reason!);
  }
  return [...sessionResults, ...weights.results, ...floatResults, ...(check ? [check] : [])];
}

/** Nodes whose outputs `node` reads, at any depth (graph order makes one backward walk enough). */
function upstream(index: GraphIndex, node: NodeProto): Set<NodeProto> {
  const seen = new Set<NodeProto>();
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const i of n.input ?? []) {
      const p = i ? index.producer.get(i) : undefined;
      if (p && !seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

/**
 * Causal link: where the model parts from its float original is explained by the first failing site (graph order) at
 * or upstream of that op — `explainedBySite` on the float-model result (team data model: results[].explainedBySite).
 */
function linkParting(index: GraphIndex, floatResults: ProbeResult[], siteResults: readonly ProbeResult[], sites: { site: string; node: NodeProto }[]): void {
  const fm = floatResults[0];
  const parting = fm?.evidence.measurements.firstPartingOp;
  const node = typeof parting === 'string' ? index.nodes.find((n) => index.nodeName.get(n) === parting) : undefined;
  if (!fm || !node) return;
  const before = upstream(index, node);
  const failing = new Set(siteResults.filter((r) => r.site && r.verdict === 'fail').map((r) => r.site!));
  const order = new Map(index.nodes.map((n, i) => [n, i]));
  const cause = sites.filter((s) => failing.has(s.site) && (s.node === node || before.has(s.node))).sort((a, b) => (order.get(a.node) ?? 0) - (order.get(b.node) ?? 0))[0];
  if (!cause) return;
  const linked = fm as ProbeResult & { explainedBySite?: string; explanation?: string };
  linked.explainedBySite = cause.site;
  linked.explanation = `the models part at ${parting}, downstream of (or at) the failing site ${cause.site}`;
}
