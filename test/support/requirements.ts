/**
 * Tests that need something outside Node (PyTorch for /usr/bin/python3, a PostgreSQL server).
 * Locally a missing dependency skips them, with the reason printed once. In CI (CI=true, as
 * GitHub Actions and .ci/run set it) it fails them: CI installs every dependency
 * (.ci/run, .ci/services.sh), so a missing one is a broken set-up, not a reason to pass.
 */
import { test, type TestContext } from 'node:test';

export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0';

export interface Requirement {
  /** What is needed, e.g. "PyTorch (python3-torch)". */
  what: string;
  /** Why it is unavailable here; undefined when it is available. */
  missing: string | undefined;
}

const announced = new Set<string>();

/** A test that runs when `req` is met, skips locally when it is not, and fails in CI when it is not. */
export function testWith(req: Requirement, name: string, fn: (t: TestContext) => Promise<void> | void): void {
  if (req.missing !== undefined && !IN_CI && !announced.has(req.what)) {
    announced.add(req.what);
    process.stderr.write(`SKIPPED (${req.what} is not available: ${req.missing}); in CI these tests fail instead.\n`);
  }
  const skip = req.missing !== undefined && !IN_CI ? `${req.what} is not available: ${req.missing}` : undefined;
  test(name, skip ? { skip } : {}, async (t) => {
    if (req.missing !== undefined) throw new Error(`${req.what} is required in CI (CI=${process.env.CI}) but is not available: ${req.missing}. .ci/run installs it; see its output.`);
    await fn(t);
  });
}
