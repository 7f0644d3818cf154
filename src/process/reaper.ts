/**
 * No orphans: every server process quant-audit spawns (exec and python targets) is registered here while it lives, and killed
 * (with its whole process group) when quant-audit exits — normally, by process.exit, or by
 * Ctrl-C / SIGTERM / SIGHUP. The handlers are installed once, on first use.
 *
 * Learnability lanes open their own targets inside worker threads, where signal handlers
 * never fire and `exit` does not run when the main thread ends. Workers therefore announce
 * their servers' pids on a BroadcastChannel, and the main thread's handlers kill those too.
 */
import type { ChildProcess } from 'node:child_process';
import { BroadcastChannel, isMainThread } from 'node:worker_threads';

/** Servers run in their own process group (POSIX) so wrappers like `cargo run` die with them. */
export const OWN_PROCESS_GROUP = process.platform !== 'win32';

const CHANNEL_NAME = 'quant-audit:exec-reaper';
type ReaperMessage = { spawned: number } | { exited: number };

const live = new Set<ChildProcess>();
/** Main thread only: server pids announced by worker threads. */
const workerPids = new Set<number>();
let channel: BroadcastChannel | undefined;
let installed = false;

function reaperChannel(): BroadcastChannel {
  if (!channel) {
    channel = new BroadcastChannel(CHANNEL_NAME);
    channel.unref(); // never keeps quant-audit alive
  }
  return channel;
}

// The main thread listens from the moment this module loads (it opens the target before
// any lane worker starts), so no announcement is missed.
if (isMainThread) {
  reaperChannel().onmessage = (event: unknown) => {
    const message = (event as { data: ReaperMessage }).data;
    if ('spawned' in message) {
      workerPids.add(message.spawned);
      installHandlers();
    } else {
      workerPids.delete(message.exited);
    }
  };
}

export function registerChild(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  live.add(child);
  if (!isMainThread) reaperChannel().postMessage({ spawned: pid } satisfies ReaperMessage);
  child.once('exit', () => {
    live.delete(child);
    if (!isMainThread) reaperChannel().postMessage({ exited: pid } satisfies ReaperMessage);
  });
  installHandlers();
}

/** Send `signal` to the child's process group (or the child alone where groups do not exist). */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL', evenAfterExit = false): void {
  if (child.pid === undefined) return;
  if (!evenAfterExit && (child.exitCode !== null || child.signalCode !== null)) return;
  if (killGroup(child.pid, signal)) return;
  try {
    child.kill(signal);
  } catch {
    /* already dead */
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  if (!OWN_PROCESS_GROUP) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // the group is gone (ESRCH)
  }
}

export function killAllChildren(): void {
  for (const child of live) killTree(child, 'SIGKILL');
  live.clear();
  for (const pid of workerPids) {
    if (!killGroup(pid, 'SIGKILL')) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  workerPids.clear();
}

function installHandlers(): void {
  // Worker threads receive no signals and may be terminated without 'exit'; the main thread reaps for them.
  if (installed || !isMainThread) return;
  installed = true;
  process.once('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllChildren();
      // A listener disables Node's default "exit on signal". When nobody else handles the
      // signal, restore the default and re-raise it so quant-audit still dies of it (exit 130 on Ctrl-C).
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
