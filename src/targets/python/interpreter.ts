/**
 * Which Python runs the adapter. `--python PATH` or QUANT_AUDIT_PYTHON name exactly one;
 * otherwise every `python3` (then `python`) on PATH is a candidate, in PATH order, and the
 * python target takes the first that can import what the user's module imports (a pyenv or
 * venv python3 without torch comes first on many machines, Debian's /usr/bin/python3 with
 * python3-torch after it). Deduplicated by real path.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Interpreter {
  /** What is run (a path, or a bare name resolved on PATH by spawn). */
  command: string;
  /** Where it came from, for messages: `--python`, `QUANT_AUDIT_PYTHON`, `python3 on PATH`. */
  source: string;
}

const NAMES = ['python3', 'python'];
const MAX_CANDIDATES = 6;

export function interpreterCandidates(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): Interpreter[] {
  if (explicit !== undefined && explicit !== '') return [{ command: explicit, source: '--python' }];
  const fromEnv = env.QUANT_AUDIT_PYTHON;
  if (fromEnv !== undefined && fromEnv !== '') return [{ command: fromEnv, source: 'QUANT_AUDIT_PYTHON' }];
  const seen = new Set<string>();
  const found: Interpreter[] = [];
  for (const name of NAMES) {
    for (const dir of (env.PATH ?? '').split(delimiter)) {
      if (dir === '') continue;
      const path = join(dir, name);
      const real = executableRealPath(path);
      if (real === undefined || seen.has(real)) continue;
      seen.add(real);
      found.push({ command: path, source: `${name} on PATH` });
    }
  }
  return found.slice(0, MAX_CANDIDATES);
}

function executableRealPath(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return undefined;
    accessSync(path, constants.X_OK);
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
