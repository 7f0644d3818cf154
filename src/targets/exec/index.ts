/**
 * `exec:COMMAND` — a quantizer in any language, spoken to over newline-delimited JSON-RPC 2.0
 * on its stdin/stdout (DESIGN.md "Targets"; the wire protocol with an example session is in
 * docs/exec-protocol.md). This file maps the Target interface onto the protocol: it checks
 * tensors going out and coming back; src/targets/exec/rpc.ts owns the process, pipelining,
 * timeouts and restarts.
 */
import { basename } from 'node:path';
import { TargetError, UsageError } from '../../errors.js';
import type { Capability, Target, TargetOptions } from '../types.js';
import { parseCommand } from './argv.js';
import { ExecRpc, type JsonPieces } from './rpc.js';
import { base64LengthFor, binaryTensorBytes, decodeTensor, encodeTensor } from './tensor.js';

/** Default per-request silence limit; config key `exec.timeoutMs`. */
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const CAPABILITIES: readonly Capability[] = ['forward', 'gradient', 'update'];
/** Without limits.maxTensorElements: stay below V8's longest string (~2^29 characters). */
const DEFAULT_MAX_LINE_BYTES = 500 * 1024 * 1024;
/** Room for the JSON around a tensor (ids, shape, format name, error text). */
const LINE_OVERHEAD_BYTES = 64 * 1024;

export interface ExecDescription {
  formats: string[];
  capabilities: Capability[];
  /** Optional `name` / `version` the server may report about itself. */
  name?: string;
  version?: string;
  /** `"binary"`: the server reads binary tensor frames (docs/exec-protocol.md); default base64. */
  tensors: 'base64' | 'binary';
}

/** How tensors travel: binary frames when the server offers them (`auto`), or always base64. */
export type TensorEncoding = 'auto' | 'base64';

/** Knobs beyond TargetOptions, for tests and embedders (defaults suit the CLI). */
export interface ExecTuning {
  /** Silence allowed while a new server process starts, before its first line (default 30 s). */
  startupTimeoutMs?: number;
  /** Wait after `shutdown` before the process group is killed (default 1 s). */
  shutdownGraceMs?: number;
  /** `base64` keeps tensors in base64 even when the server offers binary frames (benchmarks, tests). */
  tensors?: TensorEncoding;
}

/** A JSON-RPC client for one server command, with the limits of TargetOptions (shared by exec: and python:). */
export function startRpc(argv: readonly string[], command: string, opts: TargetOptions, tuning: ExecTuning = {}): ExecRpc {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new UsageError(`exec.timeoutMs must be a positive number of milliseconds, got ${timeoutMs}.`);
  }
  const log = opts.log ?? (() => undefined);
  const maxLineBytes = opts.maxTensorElements !== undefined ? base64LengthFor(opts.maxTensorElements) + LINE_OVERHEAD_BYTES : DEFAULT_MAX_LINE_BYTES;
  const { tensors: _tensors, ...rpcTuning } = tuning;
  return new ExecRpc({ argv, command, timeoutMs, log, maxLineBytes, ...rpcTuning });
}

export async function openExecTarget(command: string, opts: TargetOptions, tuning: ExecTuning = {}): Promise<Target> {
  const argv = parseCommand(command);
  const rpc = startRpc(argv, command, opts, tuning);
  let description: ExecDescription;
  try {
    description = parseDescription(await rpc.call('describe', '', undefined));
  } catch (e) {
    await rpc.close();
    const why = (e instanceof TargetError ? e.message.replace(/^describe: /, '') : (e as Error).message).replace(/\.$/, '');
    throw new UsageError(
      `exec target '${command}' did not start: ${why}. Check that the command runs on its own from this directory ` +
        `and answers "describe" as in docs/exec-protocol.md.`,
    );
  }
  const server = description.name ?? basename(argv[0]!);
  return new RpcTarget({
    kind: 'exec',
    spec: `exec:${command}`,
    info: { command, server: description.version ? `${server} ${description.version}` : server },
    description,
    rpc,
    maxTensorElements: opts.maxTensorElements,
    binary: description.tensors === 'binary' && tuning.tensors !== 'base64',
    log: opts.log,
  });
}

