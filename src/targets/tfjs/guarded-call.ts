/**
 * The tfjs call guard: a user's tfjs module runs on quant-audit's main thread, so every call
 * into it goes through `guardedCall` — a hang is stopped by a timeout, and Ctrl-C still works
 * while it spins (src/process/interrupt.ts says what an interruption does).
 */
import vm from 'node:vm';
import { isMainThread } from 'node:worker_threads';
import { UsageError } from '../../errors.js';
import { stopNow } from '../../process/interrupt.js';

const CALL_SLOT = Symbol.for('quant-audit.guarded-call');
const CALL_SCRIPT = new vm.Script(`globalThis[Symbol.for('quant-audit.guarded-call')]()`, { filename: 'quant-audit-guarded-call' });

/**
 * Call synchronous foreign code (a user's tfjs module) so it cannot hang the run:
 * after `timeoutMs` V8 stops it and a UsageError says which call hung; Ctrl-C stops it
 * too (the process then exits as for any interruption). `what` names the call for people.
 *
 * A stopped call may leave the tfjs engine mid-operation, so a hang ends the run (exit 2)
 * rather than continuing with the next format on an engine in an unknown state.
 */
export function guardedCall<T>(fn: () => T, timeoutMs: number, what: string): T {
  const g = globalThis as unknown as Record<symbol, unknown>;
  const outer = g[CALL_SLOT];
  g[CALL_SLOT] = fn;
  try {
    return CALL_SCRIPT.runInThisContext({ timeout: timeoutMs, breakOnSigint: isMainThread }) as T;
  } catch (e) {
    // user code may throw anything, null included
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
    if (code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new UsageError(
        `${what} did not return within ${timeoutMs} ms and was stopped. A tfjs module runs inside quant-audit, so the run cannot go on safely after it hangs. ` +
          `Fix the module, raise the limit with --timeout-ms (config exec.timeoutMs), or serve the quantizer as an exec: target.`,
      );
    }
    if (code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') stopNow('SIGINT', 'while a tfjs module was running; no report was written');
    throw e;
  } finally {
    g[CALL_SLOT] = outer;
  }
}
