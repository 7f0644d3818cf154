/**
 * Shared by the python-* tests: an interpreter that can import torch (QUANT_AUDIT_PYTHON,
 * /usr/bin/python3 from Debian's python3-torch, or python3 on PATH, in that order), the
 * fixture paths, and scratch modules written to a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Requirement } from './requirements.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PY_FIXTURES = `${ROOT}fixtures/python/`;

function canImportTorch(python: string): boolean {
  try {
    execFileSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

const CANDIDATES = [process.env.QUANT_AUDIT_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);

/** The interpreter the tests run torch fixtures with, or undefined. */
export const TORCH_PYTHON: string | undefined = CANDIDATES.find(canImportTorch);

export const TORCH: Requirement = {
  what: 'PyTorch (Debian: apt-get install python3-torch, for /usr/bin/python3)',
  missing: TORCH_PYTHON ? undefined : `none of ${CANDIDATES.join(', ')} can import torch and numpy`,
};

/** Write a Python module into a fresh temporary directory; returns its path. */
export function scratchModule(name: string, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qa-python-'));
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

/** Run a Python snippet with the torch interpreter; stdout as text. */
export function runPython(code: string, input?: string): string {
  return execFileSync(TORCH_PYTHON!, ['-c', code], { encoding: 'utf8', input, timeout: 120_000 });
}