/** Validate a `describe` result; throws a TargetError saying what is wrong with it. */
export function parseDescription(result: unknown): ExecDescription {
  const bad = (what: string): never => {
    throw new TargetError(`its describe result ${what}; expected {"formats": ["int8", …], "capabilities": ["forward", …]}`);
  };
  if (typeof result !== 'object' || result === null || Array.isArray(result)) bad(`is ${JSON.stringify(result)}`);
  const r = result as Record<string, unknown>;
  const formats = r.formats;
  if (!Array.isArray(formats) || formats.length === 0 || !formats.every((f) => typeof f === 'string' && f !== '')) {
    bad(`has "formats" = ${JSON.stringify(formats)}, not a non-empty list of format names`);
  }
  const capabilities = r.capabilities;
  if (!Array.isArray(capabilities) || !capabilities.every((c) => typeof c === 'string')) {
    bad(`has "capabilities" = ${JSON.stringify(capabilities)}, not a list of strings`);
  }
  const unknown = (capabilities as string[]).filter((c) => !(CAPABILITIES as readonly string[]).includes(c));
  if (unknown.length > 0) bad(`lists unknown capabilities ${unknown.join(', ')} (valid: ${CAPABILITIES.join(', ')})`);
  const description: ExecDescription = {
    formats: [...new Set(formats as string[])],
    capabilities: [...new Set(capabilities as Capability[])],
    tensors: r.tensors === 'binary' ? 'binary' : 'base64',
  };
  if (typeof r.name === 'string' && r.name !== '') description.name = r.name;
  if (typeof r.version === 'string' && r.version !== '') description.version = r.version;
  if (r.tensors !== undefined && r.tensors !== 'base64' && r.tensors !== 'binary') {
    bad(`has "tensors" = ${JSON.stringify(r.tensors)}; valid values are "binary" (the server reads binary tensor frames) and "base64" (the default)`);
  }
  return description;
}

export interface RpcTargetSetup {
  kind: 'exec' | 'python';
  spec: string;
  info: Record<string, string>;
  /** Formats and capabilities as the server described them; `formats` undefined = any registry format. */
  description: Omit<ExecDescription, 'formats'> & { formats: readonly string[] | undefined };
  rpc: ExecRpc;
  maxTensorElements: number | undefined;
  /** Send binary tensor frames (the server announced them and the caller did not ask for base64). */
  binary: boolean;
  /** Facts about the target's software (interpreter, library versions) for the report's environment. */
  versions?: Record<string, string>;
  reopenWith?: Target['reopenWith'];
  /** Where a reply's `"note"` goes (once per method × format), e.g. why a gradient is zero. */
  log?(message: string): void;
}

/** A Target served over the exec protocol: exec:COMMAND, and python: (src/targets/python/). */
export class RpcTarget implements Target {
  readonly kind: 'exec' | 'python';
  readonly spec: string;
  readonly capabilities: ReadonlySet<Capability>;
  readonly formats: readonly string[] | undefined;
  readonly info: Record<string, string>;
  readonly versions: Record<string, string> | undefined;
  readonly reopenWith: Target['reopenWith'];
  readonly gradient?: Target['gradient'];
  readonly update?: Target['update'];
  private readonly rpc: ExecRpc;
  private readonly maxTensorElements: number | undefined;
  private readonly binary: boolean;
  private readonly log: (message: string) => void;
  private readonly notesLogged = new Set<string>();

  constructor(setup: RpcTargetSetup) {
    const { description } = setup;
    this.kind = setup.kind;
    this.spec = setup.spec;
    this.rpc = setup.rpc;
    this.maxTensorElements = setup.maxTensorElements;
    this.binary = setup.binary;
    this.capabilities = new Set(description.capabilities);
    this.formats = description.formats;
    this.info = { ...setup.info, tensors: this.binary ? 'binary frames' : 'base64' };
    this.versions = setup.versions;
    this.reopenWith = setup.reopenWith;
    this.log = setup.log ?? (() => undefined);
    // Optional methods exist only when the server declares them, so `target.gradient?.(…)` is honest.
    if (this.capabilities.has('gradient')) this.gradient = (f, x, s, dy) => this.callGradient(f, x, s, dy);
    if (this.capabilities.has('update')) this.update = (f, w, s, d, n) => this.callUpdate(f, w, s, d, n);
  }

  /** Pid of the live server process (tests check it is gone after close). */
  get pid(): number | undefined {
    return this.rpc.pid;
  }

  async forward(format: string, x: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    this.check('forward', format, shape, { x });
    const result = await this.call('forward', format, shape, { x });
    return this.tensorField(result, 'y', x.length, 'forward', format, shape);
  }

