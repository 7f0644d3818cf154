// How long the six forward/gradient/update probes take over every built-in format, the way
// `run` runs them (probes/run.ts runProbesOnFormat: each format's observations shared by its
// forward probes, gradient/update probes, then the causal experiments a failure triggers):
// on the reference (typed arrays) and, as the peer in the same run, on a tfjs-module target
// (the vanishing-ste mutant: tensors in/out through the tfjs adapter, and failures whose causal
// experiments run).
//   npx tsc -p . && node dist/bench/probes.js [--baseline OLD_BUILD_DIR] [--out FILE]
// With --baseline (another build of quant-audit: `git worktree add /tmp/old REV && cd /tmp/old &&
// ln -s $OLDPWD/node_modules && npx tsc -p .`), the old build's probes run interleaved with this
// build's (ABAB…, best of R) on the same formats, so the ratio new ÷ old means something on a
// shared machine. Times are process CPU time (user + system): on a machine other jobs load,
// wall time measures them too.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { initTf } from '../src/tf.js';
import { defaultRegistry } from '../src/formats/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { openTarget } from '../src/targets/index.js';
import { runProbeOn, runProbesOnFormat } from '../probes/run.js';
import { PROBES } from '../probes/index.js';
import type { ProbeContext } from '../probes/types.js';
import type { Target } from '../src/targets/types.js';
import { benchClock } from './when.js';

const clock = benchClock();
const R = 5;

/** Process CPU ms since `from` (a process.cpuUsage() reading). */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1000;
}

const ctx: ProbeContext = { seed: 1, thresholds: DEFAULT_THRESHOLDS, lrs: [1e-4, 1e-3], resolveFormat: (n) => defaultRegistry.get(n), reproCommand: () => '', log: () => undefined };
const formats = defaultRegistry.names();

/** All probes × all formats, the way `run` does it; wall ms and the failures it found. */
async function runAll(target: Target): Promise<{ ms: number; fails: number }> {
  const t0 = process.cpuUsage();
  let fails = 0;
  for (const f of formats) fails += (await runProbesOnFormat(PROBES, target, f, ctx)).filter((r) => r.verdict === 'fail').length;
  return { ms: cpuMsSince(t0), fails };
}

/** Each probe alone over all formats (no shared observations): what each probe costs by itself. */
async function perProbe(target: Target): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of PROBES) {
    const s = process.cpuUsage();
    for (const f of formats) await runProbeOn(p, target, f, ctx);
    out[p.id] = cpuMsSince(s);
  }
  return out;
}

interface OldBuild {
  run(spec: string): Promise<number>;
}

/** The old build's own probes over all formats, as its `run` did them (each probe, each format). */
async function loadOld(root: string): Promise<OldBuild> {
  const imp = async <T>(p: string): Promise<T> => (await import(resolve(root, 'dist', p))) as T;
  const { openTarget: openOld } = await imp<{ openTarget: typeof openTarget }>('src/targets/index.js');
  const { defaultRegistry: reg } = await imp<{ defaultRegistry: typeof defaultRegistry }>('src/formats/index.js');
  const { DEFAULT_THRESHOLDS: th } = await imp<{ DEFAULT_THRESHOLDS: typeof DEFAULT_THRESHOLDS }>('src/thresholds.js');
  const run = await imp<Record<string, unknown>>('probes/run.js');
  const { PROBES: oldProbes } = await imp<{ PROBES: typeof PROBES }>('probes/index.js');
  const oldCtx = { ...ctx, thresholds: th, resolveFormat: (n: string) => reg.get(n) };
  const targets = new Map<string, Target>();
  return {
    async run(spec) {
      let t = targets.get(spec);
      if (!t) targets.set(spec, (t = (await openOld(spec, { registry: reg })) as Target));
      const t0 = process.cpuUsage();
      for (const f of reg.names()) {
        if (typeof run.runProbesOnFormat === 'function') await (run.runProbesOnFormat as typeof runProbesOnFormat)(oldProbes, t, f, oldCtx);
        else for (const p of oldProbes) await (run.runProbeOn as typeof runProbeOn)(p, t, f, oldCtx);
      }
      return cpuMsSince(t0);
    },
  };
}

const args = process.argv.slice(2);
const baseline = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : undefined;
const outPath = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;

const backend = await initTf('cpu');
const SPECS = ['reference', 'mutant:vanishing-ste'] as const;
const targets = new Map<string, Target>();
for (const s of SPECS) targets.set(s, await openTarget(s, { registry: defaultRegistry }));
const old = baseline ? await loadOld(baseline) : undefined;

const cold = await runAll(targets.get('reference')!); // first pass: builds codec tables, JIT warm-up
const best = new Map<string, { ms: number; fails: number; oldMs: number }>();
for (const s of SPECS) {
  if (old) await old.run(s); // warm the old build too
  let ms = Infinity;
  let oldMs = Infinity;
  let fails = 0;
  for (let r = 0; r < R; r++) {
    if (old && r % 2) oldMs = Math.min(oldMs, await old.run(s));
    const m = await runAll(targets.get(s)!);
    ms = Math.min(ms, m.ms);
    fails = m.fails;
    if (old && !(r % 2)) oldMs = Math.min(oldMs, await old.run(s));
  }
  best.set(s, { ms, fails, oldMs });
}
const each = await perProbe(targets.get('reference')!);
for (const t of targets.values()) await t.close?.();

const n = formats.length;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const row = (label: string, s: string): string => {
  const b = best.get(s)!;
  return `| ${label} | ${sec(b.ms)} | ${(b.ms / (PROBES.length * n)).toFixed(1)} ms | ${b.fails} |${old ? ` ${sec(b.oldMs)} | ${(b.ms / b.oldMs).toFixed(2)} |` : ''}`;
};
const lines = [
  `## probes (bench/probes.ts)`,
  ``,
  `${clock.line()} · tfjs backend ${backend}`,
  `Command: \`npx tsc -p . && node dist/bench/probes.js${baseline ? ' --baseline OLD_BUILD' : ''}\``,
  ``,
  `All ${PROBES.length} probes × ${n} formats (${PROBES.length * n} probe runs), seed 1, the way \`run\` runs them (runProbesOnFormat: shared observations, causal experiments after a failure), process CPU time, best of ${R} after one warm-up pass${old ? `, interleaved with the baseline build (${baseline})` : ''}:`,
  ``,
  `| target | total | per probe run | failures found |${old ? ' baseline total | new ÷ baseline |' : ''}`,
  `|---|---|---|---|${old ? '---|---|' : ''}`,
  `| reference (typed arrays), first pass in the process | ${sec(cold.ms)} | ${(cold.ms / (PROBES.length * n)).toFixed(1)} ms | ${cold.fails} |${old ? ' | |' : ''}`,
  row('reference (typed arrays)', 'reference'),
  row('mutant:vanishing-ste (tfjs adapter, tensors in/out)', 'mutant:vanishing-ste'),
  ``,
  `Each probe alone on the reference over all ${n} formats (no observations shared between probes), CPU ms:`,
  ``,
  `| probe | ms |`,
  `|---|---|`,
  ...PROBES.map((p) => `| ${p.id} | ${each[p.id]!.toFixed(0)} |`),
];
console.log(lines.join('\n'));
if (outPath) writeFileSync(outPath, lines.join('\n') + '\n');
