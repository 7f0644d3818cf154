/**
 * `quant-audit selftest` — the tool's own falsification: every probe on every mutant (over
 * the formats its bug applies to) and on the reference (every format), printed as a
 * confusion matrix (planted × detected) with sensitivity and specificity. Exit 1 when the
 * matrix differs from the expected one (src/selftest/matrix.ts, docs/selftest.md).
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { UsageError } from '../errors.js';
import { initTf, type BackendName } from '../tf.js';
import { loadConfig } from '../config.js';
import { FormatRegistry } from '../formats/registry.js';
import { mergeThresholds } from '../thresholds.js';
import { runSelftest } from '../selftest/run.js';
import { cellOf, confusionMatrix, type ConfusionMatrix } from '../selftest/matrix.js';
import { PROBES } from '../../probes/index.js';

interface SelftestFlags {
  seed: string;
  format?: string[];
  backend: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
}

function percent(v: number): string {
  return `${(100 * v).toFixed(1)} %`;
}

export function renderMatrix(m: ConfusionMatrix): string {
  const head = ['planted ↓ / detected →', ...m.probes.map((p) => `${p}\n(${PROBES.find((q) => q.id === p)?.hypothesis ?? ''})`)];
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of m.rows) {
    const label = row.name === 'reference' ? 'reference (nothing)' : `${row.name} (${row.planted})`;
    table.push([
      `${label}\n${row.formats.length} formats`,
      ...m.probes.map((p) => {
        const c = cellOf(m, row.name, p);
        const mark = c.ok ? (c.expected === 'all' ? '✓' : '') : '✗ expected ' + (c.expected === 'all' ? 'all' : '0');
        const extra = c.inconclusive.length > 0 ? ` (${c.inconclusive.length} err)` : c.skipped === c.formats && c.formats > 0 ? ' skip' : '';
        return `${c.failed.length}/${c.formats}${extra} ${mark}`.trim();
      }),
    ]);
  }
  const lines = [
    table.toString(),
    `sensitivity ${percent(m.sensitivity)} (planted bugs caught by their own probe) · specificity ${percent(m.specificity)} (verdicts that had to stay quiet and did) · seed ${m.seed} · ${(m.durationMs / 1000).toFixed(1)} s`,
  ];
  if (m.ok) lines.push('selftest: the matrix is as expected (docs/selftest.md).');
  else lines.push('selftest: the matrix differs from the expected one:', ...m.mismatches.map((s) => `  - ${s}`));
  return lines.join('\n');
}

export function registerSelftest(program: Command): void {
  program
    .command('selftest')
    .description('run every probe on every built-in mutant and on the reference: confusion matrix (planted × detected); exit 1 if it is not the expected one')
    .option('--seed <n>', 'seed for every probe input', '1')
    .option('--format <name...>', 'restrict to these formats (default: all)')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu', 'cpu')
    .option('--config <file>', 'quant-audit.yaml (custom formats, thresholds)')
    .option('--json', 'print the matrix as JSON')
    .option('--quiet', 'print only the verdict line')
    .action(async (flags: SelftestFlags) => {
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got '${flags.seed}'.`);
      const config = loadConfig(flags.config);
      const registry = new FormatRegistry(config.customFormats);
      for (const f of flags.format ?? []) registry.get(f); // unknown names: UsageError listing the known ones
      await initTf(flags.backend as BackendName);
      const run = await runSelftest({ registry, seed, thresholds: mergeThresholds(config.thresholds), formats: flags.format, lrs: config.lrs });
      const m = confusionMatrix(run);
      if (flags.json) process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
      else if (flags.quiet) process.stdout.write(`selftest: ${m.ok ? 'as expected' : `${m.mismatches.length} unexpected cells`} (sensitivity ${percent(m.sensitivity)}, specificity ${percent(m.specificity)})\n`);
      else process.stdout.write(`${renderMatrix(m)}\n`);
      if (!m.ok) process.exitCode = 1;
    });
}
