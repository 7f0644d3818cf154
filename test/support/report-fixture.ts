/**
 * A hand-built Report shaped like `run --target mutant:in-place --no-master-weights`:
 * lost-updates supported for int4/int8, lanes dead/partial/learns/clean/inconclusive,
 * a skipped and an inconclusive probe, QDQ site rows, a NaN witness sample and every
 * optional field filled in (so the schema is exercised on all of them).
 */
import { buildVerdict, judgeReport } from '../../src/verdict/gate.js';
import { canonicalOrder } from '../../src/report/merge.js';
import { inShard, probeJobKey } from '../../src/report/shard.js';
import type { Rng } from '../../src/rng.js';
import { laneName } from '../../src/train/lane-name.js';
import { SCHEMA_VERSION, type FailOn, type Lane, type LaneStatus, type ProbeResult, type Report } from '../../src/report/types.js';

export const FORMATS = ['int4', 'int8', 'posit8', 'nf4'];
export const PROBES = ['roundtrip', 'missing-dequant', 'broken-ste', 'lost-updates', 'learnability'];

function curve(start: number, end: number, steps: number, every: number): { step: number; bpb: number }[] {
  const out: { step: number; bpb: number }[] = [];
  for (let s = 0; s <= steps; s += every) out.push({ step: s, bpb: Math.round((end + (start - end) * Math.exp(-s / 25)) * 1e4) / 1e4 });
  return out;
}

/** What every hand-built lane shares: h128, lr 0.003, seed 1597, 100 steps run to the end, named by laneName. */
export function laneSettings(format: string, optimizer: string): Pick<Lane, 'name' | 'format' | 'optimizer' | 'seed' | 'lr' | 'hidden' | 'steps' | 'stepsRun'> {
  return { name: laneName(format, 128, 0.003, 1597, optimizer), format, optimizer, seed: 1597, lr: 0.003, hidden: 128, steps: 100, stepsRun: 100 };
}

export function lane(format: string, optimizer: string, status: LaneStatus, best: number, extra: Partial<Lane> = {}): Lane {
  const c = curve(7.0, best, 100, 20);
  return {
    ...laneSettings(format, optimizer),
    bpb: best + 0.01,
    bestBpb: best,
    curve: c,
    status,
    masterWeights: false,
    durationMs: 1234,
    ...(extra.control ? {} : { weightUpdate: 'in-place' as const }),
    ...extra,
  };
}

function pass(probe: string, hypothesis: string, format: string, stat: string, value: number, threshold: number | [number, number], comparator: ProbeResult['statistic']['comparator'], extra: Partial<ProbeResult> = {}): ProbeResult {
  return {
    probe,
    hypothesis,
    format,
    seed: 1597,
    verdict: 'pass',
    statistic: { name: stat, value, threshold, comparator },
    evidence: { measurements: { [stat]: value } },
    durationMs: 12,
    ...extra,
  };
}

