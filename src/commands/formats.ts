import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit formats` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerFormats(program: Command): void {
  program
    .command('formats')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'formats' is not implemented yet in this build.");
    });
}
