/**
 * One spawned exec server: argv without a shell, stdout split into messages (one JSON-RPC
 * line each, optionally followed by a binary payload whose length the line announced),
 * stderr forwarded line by line to the log and kept (last lines) for error messages, and an
 * `ended` promise that settles once the process is gone and its stdout drained.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { basename } from 'node:path';
import { killTree, OWN_PROCESS_GROUP, registerChild } from '../../process/reaper.js';

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES…). */
  spawnError?: NodeJS.ErrnoException;
}

/** What a line asks for when raw bytes follow it (docs/exec-protocol.md, "Binary tensor frames"). */
export interface PayloadRequest {
  /** How many bytes follow the line's newline. */
  bytes: number;
  /** Called with exactly `bytes` bytes, in one Buffer of its own (offset 0, so float32 views are aligned). */
  receive(payload: Buffer): void;
}

export interface ServerProcessOptions {
  argv: readonly string[];
  /**
   * One complete stdout line without its newline, as the chunks it arrived in (views of
   * buffers that are never reused; a long line is not joined into one copy). Returns a
   * PayloadRequest when the line announced raw bytes after it: they are collected and
   * handed over before the next line is read.
   */
  onLine(line: readonly Buffer[]): PayloadRequest | void;
  /** A stdout line grew past maxLineBytes without a newline, or a line announced a longer payload. */
  onOversizedLine(bytes: number): void;
  log(message: string): void;
  maxLineBytes: number;
}

const STDERR_LINES_KEPT = 20;
/** After 'exit', how long to wait for stdout to drain before giving up on it (a grandchild may hold it open). */
const DRAIN_GRACE_MS = 1000;

export class ServerProcess {
  readonly pid: number | undefined;
  readonly ended: Promise<ServerExit>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly recentStderr: string[] = [];
  private stdoutChunks: Buffer[] = [];
  private stdoutBytes = 0;
  /** The binary payload being collected after a line, if any. */
  private payload: { request: PayloadRequest; buffer: Buffer; filled: number } | undefined;
  /** Set once the framing is lost (a payload too large to accept): the rest of stdout is not read. */
  private discarding = false;
  private stderrPartial = '';
  private exited = false;

  constructor(private readonly opts: ServerProcessOptions) {
    const [program, ...args] = opts.argv;
    this.child = spawn(program!, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: OWN_PROCESS_GROUP,
      windowsHide: true,
    });
    this.pid = this.child.pid;
    if (this.pid !== undefined) registerChild(this.child);

