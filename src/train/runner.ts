/**
 * A LaneRunner owns one tfjs engine (its thread's) and one opened target, and trains lanes
 * one after another. The same class runs in the main thread (one worker) and inside each
 * worker thread (src/train/worker.ts), so both paths train identically.
 */
import { initTf, type BackendName } from '../tf.js';
import { FormatRegistry } from '../formats/registry.js';
import { openTarget } from '../targets/index.js';
import type { Target, TargetOptions } from '../targets/types.js';
import { UsageError } from '../errors.js';
import type { Corpus } from '../corpus/index.js';
import { bridgeFor, IDENTITY_BRIDGE } from './bridge.js';
import { trainLane, type LaneOutcome, type LaneSpec } from './lane.js';

/** Everything a runner needs, all structured-cloneable (it crosses into worker threads). */
export interface RunnerInit {
  target: string;
  targetOptions: SerializableTargetOptions;
  backend: BackendName;
  corpus: Corpus;
}

export type SerializableTargetOptions = Omit<TargetOptions, 'registry' | 'log'> & { customFormats?: Record<string, Record<string, unknown>> };

export class LaneRunner {
  private constructor(
    readonly backend: string,
    private readonly target: Target,
    private readonly corpus: Corpus,
    private readonly registry: FormatRegistry,
  ) {}

  static async open(init: RunnerInit): Promise<LaneRunner> {
    const backend = await initTf(init.backend);
    const { customFormats, ...rest } = init.targetOptions;
    const registry = new FormatRegistry(customFormats);
    const target = await openTarget(init.target, { ...rest, registry });
    return new LaneRunner(backend, target, init.corpus, registry);
  }

  async run(spec: LaneSpec, onEval?: (step: number, bpb: number) => void): Promise<LaneOutcome> {
    if (spec.control) return trainLane(spec, IDENTITY_BRIDGE, this.corpus, onEval);
    if (this.target.formats && !this.target.formats.includes(spec.format)) {
      throw new UsageError(`target ${this.target.spec} does not implement format '${spec.format}'. It implements: ${this.target.formats.join(', ')}.`);
    }
    try {
      const grid = this.registry.has(spec.format) ? this.registry.get(spec.format) : undefined;
      return await trainLane(spec, bridgeFor(this.target, spec.format), this.corpus, onEval, { grid });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      // The target failed on this format (threw, wrong length…): the lane did not learn, the run goes on.
      return {
        name: spec.name,
        curve: [],
        bpb: Number.NaN,
        bestBpb: Number.NaN,
        stepsRun: 0,
        stoppedBy: 'diverged',
        notes: [`the target failed while training: ${(e as Error).message}`],
        targetError: (e as Error).message,
        durationMs: 0,
      };
    }
  }

  close(): Promise<void> {
    return this.target.close();
  }
}
