#!/usr/bin/env node
/**
 * quant-audit command line. Each command lives in src/commands/<name>.ts and registers
 * itself on the program; this file only wires them and maps errors to exit codes:
 * 0 ok, 1 falsified, 2 usage/config/input error, 3 inconclusive.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from './version.js';
import { EXIT, InconclusiveError, UsageError } from './errors.js';
import { InterruptedError, SIGNAL_EXIT_CODES } from './process/interrupt.js';
import { registerRun } from './commands/run.js';
import { registerFormats } from './commands/formats.js';
import { registerQuantize } from './commands/quantize.js';
import { registerSelftest } from './commands/selftest.js';
import { registerReport } from './commands/report.js';
import { registerMerge } from './commands/merge.js';
import { registerAttach } from './commands/attach.js';
import { registerWitness } from './commands/witness.js';

export function buildProgram(): Command {
  const program = new Command('quant-audit')
    .description('Audit fake-quantization code and falsify claims about it: one seeded experiment per suspected cause.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const register of [registerRun, registerFormats, registerQuantize, registerSelftest, registerReport, registerMerge, registerAttach, registerWitness]) {
    register(program);
  }
  // A stray word after a flag is a mistake, not something to ignore silently.
  program.commands.forEach((c) => c.exitOverride().allowExcessArguments(false));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    return exitCodeFor(e);
  }
}

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version are not errors; everything else commander rejects is a usage error.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    return EXIT.usage;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`quant-audit: ${e.message}\n`);
    return EXIT.usage;
  }
  if (e instanceof InterruptedError) {
    process.stderr.write(`quant-audit: ${e.message}; no report was written.\n`);
    return SIGNAL_EXIT_CODES[e.signal];
  }
  if (e instanceof InconclusiveError) {
    process.stderr.write(`quant-audit: inconclusive: ${e.message}\n`);
    return EXIT.inconclusive;
  }
  // A bug in quant-audit itself: keep the stack, it is for us.
  process.stderr.write(`quant-audit: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
  return EXIT.inconclusive;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain || process.argv[1]?.endsWith('/quant-audit')) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