export function fixtureResults(): ProbeResult[] {
  const results: ProbeResult[] = [];
  for (const f of FORMATS) {
    results.push(pass('roundtrip', 'roundtrip', f, 'SQNR deficit', f === 'nf4' ? Infinity : 0.01, 1, '>', { statistic: { name: 'SQNR deficit', value: f === 'nf4' ? Infinity : 0.01, threshold: 1, comparator: '>', unit: 'dB' } }));
    results.push(pass('missing-dequant', 'H1', f, 'rms ratio', 1.002, [0.5, 2], 'outside'));
    if (f === 'posit8') {
      results.push({
        probe: 'broken-ste', hypothesis: 'H3', format: f, seed: 1597, verdict: 'skipped',
        statistic: { name: 'skipped', value: null, threshold: null, comparator: '==' },
        evidence: { measurements: {} }, reason: 'target mutant:in-place lacks the gradient capability this probe needs',
      });
    } else {
      results.push(pass('broken-ste', 'H3', f, 'cosine', 0.9998, 0.9, '<'));
    }
    const lost = f === 'int4' || f === 'int8';
    results.push(
      lost
        ? {
            probe: 'lost-updates', hypothesis: 'H4', format: f, seed: 1597, verdict: 'fail',
            statistic: { name: 'moved after 1000 tiny updates', value: 0, threshold: 0.5, comparator: '<' },
            evidence: {
              measurements: { movableFraction: 0.012, lr: 0.001, steps: 1000, masterWeights: false, note: 'a | pipe' },
              tables: [{ title: 'weights before / after', headings: ['w', 'after 1000 × +lr', 'expected'], rows: [[0.0312, 0.0312, 1.0312], [-0.25, -0.25, 0.75], [0.5, null, 'NaN?']] }],
              notes: ['updates smaller than half a step (0.0625) were rounded away <every time>'],
            },
            witness: {
              summary: `1000 updates of +0.001 never moved a quantized ${f} weight: 0/4096 weights moved (fp32 master weights would move all of them).`,
              samples: [
                { x: 0.0312, y: 0.0312, expected: 1.0312, note: 'unchanged' },
                { x: -0.25, y: Number.NaN, expected: 0.75 },
                { x: 3.0e-7, y: 0 },
              ],
              repro: `npx quant-audit run --target mutant:in-place --probe lost-updates --format ${f} --seed 1597`,
            },
            durationMs: 40,
          }
        : pass('lost-updates', 'H4', f, 'moved after 1000 tiny updates', 1, 0.5, '<'),
    );
  }
  // An inconclusive learnability result (target error) and per-optimizer learnability results.
  results.push({
    probe: 'learnability', hypothesis: 'learnability', format: 'nf4', optimizer: 'muon', seed: 1597, verdict: 'inconclusive',
    statistic: { name: 'target error', value: null, threshold: null, comparator: '==' },
    evidence: { measurements: {}, notes: ['worker exited with code 1'] }, reason: 'target error: worker exited with code 1',
  });
  for (const f of ['int4', 'int8']) {
    results.push({
      probe: 'learnability', hypothesis: 'learnability', format: f, optimizer: 'adamw', seed: 1597, verdict: 'fail',
      statistic: { name: 'best bpb', value: 6.99, threshold: 6.9, comparator: '>=', unit: 'bpb' },
      evidence: { measurements: { bestBpb: 6.99, controlBpb: 2.67 } },
      witness: { summary: `${f} adamw stayed at the uniform baseline (6.99 ≥ 6.90) while fp32 reached 2.67.`, repro: `npx quant-audit run --target mutant:in-place --probe learnability --format ${f} --optimizer adamw` },
    });
  }
  // QDQ site rows (from an ONNX audit).
  results.push(pass('roundtrip', 'roundtrip', 'int8', 'SQNR deficit', 0.2, 1, '>', { site: 'conv1/QuantizeLinear' }));
  results.push({
    probe: 'scale-collapse', hypothesis: 'H2', format: 'uint8', site: 'fc2/QuantizeLinear', verdict: 'fail', seed: 1597,
    statistic: { name: 'zero fraction', value: 0.97, threshold: 0.5, comparator: '>' },
    evidence: { measurements: { scale: 12.5, zeroPoint: 0 } },
    witness: { summary: 'scale 12.5 rounds 97% of the activations this site sees to zero', samples: [{ x: 0.3, y: 0, expected: 0.2980 }], repro: 'npx quant-audit run --target onnx:model.onnx --probe scale-collapse --format uint8 # site fc2/QuantizeLinear' },
  });
  // A downstream site that only collapsed because fc2 zeroed its input: a consequence, not a second cause.
  results.push({
    probe: 'scale-collapse', hypothesis: 'H2', format: 'uint8', site: 'fc3/QuantizeLinear', verdict: 'fail', seed: 1597,
    statistic: { name: 'zero fraction', value: 0.99, threshold: 0.5, comparator: '>' },
    evidence: { measurements: { scale: 0.02, zeroPoint: 0 } },
    witness: { summary: 'fc3 sees an input that is 99% zeros', repro: 'npx quant-audit run --target onnx:model.onnx' },
    explainedBy: 'scale-collapse', explainedBySite: 'fc2/QuantizeLinear', explanation: 'on the float twin’s activations (fc2 bypassed) fc3 passes: zero fraction 0.01',
  });
  return results;
}

function ratio(median: number, survives: number): Partial<Lane> {
  return { updateToStep: { median, survives, byMatrix: { embedding: median / 10, hidden: median, head: median * 2 }, steps: [1, 25, 50, 75, 100], samples: 1920 } };
}

export function fixtureLanes(): Lane[] {
  return [
    lane('fp32', 'adamw', 'clean', 2.669, { control: true, masterWeights: true }),
    lane('fp32', 'muon', 'clean', 2.702, { control: true, masterWeights: true }),
    lane('int4', 'adamw', 'dead', 6.99, { masterWeights: false, ...ratio(0.0015, 0) }),
    lane('int8', 'adamw', 'dead', 6.985, { masterWeights: false, ...ratio(0.027, 0) }),
    lane('posit8', 'adamw', 'partial', 5.4, { masterWeights: false, ...ratio(0.0096, 0.01) }),
    lane('nf4', 'adamw', 'learns', 3.0, { masterWeights: false, note: 'early stop at step 80', stepsRun: 80, curve: curve(7.0, 3.0, 80, 20) }),
    lane('int4', 'muon', 'learns', 3.1, { masterWeights: false, ...ratio(0.061, 0.09) }),
    lane('int8', 'muon', 'clean', 2.71, { masterWeights: false, ...ratio(0.35, 0.44) }),
    lane('posit8', 'muon', 'diverged', Number.NaN, { masterWeights: false, bpb: Number.NaN, curve: [{ step: 0, bpb: 7 }, { step: 20, bpb: Number.NaN }], ...ratio(0.18, 0.29) }),
    lane('nf4', 'muon', 'inconclusive', 4.0, { masterWeights: false }),
  ];
}

