/**
 * The Target interface: the only thing probes and the trainer know about an
 * implementation under test. Typed arrays cross this boundary, never a target kind.
 */
export type Capability = 'forward' | 'gradient' | 'update';

export type TargetKind = 'reference' | 'mutant' | 'tfjs' | 'onnx' | 'exec';

export interface Target {
  /** The spec the user gave, e.g. `reference`, `mutant:round-no-ste`, `exec:python3 server.py`. */
  readonly spec: string;
  readonly kind: TargetKind;
  readonly capabilities: ReadonlySet<Capability>;
  /** Formats the target claims to implement; undefined = it accepts any registry format name. */
  readonly formats: readonly string[] | undefined;
  /** Extra facts for the report (module path, execution provider, server name…). */
  readonly info: Record<string, string>;

  /** y = fq(x). Must return a new array of the same length. */
  forward(format: string, x: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  /** dx = d/dx Σ fq(x)·dy (the gradient the target's training would use). */
  gradient?(format: string, x: Float32Array, shape: readonly number[], dy: Float32Array): Promise<Float32Array>;
  /**
   * Apply `steps` updates of `delta` to `w` with the target's own training-step semantics
   * and return the weights as the model would use them (after fake-quant).
   */
  update?(format: string, w: Float32Array, shape: readonly number[], delta: Float32Array, steps: number): Promise<Float32Array>;

  /** Release workers, sessions, child processes. Idempotent. */
  close(): Promise<void>;
}

/** How a target is named on the command line: `kind:rest` or `reference`. */
export interface TargetSpec {
  kind: TargetKind;
  /** PATH, COMMAND or mutant NAME; empty for `reference`. */
  arg: string;
  raw: string;
}
