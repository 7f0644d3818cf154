/**
 * Executes a RunPlan: opens the target, runs each probe × format job (and the target's own
 * structural audit, and the learnability lanes), and assembles the Report. Gathering only:
 * judging lives in the probes, rendering in src/report.
 */
import { shellQuote } from '../shell.js';
import { UsageError } from '../errors.js';
import { initTf } from '../tf.js';
import { VERSION } from '../version.js';
import { machineInfo, runVersions } from './environment.js';
import { openTarget } from '../targets/index.js';
import type { Target } from '../targets/types.js';
import { PROBES } from '../../probes/index.js';
import { probeContext, runProbeOn, runProbesOnFormat, skippedResult } from '../../probes/run.js';
import { runLearnability } from './learnability.js';
import type { Lane, ProbeResult, Report, RunInfo } from '../report/types.js';
import { SCHEMA_VERSION } from '../report/types.js';
import { judgeRun, withJudgement } from '../verdict/gate.js';
import { canonicalOrder } from '../report/merge.js';
import { inShard, parseShard, probeJobKey } from '../report/shard.js';
import { laneLegend, laneMargins, uniformBaselineBits } from '../verdict/lanes.js';
import { DEFAULTS, LEARNABILITY_ID, type RunPlan } from './plan.js';
import type { ProbeId } from '../../probes/ids.js';
import { lrArgs } from './optimizer-plan.js';

const LOST_UPDATES_ID = 'lost-updates' satisfies ProbeId;

export interface RunHooks {
  log(message: string): void;
  onProbe?(done: number, total: number, label: string): void;
  onLaneProgress?(p: { done: number; total: number; lane: string; bpb: number }): void;
  /** Called once the target is open (the CLI installs its interruption handlers here: src/process/interrupt.ts). */
  onTargetOpen?(): void;
}

/**
 * The command line that reproduces one probe on one format: the same seed and every setting
 * that changes its numbers (learning rates, and for lanes steps, corpus, master weights).
 * `probe` may name several probes (lanes trained through the target's update need lost-updates).
 */
export function reproCommand(plan: RunPlan, probe: string | string[] | undefined, format: string | undefined, extra: string[] = []): string {
  const probes = probe === undefined ? [] : Array.isArray(probe) ? probe : [probe];
  const args = ['npx', 'quant-audit', 'run', '--target', plan.target, ...(probes.length ? ['--probe', ...probes] : []), ...(format ? ['--format', format] : []), '--seed', String(plan.seeds[0])];
  if (plan.config.path) args.push('--config', plan.config.path);
  if (plan.ep !== 'cpu') args.push('--ep', plan.ep);
  if (plan.input) args.push('--input', plan.input);
  if (plan.floatModel) args.push('--float-model', plan.floatModel);
  if (plan.python) args.push('--python', plan.python);
  if (plan.pythonApi && plan.pythonApi !== 'auto') args.push('--python-api', plan.pythonApi);
  if (plan.onnxMode !== 'auto') args.push('--onnx-mode', plan.onnxMode);
  args.push(...lrArgs(plan));
  if (probes.includes(LEARNABILITY_ID)) {
    if (plan.steps !== DEFAULTS.steps) args.push('--steps', String(plan.steps));
    if (plan.corpus !== DEFAULTS.corpus) args.push('--corpus', plan.corpus);
    if (plan.learnability.masterWeights === false) args.push('--no-master-weights');
  }
  return shellQuote([...args, ...extra]);
}

/**
 * Formats whose lanes also train through the target's own update step: lost-updates failed
 * there (the target's update rounds in place), and lanes with master weights alone would not
 * show what the user's trainer gets. Read from this run's results; a shard that does not own a
 * format's lost-updates job runs it here without reporting it (the owner reports it), so
 * every shard plans the same lanes. Not when lost-updates is not selected, nor without master
 * weights (every lane already rounds in place).
 */
