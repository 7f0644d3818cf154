/**
 * Learnability benchmark, measured in one run (node dist/bench/train.js [--quick]):
 *   1. step time of a fake-quant lane ÷ the plain fp32 lane of the same model (goal ≤ 1.3);
 *   2. the whole default matrix (every format × adamw, muon + controls, 100 steps, reference,
 *      builtin:english, seed 1597) on 2 workers, wall time (goal ≤ 30 s for run --all);
 *   3. parallel speedup, 2 workers vs 1, on a 16-lane subset (goal ≥ 1.7×), same bpb both ways;
 *   4. steps saved by early stopping (reference, and mutants whose lanes are frozen);
 *   5. the update-to-step sampler: its own time per lane, and a lane with it ÷ the same lane without.
 * Writes bench/results/train.md.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { tf, initTf } from '../src/tf.js';
import { loadCorpus } from '../src/corpus/index.js';
import { defaultRegistry } from '../src/formats/index.js';
import { openTarget } from '../src/targets/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { trainLane, type LaneSpec } from '../src/train/lane.js';
import { bridgeFor, IDENTITY_BRIDGE } from '../src/train/bridge.js';
import { resolveSettings } from '../src/train/settings.js';
import { UpdateRatioSampler, sampledSteps } from '../src/train/update-ratio.js';
import { Rng } from '../src/rng.js';
import { runLearnability, type LearnabilityOptions, type LearnabilityOutcome } from '../src/run/learnability.js';

const quick = process.argv.includes('--quick');
const STEPS = 100;
const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
  console.log(s);
};

function options(over: Partial<LearnabilityOptions>): LearnabilityOptions {
  return {
    target: 'reference',
    targetOptions: {},
    formats: defaultRegistry.names().filter((f) => f !== 'fp32'),
    optimizers: ['adamw', 'muon'],
    seeds: [1597],
    steps: STEPS,
    corpus: 'builtin:english',
    backend: 'wasm',
    learnability: {},
    thresholds: DEFAULT_THRESHOLDS,
    reproCommand: (f, o) => `quant-audit run --probe learnability --format ${f} --optimizer ${o}`,
    ...over,
  };
}

async function timed(o: LearnabilityOptions): Promise<{ out: LearnabilityOutcome; seconds: number }> {
  const t = performance.now();
  const out = await runLearnability(o);
  return { out, seconds: (performance.now() - t) / 1000 };
}

const stepsRun = (o: LearnabilityOutcome): number => o.lanes.reduce((a, l) => a + (l.stepsRun ?? l.steps), 0);
const stepsPlanned = (o: LearnabilityOutcome): number => o.lanes.reduce((a, l) => a + l.steps, 0);

async function stepTimes(): Promise<void> {
  await initTf('wasm');
  const settings = resolveSettings({});
  const corpus = loadCorpus('builtin:english');
  const target = await openTarget('reference', { registry: defaultRegistry });
  const formats = quick ? ['int8'] : ['int8', 'fp8-e4m3', 'posit8', 'nf4', 'mxfp4', 'fp16'];
  say('### 1. Step time: fake-quant lane ÷ plain fp32 lane (same model, main thread, 100 steps, evals included)');
  say();
  say('| optimizer | format | ms/step (wall) | ms/step (CPU) | ratio to fp32 (wall) | ratio to fp32 (CPU) |');
  say('|---|---|---|---|---|---|');
  for (const optimizer of ['adamw', 'muon'] as const) {
    let fp32Wall = 0;
    let fp32Cpu = 0;
    for (const format of ['fp32', 'fp32', ...formats]) {
      const spec: LaneSpec = {
        name: format, format, optimizer, seed: 1597, lr: 0.003, steps: STEPS, control: format === 'fp32', model: settings.model,
        batch: settings.batch, evalEvery: settings.evalEvery, evalTokens: settings.evalTokens, masterWeights: true, earlyStop: false,
        deadLine: 6.9, cleanMargin: 0.05, patience: settings.patience,
      };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await trainLane(spec, format === 'fp32' ? IDENTITY_BRIDGE : bridgeFor(target, format), corpus);
      const wall = (performance.now() - t0) / out.stepsRun;
      const cu = process.cpuUsage(c0);
      const cpu = (cu.user + cu.system) / 1000 / out.stepsRun;
      if (format === 'fp32') {
        // the second fp32 run (JIT warm) is the reference
        fp32Wall = wall;
        fp32Cpu = cpu;
      }
      say(`| ${optimizer} | ${format} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${(wall / fp32Wall).toFixed(2)} | ${(cpu / fp32Cpu).toFixed(2)} |`);
    }
  }
  await target.close();
  say();
  void tf;
}

/** 5. The update-to-step sampler: isolated cost per lane, and lanes with/without it (alternating, same lane). */
async function samplerOverhead(): Promise<void> {
  const settings = resolveSettings({});
  const corpus = loadCorpus('builtin:english');
  const target = await openTarget('reference', { registry: defaultRegistry });
  const m = settings.model;
  const shapes = [
    { name: 'embedding', shape: [m.vocab, m.embed] },
    { name: 'hidden', shape: [m.context * m.embed, m.hidden] },
    { name: 'head', shape: [m.hidden, m.vocab] },
  ];
  say('### 5. Update-to-step sampler (128 weights per matrix at steps 1, 25, 50, 75, 100)');
  say();
  say('Each figure is the fastest of its repetitions (the machine is shared: the minimum is the least disturbed).');
  say('"sampler ÷ lane" is the sampler\'s own time per lane over a lane\'s time without it; "with ÷ without" times whole lanes, alternating.');
  say();
  say('| format | sampler ms per lane (5 samples) | lane ms/step without | with | sampler ÷ lane | with ÷ without |');
  say('|---|---|---|---|---|---|');
  const formats = quick ? ['int8'] : ['int8', 'posit8', 'nf4', 'mxfp4', 'fp16'];
  for (const format of formats) {
    const spec = defaultRegistry.get(format);
    const rng = new Rng(1);
    const before = shapes.map((x) => rng.normalArray(x.shape[0]! * x.shape[1]!, 0.05));
    const after = before.map((w) => w.map((v) => v + 1e-4));
    let isolated = Number.POSITIVE_INFINITY;
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      const sampler = new UpdateRatioSampler(spec, shapes, STEPS, 1597);
      for (const step of sampledSteps(STEPS)) sampler.record(step, before, after);
      sampler.summary();
      isolated = Math.min(isolated, performance.now() - t0);
    }
    const lane: LaneSpec = {
      name: format, format, optimizer: 'adamw', seed: 1597, lr: 0.003, steps: STEPS, control: false, model: m,
      batch: settings.batch, evalEvery: settings.evalEvery, evalTokens: settings.evalTokens, masterWeights: true, earlyStop: false,
      deadLine: 6.9, cleanMargin: 0.05, patience: settings.patience,
    };
    let without = Number.POSITIVE_INFINITY;
    let withSampler = Number.POSITIVE_INFINITY;
    for (let r = 0; r < 3; r++) {
      // alternate so drift in machine load hits both alike
      const a = await trainLane(lane, bridgeFor(target, format), corpus);
      const b = await trainLane(lane, bridgeFor(target, format), corpus, undefined, { grid: spec });
      if (JSON.stringify(a.curve) !== JSON.stringify(b.curve)) throw new Error(`${format}: the sampler changed the curve`);
      without = Math.min(without, a.durationMs / a.stepsRun);
      withSampler = Math.min(withSampler, b.durationMs / b.stepsRun);
    }
    say(`| ${format} | ${isolated.toFixed(1)} | ${without.toFixed(2)} | ${withSampler.toFixed(2)} | ${(isolated / (without * STEPS)).toFixed(3)} | ${(withSampler / without).toFixed(2)} |`);
  }
  await target.close();
  say();
}

