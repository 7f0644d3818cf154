/**
 * Newline-delimited JSON-RPC 2.0 client for one exec server, with the robustness rules of
 * DESIGN.md `exec:COMMAND`: requests are pipelined (matched by id), a silent server times
 * out, a dead one is restarted once, and every malformed reply becomes a TargetError that
 * names the method and format it broke — never a hang.
 *
 * Attribution: a reply that cannot be matched to a request by id (not JSON, wrong id, a
 * crash) is charged to the oldest request in flight, which is the one a sequential server
 * is working on. A method × format that crashed or hung the server is not sent again
 * ("poisoned"), so one bad format cannot use up the single restart for the others.
 */
import { TargetError } from '../../errors.js';
import { lineText, parseLine, RawJsonString } from './reply.js';
import { ServerProcess, type PayloadRequest, type ServerExit } from './server-process.js';
import { resolveBinaryTensors } from './tensor.js';

export interface RpcOptions {
  argv: readonly string[];
  /** The command as the user wrote it, for messages. */
  command: string;
  /** Longest the server may stay silent while requests are outstanding. */
  timeoutMs: number;
  log(message: string): void;
  /** Longest stdout line accepted (bytes); a longer one is a protocol error. */
  maxLineBytes: number;
  /** How long close() waits for the server to exit after `shutdown` before killing it. */
  shutdownGraceMs?: number;
  /** How many times a dead server is restarted (DESIGN/issue: once). */
  restarts?: number;
  /**
   * Silence allowed before a freshly started process has written its first line (interpreter
   * start-up, imports): max(timeoutMs, this). Default 30 s.
   */
  startupTimeoutMs?: number;
}

/**
 * JSON text in pieces, written to the pipe one after another without being joined: a Buffer as
 * its bytes, a string as ASCII text (base64 tensors). Node copies such a string straight into
 * the pipe's write buffer; a Buffer of our own would cost a second copy and more garbage.
 */
export type JsonPieces = readonly (Buffer | string)[];

interface Pending {
  id: number;
  method: string;
  /** The format a request is about ('' for describe/shutdown): failures are reported per format. */
  format: string;
  /** The request as written to stdin (kept to re-send it to a restarted server). */
  line: JsonPieces;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

type JsonObject = Record<string, unknown>;

/** The server answered with a JSON-RPC error object: its code and data stay readable (python: reads them). */
export class RpcReplyError extends TargetError {
  constructor(
    message: string,
    readonly code: unknown,
    readonly rpcMessage: unknown,
    readonly data: unknown,
  ) {
    super(message);
  }
}

const ABANDONED_IDS_KEPT = 10_000;
const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;

export class ExecRpc {
  private proc: ServerProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Ids whose request already failed (timeout, malformed reply): a late reply to them is only logged. */
  private readonly abandoned = new Set<number>();
  private readonly poisoned = new Map<string, string>();
  private nextId = 1;
  private deaths = 0;
  private deadReason: string | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** Whether the current process has written anything yet (until then it may still be starting). */
  private heardFrom = false;
  /** Set when we kill the server ourselves because `culprit` timed out. */
  private hung: { culprit: Pending; message: string } | undefined;
  private closing: Promise<void> | undefined;
  private warnedNoVersion = false;
  private shutdownId: number | undefined;

  constructor(private readonly opts: RpcOptions) {}

  /** Pid of the current server process (undefined before start or after it died). */
  get pid(): number | undefined {
    return this.proc?.alive ? this.proc.pid : undefined;
  }

  /**
   * Send one request; resolves with its `result`, rejects with a TargetError. `params` is
   * pre-serialized JSON (the target splices multi-megabyte base64 tensors in without
   * JSON.stringify walking them, and they go to the pipe without another copy). `payload`:
   * the raw bytes of a binary frame, written after the line (its length goes in `"binary"`).
   * In the result, binary tensor descriptors come back as BinaryTensor (src/targets/exec/tensor.ts).
   */
  call(method: string, format: string, params: JsonPieces | undefined, payload?: readonly Buffer[]): Promise<unknown> {
    const what = describeCall(method, format);
    if (this.closing) return Promise.reject(new TargetError(`${what}: the exec target is closed.`));
    if (this.deadReason) return Promise.reject(new TargetError(`${what}: ${this.deadReason}`));
    const poison = this.poisoned.get(poisonKey(method, format));
    if (poison) return Promise.reject(new TargetError(`${what}: not sent — ${poison}`));

    const id = this.nextId++;
    const binary = payload === undefined ? '' : `,"binary":${payload.reduce((n, b) => n + b.length, 0)}`;
    const head = Buffer.from(`{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)}${binary}`);
    const line: JsonPieces = params === undefined ? [head, '}\n', ...(payload ?? [])] : [head, ',"params":', ...params, '}\n', ...(payload ?? [])];
    return new Promise<unknown>((resolve, reject) => {
      const request: Pending = { id, method, format, line, resolve, reject };
      this.send(request);
    });
  }

