/**
 * quant-audit.yaml: one schema (ConfigSchema, TypeBox) gives the static type of the config,
 * its validation (ajv) and the messages: a wrong key, type or value is a UsageError that names
 * file:line:col, the key and what is valid. Values checked later against other data (format
 * and probe names, custom format rows merged with a built-in row) are located the same way
 * (`configWhere`, ConfigValueError). Command-line flags override the file; the file overrides
 * built-in defaults.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node, type Pair } from 'yaml';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigValueError, UsageError } from './errors.js';
import { DEFAULT_THRESHOLDS } from './thresholds.js';
import { FAIL_ON_LEVELS } from './report/types.js';
import { FormatRowSchema, StringEnum } from './formats/row-schema.js';
import { FormatRegistry } from './formats/registry.js';
import { didYouMean } from './suggest.js';

const MAX_INT = Number.MAX_SAFE_INTEGER;
const intIn = (minimum: number, maximum: number, description: string) => Type.Integer({ minimum, maximum, description });
const strings = (description: string) => Type.Array(Type.String(), { description });

/** One entry per threshold of src/thresholds.ts, typed as its default is: a number, or a [lo, hi] pair. */
const ThresholdsSchema = Type.Object(
  Object.fromEntries(
    Object.entries(DEFAULT_THRESHOLDS).map(([key, value]) => [
      key,
      Type.Optional(typeof value === 'number' ? Type.Number({ description: `default ${value}` }) : Type.Tuple([Type.Number(), Type.Number()], { description: `[lo, hi], default [${value.join(', ')}]` })),
    ]),
  ),
  { additionalProperties: false, description: 'overrides of the judging thresholds (src/thresholds.ts); each is printed in the report next to the value' },
);

export const LearnabilitySchema = Type.Object(
  {
    hidden: Type.Optional(intIn(1, 4096, 'hidden units of the lane model')),
    context: Type.Optional(intIn(1, 256, 'context length in bytes')),
    embed: Type.Optional(intIn(1, 1024, 'embedding width')),
    batch: Type.Optional(intIn(1, 65_536, 'sequences per step')),
    evalEvery: Type.Optional(intIn(1, 100_000, 'steps between evaluations')),
    evalTokens: Type.Optional(intIn(1, 1_000_000, 'held-out bytes per evaluation')),
    masterWeights: Type.Optional(Type.Boolean({ description: 'keep fp32 master weights (false: round in place after every step)' })),
    earlyStop: Type.Optional(Type.Boolean({ description: 'stop a lane whose gradient is frozen' })),
    workers: Type.Optional(intIn(1, 1024, 'training threads (default: number of cores)')),
  },
  { additionalProperties: false },
);

/** A learning rate, or several (one lane each). if/then/else, not anyOf: ajv then reports only the branch that applies. */
const LearningRatesSchema = Type.Unsafe<number | number[]>({
  if: { type: 'number' },
  then: Type.Number({ exclusiveMinimum: 0 }),
  else: Type.Array(Type.Number({ exclusiveMinimum: 0 })),
});
const weightDecay = Type.Optional(Type.Number({ minimum: 0, description: 'decoupled weight decay' }));

