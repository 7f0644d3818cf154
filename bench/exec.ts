/**
 * exec and python target overhead: forward round trips on small tensors (calls/s, ms per call,
 * serial and pipelined) and MB/s on 1M-element tensors (one at a time, and 2 or 4 in flight so
 * quant-audit and the server can work at the same time), for the Node and Python example
 * servers and quant-audit's Python adapter (python: targets, PyTorch and NumPy), each with
 * binary tensor frames and with base64 in the same run, against the in-process reference
 * fakeQuant.
 * Goals: issue 7, < 1 ms per small call (Node server); issue 15, ≥ 200 MB/s on 1M-element
 * forward calls with binary frames (python: target), measured beside the base64 path.
 *
 *   npx tsc -p . && node dist/bench/exec.js [--write]   (--write → bench/results/exec.md)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from 'shell-quote';
import { openExecTarget, type TensorEncoding } from '../src/targets/exec/index.js';
import { openPythonTarget } from '../src/targets/python/index.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import { Rng } from '../src/rng.js';
import type { Target } from '../src/targets/types.js';
import { benchClock } from './when.js';

const clock = benchClock();

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SMALL = 256;
const LARGE = 1 << 20;
const spec = defaultRegistry.get('int8');

interface Row {
  what: string;
  tensors: string;
  small: { msPerCall: number; callsPerSec: number; pipelinedCallsPerSec: number };
  large: { msPerCall: number; mbPerSec: number; calls: number; clientCpuMsPerCall: number; serverCpuMsPerCall?: number; mbPerSecInFlight: Record<number, number> };
}

/** Large calls kept in flight together, for the in-flight columns. */
const IN_FLIGHT = [2, 4];

/**
 * The transport ceiling: a Node server that does no JSON parsing and no base64 work at all.
 * It answers `forward` by sending the request's own bytes back, with the head
 * `…"params":{…,"x":"` replaced by `…"result":{"y":"` (y = x, so the tail `"}}` fits), so a
 * round trip through it costs quant-audit's client, the pipes and a copy — nothing else.
 */
const ECHO_SERVER = `
const HEAD = Buffer.from('"x":"');
let chunks = [];
let frame; // a binary request: its head line, then its payload is echoed as it arrives
process.stdin.on('data', (chunk) => {
  let start = 0;
  while (start < chunk.length) {
    if (frame) {
      const n = Math.min(chunk.length - start, frame.left);
      process.stdout.write(chunk.subarray(start, start + n));
      frame.left -= n;
      start += n;
      if (frame.left === 0) frame = undefined;
      continue;
    }
    const nl = chunk.indexOf(10, start);
    if (nl < 0) break;
    chunks.push(chunk.subarray(start, nl + 1));
    const line = Buffer.concat(chunks);
    chunks = [];
    start = nl + 1;
    const head = line.toString('latin1', 0, 96);
    const id = /"id":(\\d+)/.exec(head)[1];
    const binary = /"binary":(\\d+)/.exec(head);
    if (binary) { // y = x: the payload is x alone, so it goes back as it is
      process.stdout.write('{"jsonrpc":"2.0","id":' + id + ',"binary":' + binary[1] + ',"result":{"y":{"offset":0,"bytes":' + binary[1] + '}}}\\n');
      frame = { left: Number(binary[1]) };
      continue;
    }
    const x = line.indexOf(HEAD);
    if (x < 0) { // describe, shutdown
      const result = line.includes('"describe"') ? { formats: ['int8'], capabilities: ['forward'], tensors: 'binary' } : null;
      process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: Number(id), result }) + '\\n');
      continue;
    }
    process.stdout.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":' + id + ',"result":{"y":"'), line.subarray(x + HEAD.length)]));
  }
  if (start < chunk.length && !frame) chunks.push(chunk.subarray(start));
});
process.stdin.on('end', () => process.exit(0));
`;

/** user + system CPU time of another process so far, ms (Linux /proc; undefined elsewhere). */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** CPU time of this process (user + system), ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** ms per call, `inFlight` calls at a time. */
async function time(calls: number, run: () => Promise<unknown>, inFlight = 1): Promise<number> {
  const t0 = performance.now();
  for (let done = 0; done < calls; done += inFlight) await Promise.all(Array.from({ length: Math.min(inFlight, calls - done) }, run));
  return (performance.now() - t0) / calls;
}

const mbPerSec = (msPerCall: number): number => (LARGE * 4) / 1e6 / (msPerCall / 1000);

