/**
 * Reports for the report.html tests, built by hand on top of report-fixture.ts:
 * - causalReport(): the fields the diagnosis adds (diagnosis[], results[].explainedBy,
 *   lanes[].explainedBy, a 'diverged' lane, gate decisions) and witness plots of every kind
 *   (x → fq(x) for target and reference, gradient vs the STE's, weight trajectories), so the
 *   renderer is exercised on them whether or not the run that writes them has landed;
 * - hostileReport(): markup and quotes in every free-text field a target or data source controls.
 */
import { legacyReport, lane } from './report-fixture.js';
import type { Lane, ProbeResult, Report, WitnessPlot } from '../../src/report/types.js';

/** int4: a staircase with 16 levels of 0.125 for the reference; the target returns the codes (never dequantized). */
function transferPlot(): WitnessPlot {
  const x: number[] = [];
  for (let i = 0; i <= 128; i++) x.push(-1 + i / 64);
  const q = (v: number): number => Math.max(-8, Math.min(7, Math.round(v / 0.125)));
  return {
    kind: 'transfer',
    xLabel: 'x',
    yLabel: 'fq(x)',
    x,
    series: [
      { name: 'target', y: x.map(q) },
      { name: 'reference', y: x.map((v) => q(v) * 0.125) },
    ],
  };
}

/** broken-ste: the target's gradient is 0 everywhere, the STE passes 1 inside the range. */
function gradientPlot(): WitnessPlot {
  const x: number[] = [];
  for (let i = 0; i <= 64; i++) x.push(-1.5 + (3 * i) / 64);
  return {
    kind: 'gradient',
    xLabel: 'x',
    yLabel: 'dL/dx',
    x,
    series: [
      { name: 'target', y: x.map(() => 0) },
      { name: 'expected STE gradient', y: x.map((v) => (Math.abs(v) <= 1 ? 1 : 0)) },
    ],
  };
}

/** lost-updates: two weights under 100 updates of +1e-4; rounded in place they never move; one NaN step. */
function updatesPlot(): WitnessPlot {
  const x: number[] = [];
  for (let s = 0; s <= 100; s += 5) x.push(s);
  return {
    kind: 'updates',
    xLabel: 'step',
    yLabel: 'weight',
    x,
    series: [
      { name: 'target w0', y: x.map((s) => (s === 50 ? null : 0.0312)) },
      { name: 'target w1', y: x.map(() => -0.25) },
      { name: 'fp32 master w0', y: x.map((s) => 0.0312 + s * 1e-4) },
      { name: 'fp32 master w1', y: x.map((s) => -0.25 + s * 1e-4) },
    ],
  };
}

