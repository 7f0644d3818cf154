/**
 * quant-audit as a library (package.json `main`): the same pieces the CLI is made of.
 *
 *   import { auditQuantizer, readReport, renderReport } from 'quant-audit';
 *   const audit = await auditQuantizer('tfjs:./fake-quant.mjs', { formats: ['int8', 'nf4'] });
 *   if (audit.verdict.exitCode !== 0) console.log(audit.diagnosis);
 *   const html = await renderReport(readReport('reports/latest'), 'html'); // any of REPORT_VIEWS
 *
 * `auditQuantizer` runs the forward/gradient/update probes (no training lanes: those are
 * `quant-audit run`'s, with workers and a corpus) and judges them through the one judging path
 * the CLI uses (diagnosis, then the gate). Everything else is re-exported as it is.
 */
import { defaultRegistry, type FormatRegistry } from './formats/index.js';
import { openTarget } from './targets/index.js';
import { PROBES } from '../probes/index.js';
import { probeContext, runProbesOnFormat } from '../probes/run.js';
import type { Thresholds } from './thresholds.js';
import { judgeRun, type Judged } from './verdict/gate.js';
import type { FailOn, ProbeResult } from './report/types.js';
import type { TargetOptions } from './targets/types.js';

export { defaultRegistry, FormatRegistry, BUILTIN_FORMATS, fakeQuant, elementCodec } from './formats/index.js';
export type { FormatSpec } from './formats/index.js';
export { openTarget, parseTargetSpec } from './targets/index.js';
export type { Target, TargetOptions } from './targets/types.js';
export { PROBES, PROBE_IDS, probeById } from '../probes/index.js';
export { probeContext, runProbesOnFormat } from '../probes/run.js';
export type { Probe, ProbeContext } from '../probes/types.js';
export { DEFAULT_THRESHOLDS, mergeThresholds } from './thresholds.js';
export { judgeRun, judgeReport } from './verdict/gate.js';
export { diagnose } from './verdict/diagnosis.js';
// Every view of src/report/renderers.ts' table, by name (html loads its chart library on first use).
export { RENDERERS, REPORT_VIEWS, renderReport, renderAs } from './report/renderers.js';
export type { ReportView, EagerView, ViewStream } from './report/renderers.js';
export { readReport, writeRunReport } from './report/write.js';
export type * from './report/types.js';

export interface AuditOptions {
  /** Registry format names; default: the target's own `formats`, else every registry format. */
  formats?: string[];
  seed?: number;
  /** Learning rates for the lost-updates probe. */
  lrs?: number[];
  failOn?: FailOn;
  thresholds?: Thresholds;
  registry?: FormatRegistry;
  /** Passed to the target (execution provider, timeouts, ONNX inputs, …). */
  target?: Omit<TargetOptions, 'registry'>;
}

/** Every probe on every format of one target, judged: results, per-format diagnosis and the verdict with its exit code. */
export async function auditQuantizer(spec: string, opts: AuditOptions = {}): Promise<Judged> {
  const registry = opts.registry ?? defaultRegistry;
  const seed = opts.seed ?? 1597;
  const target = await openTarget(spec, { ...opts.target, registry });
  try {
    const formats = opts.formats ?? target.formats ?? registry.names();
    for (const f of formats) registry.get(f); // unknown names: the registry's UsageError, before any probe runs
    const ctx = probeContext(registry, {
      seed,
      ...(opts.thresholds ? { thresholds: opts.thresholds } : {}),
      ...(opts.lrs ? { lrs: opts.lrs } : {}),
      reproCommand: (probe, format) => `npx quant-audit run --target ${JSON.stringify(spec)} --probe ${probe} --format ${format} --seed ${seed}`,
    });
    const results: ProbeResult[] = [];
    for (const f of formats) results.push(...(await runProbesOnFormat(PROBES, target, f, ctx)));
    return judgeRun(results, [], opts.failOn ?? 'fail', formats);
  } finally {
    await target.close?.();
  }
}
