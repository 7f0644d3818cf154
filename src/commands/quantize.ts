import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `quant-audit quantize` — placeholder until its issue lands; it refuses to run rather than pretend. */
export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError("'quantize' is not implemented yet in this build.");
    });
}