async function formatsLosingUpdates(plan: RunPlan, target: Target, formats: string[], results: ProbeResult[], hooks: RunHooks): Promise<string[]> {
  if (!plan.probes.includes(LOST_UPDATES_ID) || plan.learnability.masterWeights === false || !target.capabilities.has('update')) return [];
  const probe = PROBES.find((p) => p.id === LOST_UPDATES_ID)!;
  const out: string[] = [];
  for (const format of formats) {
    let r = results.find((x) => x.probe === LOST_UPDATES_ID && x.format === format && x.seed === plan.seeds[0]);
    if (!r) {
      r = await runProbeOn(probe, target, format, probeContext(plan.registry, { seed: plan.seeds[0]!, thresholds: plan.thresholds, lrs: plan.probeLrs, reproCommand: (p, f) => reproCommand(plan, p, f), log: hooks.log }));
    }
    if (r.verdict === 'fail') out.push(format);
  }
  return out;
}

function targetFormats(plan: RunPlan, target: Target): string[] {
  if (plan.formats) return plan.formats;
  if (target.formats) return target.formats.filter((f) => plan.registry.has(f));
  return plan.registry.names();
}

async function runProbeJobs(plan: RunPlan, target: Target, formats: string[], hooks: RunHooks): Promise<ProbeResult[]> {
  const shard = plan.shard ? parseShard(plan.shard) : undefined;
  const probes = PROBES.filter((p) => plan.probes.includes(p.id));
  if (probes.length === 0) return [];
  // Every probe of a format runs in one shard, so the causal experiments between them see all its failures.
  const mine = formats.filter((format) => !shard || inShard(probeJobKey(format), shard));
  const results: ProbeResult[] = [];
  let done = 0;
  const total = mine.length * probes.length * plan.seeds.length;
  for (const seed of plan.seeds) {
    const ctx = probeContext(plan.registry, { seed, thresholds: plan.thresholds, lrs: plan.probeLrs, reproCommand: (probe, format) => reproCommand({ ...plan, seeds: [seed] }, probe, format), log: hooks.log });
    for (const format of mine) {
      results.push(...(await runProbesOnFormat(probes, target, format, ctx, (r) => hooks.onProbe?.(++done, total, `${r.probe} ${format}`))));
    }
  }
  return results;
}