async function main(): Promise<void> {
  const started = new Date();
  say(`## Learnability (bench/train.ts)`);
  say();
  say(`Date ${started.toISOString().slice(0, 10)}; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, backend wasm; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}.`);
  say(`Command: \`npx tsc -p . && node dist/bench/train.js${quick ? ' --quick' : ''}\``);
  say();

  if (process.argv.includes('--sampler-only')) {
    // Section 5 alone, into its own result file (the other sections keep their quiet-machine run).
    lines.length = 0;
    say('## Learnability: update-to-step sampler (bench/train.ts --sampler-only)');
    say();
    say(`Date ${started.toISOString().slice(0, 10)}; ${availableParallelism()} cores, node ${process.version}, backend wasm; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared with other sessions: wall times are inflated, the with ÷ without ratio is measured alternating in one run).`);
    say('Command: `npx tsc -p . && node dist/bench/train.js --sampler-only`');
    say();
    await initTf('wasm');
    await samplerOverhead();
    say(`Load average at end ${loadavg().map((x) => x.toFixed(1)).join(' ')}.`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/train-sampler.md', `${lines.join('\n')}\n`);
    return;
  }
  await stepTimes();

  say('### 2. The default matrix on 2 workers (reference, builtin:english, seed 1597, 100 steps)');
  say();
  const full = await timed(options({ workers: 2, ...(quick ? { formats: ['int8', 'int4', 'fp16', 'nf4'] } : {}) }));
  const lanes = full.out.lanes.filter((l) => !l.control);
  const worst = lanes.reduce((a, l) => (l.bestBpb > a.bestBpb ? l : a), lanes[0]!);
  const perStatus = new Map<string, number>();
  for (const l of lanes) perStatus.set(l.status, (perStatus.get(l.status) ?? 0) + 1);
  const fqMs = lanes.reduce((a, l) => a + (l.durationMs ?? 0), 0) / lanes.reduce((a, l) => a + (l.stepsRun ?? l.steps), 0);
  const controls = full.out.lanes.filter((l) => l.control);
  const ctlMs = controls.reduce((a, l) => a + (l.durationMs ?? 0), 0) / controls.reduce((a, l) => a + (l.stepsRun ?? l.steps), 0);
  say(`- ${full.out.lanes.length} lanes (${lanes.length} format lanes + ${controls.length} controls): **${full.seconds.toFixed(1)} s wall**, corpus load and worker start included.`);
  say(`- statuses: ${[...perStatus].map(([k, v]) => `${k} ${v}`).join(', ')}; controls ${controls.map((c) => `${c.optimizer} ${c.bestBpb.toFixed(3)}`).join(', ')}; worst format lane ${worst.name} at ${worst.bestBpb.toFixed(3)} bpb (every lane < 6.5: ${lanes.every((l) => l.bestBpb < 6.5)}).`);
  say(`- mean step time inside workers: format lanes ${fqMs.toFixed(2)} ms, controls ${ctlMs.toFixed(2)} ms → ratio **${(fqMs / ctlMs).toFixed(2)}** over all formats.`);
  say(`- steps run ${stepsRun(full.out)} of ${stepsPlanned(full.out)} (early stopping saved ${stepsPlanned(full.out) - stepsRun(full.out)}).`);
  say();

  say('### 3. Parallel speedup (16 format lanes + 2 controls)');
  say();
  const subset = options({ formats: quick ? ['int8', 'int4'] : ['int8', 'int4', 'fp8-e4m3', 'fp16', 'posit8', 'nf4', 'mxfp4', 'gf8'] });
  const one = await timed({ ...subset, workers: 1 });
  const two = await timed({ ...subset, workers: 2 });
  const same = JSON.stringify(one.out.lanes.map((l) => l.curve)) === JSON.stringify(two.out.lanes.map((l) => l.curve));
  say(`- 1 worker (main thread): ${one.seconds.toFixed(1)} s; 2 workers: ${two.seconds.toFixed(1)} s → **speedup ${(one.seconds / two.seconds).toFixed(2)}×**.`);
  say(`- identical curves with 1 and 2 workers: ${same}.`);
  say();

  say('### 4. Early stopping');
  say();
  say('| target | lanes | steps planned | steps run | saved | wall (s) |');
  say('|---|---|---|---|---|---|');
  say(`| reference | ${full.out.lanes.length} | ${stepsPlanned(full.out)} | ${stepsRun(full.out)} | ${stepsPlanned(full.out) - stepsRun(full.out)} | ${full.seconds.toFixed(1)} |`);
  for (const mutant of quick ? ['round-no-ste'] : ['round-no-ste', 'collapsed-scale', 'missing-dequant']) {
    const m = await timed(options({ target: `mutant:${mutant}`, workers: 2, ...(quick ? { formats: ['int8', 'int4'] } : {}) }));
    // every status that is not learning, diverged included (a status since 2026-12-05: before, those lanes were dead)
    const count = (st: string): number => m.out.lanes.filter((l) => !l.control && l.status === st).length;
    say(`| mutant:${mutant} (${count('dead')} dead, ${count('diverged')} diverged, ${count('partial')} partial) | ${m.out.lanes.length} | ${stepsPlanned(m.out)} | ${stepsRun(m.out)} | ${stepsPlanned(m.out) - stepsRun(m.out)} | ${m.seconds.toFixed(1)} |`);
  }
  say();
  await samplerOverhead();
  say(`Load average at end ${loadavg().map((x) => x.toFixed(1)).join(' ')} (other processes on the machine inflate wall times).`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/train.md', `${lines.join('\n')}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