  /** close(): `shutdown`, wait a grace period for the process to exit, then kill its group. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopWatchdog();
    for (const request of [...this.pending.values()]) {
      this.settle(request);
      request.reject(new TargetError(`${describeCall(request.method, request.format)}: the exec target was closed before the server replied.`));
    }
    const proc = this.proc;
    if (!proc) return;
    proc.setKeepsProcessAlive(true); // we are about to wait for its exit
    if (proc.alive) {
      this.shutdownId = this.nextId++;
      proc.write([`${JSON.stringify({ jsonrpc: '2.0', id: this.shutdownId, method: 'shutdown' })}\n`]);
      proc.endInput();
      const grace = this.opts.shutdownGraceMs ?? 1000;
      let timer: NodeJS.Timeout | undefined;
      const exitedInTime = await Promise.race([
        proc.ended.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), grace);
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (!exitedInTime) {
        this.opts.log(`[exec] ${proc.program} pid ${proc.pid} did not exit within ${grace} ms of shutdown; killing it.`);
        proc.kill('SIGKILL');
      }
    } else {
      proc.kill('SIGKILL');
    }
    await proc.ended;
  }

  // ---- sending -----------------------------------------------------------------------

  private send(request: Pending): void {
    const proc = this.ensureProcess();
    const wasIdle = this.pending.size === 0;
    this.pending.set(request.id, request);
    if (wasIdle) {
      proc.setKeepsProcessAlive(true);
      this.armWatchdog();
    }
    proc.write(request.line);
  }

  private ensureProcess(): ServerProcess {
    if (this.proc?.alive) return this.proc;
    if (this.proc) {
      this.opts.log(`[exec] restarting the exec server (${this.opts.command}); restart ${this.deaths} of ${this.restartsAllowed}.`);
    }
    const proc = new ServerProcess({
      argv: this.opts.argv,
      log: this.opts.log,
      maxLineBytes: this.opts.maxLineBytes,
      onLine: (line) => this.onLine(line),
      onOversizedLine: (bytes) => this.onOversizedLine(proc, bytes),
    });
    this.proc = proc;
    this.heardFrom = false;
    void proc.ended.then((exit) => this.onExit(proc, exit));
    return proc;
  }

  private get restartsAllowed(): number {
    return this.opts.restarts ?? 1;
  }

  // ---- receiving ---------------------------------------------------------------------

  private onLine(pieces: readonly Buffer[]): PayloadRequest | void {
    this.heardFrom = true;
    this.armWatchdog(); // any output is a sign of life
    const parsed = parseLine(pieces);
    if (!parsed.ok) {
      this.onMalformed(parsed.text, notJsonProblem(parsed.text));
      // If the broken line still announced a payload, skip it, so its bytes are not read as lines.
      const announced = /"binary"\s*:\s*(\d{1,15})\s*[,}]/.exec(parsed.text);
      return announced ? { bytes: Number(announced[1]), receive: () => undefined } : undefined;
    }
    const message = parsed.value;
    const size = pieces.reduce((n, p) => n + p.length, 0);
    const line = (): string => (size < 4096 ? lineText(pieces, size) : `${lineText(pieces, 200)}…`);
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.onMalformed(line(), `the server wrote ${Array.isArray(message) ? 'a JSON array (batches are not part of the protocol)' : `the JSON value ${abbreviate(line())}`} instead of a JSON-RPC response object`);
      return;
    }
    const reply = message as JsonObject;
    if (!('binary' in reply)) {
      this.onReply(reply, line);
      return;
    }
    const bytes = reply.binary;
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
      this.onMalformed(line(), `the server's reply has "binary": ${String(JSON.stringify(bytes)).slice(0, 80)}, not the number of payload bytes that follow the line`);
      return;
    }
    return { bytes, receive: (payload) => this.onReply(reply, line, payload) };
  }

  /** One whole reply (with the binary payload that followed its line, if any): settle its request. */
  private onReply(reply: JsonObject, line: () => string, payload?: Buffer): void {
    const id = reply.id;
    if (reply.jsonrpc !== '2.0' && !this.warnedNoVersion) {
      this.warnedNoVersion = true;
      this.opts.log(`[exec] the server's replies lack "jsonrpc": "2.0" (got ${JSON.stringify(reply.jsonrpc)}); accepted, but please add it.`);
    }
    const request = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!request) {
      if (id === this.shutdownId) return;
      if (typeof id === 'number' && this.abandoned.has(id)) {
        this.opts.log(`[exec] ignoring a late reply to request id ${id}, which had already failed.`);
        return;
      }
      if (id === null && isErrorObject(reply.error)) {
        // JSON-RPC: the server could not read a request at all (parse error); charge the oldest.
        this.failOldest(`the server could not read the request: ${formatRpcError(reply.error)}`);
        return;
      }
      const inFlight = [...this.pending.keys()];
      this.failOldest(
        `the server replied with id ${JSON.stringify(id)}, which matches no request in flight` +
          (inFlight.length ? ` (ids in flight: ${inFlight.slice(0, 8).join(', ')}${inFlight.length > 8 ? ', …' : ''})` : '') +
          '; a reply must echo the id of its request',
        `[exec] the server replied with id ${JSON.stringify(id)} while no request was in flight; ignored.`,
      );
      return;
    }
    this.settle(request);
    const what = describeCall(request.method, request.format);
    if ('error' in reply && reply.error !== undefined && reply.error !== null) {
      const error = isErrorObject(reply.error) ? reply.error : undefined;
      const detail = error ? formatRpcError(error) : `a malformed error member ${abbreviate(JSON.stringify(reply.error))}`;
      request.reject(new RpcReplyError(`${what}: the server returned an error: ${detail}`, error?.code, error?.message, error?.data));
      return;
    }
    if (!('result' in reply)) {
      request.reject(new TargetError(`${what}: the server's reply has neither "result" nor "error" (${abbreviate(line())}).`));
      return;
    }
    request.resolve(payload === undefined ? reply.result : resolveBinaryTensors(reply.result, payload));
  }