export async function executePlan(plan: RunPlan, hooks: RunHooks, argv: string[]): Promise<Report> {
  const startedAt = new Date();
  const backend = await initTf(plan.backend);
  const target = await openTarget(plan.target, {
    registry: plan.registry,
    ep: plan.ep,
    timeoutMs: plan.timeoutMs,
    maxTensorElements: plan.maxTensorElements,
    maxMemoryMB: plan.maxMemoryMB,
    inputs: plan.input,
    floatModel: plan.floatModel,
    python: plan.python,
    pythonApi: plan.pythonApi,
    formats: plan.formats,
    onnxMode: plan.onnxMode,
    log: hooks.log,
  });
  hooks.onTargetOpen?.();
  const results: ProbeResult[] = [];
  const lanes: Lane[] = [];
  const notes: string[] = [];
  let corpusInfo: Record<string, string | number> | undefined;
  let trainBackend = backend;
  try {
    const formats = targetFormats(plan, target);
    if (formats.length === 0 && !target.audit) {
      throw new UsageError(`target ${plan.target} implements no format quant-audit knows. Name one with --format (see quant-audit formats).`);
    }
    results.push(...(await runProbeJobs(plan, target, formats, hooks)));
    if (target.audit && plan.probes.some((p) => p !== LEARNABILITY_ID)) {
      results.push(
        ...(await target.audit({
          seed: plan.seeds[0]!,
          thresholds: plan.thresholds,
          formats: plan.formats ?? [],
          // A target's own audit (ONNX sites) runs whole whatever --probe/--format say; name them only when the CLI
          // accepts them (not the headline 'qdq-audit', not code types outside the registry such as int16).
          reproCommand: (probe, format) => reproCommand(
            plan,
            PROBES.some((p) => p.id === probe) ? probe : undefined,
            plan.registry.has(format) ? format : undefined,
          ),
          log: hooks.log,
        })),
      );
    }
    if (plan.probes.includes(LEARNABILITY_ID) && !target.capabilities.has('forward')) {
      // A QDQ model is not a quantizer: there is nothing to put on the lanes' weights.
      for (const format of formats) {
        results.push(skippedResult({ probe: LEARNABILITY_ID, hypothesis: LEARNABILITY_ID, format, seed: plan.seeds[0] }, `target ${target.spec} has no forward (fq(x)) capability to fake-quantize lane weights with`));
      }
    } else if (plan.probes.includes(LEARNABILITY_ID)) {
      // fp32 is the control lane; formats the target does not implement are skipped, as for probes.
      const laneFormats = formats.filter((f) => f !== 'fp32' && (!target.formats || target.formats.includes(f)));
      for (const format of formats.filter((f) => f !== 'fp32' && !laneFormats.includes(f))) {
        results.push(skippedResult({ probe: LEARNABILITY_ID, hypothesis: LEARNABILITY_ID, format, seed: plan.seeds[0] }, `target ${target.spec} does not implement format ${format}`));
      }
      hooks.log(`learnability: training lanes for ${laneFormats.length} format(s) × ${plan.optimizers.length} optimizer(s), ${plan.steps} steps`);
      const targetUpdateFormats = await formatsLosingUpdates(plan, target, laneFormats, results, hooks);
      const outcome = await runLearnability({
        target: plan.target,
        targetOptions: { ep: plan.ep, timeoutMs: plan.timeoutMs, maxTensorElements: plan.maxTensorElements, maxMemoryMB: plan.maxMemoryMB, inputs: plan.input, onnxMode: plan.onnxMode, python: plan.python, pythonApi: plan.pythonApi, formats: plan.formats, customFormats: plan.config.customFormats, ...target.reopenWith },
        formats: laneFormats,
        optimizers: plan.optimizers,
        seeds: plan.seeds,
        lrs: plan.lrs,
        lrsByOptimizer: plan.lrsByOptimizer,
        optimizerSettings: plan.optimizerSettings,
        targetUpdateFormats,
        steps: plan.steps,
        corpus: plan.corpus,
        backend: plan.backend,
        learnability: plan.learnability,
        thresholds: plan.thresholds,
        workers: plan.workers,
        shard: plan.shard ? parseShard(plan.shard) : undefined,
        onProgress: hooks.onLaneProgress,
        reproCommand: (format, optimizer, targetUpdate) =>
          reproCommand({ ...plan, optimizers: [optimizer] }, targetUpdate ? [LOST_UPDATES_ID, LEARNABILITY_ID] : LEARNABILITY_ID, format, ['--optimizer', optimizer]),
      });
      results.push(...outcome.results);
      lanes.push(...outcome.lanes);
      notes.push(...outcome.notes);
      corpusInfo = outcome.corpusInfo;
      trainBackend = outcome.backend;
    }
  } finally {
    await target.close();
  }

  const finishedAt = new Date();
  const shard = plan.shard ? parseShard(plan.shard) : undefined;
  const run: RunInfo = {
    id: '',
    command: shellQuote(['quant-audit', ...argv]),
    target: plan.target,
    targetInfo: target.info,
    backend: trainBackend,
    ep: target.kind === 'onnx' ? (target.info.ep ?? plan.ep) : null,
    corpus: plan.probes.includes(LEARNABILITY_ID) ? plan.corpus : null,
    ...(corpusInfo ? { corpusInfo } : {}),
    seeds: plan.seeds,
    formats: targetFormats(plan, target),
    probes: plan.probes,
    failOn: plan.failOn,
    ...(shard ? { shard } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    versions: { ...runVersions({ tfjs: target.kind !== 'onnx' || plan.probes.includes(LEARNABILITY_ID), onnx: target.kind === 'onnx' }), ...target.versions },
    machine: machineInfo(),
  };
  const baseline = uniformBaselineBits(128);
  const judged = judgeRun(results, lanes, plan.failOn, run.formats);
  const report: Report = withJudgement({
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'quant-audit', version: VERSION },
    kind: 'run',
    run,
    thresholds: Object.fromEntries(Object.entries(plan.thresholds).map(([k, v]) => [k, typeof v === 'number' ? v : [...v]])),
    legend: laneLegend(laneMargins(plan.thresholds), baseline),
    results: [],
    lanes: [],
    verdict: judged.verdict,
  }, judged);
  if (notes.length) report.run.targetInfo = { ...report.run.targetInfo, notes: notes.join(' | ') };
  return canonicalOrder(report);
}
