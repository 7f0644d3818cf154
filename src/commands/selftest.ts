/**
 * `quant-audit selftest` — the tool's own falsification: every probe on every mutant (over
 * the formats its bug applies to) and on the reference (every format), printed as a
 * confusion matrix (planted × detected) with sensitivity and specificity. Exit 1 when the
 * matrix differs from the expected one (src/selftest/matrix.ts, docs/selftest.md).
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { BackendName } from '../tf.js';
import { loadConfig } from '../config.js';
import { FormatRegistry } from '../formats/registry.js';
import { mergeThresholds } from '../thresholds.js';

interface SelftestFlags {
  seed: string;
  format?: string[];
  backend: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
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
      // Loaded here, not at start-up: tfjs is heavy and other commands do not need it.
      const { initTf } = await import('../tf.js');
      const { runSelftest } = await import('../selftest/run.js');
      const { confusionMatrix } = await import('../selftest/matrix.js');
      const { renderMatrix, percent } = await import('../selftest/render.js');
      await initTf(flags.backend as BackendName);
      const run = await runSelftest({ registry, seed, thresholds: mergeThresholds(config.thresholds), formats: flags.format, lrs: config.lrs });
      const m = confusionMatrix(run);
      if (flags.json) process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
      else if (flags.quiet) process.stdout.write(`selftest: ${m.ok ? 'as expected' : `${m.mismatches.length} unexpected cells`} (sensitivity ${percent(m.sensitivity)}, specificity ${percent(m.specificity)})\n`);
      else process.stdout.write(`${renderMatrix(m)}\n`);
      if (!m.ok) process.exitCode = 1;
    });
}