/** `optimizers:` as a mapping: each optimizer (its key selects it) and the settings it takes. */
const OptimizerMapSchema = Type.Object(
  {
    adamw: Type.Optional(Type.Object({ lr: Type.Optional(LearningRatesSchema), weightDecay }, { additionalProperties: false })),
    muon: Type.Optional(
      Type.Object(
        {
          lr: Type.Optional(LearningRatesSchema),
          momentum: Type.Optional(Type.Number({ minimum: 0, maximum: 0.9999, description: 'Nesterov momentum' })),
          nsSteps: Type.Optional(intIn(1, 20, 'Newton–Schulz iterations')),
          weightDecay,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** One optimizer's settings under the `optimizers:` mapping. */
export interface OptimizerConfig {
  lr?: number | number[];
  momentum?: number;
  nsSteps?: number;
  weightDecay?: number;
}

/** A list of optimizer names, or a mapping of optimizer → settings. */
const OptimizersSchema = Type.Unsafe<string[] | Record<string, OptimizerConfig>>({
  if: { type: 'array' },
  then: strings('adamw | muon'),
  else: OptimizerMapSchema,
});

const WitnessSchema = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'FILE.csv | FILE.jsonl | postgres://…' })),
    table: Type.Optional(Type.String()),
    query: Type.Optional(Type.String()),
    nameColumn: Type.Optional(Type.String()),
    bpbColumn: Type.Optional(Type.String()),
    stepColumn: Type.Optional(Type.String()),
    namePattern: Type.Optional(Type.String()),
    vocab: Type.Optional(intIn(2, MAX_INT, 'vocabulary size V (uniform baseline log2 V)')),
    minSamples: Type.Optional(intIn(1, MAX_INT, 'fewer samples: the lane is not judged')),
    controls: Type.Optional(strings('control formats')),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    target: Type.Optional(Type.String({ description: 'reference | mutant:NAME | tfjs:PATH | onnx:PATH | exec:COMMAND' })),
    probes: Type.Optional(strings('probe ids')),
    formats: Type.Optional(strings('format names (quant-audit formats lists them)')),
    optimizers: Type.Optional(OptimizersSchema),
    seeds: Type.Optional(Type.Array(intIn(0, MAX_INT, 'seed'))),
    lrs: Type.Optional(Type.Array(Type.Number({ exclusiveMinimum: 0 }), { description: 'learning rates for the lanes and lost-updates' })),
    steps: Type.Optional(intIn(1, 1_000_000, 'training steps per lane')),
    corpus: Type.Optional(Type.String({ description: 'builtin:english | builtin:markov | a text file' })),
    backend: Type.Optional(Type.String({ description: 'auto | tensorflow | wasm | cpu' })),
    ep: Type.Optional(Type.String({ description: 'cpu | cuda' })),
    failOn: Type.Optional(StringEnum(FAIL_ON_LEVELS, 'exit 1 at or above this level')),
    out: Type.Optional(Type.String({ description: 'where run directories go' })),
    thresholds: Type.Optional(ThresholdsSchema),
    customFormats: Type.Optional(Type.Record(Type.String(), FormatRowSchema, { description: 'formats are data: add a row, or override fields of a built-in row (docs/formats.md)' })),
    learnability: Type.Optional(LearnabilitySchema),
    exec: Type.Optional(Type.Object({ timeoutMs: Type.Optional(intIn(1, MAX_INT, 'per-request timeout')) }, { additionalProperties: false })),
    limits: Type.Optional(
      Type.Object(
        {
          maxTensorElements: Type.Optional(intIn(1, MAX_INT, 'largest tensor a target may ask for')),
          maxMemoryMB: Type.Optional(intIn(1, MAX_INT, 'memory a target may ask for at once')),
        },
        { additionalProperties: false },
      ),
    ),
    witness: Type.Optional(WitnessSchema),
  },
  { additionalProperties: false },
);

export type LearnabilityConfig = Static<typeof LearnabilitySchema>;
export type QuantAuditConfig = Static<typeof ConfigSchema> & {
  /** Where it was read from (for messages). */
  path?: string;
};

export const DEFAULT_CONFIG_FILE = 'quant-audit.yaml';
const MAX_CONFIG_BYTES = 1_000_000;

/** Offset of the first byte that is not valid UTF-8 (for the message). */
function firstBadUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return bytes.length;
}

