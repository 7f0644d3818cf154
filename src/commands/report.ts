import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit report` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'report' is not implemented yet in this build.");
    });
}
