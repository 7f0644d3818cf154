/**
 * A/B of the SIMD kernels against another build of quant-audit, in one process: the codec fakeQuant of every row
 * with a fast path (4M N(0,1) float32 values) and the ONNX site statistics (int8 per tensor / per channel, uint8 with
 * a zero-point; 4M elements with a float twin), the two builds interleaved (ABAB…), best of R in process CPU time, so
 * the load of a shared machine hits both alike. Use it when the kernels change: keep a copy of the old build
 * (`cp -r dist package.json schema /tmp/old && ln -s $PWD/node_modules /tmp/old/`), rebuild, then
 *   node dist/bench/ab.js /tmp/old [--out bench/results/kernels.md]
 * Prints (and writes) the new ÷ old ratio per row; < 1 = the current build is faster.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import * as current from '../src/formats/index.js';
import { fastPathOf } from '../src/formats/fast.js';
import { siteStats, type SiteTensors } from '../src/onnx/site-stats.js';
import { CODE_TYPES, DT, type CodeType } from '../src/onnx/proto.js';
import { Rng } from '../src/rng.js';

const N = 4 * 1024 * 1024;
const R = 9;

function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** Best of R for the old and the new function, interleaved; ms each. */
function ab(oldFn: () => void, newFn: () => void): [number, number] {
  oldFn();
  newFn();
  let a = Infinity;
  let b = Infinity;
  for (let r = 0; r < R; r++) {
    if (r % 2) {
      b = Math.min(b, cpuMs(newFn));
      a = Math.min(a, cpuMs(oldFn));
    } else {
      a = Math.min(a, cpuMs(oldFn));
      b = Math.min(b, cpuMs(newFn));
    }
  }
  return [a, b];
}

async function main(): Promise<void> {
  const oldRoot = process.argv[2];
  if (!oldRoot) throw new Error('usage: node dist/bench/ab.js OLD_BUILD_DIR [--out FILE]');
  const outArg = process.argv.indexOf('--out');
  const outPath = outArg > 0 ? process.argv[outArg + 1] : undefined;
  const old = (await import(resolve(oldRoot, 'dist/src/formats/index.js'))) as typeof current;
  const oldStats = (await import(resolve(oldRoot, 'dist/src/onnx/site-stats.js'))) as { siteStats: typeof siteStats };
  const x = new Rng(1).normalArray(N, 1);
  const out = new Float32Array(N);
  const lines: string[] = ['| kernel | path | old (ms) | new (ms) | new ÷ old |', '|---|---|---:|---:|---:|'];
  let sumOld = 0;
  let sumNew = 0;
  for (const spec of current.defaultRegistry.all()) {
    const path = fastPathOf(spec);
    if (!path) continue;
    const oldSpec = old.defaultRegistry.get(spec.name);
    const [a, b] = ab(() => old.fakeQuant(oldSpec, x, undefined, out), () => current.fakeQuant(spec, x, undefined, out));
    sumOld += a;
    sumNew += b;
    lines.push(`| fakeQuant ${spec.name} | ${path} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} |`);
  }
  lines.push(`| **all codec rows** | | ${sumOld.toFixed(1)} | ${sumNew.toFixed(1)} | **${(sumNew / sumOld).toFixed(3)}** |`);
  const int8 = CODE_TYPES[DT.INT8]!;
  const uint8 = CODE_TYPES[DT.UINT8]!;
  const site = (groups: number, type: CodeType, zp: number): SiteTensors => {
    const s = 4 / 127;
    const codes = type === int8 ? new Int8Array(N) : new Uint8Array(N);
    const dq = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      const c = Math.max(type.qmin, Math.min(type.qmax, Math.round(x[i]! / s) + zp));
      codes[i] = c;
      dq[i] = Math.fround((c - zp) * s);
    }
    const twin = x.map((v, i) => v + (i % 7 ? 0 : 1e-3));
    return { x, dims: [groups, N / groups], codes, dq, twin, scale: new Float64Array(groups).fill(s), zeroPoint: new Float64Array(groups).fill(zp), axis: 0, blockSize: 0 };
  };
  let statsOld = 0;
  let statsNew = 0;
  // the JavaScript passes too (the kernels' reference, and the path of per-block sites and hosts without SIMD)
  for (const [name, groups, type, zp, wasm] of [
    ['int8 per tensor', 1, int8, 0, true], ['int8 per channel (256)', 256, int8, 0, true], ['uint8 per tensor, zero-point 128', 1, uint8, 128, true],
    ['int8 per channel (256)', 256, int8, 0, false], ['uint8 per tensor, zero-point 128', 1, uint8, 128, false],
  ] as const) {
    const t = site(groups, type, zp);
    const [a, b] = ab(() => oldStats.siteStats(t, type, { wasm }), () => siteStats(t, type, { wasm }));
    statsOld += a;
    statsNew += b;
    lines.push(`| siteStats ${name} | ${wasm ? 'stats kernels' : 'JavaScript passes'} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} |`);
  }
  lines.push(`| **all ONNX statistics** | | ${statsOld.toFixed(1)} | ${statsNew.toFixed(1)} | **${(statsNew / statsOld).toFixed(3)}** |`);
  const load = loadavg().map((v) => v.toFixed(1)).join(' / ');
  const md = [
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}; load average at the end ${load} (1/5/15 min; the machine is shared with other agents' builds and tests).`,
    `Best of ${R} per build, interleaved, process CPU time; ${N} elements per call.`,
    '',
    ...lines,
  ].join('\n');
  process.stdout.write(`${md}\n`);
  if (outPath) writeFileSync(outPath, `${md}\n`);
}

await main();
