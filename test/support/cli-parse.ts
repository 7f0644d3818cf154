/**
 * Parse a quant-audit command line through the real commander program with every action
 * replaced by a no-op: what the docs tests use to check that a command they show is one the
 * CLI accepts, without running it.
 */
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli.js';

/** The parse error commander reports for `args` (without the program name), or undefined when they parse. */
export async function cliParseError(args: string[]): Promise<string | undefined> {
  const program = buildProgram();
  let errors = '';
  for (const c of [program, ...program.commands]) {
    c.configureOutput({ writeErr: (s) => void (errors += s), writeOut: () => undefined });
    if (c !== program) c.action(() => undefined);
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError && e.code === 'commander.helpDisplayed') return undefined;
    return `${(e as Error).message} ${errors}`.trim();
  }
}
