/**
 * `quant-audit witness` — classify an existing training fleet's bpb samples (CSV, JSONL or
 * PostgreSQL) into the same lane table and verdict as `run`, and write the same reports.
 * See docs/witness.md for the name pattern, the control rule and the PostgreSQL contract.
 */
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { shellQuote } from '../shell.js';
import { UsageError } from '../errors.js';
import { loadConfig, type QuantAuditConfig } from '../config.js';
import { mergeThresholds } from '../thresholds.js';
import { FormatRegistry } from '../formats/registry.js';
import { FAIL_ON_LEVELS, type FailOn } from '../report/types.js';
import { newRunId, writeRunReport, writtenFilesNote } from '../report/write.js';
import { renderTerminal } from '../report/terminal.js';
import { renderMarkdown } from '../report/markdown.js';
import { serializeReport } from '../report/json.js';
import { appendStepSummary } from '../report/summary.js';
import type { ReportView } from '../report/renderers.js';
import { useColor } from '../color.js';
import { DEFAULT_COLUMNS, DEFAULT_MIN_SAMPLES, DEFAULT_NAME_PATTERN, DEFAULT_TIMEOUT_MS, DEFAULT_VOCAB, runWitness, sourceKind } from '../witness/index.js';
import { redactConnectionString } from '../witness/postgres.js';

interface WitnessFlags {
  from?: string;
  query?: string;
  table?: string;
  nameColumn?: string;
  bpbColumn?: string;
  stepColumn?: string;
  namePattern?: string;
  vocab?: string;
  minSamples?: string;
  controls?: string;
  timeoutMs?: string;
  failOn?: FailOn;
  config?: string;
  out?: string;
  write: boolean;
  json?: boolean;
  as?: WitnessView;
  /** Old name of --as. */
  format?: WitnessView;
  quiet?: boolean;
}

/** The report views witness prints (rows of src/report/renderers.ts). */
const WITNESS_VIEWS = ['terminal', 'md'] as const satisfies readonly ReportView[];
type WitnessView = (typeof WITNESS_VIEWS)[number];

/** Fleet settings a quant-audit.yaml may carry under `witness:` (flags win). */
type WitnessConfig = NonNullable<QuantAuditConfig['witness']>;