  private async callGradient(format: string, x: Float32Array, shape: readonly number[], dy: Float32Array): Promise<Float32Array> {
    this.check('gradient', format, shape, { x, dy });
    const result = await this.call('gradient', format, shape, { x, dy });
    return this.tensorField(result, 'dx', x.length, 'gradient', format, shape);
  }

  private async callUpdate(format: string, w: Float32Array, shape: readonly number[], delta: Float32Array, steps: number): Promise<Float32Array> {
    this.check('update', format, shape, { w, delta });
    if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`update ${format}: steps must be a positive integer, got ${steps}`);
    const result = await this.call('update', format, shape, { w, delta }, `,"steps":${steps}`);
    return this.tensorField(result, 'w', w.length, 'update', format, shape);
  }

  close(): Promise<void> {
    return this.rpc.close();
  }

  private call(method: string, format: string, shape: readonly number[], tensors: Record<string, Float32Array>, extra = ''): Promise<unknown> {
    if (!this.binary) return this.rpc.call(method, format, params(format, shape, tensors, extra));
    const { pieces, payload } = binaryParams(format, shape, tensors, extra);
    return this.rpc.call(method, format, pieces, payload);
  }

  /** Caller mistakes (shape ≠ length) are programming errors; the size limit is a per-format TargetError. */
  private check(method: string, format: string, shape: readonly number[], tensors: Record<string, Float32Array>): void {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`${method} ${format}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    const count = shape.reduce((a, b) => a * b, 1);
    for (const [name, t] of Object.entries(tensors)) {
      if (t.length !== count) throw new RangeError(`${method} ${format}: ${name} has ${t.length} values but shape ${JSON.stringify(shape)} holds ${count}`);
    }
    if (this.maxTensorElements !== undefined && count > this.maxTensorElements) {
      throw new TargetError(`${method} ${format}: the tensor has ${count} elements, more than limits.maxTensorElements = ${this.maxTensorElements}.`);
    }
  }

  private tensorField(result: unknown, field: string, count: number, method: string, format: string, shape: readonly number[]): Float32Array {
    if (typeof result !== 'object' || result === null || !(field in result)) {
      throw new TargetError(`${method} ${format}: the server's result has no "${field}" tensor (got ${JSON.stringify(result)?.slice(0, 120)}).`);
    }
    const note = (result as Record<string, unknown>).note;
    if (typeof note === 'string' && !this.notesLogged.has(`${method} ${format}`)) {
      this.notesLogged.add(`${method} ${format}`);
      this.log(`[${this.kind}] ${method} ${format}: ${note.slice(0, 500)}`);
    }
    const decoded = decodeTensor((result as Record<string, unknown>)[field], count);
    if (typeof decoded === 'string') {
      throw new TargetError(`${method} ${format}: "${field}" for shape ${JSON.stringify(shape)} is wrong: ${decoded}.`);
    }
    return decoded;
  }
}

/**
 * The params object as JSON text pieces. Base64 needs no escaping, so each tensor is encoded
 * once and goes to the pipe as it is: no megabyte string concatenation, no JSON.stringify
 * scan, no utf8 re-encoding, no Buffer of its own. The format name may be any text: utf8 bytes.
 */
function params(format: string, shape: readonly number[], tensors: Record<string, Float32Array>, extra = ''): JsonPieces {
  const pieces: (Buffer | string)[] = [Buffer.from(`{"format":${JSON.stringify(format)},"shape":${JSON.stringify(shape)}`)];
  for (const [name, t] of Object.entries(tensors)) pieces.push(`,"${name}":"`, encodeTensor(t), '"');
  pieces.push(`${extra}}`);
  return pieces;
}

/** The params object of a binary frame: each tensor named by its place in the payload, which follows the line. */
function binaryParams(format: string, shape: readonly number[], tensors: Record<string, Float32Array>, extra = ''): { pieces: JsonPieces; payload: Buffer[] } {
  let json = `{"format":${JSON.stringify(format)},"shape":${JSON.stringify(shape)}`;
  const payload: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = binaryTensorBytes(t);
    json += `,"${name}":{"offset":${offset},"bytes":${bytes.length}}`;
    payload.push(bytes);
    offset += bytes.length;
  }
  return { pieces: [Buffer.from(`${json}${extra}}`)], payload };
}
