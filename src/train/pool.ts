/**
 * Runs lane specs on N executors (the main thread, plus N − 1 worker threads) and
 * schedules them so results never depend on N: every control lane runs first, and a lane
 * starts only after its own control has finished (its early-stopping rule reads the control's
 * final bpb). Same specs ⇒ same outcomes, whatever the worker count.
 */
import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { LaneRunner, type RunnerInit } from './runner.js';
import type { LaneOutcome, LaneSpec } from './lane.js';
import type { FromWorker, ToWorker } from './worker.js';

export interface Executor {
  readonly backend: string;
  run(spec: LaneSpec, onEval?: (step: number, bpb: number) => void): Promise<LaneOutcome>;
  close(): Promise<void>;
}

/** The worker script next to this module (dist/src/train/worker.js once compiled). */
export const WORKER_URL = new URL('./worker.js', import.meta.url);

/** Lanes on a worker thread (exported for the tests, which check it trains exactly as the main thread). */
export class WorkerExecutor implements Executor {
  private pending?: { resolve(o: LaneOutcome): void; reject(e: Error): void; onEval?: (step: number, bpb: number) => void };
  private constructor(
    private readonly worker: Worker,
    readonly backend: string,
  ) {
    worker.on('message', (m: FromWorker) => {
      const p = this.pending;
      if (!p) return;
      if (m.type === 'eval') p.onEval?.(m.step, m.bpb);
      else if (m.type === 'done') {
        this.pending = undefined;
        p.resolve(m.outcome);
      } else if (m.type === 'error') {
        this.pending = undefined;
        p.reject(m.usage ? new UsageError(m.message) : new Error(m.message));
      }
    });
    worker.on('error', (e) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    });
  }

  static open(init: RunnerInit): Promise<WorkerExecutor> {
    const worker = new Worker(WORKER_URL, { workerData: init });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        worker.off('message', onMessage);
        worker.off('error', reject);
        if (m.type === 'ready') resolve(new WorkerExecutor(worker, m.backend));
        else if (m.type === 'error') {
          void worker.terminate();
          reject(m.usage ? new UsageError(m.message) : new Error(m.message));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  run(spec: LaneSpec, onEval?: (step: number, bpb: number) => void): Promise<LaneOutcome> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, onEval };
      this.worker.postMessage({ type: 'lane', spec } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The main thread's own runner (its engine is already up, so it trains at once) and count − 1
 * worker threads. A worker takes ~0.7 s to load tfjs and its target; the main thread trains
 * meanwhile and yields to the event loop between steps (trainLane), so the workers' messages
 * are served. One thread fewer than all-workers, too: the main thread is not left idle beside them.
 */
export async function openExecutors(count: number, init: RunnerInit): Promise<Executor[]> {
  const opened = await Promise.allSettled([LaneRunner.open(init), ...Array.from({ length: Math.max(0, count - 1) }, () => WorkerExecutor.open(init))]);
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(opened.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw failed.reason;
  }
  return opened.map((r) => (r as PromiseFulfilledResult<Executor>).value);
}

/** The control a lane is judged against (and waits for): same optimizer, seed and lr. */
export function controlKey(spec: Pick<LaneSpec, 'optimizer' | 'seed' | 'lr'>): string {
  return `${spec.optimizer}/${spec.seed}/${spec.lr}`;
}

export interface ScheduleHooks {
  onEval?(spec: LaneSpec, step: number, bpb: number): void;
  onDone?(spec: LaneSpec, outcome: LaneOutcome): void;
}

/**
 * Run every spec; returns outcomes in spec order. Controls go first; a lane waits for its
 * control and receives the control's final best bpb (for the clean early-stop rule).
 */
export async function runSchedule(executors: Executor[], specs: LaneSpec[], hooks: ScheduleHooks = {}): Promise<LaneOutcome[]> {
  const outcomes = new Map<string, LaneOutcome>();
  const controlBest = new Map<string, number>();
  const queue = [...specs.filter((s) => s.control), ...specs.filter((s) => !s.control)];
  const hasControl = new Set(specs.filter((s) => s.control).map(controlKey));
  let wake: (() => void) | undefined;
  let waiting = new Promise<void>((resolve) => (wake = resolve));
  const signal = (): void => {
    const w = wake;
    waiting = new Promise<void>((resolve) => (wake = resolve));
    w?.();
  };
  let failure: unknown;

  const ready = (s: LaneSpec): boolean => s.control || !hasControl.has(controlKey(s)) || controlBest.has(controlKey(s));

  const loop = async (ex: Executor): Promise<void> => {
    while (queue.length > 0 && failure === undefined) {
      const index = queue.findIndex(ready);
      if (index < 0) {
        await waiting;
        continue;
      }
      const spec = queue.splice(index, 1)[0]!;
      const runSpec: LaneSpec = spec.control ? spec : { ...spec, controlBestBpb: controlBest.get(controlKey(spec)) };
      try {
        const outcome = await ex.run(runSpec, (step, bpb) => hooks.onEval?.(spec, step, bpb));
        outcomes.set(spec.name, outcome);
        if (spec.control) controlBest.set(controlKey(spec), outcome.bestBpb);
        hooks.onDone?.(spec, outcome);
      } catch (e) {
        failure ??= e;
      }
      signal();
    }
  };
  await Promise.all(executors.map(loop));
  if (failure !== undefined) throw failure;
  return specs.map((s) => outcomes.get(s.name)!);
}
