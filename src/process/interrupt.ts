/**
 * Interruption: Ctrl-C (SIGINT), SIGTERM or SIGHUP during `quant-audit run`.
 *
 * What happens (docs/reliability.md, "Interruption"):
 * - every exec server (and its process group) is killed, including the ones lane workers
 *   started (src/process/reaper.ts keeps the list);
 * - `process.exit` ends the lane worker threads (V8 stops them even inside a busy loop);
 * - nothing half-done is left: the report is only written at the very end, and that write
 *   is a critical section — a signal that arrives during it is held until the files are
 *   complete; a second signal during it removes the new run directory and exits at once;
 * - earlier run directories are never touched (`latest` is replaced by an atomic rename);
 * - the exit code is 128 + the signal number, as a shell reports a process killed by it:
 *   130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. CI systems read that as "cancelled".
 *
 * A JS signal handler cannot run while the main thread is stuck in synchronous code. The
 * only foreign code quant-audit runs on its main thread is a `tfjs:` module; its calls go
 * through `guardedCall` (src/targets/tfjs/guarded-call.ts: vm with a timeout and
 * breakOnSigint), so a module that never returns is stopped by the timeout, and Ctrl-C still
 * works while it spins. Report files are written inside `criticalSection`
 * (src/commands/run.ts, with `listDir`/`dirsCreatedSince` from src/report/write.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { killAllChildren } from './reaper.js';

export type InterruptSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

export const SIGNAL_EXIT_CODES: Readonly<Record<InterruptSignal, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

const SIGNALS: readonly InterruptSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

interface State {
  write(message: string): void;
  handlers: Map<InterruptSignal, () => void>;
  /** >0 while report files are being written. */
  critical: number;
  /** Lists directories the current critical section created (removed, if unfinished, on a forced exit). */
  newDirs: (() => string[]) | undefined;
  pending: InterruptSignal | undefined;
  /** For tests: exit instead of process.exit. */
  exit(code: number): void;
}

let state: State | undefined;

/** Thrown by guardedCall when Ctrl-C stopped foreign code and no handler is installed (library use). */
export class InterruptedError extends Error {
  constructor(readonly signal: InterruptSignal) {
    super(`interrupted by ${signal}`);
    this.name = 'InterruptedError';
  }
}

export interface InterruptOptions {
  /** Where the one-line message goes (default stderr). */
  write?(message: string): void;
  /** Default process.exit. */
  exit?(code: number): void;
}

/**
 * Install the handlers for the rest of a run. Returns an uninstaller. Main thread only;
 * calling it again replaces the options.
 */
export function installInterruptHandlers(opts: InterruptOptions = {}): () => void {
  if (!isMainThread) return () => undefined;
  uninstall();
  const s: State = {
    write: opts.write ?? ((m) => process.stderr.write(m)),
    handlers: new Map(),
    critical: 0,
    newDirs: undefined,
    pending: undefined,
    exit: opts.exit ?? ((code) => process.exit(code)),
  };
  for (const signal of SIGNALS) {
    const handler = (): void => onSignal(signal);
    s.handlers.set(signal, handler);
    process.on(signal, handler);
  }
  state = s;
  return uninstall;
}

function uninstall(): void {
  if (!state) return;
  for (const [signal, handler] of state.handlers) process.removeListener(signal, handler);
  state = undefined;
}

function onSignal(signal: InterruptSignal): void {
  const s = state;
  if (!s) return;
  if (s.critical > 0 && s.pending === undefined) {
    // Finishing the report takes milliseconds: let it complete, then stop.
    s.pending = signal;
    return;
  }
  stopNow(signal, s.critical > 0 ? 'during the report write; the unfinished run directory was removed' : 'no report was written');
}

/** Kill children, remove an unfinished run directory, say what happened and exit with 128 + signal. */
export function stopNow(signal: InterruptSignal, what = 'no report was written'): void {
  const s = state;
  killAllChildren();
  if (!s) throw new InterruptedError(signal);
  for (const dir of safeList(s.newDirs)) {
    // report.json is renamed into place last: a directory that has it is complete, keep it.
    if (existsSync(join(dir, 'report.json'))) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  s.write(`quant-audit: interrupted by ${signal}: ${what}. Earlier reports are untouched.\n`);
  const exit = s.exit;
  uninstall();
  exit(SIGNAL_EXIT_CODES[signal]);
}

/**
 * Write report files as one step: signals wait until `write` resolves. `newDirs()` lists
 * directories the write may have created so far (removed if a second signal forces an exit).
 * After the write, a held signal stops the process (the report is complete on disk).
 */
export async function criticalSection<T>(write: () => Promise<T>, newDirs: () => string[] = () => []): Promise<T> {
  const s = state;
  if (!s) return write();
  s.critical++;
  s.newDirs = newDirs;
  try {
    return await write();
  } finally {
    s.critical--;
    s.newDirs = undefined;
    if (s.critical === 0 && s.pending !== undefined && state === s) {
      stopNow(s.pending, 'after the report was written completely');
    }
  }
}

function safeList(list: (() => string[]) | undefined): string[] {
  try {
    return list?.() ?? [];
  } catch {
    return [];
  }
}
