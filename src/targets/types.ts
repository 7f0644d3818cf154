/**
 * The Target interface: the only thing probes and the trainer know about an
 * implementation under test. Typed arrays cross this boundary, never a target kind.
 */
export type Capability = 'forward' | 'gradient' | 'update';

export type TargetKind = 'reference' | 'mutant' | 'tfjs' | 'onnx' | 'exec' | 'python';

export interface Target {
  /** The spec the user gave, e.g. `reference`, `mutant:round-no-ste`, `exec:python3 server.py`. */
  readonly spec: string;
  readonly kind: TargetKind;
  readonly capabilities: ReadonlySet<Capability>;
  /** Formats the target claims to implement; undefined = it accepts any registry format name. */
  readonly formats: readonly string[] | undefined;
  /** Extra facts for the report (module path, execution provider, server name…). */
  readonly info: Record<string, string>;
  /** Versions of the software the target runs on (python: Python, torch, numpy), for the report's environment. */
  readonly versions?: Record<string, string>;
  /**
   * Options that open this same target again without repeating discovery (python: the
   * interpreter it chose); learnability workers open their own copy with them.
   */
  readonly reopenWith?: Partial<Omit<TargetOptions, 'registry' | 'log'>>;

  /** y = fq(x). Must return a new array of the same length. */
  forward(format: string, x: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  /** dx = d/dx Σ fq(x)·dy (the gradient the target's training would use). */
  gradient?(format: string, x: Float32Array, shape: readonly number[], dy: Float32Array): Promise<Float32Array>;
  /**
   * Apply `steps` updates of `delta` to `w` with the target's own training-step semantics
   * and return the weights as the model would use them (after fake-quant).
   */
  update?(format: string, w: Float32Array, shape: readonly number[], delta: Float32Array, steps: number): Promise<Float32Array>;

  /**
   * In-process tfjs targets (reference, mutants, tfjs modules) expose their fake-quant as a
   * differentiable tfjs function on the engine's own `tf`, so training uses real autodiff.
   * Out-of-process targets (onnx, exec) leave it undefined; the trainer then uses forward
   * (+ gradient if present, else an identity STE, said in the report).
   */
  tfFakeQuant?(format: string): ((x: import('@tensorflow/tfjs').Tensor) => import('@tensorflow/tfjs').Tensor) | undefined;

  /**
   * Targets with structure of their own (ONNX QDQ models: many quantization sites) run their
   * site audit here and return per-site results (`site` set). Called by `run` once per target.
   */
  audit?(ctx: TargetAuditContext): Promise<import('../report/types.js').ProbeResult[]>;

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

export interface TargetAuditContext {
  seed: number;
  thresholds: import('../thresholds.js').Thresholds;
  /** Formats the user selected (may be empty = whatever the model implies). */
  formats: string[];
  reproCommand(probe: string, format: string, site?: string): string;
  log(message: string): void;
}

/** Options every target opener receives. */
export interface TargetOptions {
  registry: import('../formats/registry.js').FormatRegistry;
  /** ONNX execution provider. */
  ep?: 'cpu' | 'cuda';
  /** exec: per-request timeout. */
  timeoutMs?: number;
  /** Refuse tensors bigger than this many elements (hardening). */
  maxTensorElements?: number;
  /** Refuse models/inputs that need more memory than this in all (src/limits.ts). */
  maxMemoryMB?: number;
  /** onnx: inputs for the QDQ site audit (`--input FILE.json|FILE.npy`); seeded from declared shapes when absent. */
  inputs?: string;
  /** onnx: the float model the quantized one was made from (`--float-model`), for per-weight and per-output SQNR. */
  floatModel?: string;
  /** python: the interpreter (`--python`); default QUANT_AUDIT_PYTHON, else the first python3 on PATH that can load the module. */
  python?: string;
  /** python: how tensors reach the user's function (`--python-api`); default auto-detected. */
  pythonApi?: 'auto' | 'torch' | 'numpy';
  /** The formats the user selected (`--format`); python targets whose module declares none serve these. */
  formats?: readonly string[];
  /** onnx: `--onnx-mode` — `auto` (default: a quantizer when the graph is one), `quantizer` or `model`. */
  onnxMode?: 'auto' | 'quantizer' | 'model';
  log?(message: string): void;
}
