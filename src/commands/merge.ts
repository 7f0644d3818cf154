import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit merge` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'merge' is not implemented yet in this build.");
    });
}
