// How long the six forward/gradient/update probes take over every built-in format:
// on the reference (typed arrays) and, as the peer in the same run, on a tfjs-module target
// (the fp32-fallback mutant's adapter path with the reference codec behind it: tensors in/out).
//   npx tsc -p . && node dist/bench/probes.js
import { initTf } from '../src/tf.js';
import { defaultRegistry } from '../src/formats/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { openTarget } from '../src/targets/index.js';
import { runProbeOn } from '../probes/run.js';
import { PROBES } from '../probes/index.js';
import type { ProbeContext } from '../probes/types.js';
import { benchClock } from './when.js';

const clock = benchClock();

async function timeAll(spec: string): Promise<{ totalMs: number; perProbe: Record<string, number> }> {
  const target = await openTarget(spec, { registry: defaultRegistry });
  const ctx: ProbeContext = { seed: 1, thresholds: DEFAULT_THRESHOLDS, lrs: [1e-4, 1e-3], resolveFormat: (n) => defaultRegistry.get(n), reproCommand: () => '', log: () => undefined };
  const perProbe: Record<string, number> = {};
  const t0 = performance.now();
  for (const p of PROBES) {
    const s = performance.now();
    for (const f of defaultRegistry.names()) await runProbeOn(p, target, f, ctx);
    perProbe[p.id] = performance.now() - s;
  }
  return { totalMs: performance.now() - t0, perProbe };
}

const backend = await initTf('cpu');
const cold = await timeAll('reference'); // first pass: builds codec tables, JIT warm-up
const ref = await timeAll('reference');
const peer = await timeAll('tfjs:fixtures/tfjs/good-int.mjs').catch(() => undefined);
const mutant = await timeAll('mutant:vanishing-ste');
const n = defaultRegistry.names().length;
const lines = [
  `## probes (bench/probes.ts)`,
  ``,
  `${clock.line()} · tfjs backend ${backend}`,
  `Command: \`npx tsc -p . && node dist/bench/probes.js\``,
  ``,
  `All six probes × ${n} formats (${6 * n} probe runs), seed 1, after one warm-up pass:`,
  ``,
  `| target | total | per probe run |`,
  `|---|---|---|`,
  `| reference (typed arrays), first pass in the process | ${(cold.totalMs / 1000).toFixed(2)} s | ${(cold.totalMs / (6 * n)).toFixed(1)} ms |`,
  `| reference (typed arrays) | ${(ref.totalMs / 1000).toFixed(2)} s | ${(ref.totalMs / (6 * n)).toFixed(1)} ms |`,
  `| mutant:vanishing-ste (tfjs adapter, tensors in/out) | ${(mutant.totalMs / 1000).toFixed(2)} s | ${(mutant.totalMs / (6 * n)).toFixed(1)} ms (${(mutant.totalMs / ref.totalMs).toFixed(2)}× the reference) |`,
  ``,
  `(The mutant has no update step, so its lost-updates is skipped after the movable fractions: that is why it is not slower.)`,
  ``,
  `Per probe on the reference (all ${n} formats):`,
  ``,
  `| probe | ms |`,
  `|---|---|`,
  ...PROBES.map((p) => `| ${p.id} | ${ref.perProbe[p.id]!.toFixed(0)} |`),
];
if (peer) lines.push('', `good-int.mjs (2 formats, the others skipped): ${(peer.totalMs / 1000).toFixed(2)} s.`);
console.log(lines.join('\n'));