export function fixtureReport(failOn: FailOn = 'fail'): Report {
  const results = fixtureResults();
  const lanes = fixtureLanes();
  return judged({
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'quant-audit', version: '0.1.0' },
    kind: 'run',
    run: {
      id: '20261126-103105-mutant-in-place',
      command: 'quant-audit run --target mutant:in-place --no-master-weights',
      target: 'mutant:in-place',
      targetInfo: { mutant: 'in-place', description: 'rounds weights in place after every step' },
      backend: 'wasm',
      ep: null,
      corpus: 'builtin:english',
      corpusInfo: { name: 'brown', bytes: 1_000_000, vocab: 128 },
      uniformBaselineBits: 7,
      seeds: [1597],
      formats: FORMATS,
      probes: PROBES,
      failOn,
      startedAt: '2026-11-26T10:31:05.000Z',
      finishedAt: '2026-11-26T10:33:00.000Z',
      durationMs: 115000,
      versions: { 'quant-audit': '0.1.0', node: '20.19.0', '@tensorflow/tfjs': '4.22.0' },
    },
    thresholds: { 'learnability.deadMargin': 0.1, 'missing-dequant.rmsRatio': [0.5, 2] },
    legend: { dead: '💀 dead: best bpb >= 6.90', clean: '✅ clean: within 0.05 bits of the control' },
    results,
    lanes,
    verdict: buildVerdict(results, lanes, failOn),
  });
}

/**
 * The fixture as a report written before the diagnosis existed (quant-audit 0.1): no
 * diagnosis, no gate marks, no explanations, and without the downstream site that only an
 * explanation makes a consequence. Views must still render such files.
 */
export function legacyReport(failOn: FailOn = 'fail'): Report {
  const r = structuredClone(fixtureReport(failOn)) as Report;
  delete r.diagnosis;
  r.results = r.results.filter((x) => x.site !== 'fc3/QuantizeLinear');
  for (const x of r.results) {
    delete x.gated;
    delete x.explainedBy;
    delete x.explainedBySite;
    delete x.explanation;
  }
  for (const l of r.lanes) {
    delete l.gated;
    delete l.explainedBy;
    if (l.status === 'diverged') l.status = 'dead';
  }
  r.verdict = buildVerdict(r.results, r.lanes, failOn);
  return r;
}

/** A report through the one judging path a run takes (diagnosis, gate marks, verdict), in canonical order. */
function judged(r: Report): Report {
  return canonicalOrder(judgeReport(r));
}

/** A fleet witness report: lanes only, no probe results, target = the data source. */
export function fleetReport(): Report {
  const lanes = fixtureLanes().filter((l) => l.status !== 'inconclusive').map((l) => ({ ...l, durationMs: undefined }));
  return judged({
    ...fixtureReport(),
    kind: 'witness',
    run: {
      id: '20261126-120000-fleet',
      command: 'quant-audit witness --from fleet.csv',
      target: 'fleet.csv',
      backend: 'n/a',
      ep: null,
      corpus: null,
      seeds: [1597],
      formats: ['int4', 'int8', 'posit8', 'nf4'],
      probes: [],
      failOn: 'dead',
      startedAt: '2026-11-26T12:00:00.000Z',
      versions: { 'quant-audit': '0.1.0' },
    },
    results: [],
    lanes,
    verdict: buildVerdict([], lanes, 'dead'),
  });
}

/** Split the fixture like `run --shard I/N` would: probe jobs by format, lanes by lane group; controls in every shard. */
export function shardOfReport(full: Report, index: number, count: number, rng: Rng): Report {
  const shard = { index, count };
  const results: ProbeResult[] = full.results.filter((r) => inShard(probeJobKey(r.format), shard));
  const lanes: Lane[] = full.lanes.filter((l) => l.control === true || inShard(`learnability|${l.format}|${l.optimizer}`, shard));
  const jitter = <T extends { durationMs?: number }>(x: T): T => ({ ...structuredClone(x), durationMs: Math.floor(rng.next() * 1000) });
  const shuffled = <T>(xs: T[]): T[] => xs.map((x) => [rng.next(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  return {
    ...judgeReport({ ...full, results: shuffled(results.map(jitter)), lanes: shuffled(lanes.map(jitter)) }),
    run: {
      ...structuredClone(full.run),
      id: `shard-${index}`,
      command: `${full.run.command} --shard ${index}/${count}`,
      shard,
      startedAt: `2026-11-26T10:3${index}:00.000Z`,
      finishedAt: `2026-11-26T10:4${index}:00.000Z`,
      durationMs: 60000 + index,
    },
  };
}

