/**
 * quant-audit.yaml: loading and validation. Every key is declared in CONFIG_KEYS with its
 * type; a wrong key or type is a UsageError that names the key, the file and the line.
 * Command-line flags override the file; the file overrides built-in defaults.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, type Node } from 'yaml';
import { UsageError } from './errors.js';
import type { ThresholdValue } from './thresholds.js';
import type { FailOn } from './report/types.js';

export interface LearnabilityConfig {
  hidden?: number;
  context?: number;
  embed?: number;
  batch?: number;
  evalEvery?: number;
  evalTokens?: number;
  masterWeights?: boolean;
  earlyStop?: boolean;
  workers?: number;
}

export interface QuantAuditConfig {
  target?: string;
  probes?: string[];
  formats?: string[];
  optimizers?: string[];
  seeds?: number[];
  lrs?: number[];
  steps?: number;
  corpus?: string;
  backend?: string;
  ep?: string;
  failOn?: FailOn;
  out?: string;
  thresholds?: Record<string, ThresholdValue>;
  /** Custom or overridden formats: name → registry row fields (see src/formats/types.ts). */
  customFormats?: Record<string, Record<string, unknown>>;
  learnability?: LearnabilityConfig;
  exec?: { timeoutMs?: number };
  limits?: { maxTensorElements?: number; maxMemoryMB?: number };
  /** `quant-audit witness` defaults (flags win); see docs/witness.md. */
  witness?: {
    from?: string;
    table?: string;
    query?: string;
    nameColumn?: string;
    bpbColumn?: string;
    stepColumn?: string;
    namePattern?: string;
    vocab?: number;
    minSamples?: number;
    controls?: string[];
  };
  /** Where it was read from (for messages). */
  path?: string;
}

type KeyType = 'string' | 'number' | 'boolean' | 'string[]' | 'number[]' | 'map' | 'thresholds' | 'formats-map';

const CONFIG_KEYS: Record<string, KeyType | Record<string, KeyType>> = {
  target: 'string',
  probes: 'string[]',
  formats: 'string[]',
  optimizers: 'string[]',
  seeds: 'number[]',
  lrs: 'number[]',
  steps: 'number',
  corpus: 'string',
  backend: 'string',
  ep: 'string',
  failOn: 'string',
  out: 'string',
  thresholds: 'thresholds',
  customFormats: 'formats-map',
  learnability: {
    hidden: 'number', context: 'number', embed: 'number', batch: 'number', evalEvery: 'number',
    evalTokens: 'number', masterWeights: 'boolean', earlyStop: 'boolean', workers: 'number',
  },
  exec: { timeoutMs: 'number' },
  limits: { maxTensorElements: 'number', maxMemoryMB: 'number' },
  witness: {
    from: 'string', table: 'string', query: 'string', nameColumn: 'string', bpbColumn: 'string', stepColumn: 'string',
    namePattern: 'string', vocab: 'number', minSamples: 'number', controls: 'string[]',
  },
};

const FAIL_ON = ['dead', 'partial', 'fail', 'never'];

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
  return { ...parseConfig(text, file), path: file };
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
  // maxAliasCount bounds "billion laughs" alias bombs; uniqueKeys rejects duplicates.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const where = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, col } = lineCounter.linePos(e.pos[0]);
    throw new UsageError(`${file}:${line}:${col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) throw new UsageError(`${where(doc.contents)}: the config must be a mapping of keys (target, formats, thresholds, …).`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message} (aliases are limited to 100 expansions).`);
  }
  const nodeFor = (path: string[]): Node | null => {
    const n = doc.getIn(path, true);
    return (n ?? null) as Node | null;
  };
  validate(value as Record<string, unknown>, CONFIG_KEYS, [], nodeFor, where, file);
  return value as QuantAuditConfig;
}

function validate(
  obj: Record<string, unknown>,
  schema: Record<string, KeyType | Record<string, KeyType>>,
  path: string[],
  nodeFor: (path: string[]) => Node | null,
  where: (n: Node | null) => string,
  file: string,
): void {
  for (const [key, val] of Object.entries(obj)) {
    const keyPath = [...path, key];
    const name = keyPath.join('.');
    const type = schema[key];
    const loc = where(nodeFor(keyPath));
    if (type === undefined) {
      throw new UsageError(`${loc}: unknown key '${name}'. Valid keys${path.length ? ` under '${path.join('.')}'` : ''}: ${Object.keys(schema).join(', ')}.`);
    }
    const fail = (expected: string): never => {
      throw new UsageError(`${loc}: '${name}' must be ${expected}, got ${describe(val)}.`);
    };
    if (typeof type === 'object') {
      if (!isPlainObject(val)) fail('a mapping');
      validate(val as Record<string, unknown>, type, keyPath, nodeFor, where, file);
      continue;
    }
    switch (type) {
      case 'string':
        if (typeof val !== 'string') fail('a string');
        if (key === 'failOn' && !FAIL_ON.includes(val as string)) fail(`one of ${FAIL_ON.join(', ')}`);
        break;
      case 'number':
        if (typeof val !== 'number' || !Number.isFinite(val)) fail('a finite number');
        break;
      case 'boolean':
        if (typeof val !== 'boolean') fail('true or false');
        break;
      case 'string[]':
        if (!Array.isArray(val) || !val.every((v) => typeof v === 'string')) fail('a list of strings');
        break;
      case 'number[]':
        if (!Array.isArray(val) || !val.every((v) => typeof v === 'number' && Number.isFinite(v))) fail('a list of numbers');
        break;
      case 'thresholds':
        if (!isPlainObject(val)) fail('a mapping of threshold name to number or [lo, hi]');
        for (const [k, v] of Object.entries(val as Record<string, unknown>)) {
          const ok = (typeof v === 'number' && Number.isFinite(v)) || (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number' && Number.isFinite(n)));
          if (!ok) throw new UsageError(`${where(nodeFor([...keyPath, k]))}: threshold '${k}' must be a number or a [lo, hi] pair, got ${describe(v)}.`);
        }
        break;
      case 'formats-map':
        if (!isPlainObject(val)) fail('a mapping of format name to its fields');
        for (const [k, v] of Object.entries(val as Record<string, unknown>)) {
          if (!isPlainObject(v)) throw new UsageError(`${where(nodeFor([...keyPath, k]))}: custom format '${k}' must be a mapping of fields (family, bits, exponentBits, …).`);
        }
        break;
      case 'map':
        if (!isPlainObject(val)) fail('a mapping');
        break;
    }
  }
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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Where a node of the config sits, for messages from later validation (thresholds, formats). */
export function configLocation(cfg: QuantAuditConfig): string {
  return cfg.path ?? DEFAULT_CONFIG_FILE;
}