/** Load `path` (or ./quant-audit.yaml when present). Returns {} when there is no file. */
export function loadConfig(path: string | undefined, cwd = process.cwd()): QuantAuditConfig {
  const file = path ?? (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return {};
  const full = resolve(cwd, file);
  let bytes: Buffer;
  try {
    // A FIFO or /dev/zero would be read forever, a 10 GB file into memory: check first.
    const st = statSync(full);
    if (!st.isFile()) throw new UsageError(`config file ${file} is not a regular file. Pass a quant-audit.yaml with --config.`);
    if (st.size > MAX_CONFIG_BYTES) throw new UsageError(`config file ${file} is larger than 1 MB (${st.size} bytes); a quant-audit config is a few lines.`);
    bytes = readFileSync(full);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}. Pass an existing file with --config, or remove the flag.`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`config file ${file} is not UTF-8 text (byte ${firstBadUtf8(bytes)} does not decode). Save it as UTF-8.`);
  }
  return parseConfig(text, file);
}

/** Where each parsed config came from: file:line:col of a key path (see configWhere). */
const locators = new WeakMap<object, (path: readonly (string | number)[]) => string>();

/**
 * `file:line:col` of the value at `path` in the config file (e.g. ['formats', 2]), or the file
 * name when the key is not in it, or undefined for a config not read from a file.
 */
export function configWhere(config: QuantAuditConfig, path: readonly (string | number)[]): string | undefined {
  return locators.get(config)?.(path) ?? config.path;
}

/** Run `check` (which reads config values) and give a ConfigValueError its file:line:col. */
export function locatedIn<T>(config: QuantAuditConfig, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof ConfigValueError) {
      const where = configWhere(config, e.configPath);
      throw new UsageError(where ? `${where}: ${e.message}` : e.message);
    }
    throw e;
  }
}

export function parseConfig(text: string, file = DEFAULT_CONFIG_FILE): QuantAuditConfig {
  if (text.length > MAX_CONFIG_BYTES) throw new UsageError(`config file ${file} is larger than 1 MB; a quant-audit config is a few lines.`);
  // The YAML parser recurses per nesting level; thousands of levels overflow the stack (and can
  // take V8 down with it). A config is a few levels deep: refuse deep nesting before parsing.
  const depth = nestingDepth(text);
  if (depth.depth > MAX_NESTING) {
    throw new UsageError(`${file}:${depth.line}: nested more than ${MAX_NESTING} levels deep; a quant-audit config is a few levels of keys (see docs).`);
  }
  const lineCounter = new LineCounter();
  // uniqueKeys rejects duplicates; maxAliasCount (below) bounds "billion laughs" alias bombs.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new UsageError(`${at(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return locate({ path: file }, doc, at);
  if (!isMap(doc.contents)) throw new UsageError(`${at(doc.contents.range?.[0])}: the config must be a mapping of keys (target, formats, thresholds, …).`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message} (aliases are limited to 100 expansions).`);
  }
  if (!validateConfig(value)) {
    const where = (path: readonly (string | number)[], key?: boolean) => at(nodeAt(doc, path, key)?.range?.[0]);
    throw new UsageError(schemaMessage(validateConfig.errors ?? [], doc, where));
  }
  const config = locate({ ...(value as QuantAuditConfig), path: file }, doc, at);
  // Custom format rows are checked against the family rules (and the built-in row they override) now,
  // so that every config error surfaces when the file is read, with its place in the file.
  if (config.customFormats) locatedIn(config, () => new FormatRegistry(config.customFormats));
  return config;
}

function locate(config: QuantAuditConfig, doc: Document, at: (offset: number | undefined) => string): QuantAuditConfig {
  locators.set(config, (path) => {
    const node = nodeAt(doc, path, false) ?? nodeAt(doc, path.slice(0, -1), false);
    return at(node?.range?.[0]);
  });
  return config;
}

const validateConfig = new Ajv({ allErrors: true, strict: true, verbose: true }).compile<Static<typeof ConfigSchema>>(ConfigSchema);

/** The YAML node at `path` (its key node when `key`), if the file has one. */
function nodeAt(doc: Document, path: readonly (string | number)[], key = false): Node | undefined {
  if (path.length === 0) return (doc.contents ?? undefined) as Node | undefined;
  if (key) {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const last = path[path.length - 1];
      const pair = (parent.items as Pair<unknown, unknown>[]).find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(last));
      if (pair && pair.key && typeof pair.key === 'object') return pair.key as Node;
    }
  }
  return (doc.getIn(path, true) ?? undefined) as Node | undefined;
}

/** ajv's instancePath ('/thresholds/broken-ste.minCosine') as key segments. */
function pathOf(e: ErrorObject): (string | number)[] {
  if (e.instancePath === '') return [];
  return e.instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function dotted(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a finite number',
  integer: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

/** One sentence per schema violation, the first in file order leading: `file:line:col: …`. */
function schemaMessage(errors: ErrorObject[], doc: Document, where: (path: readonly (string | number)[], key?: boolean) => string): string {
  const described = errors
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const path = pathOf(e);
      if (e.keyword === 'additionalProperties') {
        const key = String((e.params as { additionalProperty: string }).additionalProperty);
        const full = [...path, key];
        const valid = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
        const under = path.length > 0 ? ` under '${dotted(path)}'` : '';
        const noun = path.length === 1 && path[0] === 'thresholds' ? 'threshold' : path.length === 2 && path[0] === 'customFormats' ? 'field' : 'key';
        return { offset: offsetOf(doc, full, true), text: `${where(full, true)}: unknown ${noun} '${dotted(full)}'.${didYouMean(key, valid)} Valid ${noun}s${under}: ${valid.join(', ')}.` };
      }
      const name = dotted(path);
      const got = describe(e.data);
      let expected: string;
      const schema = e.parentSchema as { description?: string; type?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; items?: unknown };
      switch (e.keyword) {
        case 'type':
          expected = Array.isArray(schema.items) ? `a [lo, hi] pair of numbers` : (TYPE_WORDS[String((e.params as { type: string }).type)] ?? String((e.params as { type: string }).type));
          break;
        case 'enum':
          expected = `one of ${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')}`;
          break;
        case 'minimum':
        case 'maximum':
          expected = schema.maximum !== undefined && schema.maximum < MAX_INT ? `${schema.type === 'integer' ? 'an integer' : 'a number'} from ${schema.minimum} to ${schema.maximum}` : schema.minimum === 1 && schema.type === 'integer' ? 'a positive integer' : `${schema.type === 'integer' ? 'an integer' : 'a number'} ≥ ${schema.minimum}`;
          break;
        case 'exclusiveMinimum':
          expected = `a number above ${schema.exclusiveMinimum}`;
          break;
        case 'minItems':
        case 'maxItems':
        case 'additionalItems':
          expected = 'a [lo, hi] pair of numbers';
          break;
        default:
          expected = e.message ?? e.keyword;
      }
      const hint = schema.description ? ` (${schema.description})` : '';
      return { offset: offsetOf(doc, path, false), text: `${where(path)}: '${name}' must be ${expected}, got ${got}.${path[0] === 'thresholds' ? hint : ''}` };
    });
  // The first problem in the file first; ajv's order is the schema's.
  const unique = [...new Map(described.map((d) => [d.text, d])).values()].sort((a, b) => a.offset - b.offset);
  const more = unique.length > 1 ? ` (${unique.length - 1} more problem${unique.length > 2 ? 's' : ''} in this file: ${unique.slice(1, 4).map((d) => d.text.split(': ')[0]).join(', ')}${unique.length > 4 ? ', …' : ''})` : '';
  return `${unique[0]!.text}${more}`;
}

function offsetOf(doc: Document, path: readonly (string | number)[], key: boolean): number {
  return nodeAt(doc, path, key)?.range?.[0] ?? Number.MAX_SAFE_INTEGER;
}

/** How deep a config may nest (flow [ { and block indentation together). */
export const MAX_NESTING = 64;

/**
 * An upper estimate of the YAML nesting depth without parsing: open flow brackets outside
 * quotes and comments, plus block levels (a stack of indentations; each `- ` opens one).
 * Returns the deepest level and the line it was reached on.
 */
export function nestingDepth(text: string): { depth: number; line: number } {
  let best = { depth: 0, line: 1 };
  let flow = 0;
  const indents: number[] = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln]!;
    let i = 0;
    while (line[i] === ' ') i++;
    const rest = line.slice(i);
    if (flow === 0 && rest !== '' && !rest.startsWith('#')) {
      let indent = i;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      // `- - - x`: each dash is one more level at a deeper column
      let j = i;
      while (line[j] === '-' && (line[j + 1] === ' ' || line[j + 1] === undefined)) {
        indent = j + 2;
        indents.push(indent);
        j += 2;
        while (line[j] === ' ') j++;
      }
    }
    let quote: string | undefined;
    for (let k = i; k < line.length; k++) {
      const c = line[k]!;
      if (quote) {
        if (c === quote) quote = undefined;
        else if (c === '\\' && quote === '"') k++;
        continue;
      }
      if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (k === 0 || line[k - 1] === ' ')) break;
      else if (c === '[' || c === '{') {
        flow++;
        if (indents.length + flow > best.depth) best = { depth: indents.length + flow, line: ln + 1 };
      } else if ((c === ']' || c === '}') && flow > 0) flow--;
    }
    if (indents.length + flow > best.depth) best = { depth: indents.length + flow, line: ln + 1 };
  }
  return best;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return `a list ${JSON.stringify(v).slice(0, 60)}`;
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number' && !Number.isFinite(v)) return `${v}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
