import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit attach` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerAttach(program: Command): void {
  program
    .command('attach')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'attach' is not implemented yet in this build.");
    });
}
