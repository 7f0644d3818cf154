/**
 * `quant-audit merge A.json B.json …` — join the reports of `run --shard I/N` jobs into one
 * run directory (report.json/.md/.xml, reports/latest) and exit with the merged verdict's
 * code, exactly as the unsharded run would have. See src/report/merge.ts for the rules.
 */
import { Option, type Command } from 'commander';
import { useColor } from '../color.js';
import { serializeReport } from '../report/json.js';
import { renderMarkdown } from '../report/markdown.js';
import { mergeReports } from '../report/merge.js';
import { shellQuote } from '../shell.js';
import { appendStepSummary } from '../report/summary.js';
import { renderTerminal } from '../report/terminal.js';
import { FAIL_ON_LEVELS, type FailOn } from '../report/types.js';
import { newRunId, readReport, writeRunReport } from '../report/write.js';

export interface MergeFlags {
  out?: string;
  json?: boolean;
  quiet?: boolean;
  failOn?: FailOn;
}

export interface MergeIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** Merge, write the run directory, print, append the job summary; returns the exit code. */
export async function merge(files: string[], flags: MergeFlags, io: MergeIo): Promise<number> {
  const reports = files.map((f) => readReport(f));
  const merged = mergeReports(reports, {
    names: files,
    command: shellQuote(['quant-audit', 'merge', ...files, ...(flags.failOn ? ['--fail-on', flags.failOn] : [])]),
    ...(flags.failOn ? { failOn: flags.failOn } : {}),
    onWarning: (m) => io.stderr.write(`quant-audit: warning: ${m}\n`),
  });
  merged.run.id = newRunId(new Date(merged.run.startedAt), merged.run.target);
  const written = await writeRunReport(merged, flags.out ?? 'reports');
  const human = flags.json ? io.stderr : io.stdout;
  if (flags.quiet) human.write(`${merged.verdict.summary}\n`);
  else {
    human.write(renderTerminal(merged, { color: useColor(human), compact: human.isTTY !== true }));
    human.write(`\nmerged ${files.length} shard${files.length === 1 ? '' : 's'} into ${written.files.json}\n`);
  }
  if (flags.json) io.stdout.write(serializeReport(merged));
  appendStepSummary(renderMarkdown(merged), io.env);
  return merged.verdict.exitCode;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('join the report.json files of `run --shard I/N` jobs into one report; exits with its verdict')
    .argument('<reports...>', 'report.json files (or run directories), one per shard')
    .option('--out <dir>', 'where the merged run directory goes', 'reports')
    .addOption(new Option('--fail-on <level>', "gate the merged report at this level (default: the shards' level)").choices([...FAIL_ON_LEVELS]))
    .option('--json', 'also print the merged report.json on stdout (tables go to stderr)')
    .option('--quiet', 'print only the verdict line')
    .action(async (files: string[], flags: MergeFlags) => {
      process.exitCode = await merge(files, flags, { stdout: process.stdout, stderr: process.stderr, env: process.env });
    });
}