export function causalReport(): Report {
  const base = legacyReport() as unknown as Report;
  const results = base.results as ProbeResult[];
  for (const r of results) {
    if (r.probe === 'lost-updates' && r.verdict === 'fail') {
      r.witness!.plot = updatesPlot();
      r.gated = true;
    }
    if (r.probe === 'learnability' && r.verdict === 'fail') {
      r.explainedBy = 'lost-updates';
      r.explanation = 'with fp32 master weights the same lane learns (2.71 bits per byte): the lane is dead because updates are lost';
      r.gated = true;
    }
  }
  // An int4 codes-not-dequantized (H1) failure with a transfer plot, and an int8 broken STE.
  const h1 = results.find((r) => r.probe === 'missing-dequant' && r.format === 'int4' && r.site === undefined)!;
  Object.assign(h1, {
    verdict: 'fail',
    statistic: { name: 'rms ratio', value: 8.01, threshold: [0.5, 2], comparator: 'outside' },
    witness: {
      summary: 'the output of int4 fake-quant is 8× its input: the codes come back, not dequantized values (rms ratio 8.01 ≈ 1/scale).',
      samples: [{ x: 0.5, y: 4, expected: 0.5 }, { x: -0.25, y: -2, expected: -0.25 }],
      repro: 'npx quant-audit run --target mutant:missing-dequant --probe missing-dequant --format int4 --seed 1597',
      plot: transferPlot(),
    },
    gated: true,
  });
  const h3 = results.find((r) => r.probe === 'broken-ste' && r.format === 'int8')!;
  Object.assign(h3, {
    verdict: 'fail',
    statistic: { name: 'cosine', value: 0, threshold: 0.9, comparator: '<' },
    witness: { summary: 'the gradient through int8 fake-quant is 0 everywhere (cosine 0 with the STE gradient).', repro: 'npx quant-audit run --target mutant:round-no-ste --probe broken-ste --format int8 --seed 1597', plot: gradientPlot() },
    gated: false,
  });
  const siteFail = results.find((r) => r.site === 'fc2/QuantizeLinear')!;
  siteFail.explainedBySite = 'conv1/QuantizeLinear';
  const lanes = base.lanes as Lane[];
  for (const l of lanes) {
    if (l.status === 'dead' && l.control !== true && (l.format === 'int4' || l.format === 'int8')) l.explainedBy = ['lost-updates'];
    if (l.format === 'posit8' && l.optimizer === 'muon') {
      // Diverged: finite at first, then 23 bits per byte, then NaN.
      l.status = 'diverged';
      l.explainedBy = [];
      l.curve = [{ step: 0, bpb: 7 }, { step: 20, bpb: 6.2 }, { step: 40, bpb: 23.4 }, { step: 60, bpb: Number.NaN }];
    }
  }
  const diagnosis: Report['diagnosis'] = [
    {
      format: 'int4',
      causes: [
        { probe: 'missing-dequant', hypothesis: 'H1', summary: 'the codes come back, not dequantized values' },
        { probe: 'lost-updates', hypothesis: 'H4', summary: 'updates below half a quantization step are rounded away' },
      ],
      consequences: [{ probe: 'learnability', hypothesis: 'learnability', explainedBy: 'lost-updates', explanation: 'with fp32 master weights the same lane learns' }],
      deadLanes: [{ lane: 'QA-int4-h128-LR0.003-rng1597-adamw', status: 'dead', explainedBy: ['lost-updates'] }],
    },
    {
      format: 'int8',
      causes: [
        { probe: 'broken-ste', hypothesis: 'H3', summary: 'the gradient through the quantizer is zero' },
        { probe: 'lost-updates', hypothesis: 'H4', summary: 'updates below half a quantization step are rounded away' },
      ],
      consequences: [{ probe: 'learnability', hypothesis: 'learnability', explainedBy: 'lost-updates' }],
      deadLanes: [{ lane: 'QA-int8-h128-LR0.003-rng1597-adamw', status: 'dead', explainedBy: ['lost-updates'] }],
    },
    { format: 'posit8', causes: [], consequences: [], deadLanes: [{ lane: 'QA-posit8-h128-LR0.003-rng1597-muon', status: 'diverged', explainedBy: [] }] },
  ];
  base.diagnosis = diagnosis;
  base.verdict = { ...base.verdict, supported: { H1: ['int4'], H3: ['int8'], ...base.verdict.supported } };
  return base as unknown as Report;
}

export function hostileReport(): Report {
  const r = legacyReport() as unknown as Report;
  const evil = `<img src=x onerror="document.title='pwned'">"'&`;
  r.run.target = `tfjs:${evil}.js`;
  r.run.command = `quant-audit run --target 'tfjs:${evil}.js'`;
  r.run.versions = { ...r.run.versions, [`x${evil}`]: evil };
  r.legend = { dead: evil };
  const l = r.lanes.find((x) => x.status === 'dead')!;
  l.note = evil;
  r.lanes.push({ ...lane(`fmt${evil}`, `opt${evil}`, 'dead', 6.99), name: `lane${evil}` } as unknown as Lane);
  const f = r.results.find((x) => x.verdict === 'fail')!;
  f.witness = { ...f.witness!, summary: evil, repro: `npx quant-audit run --target '${evil}'`, plot: { kind: `k${evil}` as WitnessPlot['kind'], xLabel: evil, yLabel: evil, x: [0, 1, 2], series: [{ name: evil, y: [0, 1, 0] }] } };
  f.evidence.notes = [evil];
  f.reason = evil;
  return r as unknown as Report;
}
