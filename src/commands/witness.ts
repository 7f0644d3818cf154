import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit witness` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerWitness(program: Command): void {
  program
    .command('witness')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'witness' is not implemented yet in this build.");
    });
}