/** What a row's large answer is checked against: the reference codec, the input itself (echo), or nothing. */
type Check = 'reference' | 'echo' | 'close';

async function measureTarget(what: string, target: Target, smallCalls: number, largeCalls: number, check: Check): Promise<Row & { answer: Float32Array }> {
  const rng = new Rng(1);
  const small = rng.normalArray(SMALL, 0.05);
  const large = rng.normalArray(LARGE, 0.05);
  // warm up (JIT on both sides, first-call allocations), and check the answers are right
  for (let i = 0; i < 50; i++) await target.forward('int8', small, [SMALL]);
  const answer = await target.forward('int8', large, [LARGE]);
  const expected = check === 'echo' ? large : fakeQuant(spec, large);
  const mismatches = answer.reduce((n, v, i) => n + (v === expected[i] ? 0 : 1), 0);
  // torch multiplies by 1/scale where the reference divides: a tie may round the other way (one step)
  if (mismatches > (check === 'close' ? LARGE * 1e-3 : 0)) throw new Error(`${what}: forward int8 differs from the reference in ${mismatches} of ${LARGE} values`);

  const msSmall = await time(smallCalls, () => target.forward('int8', small, [SMALL]));
  const pipelined = 1000 / (await time(smallCalls, () => target.forward('int8', small, [SMALL]), 32));
  const pid = (target as { pid?: number }).pid;
  const cpu0 = cpuMs();
  const server0 = processCpuMs(pid);
  const msLarge = await time(largeCalls, () => target.forward('int8', large, [LARGE]));
  const clientCpuMsPerCall = (cpuMs() - cpu0) / largeCalls;
  const server1 = processCpuMs(pid);
  const serverCpuMsPerCall = server0 !== undefined && server1 !== undefined ? (server1 - server0) / largeCalls : undefined;
  const mbPerSecInFlight: Record<number, number> = {};
  for (const k of IN_FLIGHT) mbPerSecInFlight[k] = mbPerSec(await time(largeCalls, () => target.forward('int8', large, [LARGE]), k));
  return {
    what,
    tensors: target.info.tensors ?? 'base64',
    answer,
    small: { msPerCall: msSmall, callsPerSec: 1000 / msSmall, pipelinedCallsPerSec: pipelined },
    large: { msPerCall: msLarge, mbPerSec: mbPerSec(msLarge), calls: largeCalls, clientCpuMsPerCall, serverCpuMsPerCall, mbPerSecInFlight },
  };
}

async function measureReference(): Promise<Row> {
  const rng = new Rng(1);
  const small = rng.normalArray(SMALL, 0.05);
  const large = rng.normalArray(LARGE, 0.05);
  const forward = async (x: Float32Array): Promise<Float32Array> => fakeQuant(spec, x);
  for (let i = 0; i < 200; i++) await forward(small);
  await forward(large);
  const msSmall = await time(20000, () => forward(small));
  const cpu0 = cpuMs();
  const msLarge = await time(20, () => forward(large));
  const clientCpuMsPerCall = (cpuMs() - cpu0) / 20;
  // In one thread, calls "in flight" together still run one after another.
  const mbPerSecInFlight = Object.fromEntries(IN_FLIGHT.map((k) => [k, mbPerSec(msLarge)]));
  return {
    what: 'in-process reference fakeQuant (src/formats)',
    tensors: '—',
    small: { msPerCall: msSmall, callsPerSec: 1000 / msSmall, pipelinedCallsPerSec: 1000 / msSmall },
    large: { msPerCall: msLarge, mbPerSec: mbPerSec(msLarge), calls: 20, clientCpuMsPerCall, mbPerSecInFlight },
  };
}

function fmt(v: number, digits = 3): string {
  return v >= 100 ? v.toFixed(0) : v.toPrecision(digits);
}

/** An interpreter that can import torch (as the python tests find it), or undefined. */
function torchPython(): string | undefined {
  for (const python of [process.env.QUANT_AUDIT_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!python) continue;
    try {
      execFileSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
      return python;
    } catch {
      // next
    }
  }
  return undefined;
}

interface Case {
  what: string;
  open(tensors: TensorEncoding): Promise<Target>;
  encodings: TensorEncoding[];
  smallCalls: number;
  largeCalls: number;
  check: Check;
}

