/**
 * Stored-weight audit cost vs model size: a MatMulNBits model (4-bit, blocks of 32, no zero-points, scales per block)
 * x[8, K] → MatMulNBits(K → N) → y, from 12.5M to 100M weights, generated here (never committed). The audit — open
 * the target (file read, protobuf decoding, the check session) and audit every stored weight — against opening the
 * model in onnxruntime (default optimisations, as a user's session) plus one inference, in the same run. Writes
 * bench/results/onnx-forms.md.
 *
 *   npx tsc -p . && node --max-old-space-size=4096 dist/bench/onnx-forms.js
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELEM, makeModel } from '../src/onnx/builder.js';
import { createSession, ort } from '../src/onnx/session.js';
import { openOnnxTarget } from '../src/targets/onnx/index.js';
import { defaultRegistry } from '../src/formats/registry.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { Rng } from '../src/rng.js';
import { benchClock } from './when.js';

const clock = benchClock();

const BLOCK = 32;

/** Deterministic bytes: xorshift32 words (a 50 MB buffer in ~0.1 s; Rng per byte would take seconds). */
function randomBytes(n: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    words[i] = s;
  }
  return new Uint8Array(words.buffer, 0, n);
}

function nbitsModel(k: number, n: number): Uint8Array {
  const nb = k / BLOCK;
  const rng = new Rng(k + n);
  return makeModel({
    opset: 21, extraOpsets: { 'com.microsoft': 1 },
    nodes: [{ op: 'MatMulNBits', name: 'proj_Q4', domain: 'com.microsoft', inputs: ['x', 'proj.weight_Q4', 'proj.weight_scales'], outputs: ['y'], attrs: { K: k, N: n, bits: 4, block_size: BLOCK } }],
    inputs: [{ name: 'x', elemType: ELEM.FLOAT, shape: ['batch', k] }],
    outputs: [{ name: 'y', elemType: ELEM.FLOAT, shape: ['batch', n] }],
    initializers: [
      { name: 'proj.weight_Q4', elemType: ELEM.UINT8, dims: [n, nb, BLOCK / 2], values: randomBytes((n * k) / 2, k ^ n) },
      { name: 'proj.weight_scales', elemType: ELEM.FLOAT, dims: [n * nb], values: Float32Array.from({ length: n * nb }, () => 0.01 + 0.005 * Math.abs(rng.normal())) },
    ],
  });
}

interface Row {
  weights: number;
  fileMB: number;
  openMs: number;
  inferMs: number;
  auditMs: number;
  auditCpuMs: number;
  plainCpuMs: number;
  rssMB: number;
}

async function measure(k: number, n: number, dir: string): Promise<Row> {
  const path = join(dir, `nbits-${k}x${n}.onnx`);
  const bytes = nbitsModel(k, n);
  writeFileSync(path, bytes);
  const x = new ort.Tensor('float32', Float32Array.from(new Rng(1).fork('onnx-inputs').normalArray(8 * k)), [8, k]);
  // open + 1 inference: a user's session from the file (default optimisations), one run on the audit's batch of 8.
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { session } = await createSession(bytes, 'cpu', path);
  const t1 = performance.now();
  await session.run({ x });
  const t2 = performance.now();
  const cu = process.cpuUsage(c0);
  await session.release();
  const ac0 = process.cpuUsage();
  const a0 = performance.now();
  const target = await openOnnxTarget(path, { registry: defaultRegistry, ep: 'cpu' });
  const results = await target.audit!({ seed: 1, thresholds: DEFAULT_THRESHOLDS, formats: [], reproCommand: () => '', log: () => {} });
  await target.close();
  const auditMs = performance.now() - a0;
  const acu = process.cpuUsage(ac0);
  const head = results.find((r) => r.probe === 'weight-audit');
  if (head?.verdict !== 'pass') throw new Error(`bench model ${k}x${n} should pass, got ${head?.witness?.summary}`);
  const rssMB = process.memoryUsage().rss / 2 ** 20;
  rmSync(path);
  return {
    weights: k * n, fileMB: bytes.length / 2 ** 20, openMs: t1 - t0, inferMs: t2 - t1, auditMs,
    auditCpuMs: (acu.user + acu.system) / 1000, plainCpuMs: (cu.user + cu.system) / 1000, rssMB,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qa-onnx-forms-bench-'));
  const k = 4096;
  const configs = [3072, 6144, 12288, 24576]; // N: 12.6M, 25M, 50M, 100.7M weights
  await measure(k, 256, dir); // warm-up (discarded)
  const rows: Row[] = [];
  for (const n of configs) {
    const r = await measure(k, n, dir);
    rows.push(r);
    console.log(`${(r.weights / 1e6).toFixed(1)}M 4-bit weights: audit ${r.auditMs.toFixed(0)} ms, open ${r.openMs.toFixed(0)} ms + inference ${r.inferMs.toFixed(0)} ms, ratio ${(r.auditMs / (r.openMs + r.inferMs)).toFixed(2)}, rss ${r.rssMB.toFixed(0)} MB`);
  }
  rmSync(dir, { recursive: true, force: true });
  const f = (v: number, d = 0): string => v.toFixed(d);
  const lines = [
    '## ONNX target: stored-weight audit cost (MatMulNBits)',
    '',
    `${clock.line()} · onnxruntime-node ${ort.env.versions?.common ?? ''} · EP cpu`,
    'Command: `npx tsc -p . && node --max-old-space-size=4096 dist/bench/onnx-forms.js` (all rows from one run).',
    '',
    `Model: x[8, ${k}] → com.microsoft MatMulNBits (4-bit, block ${BLOCK}, scales per block, no zero-points) → y[8, N], generated in the bench (not committed).`,
    '"open + 1 inference": onnxruntime session creation from the file\'s bytes with default optimisations (what a user\'s session does, including',
    'MatMulNBits\' weight prepacking) plus one run on a batch of 8. "audit": opening the target (file read, protobuf decoding, onnxruntime\'s',
    'check session) and auditing every stored weight (unpacking the 4-bit codes, per-block code statistics, lint, judging; no session run:',
    'a weight-only model\'s numbers are all in the file). RSS is the process\'s resident memory after the audit; the default limits are',
    `maxMemoryMB ${DEFAULT_LIMITS.maxMemoryMB} and maxTensorElements ${DEFAULT_LIMITS.maxTensorElements} (the packed weight of 100M 4-bit weights is 50M uint8 elements).`,
    '',
    '| 4-bit weights | file (MB) | open (ms) | 1 inference (ms) | audit (ms) | audit ÷ (open + 1 inference) | audit CPU ÷ (open + 1 inference) CPU | audit ns / weight | RSS after (MB) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.weights.toLocaleString('en-US')} | ${f(r.fileMB)} | ${f(r.openMs)} | ${f(r.inferMs)} | ${f(r.auditMs)} | ${f(r.auditMs / (r.openMs + r.inferMs), 2)} | ${f(r.auditCpuMs / r.plainCpuMs, 2)} | ${f((1e6 * r.auditMs) / r.weights, 1)} | ${f(r.rssMB)} |`),
    '',
  ];
  const out = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'onnx-forms.md');
  writeFileSync(out, lines.join('\n'));
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
