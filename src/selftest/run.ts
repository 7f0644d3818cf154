/**
 * The tool's own falsification: every probe on every mutant (over the formats its bug
 * applies to) and on the reference (over every format). Collects one verdict per
 * target × probe × format; src/selftest/matrix.ts turns them into the confusion matrix.
 */
import type { Thresholds } from '../thresholds.js';
import type { FormatRegistry } from '../formats/registry.js';
import type { ProbeResult } from '../report/types.js';
import type { Target } from '../targets/types.js';
import { openReferenceTarget } from '../targets/reference/index.js';
import { MUTANTS, openMutantTarget, plantedHypothesis } from '../targets/mutants/index.js';
import { PROBES } from '../../probes/index.js';
import type { ProbeContext, ProbeId } from '../../probes/types.js';
import { probeContext, runProbesOnFormat } from '../../probes/run.js';

/** A row of the confusion matrix: the reference (nothing planted) or one mutant. */
export interface SelftestRow {
  /** `reference` or the mutant's name. */
  name: string;
  /** H1…H5, or `none` for the reference. */
  planted: string;
  /** The probe that must catch it (undefined for the reference). */
  probe?: ProbeId;
  formats: string[];
}

export interface SelftestOptions {
  registry: FormatRegistry;
  seed?: number;
  thresholds?: Thresholds;
  lrs?: number[];
  /** Restrict to these formats (default: all in the registry). */
  formats?: readonly string[];
  /** Restrict to these rows (default: reference and every mutant). */
  rows?: readonly string[];
  onProgress?(done: number, total: number, label: string): void;
}

export interface SelftestRun {
  seed: number;
  rows: SelftestRow[];
  probes: ProbeId[];
  /** One result per row × probe × format (the `format` field says which; `site` holds the row name). */
  results: (ProbeResult & { row: string })[];
  durationMs: number;
}

function selftestRows(registry: FormatRegistry, formats?: readonly string[], only?: readonly string[]): SelftestRow[] {
  const all = registry.all().filter((f) => !formats || formats.includes(f.name));
  const rows: SelftestRow[] = [{ name: 'reference', planted: 'none', formats: all.map((f) => f.name) }];
  for (const m of MUTANTS) rows.push({ name: m.name, planted: plantedHypothesis(m), probe: m.probe, formats: all.filter((f) => m.appliesTo(f)).map((f) => f.name) });
  return only ? rows.filter((r) => only.includes(r.name)) : rows;
}

function openRow(row: SelftestRow, registry: FormatRegistry): Target {
  return row.name === 'reference' ? openReferenceTarget({ registry }) : openMutantTarget(row.name, { registry });
}

export async function runSelftest(opts: SelftestOptions): Promise<SelftestRun> {
  const started = Date.now();
  const seed = opts.seed ?? 1;
  const rows = selftestRows(opts.registry, opts.formats, opts.rows);
  const ctx = probeContext(opts.registry, {
    seed,
    ...(opts.thresholds ? { thresholds: opts.thresholds } : {}),
    ...(opts.lrs ? { lrs: opts.lrs } : {}),
    reproCommand: (probe, format) => `npx quant-audit run --target ${'{target}'} --probe ${probe} --format ${format} --seed ${seed}`,
  });
  const total = rows.reduce((n, r) => n + r.formats.length * PROBES.length, 0);
  let done = 0;
  const results: SelftestRun['results'] = [];
  for (const row of rows) {
    const target = openRow(row, opts.registry);
    const spec = target.spec;
    const rowCtx: ProbeContext = { ...ctx, reproCommand: (probe, format) => `npx quant-audit run --target ${spec} --probe ${probe} --format ${format} --seed ${seed}` };
    try {
      for (const format of row.formats) {
        const rs = await runProbesOnFormat(PROBES, target, format, rowCtx, (r) => opts.onProgress?.(++done, total, `${row.name} ${r.probe} ${format}`));
        results.push(...rs.map((r) => ({ ...r, row: row.name })));
      }
    } finally {
      await target.close();
    }
  }
  return { seed, rows, probes: PROBES.map((p) => p.id), results, durationMs: Date.now() - started };
}