  /** A stdout line that is not a response: charge the request it names, else the oldest. */
  private onMalformed(line: string, problem: string): void {
    const idMatch = /"id"\s*:\s*(\d+)/.exec(line);
    const named = idMatch ? this.pending.get(Number(idMatch[1])) : undefined;
    const advice = 'stdout is reserved for JSON-RPC replies, one per line; write logs to stderr';
    if (named) {
      this.abandon(named);
      named.reject(new TargetError(`${describeCall(named.method, named.format)}: ${problem} (${advice}).`));
      return;
    }
    this.failOldest(`${problem} (${advice})`, `[exec] the server wrote a line that is not a JSON-RPC reply while idle: ${abbreviate(line)}`);
  }

  private onOversizedLine(proc: ServerProcess, bytes: number): void {
    if (proc !== this.proc) return;
    const oldest = this.oldest();
    const message = `the server wrote a stdout line longer than ${this.opts.maxLineBytes} bytes (${bytes} so far) without a newline`;
    if (oldest) this.poisoned.set(poisonKey(oldest.method, oldest.format), `it made the server write an oversized reply earlier`);
    this.hung = oldest ? { culprit: oldest, message } : undefined;
    this.opts.log(`[exec] ${message}; killing pid ${proc.pid}.`);
    proc.kill('SIGKILL');
  }

  private failOldest(problem: string, logWhenIdle?: string): void {
    const oldest = this.oldest();
    if (!oldest) {
      if (logWhenIdle) this.opts.log(logWhenIdle);
      return;
    }
    this.abandon(oldest);
    oldest.reject(new TargetError(`${describeCall(oldest.method, oldest.format)}: ${problem}.`));
  }

  private oldest(): Pending | undefined {
    return this.pending.values().next().value;
  }

  /** Remove from the in-flight table; stop the watchdog and let Node exit when nothing is left. */
  private settle(request: Pending): void {
    this.pending.delete(request.id);
    if (this.pending.size === 0) {
      this.stopWatchdog();
      if (this.proc?.alive) this.proc.setKeepsProcessAlive(false);
    }
  }

  private abandon(request: Pending): void {
    this.settle(request);
    this.abandoned.add(request.id);
    if (this.abandoned.size > ABANDONED_IDS_KEPT) {
      const first = this.abandoned.values().next().value;
      if (first !== undefined) this.abandoned.delete(first);
    }
  }

  // ---- timeouts ----------------------------------------------------------------------

  /** (Re)start the silence clock: it fires when the server says nothing for timeoutMs while busy. */
  private armWatchdog(): void {
    this.stopWatchdog();
    if (this.pending.size === 0) return;
    const limit = this.silenceLimitMs();
    this.watchdog = setTimeout(() => this.onTimeout(limit), limit);
  }

