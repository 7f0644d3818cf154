/**
 * Shared by the exec-* tests: absolute commands for the fixture servers (so tests do not
 * depend on the working directory) and a way to tell whether a pid is still alive.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { quote } from 'shell-quote';
import { Rng } from '../../src/rng.js';

/** Repository root (dist/test/support/… → ../../../). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = `${ROOT}fixtures/exec/`;

export const nodeServer = (...args: string[]): string => quote([process.execPath, `${FIXTURES}server.mjs`, ...args]);
export const pythonServer = (...args: string[]): string => quote(['python3', `${FIXTURES}server.py`, ...args]);
export const misbehaving = (mode: string): string => quote([process.execPath, `${FIXTURES}misbehave.mjs`, '--mode', mode]);

export const HAVE_PYTHON = ((): boolean => {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Poll until `check()` holds or `ms` pass (for facts that arrive asynchronously, like a log line). */
export async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** Seeded weight-like values: normal, std 0.05. */
export function weights(n: number, seed = 1): Float32Array {
  return new Rng(seed).normalArray(n, 0.05);
}
