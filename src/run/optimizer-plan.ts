/**
 * Which optimizers a run trains and with what settings, from `--optimizer`, `--lr` and
 * quant-audit.yaml. `--lr X` (or `lrs:`) is every optimizer's learning rate; `--lr NAME=X`
 * (or `optimizers: {NAME: {lr: X}}`) is one optimizer's, and wins over the plain value for it.
 * Precedence per optimizer: --lr NAME=X > --lr X > optimizers.NAME.lr > lrs > the default.
 * Several values (`--lr adamw=1e-4,3e-4`) give that optimizer several lanes per format.
 */
import { UsageError } from '../errors.js';
import type { OptimizerConfig, QuantAuditConfig } from '../config.js';
import type { OptimizerSettings } from '../train/optimizers.js';
import { OPTIMIZERS } from './defaults.js';

export { OPTIMIZERS };

export interface OptimizerPlan {
  /** Optimizers the lanes train. */
  optimizers: string[];
  /** Every optimizer's learning rates (plain `--lr X` / `lrs:`); undefined = the trainer's default. */
  lrs: number[] | undefined;
  /** An optimizer's own learning rates, for those that have them. */
  lrsByOptimizer: Record<string, number[]>;
  /** Momentum, Newton–Schulz steps, weight decay set in quant-audit.yaml. */
  optimizerSettings: Record<string, OptimizerSettings>;
}

export interface LrFlag {
  all: number[];
  byOptimizer: Record<string, number[]>;
}

const LR_HELP = 'Use --lr X for every optimizer or --lr NAME=X for one (e.g. --lr adamw=1e-4 --lr muon=0.0235).';

/** `--lr` values (repeatable, comma-separated): plain numbers and NAME=number pairs. */
export function parseLrFlag(values: string[] | undefined): LrFlag | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const out: LrFlag = { all: [], byOptimizer: {} };
  for (const token of values.flatMap((v) => v.split(','))) {
    const raw = token.trim();
    const eq = raw.indexOf('=');
    const name = eq >= 0 ? raw.slice(0, eq).trim() : undefined;
    const text = eq >= 0 ? raw.slice(eq + 1).trim() : raw;
    if (name !== undefined && !(OPTIMIZERS as readonly string[]).includes(name)) {
      throw new UsageError(`--lr ${JSON.stringify(raw)}: unknown optimizer '${name}'. Valid optimizers: ${OPTIMIZERS.join(', ')}. ${LR_HELP}`);
    }
    const lr = Number(text);
    if (text === '' || !Number.isFinite(lr) || lr <= 0) {
      throw new UsageError(`--lr ${JSON.stringify(raw)}: the learning rate ${JSON.stringify(text)} is not a positive number. ${LR_HELP}`);
    }
    if (name === undefined) out.all.push(lr);
    else (out.byOptimizer[name] ??= []).push(lr);
  }
  return out;
}

function unique(xs: number[]): number[] {
  return [...new Set(xs)];
}

function configLrs(c: OptimizerConfig | undefined): number[] | undefined {
  if (c?.lr === undefined) return undefined;
  return Array.isArray(c.lr) ? c.lr : [c.lr];
}

/**
 * Resolve the optimizers of a run. `selected` is `--optimizer` (already split); the config's
 * `optimizers:` list or mapping keys select otherwise; both optimizers by default.
 */
export function resolveOptimizerPlan(selected: string[] | undefined, lrFlag: string[] | undefined, config: QuantAuditConfig): OptimizerPlan {
  const fromConfig = config.optimizers;
  const mapping = fromConfig !== undefined && !Array.isArray(fromConfig) ? fromConfig : undefined;
  const optimizers = selected ?? (Array.isArray(fromConfig) ? fromConfig : mapping ? Object.keys(mapping) : [...OPTIMIZERS]);
  for (const o of optimizers) {
    if (!(OPTIMIZERS as readonly string[]).includes(o)) throw new UsageError(`unknown optimizer '${o}'. Valid optimizers: ${OPTIMIZERS.join(', ')}.`);
  }
  if (optimizers.length === 0) throw new UsageError(`no optimizer selected. Name one or more with --optimizer (${OPTIMIZERS.join(', ')}).`);
  const flag = parseLrFlag(lrFlag);
  for (const name of Object.keys(flag?.byOptimizer ?? {})) {
    if (!optimizers.includes(name)) {
      throw new UsageError(`--lr ${name}=…: this run does not train ${name} (optimizers: ${optimizers.join(', ')}). Drop the value or add --optimizer ${name}.`);
    }
  }
  const lrs = flag && flag.all.length > 0 ? unique(flag.all) : config.lrs;
  if (lrs?.some((x) => !(x > 0))) throw new UsageError(`${config.path ?? 'config'}: lrs must be positive numbers, got ${lrs.join(', ')}.`);
  const lrsByOptimizer: Record<string, number[]> = {};
  const optimizerSettings: Record<string, OptimizerSettings> = {};
  for (const name of optimizers) {
    // A plain --lr overrides the file's per-optimizer value: flags beat the file.
    const own = flag?.byOptimizer[name] ?? (flag && flag.all.length > 0 ? undefined : configLrs(mapping?.[name]));
    if (own) lrsByOptimizer[name] = unique(own);
    const c = mapping?.[name];
    const settings: OptimizerSettings = {
      ...(c?.momentum !== undefined ? { momentum: c.momentum } : {}),
      ...(c?.nsSteps !== undefined ? { nsSteps: c.nsSteps } : {}),
      ...(c?.weightDecay !== undefined ? { weightDecay: c.weightDecay } : {}),
    };
    if (Object.keys(settings).length > 0) optimizerSettings[name] = settings;
  }
  return { optimizers, lrs, lrsByOptimizer, optimizerSettings };
}

/** Every learning rate some lane trains at, ascending (lost-updates measures these). */
export function allLrs(plan: OptimizerPlan): number[] | undefined {
  const explicit = [...(plan.lrs ?? []), ...plan.optimizers.flatMap((o) => plan.lrsByOptimizer[o] ?? [])];
  if (explicit.length === 0) return undefined;
  return unique(explicit).sort((a, b) => a - b);
}

/** `--lr` arguments that reproduce the plan's learning rates (for repro lines), for some optimizers. */
export function lrArgs(plan: OptimizerPlan, optimizers: readonly string[] = plan.optimizers): string[] {
  const args: string[] = [];
  const own = optimizers.filter((o) => plan.lrsByOptimizer[o]);
  // Every selected optimizer has its own rates: the plain ones would be unused.
  if (plan.lrs && own.length < optimizers.length) args.push('--lr', ...plan.lrs.map(String));
  for (const o of own) for (const lr of plan.lrsByOptimizer[o]!) args.push('--lr', `${o}=${lr}`);
  return args;
}