  private silenceLimitMs(): number {
    return this.heardFrom ? this.opts.timeoutMs : Math.max(this.opts.timeoutMs, this.opts.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS);
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private onTimeout(limit: number): void {
    this.watchdog = undefined;
    const culprit = this.oldest();
    const proc = this.proc;
    if (!culprit || !proc) return;
    const within = this.heardFrom ? `${limit} ms (exec.timeoutMs)` : `${limit} ms of starting (start-up allowance; exec.timeoutMs = ${this.opts.timeoutMs} ms)`;
    const message = `no reply within ${within}; the server seems hung, so it was killed`;
    this.hung = { culprit, message };
    this.poisoned.set(poisonKey(culprit.method, culprit.format), `it hung the server earlier (no reply within ${limit} ms)`);
    this.opts.log(`[exec] ${describeCall(culprit.method, culprit.format)} (id ${culprit.id}): ${message} (pid ${proc.pid}).`);
    proc.kill('SIGKILL');
  }

  // ---- death and restart ---------------------------------------------------------------

  private onExit(proc: ServerProcess, exit: ServerExit): void {
    if (proc !== this.proc) return;
    this.stopWatchdog();
    if (this.closing) return;
    this.deaths++;
    const hung = this.hung;
    this.hung = undefined;
    const how = describeExit(exit);
    const stderr = proc.stderrTail();
    const stderrNote = stderr ? ` Its last stderr: ${stderr}` : '';
    const inFlight = [...this.pending.values()];
    this.pending.clear();

    const culprit = hung?.culprit ?? inFlight[0];
    if (culprit) {
      this.abandoned.add(culprit.id);
      const problem = hung ? hung.message : exit.spawnError ? `the server ${how}` : `the server ${how} while handling it`;
      if (!hung) this.poisoned.set(poisonKey(culprit.method, culprit.format), `it crashed the server earlier (${how})`);
      culprit.reject(new TargetError(`${describeCall(culprit.method, culprit.format)}: ${problem}.${stderrNote}`));
    } else {
      this.opts.log(`[exec] the exec server (pid ${proc.pid}) ${how} while idle.${stderrNote}`);
    }
    const innocents = inFlight.filter((r) => r !== culprit);

    if (this.deaths > this.restartsAllowed) {
      this.deadReason =
        `the exec server (${this.opts.command}) has died ${this.deaths} times (last: ${how}); ` +
        `quant-audit restarts it only ${this.restartsAllowed === 1 ? 'once' : `${this.restartsAllowed} times`}. Fix the crash and rerun.${stderrNote}`;
      for (const r of innocents) {
        this.abandoned.add(r.id);
        r.reject(new TargetError(`${describeCall(r.method, r.format)}: ${this.deadReason}`));
      }
      return;
    }
    // Requests that were merely queued behind the culprit go to the restarted server — except
    // those for the method × format that just crashed or hung it: they would do it again and
    // use up the restart the other formats need.
    for (const r of innocents) {
      const poison = this.poisoned.get(poisonKey(r.method, r.format));
      if (!poison) {
        this.send(r);
        continue;
      }
      this.abandoned.add(r.id);
      r.reject(new TargetError(`${describeCall(r.method, r.format)}: not re-sent — ${poison}`));
    }
  }
}

function describeCall(method: string, format: string): string {
  return format ? `${method} ${format}` : method;
}

function poisonKey(method: string, format: string): string {
  return `${method}\u0000${format}`;
}

function describeExit(exit: ServerExit): string {
  if (exit.spawnError) return `could not be started (${spawnProblem(exit.spawnError)})`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/** Why spawn failed, in the user's terms: a missing program is "not found on PATH", not ENOENT. */
function spawnProblem(e: NodeJS.ErrnoException): string {
  const program = typeof e.path === 'string' ? e.path : '';
  if (e.code === 'ENOENT') return program.includes('/') ? `'${program}' does not exist` : `'${program}' was not found on PATH`;
  if (e.code === 'EACCES') return `'${program}' is not executable (EACCES)`;
  return e.code ?? e.message;
}

function isErrorObject(e: unknown): e is { code?: unknown; message?: unknown; data?: unknown } {
  return typeof e === 'object' && e !== null && !Array.isArray(e);
}

function formatRpcError(e: { code?: unknown; message?: unknown; data?: unknown }): string {
  const message = typeof e.message === 'string' ? e.message : e.message instanceof RawJsonString ? abbreviate(e.message.toString(), 2000) : '(no message)';
  const code = typeof e.code === 'number' ? ` (code ${e.code})` : '';
  const data = e.data !== undefined ? ` data: ${abbreviate(JSON.stringify(e.data))}` : '';
  return `${message}${code}${data}`;
}

function notJsonProblem(line: string): string {
  // Python's json.dumps writes NaN/Infinity unless allow_nan=False; they are not JSON.
  if (/(^|[^A-Za-z"])(-?Infinity|NaN)([^A-Za-z"]|$)/.test(line)) {
    return `the server wrote NaN or Infinity as a bare JSON number, which is not JSON (${abbreviate(line)}); tensors travel as base64 float32, where NaN is representable`;
  }
  return `the server wrote a line that is not JSON: ${abbreviate(line)}`;
}

function abbreviate(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${JSON.stringify(flat.slice(0, max))}…` : JSON.stringify(flat);
}