async function main(): Promise<void> {
  const rows: Row[] = [await measureReference()];
  const scratch = mkdtempSync(join(tmpdir(), 'qa-bench-exec-'));
  const echoPath = join(scratch, 'echo.mjs');
  writeFileSync(echoPath, ECHO_SERVER);
  const exec = (command: string) => (tensors: TensorEncoding) => openExecTarget(command, { registry: defaultRegistry, timeoutMs: 60_000 }, { tensors });
  const py = torchPython();
  const python = (spec: string) => (tensors: TensorEncoding) => openPythonTarget(spec, { registry: defaultRegistry, timeoutMs: 60_000, python: py }, { tensors });
  const cases: Case[] = [
    { what: 'exec: Node server (fixtures/exec/server.mjs)', open: exec(quote([process.execPath, `${ROOT}fixtures/exec/server.mjs`])), encodings: ['base64', 'auto'], smallCalls: 2000, largeCalls: 20, check: 'reference' },
    { what: 'exec: transport ceiling (Node echo server, y = x, no parsing)', open: exec(quote([process.execPath, echoPath])), encodings: ['base64', 'auto'], smallCalls: 2000, largeCalls: 20, check: 'echo' },
    { what: 'exec: Python server (fixtures/exec/server.py, pure-Python loop)', open: exec(quote(['python3', `${ROOT}fixtures/exec/server.py`])), encodings: ['base64'], smallCalls: 500, largeCalls: 3, check: 'reference' },
  ];
  if (py) {
    cases.push(
      { what: 'python: torch (fixtures/python/torch_quant.py)', open: python(`${ROOT}fixtures/python/torch_quant.py:fake_quant`), encodings: ['base64', 'auto'], smallCalls: 1000, largeCalls: 20, check: 'close' },
      { what: 'python: NumPy (fixtures/python/numpy_quant.py)', open: python(`${ROOT}fixtures/python/numpy_quant.py:fake_quant`), encodings: ['base64', 'auto'], smallCalls: 1000, largeCalls: 20, check: 'reference' },
    );
  }
  const pairs: { what: string; base64: Row; binary: Row }[] = [];
  try {
    for (const c of cases) {
      const measured: (Row & { answer: Float32Array })[] = [];
      for (const encoding of c.encodings) {
        const target = await c.open(encoding);
        try {
          measured.push(await measureTarget(c.what, target, c.smallCalls, c.largeCalls, c.check));
        } finally {
          await target.close();
        }
      }
      rows.push(...measured);
      if (measured.length === 2) {
        const [base64, binary] = measured as [Row & { answer: Float32Array }, Row & { answer: Float32Array }];
        if (Buffer.compare(Buffer.from(base64.answer.buffer), Buffer.from(binary.answer.buffer)) !== 0) throw new Error(`${c.what}: binary and base64 answers differ`);
        pairs.push({ what: c.what, base64, binary });
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const reference = rows[0]!;
  const version = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return `${cmd} missing`;
    }
  };
  const torchVersion = py ? version(py, ['-c', 'import sys, torch, numpy; print(f"{sys.executable} (Python {sys.version.split()[0]}): torch {torch.__version__}, NumPy {numpy.__version__}")']) : 'no Python with torch: python rows not measured';
  const node = rows.find((r) => r.what.startsWith('exec: Node') && r.tensors === 'base64')!;
  const torchPair = pairs.find((p) => p.what.startsWith('python: torch'));
  const best = (r: Row): number => Math.max(r.large.mbPerSec, ...Object.values(r.large.mbPerSecInFlight));
  const cpuLimited = (r: Row): number => mbPerSec(r.large.clientCpuMsPerCall + (r.large.serverCpuMsPerCall ?? 0));
  const lines = [
    '## exec and python target overhead (issues 7, 15)',
    '',
    `${clock.line()} · ${version('python3', ['--version'])} for fixtures/exec/server.py · python: targets on ${torchVersion}.`,
    `Command: \`npx tsc -p . && node dist/bench/exec.js --write\`. forward int8, small = ${SMALL} elements, large = ${LARGE} elements (4 MiB of float32 each way);`,
    'MB/s counts the input tensor bytes (10^6 B) per round trip; the reply carries as many again (5.6 MB of base64, or 4 MiB raw in a binary frame, each way).',
    `Load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) on ${availableParallelism()} cores — wall times include waiting for a core, so compare rows of one run (binary and base64 of a server run back to back).`,
    'CPU columns: user+system time per large call of quant-audit (this process, all its threads) and of the server process (/proc, 10 ms ticks over the whole batch), one call at a time.',
    `In-flight columns: the same large calls issued ${IN_FLIGHT.join(' or ')} at a time (the client pipelines them by id), so quant-audit can encode and decode while the server quantizes.`,
    "The transport ceiling is a Node server that parses nothing and decodes nothing: it sends the request's tensor back as the reply (y = x), so it costs exactly quant-audit's client plus the pipes.",
    'Tensors: `binary frames` = raw little-endian float32 after the JSON line (the server announced `"tensors": "binary"`); `base64` = the same server with quant-audit told to keep base64 (`tensors: \'base64\'`).',
    '',
    `| implementation | tensors | small: ms/call (serial) | small: calls/s (serial) | small: calls/s (32 in flight) | large: ms/call | large: MB/s | ${IN_FLIGHT.map((k) => `large: MB/s (${k} in flight)`).join(' | ')} | large: quant-audit CPU ms/call | large: server CPU ms/call | large: time vs in-process |`,
    `|---|---|---|---|---|---|---|${IN_FLIGHT.map(() => '---|').join('')}---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.what} | ${r.tensors} | ${fmt(r.small.msPerCall)} | ${fmt(r.small.callsPerSec)} | ${fmt(r.small.pipelinedCallsPerSec)} | ${fmt(r.large.msPerCall)} | ${fmt(r.large.mbPerSec)} | ${IN_FLIGHT.map((k) => fmt(r.large.mbPerSecInFlight[k]!)).join(' | ')} | ${fmt(r.large.clientCpuMsPerCall)} | ${r.large.serverCpuMsPerCall === undefined ? '—' : fmt(r.large.serverCpuMsPerCall)} | ${fmt(r.large.msPerCall / reference.large.msPerCall)}× |`,
    ),
    '',
    'Binary frames vs base64, same server, same run (large calls). CPU-limited MB/s = the tensor bytes ÷ (quant-audit CPU + server CPU per call):',
    'the rate of one call at a time when neither side ever waits for a core (on a quiet machine the two sides also overlap a little, so wall time there was at or above it: issue 7\'s quiet run measured 99 MB/s against 85 MB/s CPU-limited for the Node server with base64).',
    '',
    `| implementation | base64 MB/s | binary MB/s | binary ÷ base64 | base64 MB/s (${IN_FLIGHT[0]} in flight) | binary MB/s (${IN_FLIGHT[0]} in flight) | quant-audit CPU ms/call base64 → binary | server CPU ms/call base64 → binary | CPU-limited MB/s base64 → binary |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...pairs.map(
      ({ what, base64: a, binary: b }) =>
        `| ${what} | ${fmt(a.large.mbPerSec)} | ${fmt(b.large.mbPerSec)} | ${fmt(b.large.mbPerSec / a.large.mbPerSec)}× | ${fmt(a.large.mbPerSecInFlight[IN_FLIGHT[0]!]!)} | ${fmt(b.large.mbPerSecInFlight[IN_FLIGHT[0]!]!)} | ${fmt(a.large.clientCpuMsPerCall)} → ${fmt(b.large.clientCpuMsPerCall)} | ${fmt(a.large.serverCpuMsPerCall ?? Number.NaN)} → ${fmt(b.large.serverCpuMsPerCall ?? Number.NaN)} | ${fmt(cpuLimited(a))} → ${fmt(cpuLimited(b))} |`,
    ),
    '',
  ];
  lines.push(
    `Goals: < 1 ms per small call (issue 7, Node server) — measured ${fmt(node.small.msPerCall)} ms serial (${node.small.msPerCall < 1 ? 'met' : 'NOT met'}). ` +
      (torchPair
        ? `≥ 200 MB/s on 1M-element forward calls (issue 15, python: target with binary frames) — wall: ${fmt(torchPair.binary.large.mbPerSec)} MB/s one at a time, ${fmt(best(torchPair.binary))} MB/s at best in flight, vs ${fmt(torchPair.base64.large.mbPerSec)} / ${fmt(best(torchPair.base64))} MB/s with base64 (${best(torchPair.binary) >= 200 ? 'met' : `NOT met at load ${loadavg()[0]!.toFixed(1)}`}); CPU-limited: ${fmt(cpuLimited(torchPair.binary))} MB/s vs ${fmt(cpuLimited(torchPair.base64))} MB/s (${cpuLimited(torchPair.binary) >= 200 ? 'met' : 'NOT met'}).`
        : 'python: rows not measured (no interpreter with torch).'),
    '',
  );
  const markdown = lines.join('\n');
  process.stdout.write(`${markdown}\n`);
  if (process.argv.includes('--write')) writeFileSync(`${ROOT}bench/results/exec.md`, markdown);
}

await main();
