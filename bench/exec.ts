/**
 * exec target overhead: forward round trips on small tensors (calls/s, ms per call, serial
 * and pipelined) and MB/s on 1M-element tensors (one at a time, and 2 or 4 in flight so
 * quant-audit and the server can work at the same time), for the Node and Python example
 * servers, against the in-process reference fakeQuant in the same run.
 * Goals (issue 7): ≥ 200 MB/s on large tensors, < 1 ms per small call (Node server).
 *
 *   npx tsc -p . && node dist/bench/exec.js [--write]   (--write → bench/results/exec.md)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from 'shell-quote';
import { openExecTarget } from '../src/targets/exec.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import { Rng } from '../src/rng.js';
import type { Target } from '../src/targets/types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SMALL = 256;
const LARGE = 1 << 20;
const spec = defaultRegistry.get('int8');

interface Row {
  what: string;
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
process.stdin.on('data', (chunk) => {
  let start = 0;
  for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
    chunks.push(chunk.subarray(start, nl + 1));
    const line = Buffer.concat(chunks);
    chunks = [];
    start = nl + 1;
    const id = /"id":(\\d+)/.exec(line.toString('latin1', 0, 64))[1];
    const x = line.indexOf(HEAD);
    if (x < 0) { // describe, shutdown
      const result = line.includes('"describe"') ? { formats: ['int8'], capabilities: ['forward'] } : null;
      process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: Number(id), result }) + '\\n');
      continue;
    }
    process.stdout.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":' + id + ',"result":{"y":"'), line.subarray(x + HEAD.length)]));
  }
  if (start < chunk.length) chunks.push(chunk.subarray(start));
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

async function measureTarget(what: string, target: Target, smallCalls: number, largeCalls: number, echo = false): Promise<Row> {
  const rng = new Rng(1);
  const small = rng.normalArray(SMALL, 0.05);
  const large = rng.normalArray(LARGE, 0.05);
  // warm up (JIT on both sides, first-call allocations), and check the answers are right
  for (let i = 0; i < 50; i++) await target.forward('int8', small, [SMALL]);
  const check = await target.forward('int8', large, [LARGE]);
  const expected = echo ? large : fakeQuant(spec, large);
  if (!check.every((v, i) => v === expected[i])) throw new Error(`${what}: forward int8 does not match the reference`);

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
    small: { msPerCall: msSmall, callsPerSec: 1000 / msSmall, pipelinedCallsPerSec: 1000 / msSmall },
    large: { msPerCall: msLarge, mbPerSec: mbPerSec(msLarge), calls: 20, clientCpuMsPerCall, mbPerSecInFlight },
  };
}

function fmt(v: number, digits = 3): string {
  return v >= 100 ? v.toFixed(0) : v.toPrecision(digits);
}

async function main(): Promise<void> {
  const rows: Row[] = [await measureReference()];
  const scratch = mkdtempSync(join(tmpdir(), 'qa-bench-exec-'));
  const echoPath = join(scratch, 'echo.mjs');
  writeFileSync(echoPath, ECHO_SERVER);
  const servers: [string, string, number, number, boolean][] = [
    ['exec: Node server (fixtures/exec/server.mjs)', quote([process.execPath, `${ROOT}fixtures/exec/server.mjs`]), 2000, 20, false],
    ['exec: transport ceiling (Node echo server, y = x, no parsing)', quote([process.execPath, echoPath]), 2000, 20, true],
    ['exec: Python server (fixtures/exec/server.py)', quote(['python3', `${ROOT}fixtures/exec/server.py`]), 500, 3, false],
  ];
  try {
    for (const [what, command, smallCalls, largeCalls, echo] of servers) {
      const target = await openExecTarget(command, { registry: defaultRegistry, timeoutMs: 60_000 });
      try {
        rows.push(await measureTarget(what, target, smallCalls, largeCalls, echo));
      } finally {
        await target.close();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const reference = rows[0]!;
  const python = (() => {
    try {
      return execFileSync('python3', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'python3 missing';
    }
  })();
  const node = rows[1]!;
  const ceiling = rows[2]!;
  const lines = [
    '## exec target overhead (issue 7)',
    '',
    `Date 2026-11-26 · machine: ${availableParallelism()} cores (\`nproc\`), ${cpus()[0]?.model ?? 'unknown CPU'} · Node ${process.version} · ${python}.`,
    `Command: \`npx tsc -p . && node dist/bench/exec.js --write\`. forward int8, small = ${SMALL} elements, large = ${LARGE} elements (4 MiB of float32 each way);`,
    'MB/s counts the input tensor bytes (10^6 B) per round trip; the reply carries as many again (5.6 MB of base64 each way).',
    `Load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) on ${availableParallelism()} cores — wall times include waiting for a core.`,
    'CPU columns: user+system time per large call of quant-audit (this process, all its threads) and of the server process (/proc, 10 ms ticks over the whole batch), one call at a time.',
    `In-flight columns: the same large calls issued ${IN_FLIGHT.join(' or ')} at a time (the client pipelines them by id), so quant-audit can encode and decode while the server quantizes.`,
    'The transport ceiling is a Node server that parses nothing and decodes nothing: it sends the request bytes back as the reply (y = x), so it costs exactly quant-audit\'s client plus the pipes.',
    '',
    `| implementation | small: ms/call (serial) | small: calls/s (serial) | small: calls/s (32 in flight) | large: ms/call | large: MB/s | ${IN_FLIGHT.map((k) => `large: MB/s (${k} in flight)`).join(' | ')} | large: quant-audit CPU ms/call | large: server CPU ms/call | large: time vs in-process |`,
    `|---|---|---|---|---|---|${IN_FLIGHT.map(() => '---|').join('')}---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.what} | ${fmt(r.small.msPerCall)} | ${fmt(r.small.callsPerSec)} | ${fmt(r.small.pipelinedCallsPerSec)} | ${fmt(r.large.msPerCall)} | ${fmt(r.large.mbPerSec)} | ${IN_FLIGHT.map((k) => fmt(r.large.mbPerSecInFlight[k]!)).join(' | ')} | ${fmt(r.large.clientCpuMsPerCall)} | ${r.large.serverCpuMsPerCall === undefined ? '—' : fmt(r.large.serverCpuMsPerCall)} | ${fmt(r.large.msPerCall / reference.large.msPerCall)}× |`,
    ),
    '',
  ];
  lines.push(
    `Goals (Node server): ≥ 200 MB/s on large tensors — measured ${fmt(node.large.mbPerSec)} MB/s one at a time, ${IN_FLIGHT.map((k) => `${fmt(node.large.mbPerSecInFlight[k]!)} MB/s with ${k} in flight`).join(', ')} (${Math.max(node.large.mbPerSec, ...Object.values(node.large.mbPerSecInFlight)) >= 200 ? 'met' : 'NOT met'}); ` +
      `< 1 ms per small call — measured ${fmt(node.small.msPerCall)} ms serial (${node.small.msPerCall < 1 ? 'met' : 'NOT met'}). ` +
      `The transport ceiling reaches ${fmt(ceiling.large.mbPerSec)} MB/s; the Node server gets ${fmt((100 * node.large.mbPerSec) / ceiling.large.mbPerSec)} % of it ` +
      `(the rest is the server's own JSON/base64 work and its quantizer, ${fmt(node.large.serverCpuMsPerCall ?? Number.NaN)} ms CPU per call).`,
    '',
  );
  const markdown = lines.join('\n');
  process.stdout.write(`${markdown}\n`);
  if (process.argv.includes('--write')) writeFileSync(`${ROOT}bench/results/exec.md`, markdown);
}

await main();
