/**
 * exec target overhead: forward round trips on small tensors (calls/s, ms per call, serial
 * and pipelined) and MB/s on 1M-element tensors, for the Node and Python example servers,
 * against the in-process reference fakeQuant in the same run.
 * Goals (issue 7): ≥ 200 MB/s on large tensors, < 1 ms per small call (Node server).
 *
 *   npx tsc -p . && node dist/bench/exec.js [--write]   (--write → bench/results/exec.md)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, availableParallelism, loadavg } from 'node:os';
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
  large: { msPerCall: number; mbPerSec: number; calls: number; clientCpuMsPerCall: number };
}

/** CPU time of this process (user + system), ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function time(calls: number, run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await run();
  return (performance.now() - t0) / calls;
}

async function measureTarget(what: string, target: Target, smallCalls: number, largeCalls: number): Promise<Row> {
  const rng = new Rng(1);
  const small = rng.normalArray(SMALL, 0.05);
  const large = rng.normalArray(LARGE, 0.05);
  // warm up (JIT on both sides, first-call allocations), and check the answers are right
  for (let i = 0; i < 50; i++) await target.forward('int8', small, [SMALL]);
  const check = await target.forward('int8', large, [LARGE]);
  const expected = fakeQuant(spec, large);
  if (!check.every((v, i) => v === expected[i])) throw new Error(`${what}: forward int8 does not match the reference`);

  const msSmall = await time(smallCalls, () => target.forward('int8', small, [SMALL]));
  const t0 = performance.now();
  const batch = 32;
  for (let done = 0; done < smallCalls; done += batch) {
    await Promise.all(Array.from({ length: batch }, () => target.forward('int8', small, [SMALL])));
  }
  const pipelined = smallCalls / ((performance.now() - t0) / 1000);
  const cpu0 = cpuMs();
  const msLarge = await time(largeCalls, () => target.forward('int8', large, [LARGE]));
  const clientCpuMsPerCall = (cpuMs() - cpu0) / largeCalls;
  return {
    what,
    small: { msPerCall: msSmall, callsPerSec: 1000 / msSmall, pipelinedCallsPerSec: pipelined },
    large: { msPerCall: msLarge, mbPerSec: (LARGE * 4) / 1e6 / (msLarge / 1000), calls: largeCalls, clientCpuMsPerCall },
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
  return {
    what: 'in-process reference fakeQuant (src/formats)',
    small: { msPerCall: msSmall, callsPerSec: 1000 / msSmall, pipelinedCallsPerSec: 1000 / msSmall },
    large: { msPerCall: msLarge, mbPerSec: (LARGE * 4) / 1e6 / (msLarge / 1000), calls: 20, clientCpuMsPerCall: (cpuMs() - cpu0) / 20 },
  };
}

function fmt(v: number, digits = 3): string {
  return v >= 100 ? v.toFixed(0) : v.toPrecision(digits);
}

async function main(): Promise<void> {
  const rows: Row[] = [await measureReference()];
  const servers: [string, string, number, number][] = [
    ['exec: Node server (fixtures/exec/server.mjs)', quote([process.execPath, `${ROOT}fixtures/exec/server.mjs`]), 2000, 20],
    ['exec: Python server (fixtures/exec/server.py)', quote(['python3', `${ROOT}fixtures/exec/server.py`]), 500, 3],
  ];
  for (const [what, command, smallCalls, largeCalls] of servers) {
    const target = await openExecTarget(command, { registry: defaultRegistry, timeoutMs: 60_000 });
    try {
      rows.push(await measureTarget(what, target, smallCalls, largeCalls));
    } finally {
      await target.close();
    }
  }
  const reference = rows[0]!;
  const python = (() => {
    try {
      return execFileSync('python3', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'python3 missing';
    }
  })();
  const lines = [
    '## exec target overhead (issue 7)',
    '',
    `Date 2026-11-26 · machine: ${availableParallelism()} cores (\`nproc\`), ${cpus()[0]?.model ?? 'unknown CPU'} · Node ${process.version} · ${python}.`,
    `Command: \`npx tsc -p . && node dist/bench/exec.js --write\`. forward int8, small = ${SMALL} elements, large = ${LARGE} elements (4 MiB of float32 each way);`,
    'MB/s counts the input tensor bytes (10^6 B) per round trip; the reply carries as many again.',
    `Load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) on ${availableParallelism()} cores — wall times include waiting for a core; the CPU column is this process's own user+system time.`,
    '',
    '| implementation | small: ms/call (serial) | small: calls/s (serial) | small: calls/s (32 in flight) | large: ms/call | large: MB/s | large: quant-audit CPU ms/call | large: time vs in-process |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${fmt(r.small.msPerCall)} | ${fmt(r.small.callsPerSec)} | ${fmt(r.small.pipelinedCallsPerSec)} | ${fmt(r.large.msPerCall)} | ${fmt(r.large.mbPerSec)} | ${fmt(r.large.clientCpuMsPerCall)} | ${fmt(r.large.msPerCall / reference.large.msPerCall)}× |`,
    ),
    '',
  ];
  const node = rows[1]!;
  lines.push(
    `Goals (Node server): ≥ 200 MB/s on large tensors — measured ${fmt(node.large.mbPerSec)} MB/s (${node.large.mbPerSec >= 200 ? 'met' : 'NOT met'}); ` +
      `< 1 ms per small call — measured ${fmt(node.small.msPerCall)} ms serial (${node.small.msPerCall < 1 ? 'met' : 'NOT met'}).`,
    '',
  );
  if (reference.large.mbPerSec < 200) {
    lines.push(
      `On this machine the in-process reference itself reaches ${fmt(reference.large.mbPerSec)} MB/s on the same tensor, so no out-of-process ` +
        'target can reach 200 MB/s here; the time ratio against the in-process reference is the figure that carries over to other machines.',
      '',
    );
  }
  const markdown = lines.join('\n');
  process.stdout.write(`${markdown}\n`);
  if (process.argv.includes('--write')) writeFileSync(`${ROOT}bench/results/exec.md`, markdown);
}

await main();