    // Writing to a server that already died raises EPIPE on stdin; the exit path reports it.
    this.child.stdin.on('error', () => undefined);
    this.child.stdout.on('data', (chunk: Buffer) => this.onStdout(chunk));
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => this.onStderr(text));

    this.ended = new Promise<ServerExit>((resolve) => {
      let exit: ServerExit | undefined;
      let drainTimer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (drainTimer) clearTimeout(drainTimer);
        this.exited = true;
        this.flushStderr();
        resolve(exit ?? { code: this.child.exitCode, signal: this.child.signalCode });
      };
      this.child.once('error', (err: NodeJS.ErrnoException) => {
        if (this.pid === undefined) {
          exit = { code: null, signal: null, spawnError: err };
          finish();
        }
      });
      this.child.once('exit', (code, signal) => {
        exit = { code, signal };
        // Kill what the server may have left behind in its group, then let stdout drain.
        if (OWN_PROCESS_GROUP) killTree(this.child, 'SIGKILL', true);
        drainTimer = setTimeout(() => {
          this.child.stdout.destroy();
          finish();
        }, DRAIN_GRACE_MS);
        drainTimer.unref();
      });
      this.child.once('close', finish);
    });
  }

  get alive(): boolean {
    return !this.exited && this.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get program(): string {
    return basename(this.opts.argv[0]!);
  }

  /**
   * Write one message given as pieces, sent together (one writev): a Buffer as its bytes, a
   * string as ASCII (latin1: Node copies it byte for byte, no utf8 encoding pass).
   */
  write(pieces: readonly (Buffer | string)[]): void {
    const stdin = this.child.stdin;
    if (!stdin.writable) return;
    stdin.cork();
    for (const piece of pieces) {
      if (typeof piece === 'string') stdin.write(piece, 'latin1');
      else stdin.write(piece);
    }
    stdin.uncork();
  }

  /** Close stdin: a well-behaved server exits when its input ends. */
  endInput(): void {
    if (this.child.stdin.writable) this.child.stdin.end();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    killTree(this.child, signal);
  }

  /** Let an idle server not keep quant-audit alive (the reaper kills it on exit). */
  setKeepsProcessAlive(keep: boolean): void {
    const streams = [this.child.stdout, this.child.stderr, this.child.stdin] as unknown as { ref?(): void; unref?(): void }[];
    if (keep) {
      this.child.ref();
      for (const s of streams) s.ref?.();
    } else {
      this.child.unref();
      for (const s of streams) s.unref?.();
    }
  }

  /** The last lines the server wrote on stderr, for error messages. */
  stderrTail(lines = 5): string {
    return this.recentStderr.slice(-lines).join(' ⏎ ');
  }

  private onStdout(chunk: Buffer): void {
    if (this.discarding) return;
    let start = 0;
    while (start < chunk.length) {
      if (this.payload) {
        start = this.fillPayload(chunk, start);
        continue;
      }
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const line = this.stdoutChunks;
      const bytes = this.stdoutBytes + nl - start;
      if (nl > start) line.push(chunk.subarray(start, nl));
      this.stdoutChunks = [];
      this.stdoutBytes = 0;
      start = nl + 1;
      const last = line[line.length - 1];
      if (last && last[last.length - 1] === 13) line[line.length - 1] = last.subarray(0, -1);
      if (isBlank(line, bytes)) continue;
      const wants = this.opts.onLine(line);
      if (wants) this.expectPayload(wants);
      if (this.discarding) return;
    }
    if (start < chunk.length && !this.payload) {
      this.stdoutChunks.push(chunk.subarray(start));
      this.stdoutBytes += chunk.length - start;
      if (this.stdoutBytes > this.opts.maxLineBytes) {
        const bytes = this.stdoutBytes;
        this.stdoutChunks = [];
        this.stdoutBytes = 0;
        this.opts.onOversizedLine(bytes);
      }
    }
  }

  private expectPayload(request: PayloadRequest): void {
    if (request.bytes > this.opts.maxLineBytes) {
      this.discarding = true;
      this.opts.onOversizedLine(request.bytes);
      return;
    }
    if (request.bytes === 0) {
      request.receive(Buffer.alloc(0));
      return;
    }
    this.payload = { request, buffer: Buffer.allocUnsafeSlow(request.bytes), filled: 0 };
  }

  /** Copy payload bytes from chunk[start…]; returns where the chunk's unread part begins. */
  private fillPayload(chunk: Buffer, start: number): number {
    const p = this.payload!;
    const n = Math.min(chunk.length - start, p.buffer.length - p.filled);
    chunk.copy(p.buffer, p.filled, start, start + n);
    p.filled += n;
    if (p.filled === p.buffer.length) {
      this.payload = undefined;
      p.request.receive(p.buffer);
    }
    return start + n;
  }

  private onStderr(text: string): void {
    const lines = (this.stderrPartial + text).split('\n');
    this.stderrPartial = lines.pop() ?? '';
    if (this.stderrPartial.length > 64 * 1024) {
      lines.push(this.stderrPartial);
      this.stderrPartial = '';
    }
    for (const line of lines) this.logStderr(line);
  }

  private flushStderr(): void {
    if (this.stderrPartial !== '') this.logStderr(this.stderrPartial);
    this.stderrPartial = '';
  }

  private logStderr(raw: string): void {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const shown = line.length > 2000 ? `${line.slice(0, 2000)}…` : line;
    this.recentStderr.push(shown);
    if (this.recentStderr.length > STDERR_LINES_KEPT) this.recentStderr.shift();
    this.opts.log(`[exec ${this.program} pid ${this.pid ?? '?'}] ${shown}`);
  }
}

function isBlank(line: readonly Buffer[], bytes: number): boolean {
  if (bytes > 64) return false;
  for (const piece of line) for (const byte of piece) if (byte !== 0x20 && byte !== 0x09) return false;
  return true;
}
