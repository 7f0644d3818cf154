/**
 * Turns flags + quant-audit.yaml + built-in defaults into one RunPlan. Precedence:
 * command-line flag > config file > default. `--all` selects every probe and every format
 * regardless of the config's selection. Every name is checked here, before anything runs.
 */
import { UsageError } from '../errors.js';
import { configWhere, loadConfig, type QuantAuditConfig, type LearnabilityConfig } from '../config.js';
import { FormatRegistry } from '../formats/registry.js';
import { mergeThresholds, type Thresholds } from '../thresholds.js';
import { BACKENDS, type BackendName } from '../tf.js';
import { FAIL_ON_LEVELS, type FailOn } from '../report/types.js';
import { LEARNABILITY_ID, PROBE_IDS } from '../../probes/ids.js';
import { resolveLimits } from '../limits.js';
import { didYouMean } from '../suggest.js';
import { DEFAULTS, OPTIMIZERS } from './defaults.js';
import { allLrs, resolveOptimizerPlan, type OptimizerPlan } from './optimizer-plan.js';

export { DEFAULTS, OPTIMIZERS };
export { LEARNABILITY_ID };

/** The options commander hands us (all optional; arrays for repeatable flags). */
export interface RunFlags {
  all?: boolean;
  target?: string;
  probe?: string[];
  format?: string[];
  optimizer?: string[];
  seed?: string[];
  lr?: string[];
  steps?: string;
  corpus?: string;
  backend?: string;
  ep?: string;
  config?: string;
  out?: string;
  failOn?: string;
  shard?: string;
  json?: boolean;
  quiet?: boolean;
  masterWeights?: boolean;
  input?: string;
  floatModel?: string;
  onnxMode?: string;
  workers?: string;
  timeoutMs?: string;
  python?: string;
  pythonApi?: string;
}

export interface RunPlan {
  target: string;
  probes: string[];
  /** Explicitly chosen formats; undefined = every registry format (or what the target claims). */
  formats: string[] | undefined;
  optimizers: string[];
  seeds: number[];
  /** Learning rates for every optimizer's lanes; undefined = the trainer's tuned default. */
  lrs: number[] | undefined;
  /** An optimizer's own learning rates (`--lr muon=0.0235`, `optimizers.muon.lr`), in place of `lrs` for it. */
  lrsByOptimizer: OptimizerPlan['lrsByOptimizer'];
  /** Momentum, Newton–Schulz steps, weight decay from quant-audit.yaml `optimizers:`. */
  optimizerSettings: OptimizerPlan['optimizerSettings'];
  probeLrs: number[];
  steps: number;
  corpus: string;
  backend: BackendName;
  ep: 'cpu' | 'cuda';
  failOn: FailOn;
  out: string;
  shard: string | undefined;
  json: boolean;
  quiet: boolean;
  input: string | undefined;
  /** ONNX: `--float-model ORIGINAL.onnx`. */
  floatModel: string | undefined;
  /** onnx: `--onnx-mode` (auto: a quantizer model when the graph is one). */
  onnxMode: 'auto' | 'quantizer' | 'model';
  workers: number | undefined;
  timeoutMs: number | undefined;
  /** python targets: --python and --python-api (src/targets/python/). */
  python: string | undefined;
  pythonApi: 'auto' | 'torch' | 'numpy' | undefined;
  maxTensorElements: number | undefined;
  /** limits.maxMemoryMB (src/limits.ts; default there). */
  maxMemoryMB?: number;
  learnability: LearnabilityConfig;
  thresholds: Thresholds;
  registry: FormatRegistry;
  config: QuantAuditConfig;
}

export const ALL_PROBE_IDS: readonly string[] = PROBE_IDS;

function parseNumberList(values: string[] | undefined, flag: string, integer: boolean): number[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0) {
      throw new UsageError(`${flag} ${JSON.stringify(v)} is not a ${integer ? 'non-negative integer' : 'non-negative number'}.`);
    }
    return n;
  });
}

function parsePositiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} ${JSON.stringify(value)} must be a positive integer.`);
  return n;
}

function splitList(values: string[] | undefined): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Every value must be one of `valid`. `from` says where the values came from: a flag, or a
 * config key (then the message starts with its file:line:col).
 */
function checkMembers(kind: string, values: readonly string[], valid: readonly string[], from: Source): void {
  values.forEach((v, i) => {
    if (valid.includes(v)) return;
    const where = from.key ? `${configWhere(from.config, typeof from.list === 'boolean' && from.list ? [from.key, i] : [from.key]) ?? from.key}: ` : '';
    throw new UsageError(`${where}unknown ${kind} '${v}'.${didYouMean(v, valid)} Valid ${kind}s: ${valid.join(', ')}.`);
  });
}

/** Where a setting came from: a command-line flag (no key) or a config key (`list`: one entry per item). */
interface Source {
  config: QuantAuditConfig;
  key?: string;
  list?: boolean;
}

/** The flag's value when given, else the config's (remembering which, for messages), else the default. */
function pick<T>(flag: T | undefined, config: QuantAuditConfig, key: keyof QuantAuditConfig & string, list = false): { value: T | undefined; from: Source } {
  if (flag !== undefined) return { value: flag, from: { config } };
  return { value: config[key] as T | undefined, from: { config, key, list } };
}

export function buildPlan(flags: RunFlags): RunPlan {
  const config = loadConfig(flags.config);
  const registry = new FormatRegistry(config.customFormats);
  const thresholds = mergeThresholds(config.thresholds);

  const probePick = pick(flags.all ? [...ALL_PROBE_IDS] : splitList(flags.probe), config, 'probes', true);
  const probes = probePick.value ?? [...ALL_PROBE_IDS];
  checkMembers('probe', probes, ALL_PROBE_IDS, probePick.from);

  const formatPick = pick(flags.all ? [] : splitList(flags.format), config, 'formats', true);
  const formats = flags.all ? undefined : formatPick.value;
  checkMembers('format', formats ?? [], registry.names(), formatPick.from);

  // Names first, with the place they came from (the mapping form's keys are checked by the schema).
  const selected = splitList(flags.optimizer);
  const listed = selected ?? (Array.isArray(config.optimizers) ? config.optimizers : []);
  checkMembers('optimizer', listed, OPTIMIZERS, selected ? { config } : { config, key: 'optimizers', list: true });
  const opt = resolveOptimizerPlan(selected, flags.lr, config);

  const backendPick = pick(flags.backend, config, 'backend');
  const backend = (backendPick.value ?? DEFAULTS.backend) as BackendName;
  checkMembers('backend', [backend], BACKENDS, backendPick.from);
  const epPick = pick(flags.ep, config, 'ep');
  const ep = epPick.value ?? DEFAULTS.ep;
  checkMembers('execution provider', [ep], ['cpu', 'cuda'], epPick.from);
  const onnxMode = flags.onnxMode ?? 'auto';
  checkMembers('--onnx-mode value', [onnxMode], ['auto', 'quantizer', 'model'], { config });
  const failOn = (flags.failOn ?? config.failOn ?? DEFAULTS.failOn) as FailOn;
  checkMembers('--fail-on value', [failOn], FAIL_ON_LEVELS, { config });

  const seeds = parseNumberList(flags.seed, '--seed', true) ?? config.seeds ?? DEFAULTS.seeds;
  const steps = parsePositiveInt(flags.steps, '--steps') ?? config.steps ?? DEFAULTS.steps;

  const learnability: LearnabilityConfig = { ...(config.learnability ?? {}) };
  if (flags.masterWeights === false) learnability.masterWeights = false;
  const workers = parsePositiveInt(flags.workers, '--workers') ?? learnability.workers;
  const timeoutMs = parsePositiveInt(flags.timeoutMs, '--timeout-ms') ?? config.exec?.timeoutMs;
  const limits = resolveLimits(config.limits);
  if (flags.pythonApi !== undefined) checkMembers('--python-api value', [flags.pythonApi], ['auto', 'torch', 'numpy'], { config });

  return {
    target: flags.target ?? config.target ?? DEFAULTS.target,
    probes,
    formats,
    optimizers: opt.optimizers,
    seeds,
    lrs: opt.lrs,
    lrsByOptimizer: opt.lrsByOptimizer,
    optimizerSettings: opt.optimizerSettings,
    probeLrs: allLrs(opt) ?? DEFAULTS.probeLrs,
    steps,
    corpus: flags.corpus ?? config.corpus ?? DEFAULTS.corpus,
    backend,
    ep: ep as 'cpu' | 'cuda',
    failOn,
    out: flags.out ?? config.out ?? DEFAULTS.out,
    shard: flags.shard,
    json: flags.json ?? false,
    quiet: flags.quiet ?? false,
    input: flags.input,
    floatModel: flags.floatModel,
    onnxMode: onnxMode as RunPlan['onnxMode'],
    workers,
    timeoutMs,
    python: flags.python,
    pythonApi: flags.pythonApi as RunPlan['pythonApi'],
    maxTensorElements: limits.maxTensorElements,
    maxMemoryMB: limits.maxMemoryMB,
    learnability,
    thresholds,
    registry,
    config,
  };
}

/** What `run --dry-run` prints: the settled plan, one setting a line, and that nothing ran. */
export function describePlan(plan: RunPlan): string {
  const list = (v: readonly (string | number)[] | undefined, fallback: string): string => (v && v.length > 0 ? v.join(' ') : fallback);
  const rows: [string, string][] = [
    ['target', plan.target],
    ['probes', list(plan.probes, '(none)')],
    ['formats', list(plan.formats, `every format the target supports (${plan.registry.names().length} in the registry)`)],
    ['optimizers', list(plan.optimizers, '(none)')],
    ['seeds', list(plan.seeds, '(none)')],
    ['lr', plan.lrs ? plan.lrs.join(' ') : `the trainer's default for lanes; ${plan.probeLrs.join(' ')} for lost-updates`],
    ['steps', String(plan.steps)],
    ['corpus', plan.corpus],
    ['backend', plan.backend],
    ['fail-on', plan.failOn],
    ['shard', plan.shard ?? '(all)'],
    ['config', plan.config.path ?? '(none)'],
    ['out', plan.out],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `dry run: the flags and config are valid; nothing was run.\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
