/**
 * The long form of the fuzz suite (the short form is test/fuzz-*.test.ts): ≥ 1000 damaged
 * ONNX models, hostile configs and reports, hostile tensors through every codec, and every
 * misbehaving exec server mode, each case bounded in time and classified. Writes
 * bench/results/fuzz.md and exits 1 if any case crashed (internal error) or hung.
 *
 *   npx tsc -p . && node dist/bench/fuzz.js [--seed N] [--onnx N] [--config N] [--report N]
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan } from '../src/run/plan.js';
import { executePlan } from '../src/run/execute.js';
import { serializeReport } from '../src/report/json.js';
import { readReport } from '../src/report/write.js';
import { EAGER_VIEWS, renderAs } from '../src/report/renderers.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import { Rng } from '../src/rng.js';
import { classify, configCase, hostileTensors, onnxCase, onnxFixtures, reportCase, ROOT, Tally, writeCase, type FuzzCase } from '../test/support/fuzz-support.js';
import { benchClock } from './when.js';

const clock = benchClock();

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const SEED = flag('seed', 1);
const N_ONNX = flag('onnx', 1000);
const N_CONFIG = flag('config', 500);
const N_REPORT = flag('report', 500);

/** exec misbehave modes (fixtures/exec/misbehave.mjs) that end by themselves within the request timeout. */
const EXEC_MODES = ['crash', 'always-crash', 'hang', 'non-json', 'wrong-id', 'wrong-length', 'nan-json', 'nan-tensor', 'error', 'huge-line', 'out-of-order', 'exit-at-start', 'bad-describe', 'unknown-capability', 'grandchild', 'forward-only', 'no-version'];
const TFJS_MODULES = ['garbage.mjs', 'throws-string.mjs', 'factory-throws.mjs', 'top-level-throws.mjs', 'hang-fakequant.mjs', 'hang-factory.mjs'];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qa-fuzz-long-'));
  const tally = new Tally();
  const started = Date.now();
  const quiet = { log: () => undefined };
  /** Run one case within its time bound, count its outcome, and say so at once when it crashed or hung. */
  const trial = async (c: Pick<FuzzCase, 'name' | 'category'>, fn: () => Promise<unknown>, timeoutMs: number): Promise<void> => {
    const o = await classify(fn, timeoutMs);
    tally.add(c, o);
    if (o.kind === 'internal' || o.kind === 'hang') process.stderr.write(`BAD ${c.name}: ${o.kind}: ${o.message.slice(0, 400)}\n`);
  };
  try {
    // ONNX: byte- and proto-level damage, through the run pipeline
    const fixtures = onnxFixtures();
    for (let i = 0; i < N_ONNX; i++) {
      const c = onnxCase(SEED, i, fixtures);
      const file = writeCase(join(dir, 'onnx'), c, '.onnx');
      await trial(c, async () => executePlan(buildPlan({ target: `onnx:${file}`, probe: ['roundtrip'], format: ['int8'], out: join(dir, 'reports') }), quiet, []), 30_000);
      if (i % 200 === 199) process.stderr.write(`onnx ${i + 1}/${N_ONNX}\n`);
    }
    // config
    for (let i = 0; i < N_CONFIG; i++) {
      const c = configCase(SEED, i);
      const file = writeCase(join(dir, 'config'), c, '.yaml');
      await trial(c, async () => void buildPlan({ config: file }), 10_000);
    }
    // report.json
    const report = await executePlan(buildPlan({ probe: ['roundtrip', 'missing-dequant'], format: ['int8', 'nf4'], seed: [String(SEED)] }), quiet, []);
    report.run.id = '20261126-000000-fuzz';
    const valid = serializeReport(report);
    for (let i = 0; i < N_REPORT; i++) {
      const c = reportCase(SEED, i, valid);
      const file = writeCase(join(dir, 'report'), c, '.json');
      await trial(c, async () => {
        const r = readReport(file);
        for (const f of EAGER_VIEWS) renderAs(r, f, { isTTY: false });
      }, 10_000);
    }
    // tensors through every codec
    for (const name of defaultRegistry.names()) {
      for (const t of hostileTensors(new Rng(SEED))) {
        await trial({ name: `tensor/${name}/${t.name}`, category: 'tensor' }, async () => {
          const y = fakeQuant(defaultRegistry.get(name), t.x);
          if (y.length !== t.x.length) throw new Error(`length ${y.length} for ${t.x.length}`);
        }, 10_000);
      }
    }
    // tfjs modules that throw, hang or return garbage (the hangs are stopped by the call timeout)
    for (const m of TFJS_MODULES) {
      await trial({ name: `tfjs/${m}`, category: 'tfjs' }, async () => executePlan(buildPlan({ target: `tfjs:${join(ROOT, 'fixtures', 'fuzz', m)}`, probe: ['roundtrip', 'broken-ste'], timeoutMs: '1000', out: join(dir, 'reports') }), quiet, []), 30_000);
    }
    // exec servers that misbehave
    for (const mode of EXEC_MODES) {
      const target = `exec:${process.execPath} ${join(ROOT, 'fixtures', 'exec', 'misbehave.mjs')} --mode ${mode}`;
      await trial({ name: `exec/${mode}`, category: 'exec' }, async () => executePlan(buildPlan({ target, probe: ['roundtrip', 'broken-ste'], format: ['int8', 'int4'], timeoutMs: '2000', out: join(dir, 'reports') }), quiet, []), 60_000);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const rows = [...tally.byCategory.entries()].map(([cat, r]) => {
    const n = r.ok + r.usage + r.inconclusive + r.internal + r.hang;
    return `| ${cat} | ${n} | ${r.ok} | ${r.usage} | ${r.inconclusive} | ${r.internal} | ${r.hang} | ${n - r.internal - r.hang} |`;
  });
  const md = [
    '## Fuzz (long form)',
    '',
    `${clock.line()} · seed ${SEED} · ${tally.total()} cases in ${seconds} s.`,
    '',
    'Command: `npx tsc -p . && node dist/bench/fuzz.js` (options `--seed N --onnx N --config N --report N`).',
    '',
    '| category | cases | ran to a report | clear usage error (exit 2) | inconclusive (exit 3) | internal error | hang | ended well |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Slowest case: \`${tally.slowest.name}\` (${tally.slowest.ms} ms).`,
    '',
    tally.bad.length === 0 ? 'Crashes: 0. Hangs: 0.' : `Bad cases (${tally.bad.length}):\n${tally.bad.map((b) => `- \`${b.name}\`: ${b.outcome.kind}: ${b.outcome.message.split('\n')[0]}`).join('\n')}`,
    '',
  ].join('\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'fuzz.md'), md);
  process.stdout.write(md);
  process.exitCode = tally.bad.length === 0 ? 0 : 1;
}

await main();