export function registerWitness(program: Command): void {
  program
    .command('witness')
    .description("classify an existing training fleet's bpb samples (CSV, JSONL or PostgreSQL) into the lane table and verdict")
    .option('--from <source>', 'FILE.csv | FILE.jsonl | postgres://user:pass@host:port/db (default: $DATABASE_URL)')
    .option('--query <sql>', 'PostgreSQL: one SELECT returning the name, bpb (and step) columns; runs in a read-only transaction')
    .option('--table <name>', 'PostgreSQL: read NAME or SCHEMA.NAME (quoted as an identifier)')
    .option('--name-column <col>', `lane name column (default ${DEFAULT_COLUMNS.name})`)
    .option('--bpb-column <col>', `bits-per-byte column (default ${DEFAULT_COLUMNS.bpb})`)
    .option('--step-column <col>', `step column (default ${DEFAULT_COLUMNS.step}, used when present)`)
    .option('--name-pattern <regex>', 'lane name pattern with named groups format, optimizer (+ prefix, hidden, lr, seed)')
    .option('--vocab <n>', `vocabulary size V: the uniform baseline is log2(V) (default ${DEFAULT_VOCAB})`)
    .option('--min-samples <n>', `fewer samples than this: the lane is not judged (default ${DEFAULT_MIN_SAMPLES})`)
    .option('--controls <formats>', 'comma-separated control formats (default: every format with >= 16 bits)')
    .option('--timeout-ms <n>', `PostgreSQL statement timeout (default ${DEFAULT_TIMEOUT_MS})`)
    .addOption(new Option('--fail-on <level>', 'exit 1 at or above this level (default fail)').choices([...FAIL_ON_LEVELS]))
    .option('--config <file>', 'config file (default: ./quant-audit.yaml when present)')
    .option('--out <dir>', 'where run directories go (default: reports/)')
    .option('--no-write', 'do not write a run directory (print only)')
    .option('--json', 'print report.json on stdout (the table goes to stderr)')
    .addOption(new Option('--as <view>', 'view printed on stdout (default: terminal)').choices(WITNESS_VIEWS))
    .addOption(new Option('--format <view>', 'old name of --as').choices(WITNESS_VIEWS).hideHelp())
    .option('--quiet', 'print only the verdict line')
    .action(async (flags: WitnessFlags) => {
      const cfg = loadConfig(flags.config);
      const w: WitnessConfig = cfg.witness ?? {};
      const from = flags.from ?? w.from;
      const columns = {
        name: flags.nameColumn ?? w.nameColumn ?? DEFAULT_COLUMNS.name,
        bpb: flags.bpbColumn ?? w.bpbColumn ?? DEFAULT_COLUMNS.bpb,
        step: flags.stepColumn ?? w.stepColumn ?? DEFAULT_COLUMNS.step,
        stepRequired: (flags.stepColumn ?? w.stepColumn) !== undefined,
      };
      const table = flags.table ?? (flags.query === undefined ? w.table : undefined);
      const query = flags.query ?? (flags.table === undefined ? w.query : undefined);
      const failOn: FailOn = flags.failOn ?? cfg.failOn ?? 'fail';
      const vocab = int(flags.vocab, '--vocab') ?? w.vocab ?? DEFAULT_VOCAB;
      const minSamples = int(flags.minSamples, '--min-samples') ?? w.minSamples ?? DEFAULT_MIN_SAMPLES;
      const timeoutMs = int(flags.timeoutMs, '--timeout-ms') ?? DEFAULT_TIMEOUT_MS;
      const controls = flags.controls !== undefined ? list(flags.controls) : w.controls;
      const namePattern = flags.namePattern ?? w.namePattern ?? DEFAULT_NAME_PATTERN;
      const effectiveFrom = from ?? process.env.DATABASE_URL;
      const label = effectiveFrom === undefined ? 'fleet' : sourceKind(effectiveFrom) === 'postgres' ? 'postgres' : basename(effectiveFrom);

      const startedAt = new Date();
      const command = commandLine({ from: effectiveFrom, table, query, columns, namePattern, vocab, minSamples, controls, failOn });
      const outcome = await runWitness({
        ...(effectiveFrom !== undefined ? { from: effectiveFrom } : {}),
        ...(table !== undefined ? { table } : {}),
        ...(query !== undefined ? { query } : {}),
        columns,
        namePattern,
        vocab,
        minSamples,
        ...(controls ? { controls } : {}),
        thresholds: mergeThresholds(cfg.thresholds),
        registry: new FormatRegistry(cfg.customFormats),
        failOn,
        timeoutMs,
        runId: newRunId(startedAt, `witness-${label}`),
        command,
        now: () => new Date(),
      });
      const { report, fleet, classification } = outcome;
      const err = process.stderr;
      if (fleet.rejectedCount > 0) {
        err.write(`quant-audit witness: ${fleet.rejectedCount} of ${fleet.rows} rows rejected (listed in the report), e.g.:\n`);
        for (const r of fleet.rejected.slice(0, 5)) err.write(`  ${r.where}: ${r.reason}\n`);
      }
      if (classification.unparsed.length > 0) {
        err.write(`quant-audit witness: ${classification.unparsed.length} lane name(s) do not match --name-pattern (not judged): ${classification.unparsed.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}\n`);
      }
      let written: Awaited<ReturnType<typeof writeRunReport>> | undefined;
      if (flags.write) written = await writeRunReport(report, flags.out ?? cfg.out ?? 'reports');
      const human = flags.json ? err : process.stdout;
      if (flags.quiet) human.write(`${report.verdict.summary}\n`);
      else if ((flags.as ?? flags.format) === 'md') human.write(renderMarkdown(report));
      else human.write(renderTerminal(report, { color: useColor(human), compact: !human.isTTY }));
      if (written && !flags.quiet) human.write(writtenFilesNote(written));
      if (flags.json) process.stdout.write(serializeReport(report));
      appendStepSummary(renderMarkdown(report));
      process.exitCode = report.verdict.exitCode;
    });
}

function int(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v)) throw new UsageError(`${flag} must be an integer, got '${text}'.`);
  return v;
}

function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The command as it can be rerun, with the password removed from a connection string. */
function commandLine(o: {
  from: string | undefined;
  table: string | undefined;
  query: string | undefined;
  columns: { name: string; bpb: string; step: string; stepRequired: boolean };
  namePattern: string;
  vocab: number;
  minSamples: number;
  controls: string[] | undefined;
  failOn: FailOn;
}): string {
  const args = ['quant-audit', 'witness'];
  if (o.from !== undefined) args.push('--from', sourceKind(o.from) === 'postgres' ? redactConnectionString(o.from) : o.from);
  if (o.table !== undefined) args.push('--table', o.table);
  if (o.query !== undefined) args.push('--query', o.query);
  if (o.columns.name !== DEFAULT_COLUMNS.name) args.push('--name-column', o.columns.name);
  if (o.columns.bpb !== DEFAULT_COLUMNS.bpb) args.push('--bpb-column', o.columns.bpb);
  if (o.columns.stepRequired) args.push('--step-column', o.columns.step);
  if (o.namePattern !== DEFAULT_NAME_PATTERN) args.push('--name-pattern', o.namePattern);
  if (o.vocab !== DEFAULT_VOCAB) args.push('--vocab', String(o.vocab));
  if (o.minSamples !== DEFAULT_MIN_SAMPLES) args.push('--min-samples', String(o.minSamples));
  if (o.controls) args.push('--controls', o.controls.join(','));
  args.push('--fail-on', o.failOn);
  return shellQuote(args);
}
