import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit run` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'run' is not implemented yet in this build.");
    });
}
