/**
 * `exec:COMMAND` → argv. The command runs without a shell (DESIGN.md), so it is split with
 * shell-words rules (quotes and backslashes honoured) and anything only a shell could do —
 * pipes, redirections, `;`/`&&`, globs, `$VAR`/`$(…)`/backticks, `#` comments, leading
 * `VAR=value` assignments — is refused with a message saying what to do instead.
 */
import { parse, type ParseEntry } from 'shell-quote';
import { UsageError } from '../../errors.js';

const INSTEAD = 'quant-audit runs the command without a shell; put the pipeline in a script, or write `sh -c \'…\'` explicitly.';

export function parseCommand(command: string): string[] {
  const trimmed = command.trim();
  if (trimmed === '') {
    throw new UsageError("exec target has an empty command. Write it as `--target \"exec:python3 fixtures/exec/server.py\"`.");
  }
  const backtick = unquotedBacktick(trimmed);
  if (backtick) throw new UsageError(`exec target command '${command}' uses a backtick command substitution. ${INSTEAD}`);

  const variables: string[] = [];
  let entries: ParseEntry[];
  try {
    entries = parse<string>(trimmed, (name: string) => {
      variables.push(name);
      return undefined;
    });
  } catch (e) {
    throw new UsageError(`exec target command '${command}' cannot be split into arguments: ${(e as Error).message}.`);
  }
  if (variables.length > 0) {
    const shown = variables.map((v) => (v === '' ? '$(…)' : `$${v}`)).join(', ');
    throw new UsageError(`exec target command '${command}' uses shell substitution (${shown}). ${INSTEAD} Quote a literal dollar sign with single quotes.`);
  }
  const argv: string[] = [];
  for (const entry of entries) {
    if (typeof entry === 'string') {
      argv.push(entry);
    } else if ('comment' in entry) {
      throw new UsageError(`exec target command '${command}' contains a '#' comment; remove it (there is no shell to ignore it).`);
    } else if (entry.op === 'glob') {
      throw new UsageError(`exec target command '${command}' contains the glob '${entry.pattern}'; there is no shell to expand it. Name the file, or quote the argument if the '*' or '?' is literal.`);
    } else {
      throw new UsageError(`exec target command '${command}' contains the shell operator '${entry.op}'. ${INSTEAD}`);
    }
  }
  if (argv.length === 0 || argv[0] === '') {
    throw new UsageError(`exec target command '${command}' names no program to run.`);
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[0]!)) {
    throw new UsageError(`exec target command '${command}' starts with an environment assignment (${argv[0]}); without a shell that would be run as a program. Use \`env ${argv[0]} …\` instead.`);
  }
  return argv;
}

/** True when a backtick appears outside single quotes (where a shell would substitute it). */
function unquotedBacktick(s: string): boolean {
  let single = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (single) {
      if (c === "'") single = false;
    } else if (c === '\\') {
      i++;
    } else if (c === "'") {
      single = true;
    } else if (c === '`') {
      return true;
    }
  }
  return false;
}
