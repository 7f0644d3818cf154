import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit selftest` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerSelftest(program: Command): void {
  program
    .command('selftest')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'selftest' is not implemented yet in this build.");
    });
}
