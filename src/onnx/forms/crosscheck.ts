/**
 * Never blame the model for the runtime. The audit reads tensors from a session with graph optimisations disabled
 * (every exposed tensor its own op's result). onnxruntime-node 1.30 computes some correct models wrongly in that mode
 * (fixtures/onnx/env-int8-int4-mix.onnx: outputs up to 2e38 and NaN unoptimised, right with 'all'). So the audit
 * session's final outputs are compared with an optimised session ('all', what a deployment runs) of the same model on
 * the same inputs; a disagreement is an environment problem, reported as such (an `inconclusive` result, exit 3,
 * naming the runtime and the setting), and the session-derived failures become inconclusive too — unless the model
 * has scales that are NaN, Inf, zero or negative in its constants, for which fused and unfused kernels legitimately differ.
 */
import type { ProbeResult } from '../../report/types.js';
import { countNonFinite, sqnrDb } from '../../stats.js';
import { numberThreshold, type Thresholds } from '../../thresholds.js';
import type { Feeds } from '../inputs.js';
import { createSession, ort, type Ep } from '../session.js';

export const CROSSCHECK_PROBE = 'runtime-crosscheck';

export interface OutputComparison {
  output: string;
  sqnrDb: number | null;
  nonFiniteAudit: number;
  nonFiniteOptimised: number;
  agree: boolean;
}

/** Pure: per output, whether the audit session's values agree with the optimised session's. */
export function compareOutputs(audit: Map<string, Float32Array>, optimised: Map<string, Float32Array>, minSqnrDb: number): OutputComparison[] {
  const out: OutputComparison[] = [];
  for (const [name, a] of audit) {
    const b = optimised.get(name);
    if (!b || b.length !== a.length) continue;
    const na = countNonFinite(a);
    const nb = countNonFinite(b);
    const s = na === 0 && nb === 0 ? sqnrDb(b, a) : null;
    const agree = na === nb && (s === null ? na === 0 || a.every((v, i) => Object.is(v, b[i]) || (Number.isNaN(v) && Number.isNaN(b[i]!))) : !(s < minSqnrDb));
    out.push({ output: name, sqnrDb: s, nonFiniteAudit: na, nonFiniteOptimised: nb, agree });
  }
  return out;
}

export function runtimeName(): string {
  return `onnxruntime-node ${ort.env.versions?.common ?? ''}`.trim();
}

/** The optimised session's outputs on the same inputs. */
export async function optimisedOutputs(bytes: Uint8Array, feeds: Feeds, ep: Ep, what: string): Promise<Map<string, Float32Array>> {
  const { session } = await createSession(bytes, ep, what, { optimize: true });
  try {
    const out = await session.run(feeds);
    return new Map(Object.entries(out).filter(([, t]) => t.type === 'float32').map(([k, t]) => [k, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

export function crossCheckResult(cmp: OutputComparison[], ep: Ep, seed: number, thresholds: Thresholds, reproCommand: string): ProbeResult {
  const bad = cmp.filter((c) => !c.agree);
  const min = numberThreshold(thresholds, 'onnx.crossCheckSqnrDb');
  const setting = `${runtimeName()} on the ${ep} execution provider with graphOptimizationLevel 'disabled' (the audit session) vs 'all'`;
  const result: ProbeResult = {
    probe: CROSSCHECK_PROBE, hypothesis: 'environment', format: 'any', seed,
    verdict: bad.length > 0 ? 'inconclusive' : 'pass',
    statistic: { name: 'model outputs where the audit session and the optimised session disagree', value: bad.length, threshold: 0, comparator: '>' },
    evidence: {
      measurements: { runtime: runtimeName(), ep, auditSession: "graphOptimizationLevel 'disabled'", reference: "graphOptimizationLevel 'all'", minSqnrDb: min },
      tables: [{ title: 'audit session vs optimised session, same inputs', headings: ['output', 'SQNR dB', 'non-finite (audit)', 'non-finite (optimised)', 'agree'], rows: cmp.map((c) => [c.output, c.sqnrDb === null || !Number.isFinite(c.sqnrDb) ? null : Number(c.sqnrDb.toFixed(2)), c.nonFiniteAudit, c.nonFiniteOptimised, c.agree ? 'yes' : 'no']) }],
      notes: [`the audit's tensors come from ${setting}; they are trusted only when both give the model's outputs alike (SQNR ≥ ${min} dB, the same non-finite values)`],
    },
  };
  if (bad.length > 0) {
    result.reason = `environment problem, not a finding about the model: ${setting} disagree on ${bad.map((b) => `${b.output} (${b.nonFiniteAudit} vs ${b.nonFiniteOptimised} non-finite values${b.sqnrDb !== null ? `, SQNR ${b.sqnrDb.toFixed(1)} dB` : ''})`).join(', ')}. ` +
      `The audit's measurements rest on the first; rerun with another onnxruntime-node version, or report it to onnxruntime (repro: ${reproCommand}).`;
  }
  return result;
}

/** Failures measured on a session that disagrees with the optimised one are not findings: they become inconclusive. */
export function demoteSessionFailures(results: ProbeResult[], reason: string): ProbeResult[] {
  return results.map((r) => (r.verdict === 'fail' ? { ...r, verdict: 'inconclusive', reason: `${reason} (was: fail)`, witness: r.witness } : r));
}
