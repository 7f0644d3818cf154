/**
 * Running one probe on one format of one target, the same way everywhere (`run`, `selftest`):
 * a format the target does not claim, or a capability it lacks, is `skipped` with the reason;
 * a target that misbehaves (TargetError) makes that one result `inconclusive`, and the run
 * goes on with the others. Anything else is our bug and propagates.
 */
import { TargetError } from '../src/errors.js';
import { DEFAULTS } from '../src/run/defaults.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../src/thresholds.js';
import type { FormatRegistry } from '../src/formats/registry.js';
import type { FormatSpec } from '../src/formats/types.js';
import type { ProbeResult } from '../src/report/types.js';
import type { Target } from '../src/targets/types.js';
import { isForwardProbe, type ObservationCache, type Probe, type ProbeContext } from './types.js';
import { observationKey, observeAll } from './common.js';
import { explainFailures } from './causes.js';

/**
 * The context every probe runs in, from a format registry: run, selftest and the library build
 * it here (thresholds and lost-updates learning rates default to run's).
 */
export function probeContext(
  registry: Pick<FormatRegistry, 'get' | 'all'>,
  opts: { seed: number; reproCommand: ProbeContext['reproCommand']; thresholds?: Thresholds; lrs?: number[]; log?: (message: string) => void },
): ProbeContext {
  return {
    seed: opts.seed,
    thresholds: opts.thresholds ?? DEFAULT_THRESHOLDS,
    lrs: opts.lrs ?? [...DEFAULTS.probeLrs],
    resolveFormat: (name) => registry.get(name),
    registryFormats: () => registry.all(),
    reproCommand: opts.reproCommand,
    log: opts.log ?? (() => undefined),
  };
}

export type ResultBase = Pick<ProbeResult, 'probe' | 'hypothesis' | 'format' | 'seed'>;

export function skippedResult(base: ResultBase, reason: string): ProbeResult {
  return { ...base, verdict: 'skipped', statistic: { name: 'skipped', value: null, threshold: null, comparator: '==' }, evidence: { measurements: {} }, reason };
}

export async function runProbeOn(probe: Probe, target: Target, formatName: string, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const format: FormatSpec = ctx.resolveFormat(formatName);
  const base: ResultBase = { probe: probe.id, hypothesis: probe.hypothesis, format: format.name, seed: ctx.seed };
  const missing = probe.requires.filter((c) => !target.capabilities.has(c));
  let result: ProbeResult;
  if (target.formats && !target.formats.includes(format.name)) {
    result = skippedResult(base, `target ${target.spec} does not implement format ${format.name} (it implements: ${target.formats.join(', ')})`);
  } else if (missing.length > 0) {
    result = skippedResult(base, `target ${target.spec} lacks the ${missing.join(' and ')} capability this probe needs`);
  } else {
    try {
      result = { ...base, ...(await probe.run(target, format, ctx)) };
      if (result.verdict === 'fail' && result.statistic.value === null) {
        // A statistic that is not a number is evidence for nothing: never a witness.
        const reason = `${result.statistic.name} is not a number (NaN/Inf): the hypothesis cannot be judged on this format`;
        result = { ...result, verdict: 'inconclusive', reason, evidence: { ...result.evidence, notes: [...(result.evidence.notes ?? []), reason] } };
        delete result.witness;
      }
    } catch (e) {
      if (!(e instanceof TargetError)) throw e;
      result = {
        ...base,
        verdict: 'inconclusive',
        statistic: { name: 'target error', value: null, threshold: null, comparator: '==' },
        evidence: { measurements: {}, notes: [e.message] },
        reason: `target error: ${e.message}`,
      };
    }
  }
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * Every probe on one format, sharing one cache of forward observations, then the causal
 * experiments between their failures (probes/causes.ts): a failure that another explains gets
 * `explainedBy`. Results are in `probes` order.
 */
export async function runProbesOnFormat(probes: readonly Probe[], target: Target, formatName: string, ctx: ProbeContext, onResult?: (r: ProbeResult) => void): Promise<ProbeResult[]> {
  const observations: ObservationCache = new Map();
  const fctx: ProbeContext = { ...ctx, observations };
  const spec = ctx.resolveFormat(formatName);
  // Order of the calls: every ordinary input first, then the probes with calls of their own
  // (gradient, update), and the edge inputs (all zeros…) last — a target that crashes on an
  // edge input (and is not asked the same method and format again) then loses only that.
  const claimed = !target.formats || target.formats.includes(spec.name);
  if (claimed && target.capabilities.has('forward')) {
    const ordinary = new Map(probes.filter(isForwardProbe).flatMap((p) => p.inputs(ctx.seed)).filter((i) => !i.edge).map((i) => [observationKey(i), i]));
    try {
      await observeAll(target, spec, [...ordinary.values()], fctx);
    } catch (e) {
      if (!(e instanceof TargetError)) throw e; // the probe that needs the input reports it
    }
  }
  const byProbe = new Map<Probe, ProbeResult>();
  for (const probe of [...probes.filter((p) => !isForwardProbe(p)), ...probes.filter(isForwardProbe)]) {
    const r = await runProbeOn(probe, target, formatName, fctx);
    byProbe.set(probe, r);
    onResult?.(r);
  }
  const results = probes.map((p) => byProbe.get(p)!);
  if (results.some((r) => r.verdict === 'fail' || r.verdict === 'inconclusive')) {
    try {
      await explainFailures(results, probes, spec, target, fctx);
    } catch (e) {
      // The target already answered every input the experiments need; if it fails now, the findings stand as measured.
      if (!(e instanceof TargetError)) throw e;
    }
  }
  return results;
}
