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
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors.js';
import { ort, type Ep } from '../session.js';

export const CROSSCHECK_PROBE = 'runtime-crosscheck';

export interface OutputComparison {
  output: string;
  sqnrDb: number | null;
  nonFiniteAudit: number;
  nonFiniteOptimised: number;
  agree: boolean;
}

/**
 * Pure: per output, whether the audit session's values agree with the optimised session's. `twinSqnrDb` (per output:
 * the audit session against the float twin) is the model's own quantization error: fused integer kernels and the
 * float emulation of Q/DQ legitimately differ by rounding, which is a large share of a collapsed output (a model whose
 * weights all round to 0) — sessions that differ 4× (6 dB) less than the model differs from its float twin agree.
 */
export function compareOutputs(audit: Map<string, Float32Array>, optimised: Map<string, Float32Array>, minSqnrDb: number, twinSqnrDb?: Map<string, number | null>): OutputComparison[] {
  const out: OutputComparison[] = [];
  for (const [name, a] of audit) {
    const b = optimised.get(name);
    if (!b || b.length !== a.length) continue;
    const na = countNonFinite(a);
    const nb = countNonFinite(b);
    const s = na === 0 && nb === 0 ? sqnrDb(b, a) : null;
    const twin = twinSqnrDb?.get(name);
    const withinModelError = s !== null && twin !== undefined && twin !== null && s >= twin + 6;
    const agree = na === nb && (s === null ? na === 0 || a.every((v, i) => Object.is(v, b[i]) || (Number.isNaN(v) && Number.isNaN(b[i]!))) : !(s < minSqnrDb) || withinModelError);
    out.push({ output: name, sqnrDb: s, nonFiniteAudit: na, nonFiniteOptimised: nb, agree });
  }
  return out;
}

export function runtimeName(): string {
  return `onnxruntime-node ${ort.env.versions?.common ?? ''}`.trim();
}

/** The optimised session crashed the process that ran it (a native abort): an environment problem of its own. */
export class RuntimeCrash extends Error {}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'crosscheck-child.js');

/**
 * The optimised session's outputs on the same inputs, computed in a child process (crosscheck-child.ts) so that a
 * native abort while optimising ends the child, not quant-audit. `source` is the model file (when its bytes are the
 * model as it is) or the bytes.
 */
export async function optimisedOutputs(source: { path: string } | { bytes: Uint8Array }, feeds: Feeds, ep: Ep, what: string): Promise<Map<string, Float32Array>> {
  const child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 2000) stderr += d.toString(); });
  const plainFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { type: t.type, data: t.data, dims: [...t.dims] }]));
  return await new Promise((resolve, reject) => {
    let answered = false;
    child.once('message', (m: { outputs?: Record<string, Float32Array>; error?: string }) => {
      answered = true;
      if (m.error) reject(new UsageError(`onnx: onnxruntime cannot run ${what}: ${m.error}.`));
      else resolve(new Map(Object.entries(m.outputs ?? {})));
    });
    child.once('exit', (code, signal) => {
      if (!answered) reject(new RuntimeCrash(`${runtimeName()} ended the process running ${what} with ${signal ?? `exit code ${code}`}${stderr ? ` (${stderr.replace(/\s+/g, ' ').trim().slice(0, 300)})` : ''}`));
    });
    child.send({ ...('path' in source ? { path: source.path } : { bytes: source.bytes }), feeds: plainFeeds, ep });
  });
}

/** The cross-check when the optimised session crashed: inconclusive, naming the runtime and the setting. */
export function crashResult(message: string, ep: Ep, seed: number, reproCommand: string): ProbeResult {
  return {
    probe: CROSSCHECK_PROBE, hypothesis: 'environment', format: 'any', seed, verdict: 'inconclusive',
    reason: `environment problem, not a finding about the model: ${message} — graphOptimizationLevel 'all' on the ${ep} execution provider, what a deployment's session runs; the audit's own session ('disabled') ran, but its results could not be cross-checked (repro: ${reproCommand})`,
    statistic: { name: 'model outputs where the audit session and the optimised session disagree', value: null, threshold: 0, comparator: '>' },
    evidence: { measurements: { runtime: runtimeName(), ep, auditSession: "graphOptimizationLevel 'disabled'", reference: "graphOptimizationLevel 'all' (crashed)" } },
  };
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
