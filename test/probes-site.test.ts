/**
 * Sites are judged by the probe modules (#16 item 1): the site judges of missing-dequant, scale-collapse and roundtrip
 * (probes/site.ts, probes/judge-site.ts), the same pure roundtrip judge as a format, and the within-site causal step
 * as a repair-and-rejudge (probes/causes.ts explainSiteFailures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROBES } from '../probes/index.js';
import { SITE_PROBES, judgeSite } from '../probes/judge-site.js';
import type { SiteFindings } from '../probes/site.js';
import { siteStats } from '../src/onnx/site-stats.js';
import { CODE_TYPES, DT } from '../src/onnx/proto.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { Rng } from '../src/rng.js';

const INT8 = CODE_TYPES[DT.INT8]!;
const ctx = { thresholds: DEFAULT_THRESHOLDS, seed: 1, reproCommand: (p: string, f: string, s?: string) => `repro ${p} ${f} ${s}` };

/** An int8 per-tensor weight site quantized with `scale` (the correct one is absmax / 127). */
function weightSite(scaleFactor: number, over: Partial<Omit<SiteFindings, 'artifact'>> = {}): SiteFindings {
  const rng = new Rng(11);
  const x = Float32Array.from({ length: 512 }, () => rng.normal() * 0.02);
  const absmax = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const scale = Math.fround((absmax / 127) * scaleFactor); // float32, as ONNX stores scales (and the reference computes them)
  const codes = Float32Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / scale))));
  const dq = Float32Array.from(codes, (c) => c * scale);
  const stats = siteStats({ x, dims: [16, 32], codes, dq, twin: x, scale: Float64Array.of(scale), zeroPoint: Float64Array.of(0), axis: 1, blockSize: 0 }, INT8);
  return {
    site: { name: 'w_q', kind: 'qdq', input: 'w', inputKind: 'weight', codeType: INT8, codeDataType: DT.INT8, axis: 1, blockSize: 0, dequantize: [{ name: 'w_dq' }], consumers: ['MatMul mm'], order: 0 },
    artifact: 'measured', format: 'int8', stats, lint: [], leaks: [], orderChecks: [], deadChannels: [],
    ...over,
  };
}

const byProbe = (rs: ReturnType<typeof judgeSite>, p: string) => rs.find((r) => r.probe === p)!;

test('the site judges are the probe modules: missing-dequant, scale-collapse and roundtrip, with their ids and hypotheses', () => {
  assert.deepEqual(SITE_PROBES.map((p) => p.id), ['roundtrip', 'missing-dequant', 'scale-collapse']);
  const rs = judgeSite(weightSite(1), ctx);
  assert.deepEqual(rs.map((r) => [r.probe, r.hypothesis, r.verdict, r.site, r.format]), [
    ['roundtrip', 'codec', 'pass', 'w_q', 'int8'],
    ['missing-dequant', 'H1', 'pass', 'w_q', 'int8'],
    ['scale-collapse', 'H2', 'pass', 'w_q', 'int8'],
  ]);
  for (const r of rs) assert.equal(r.hypothesis, PROBES.find((p) => p.id === r.probe)!.hypothesis);
  // only the probes asked for run
  assert.deepEqual(judgeSite(weightSite(1000), ctx, ['missing-dequant']).map((r) => r.probe), ['missing-dequant']);
  // the correct site is the reference: no SQNR deficit
  assert.equal(byProbe(rs, 'roundtrip').statistic.name, 'SQNR deficit vs reference');
  assert.equal(byProbe(rs, 'roundtrip').statistic.value, 0);
});

test('roundtrip at a site: the format judge (judgeRoundtrip) with the site allowance, 10 dB for weights, 20 dB for activations', () => {
  const f = weightSite(1);
  const ref = f.stats.refSqnrDb!;
  const at = (deficit: number, inputKind: 'weight' | 'activation') => {
    const g: SiteFindings = { ...f, site: { ...f.site, inputKind }, stats: { ...f.stats, localSqnrDb: ref - deficit } };
    return byProbe(judgeSite(g, ctx), 'roundtrip');
  };
  assert.equal(at(9.9, 'weight').verdict, 'pass');
  const fail = at(10.1, 'weight');
  assert.equal(fail.verdict, 'fail');
  assert.equal(fail.statistic.threshold, 10);
  assert.ok(Math.abs(fail.statistic.value! - 10.1) < 1e-6, String(fail.statistic.value));
  assert.match(fail.witness!.summary, /10\.1 dB below what a correctly scaled int8 quantizer reaches/);
  assert.equal(fail.witness!.repro, 'repro roundtrip int8 w_q');
  assert.equal(at(19.9, 'activation').verdict, 'pass');
  assert.equal(at(20.1, 'activation').verdict, 'fail');
});

test('a scale ×1000 at a site: scale-collapse is the cause, the roundtrip failure is re-judged on the reference and explained by it', () => {
  const rs = judgeSite(weightSite(1000), ctx);
  const sc = byProbe(rs, 'scale-collapse');
  const rt = byProbe(rs, 'roundtrip');
  assert.equal(sc.verdict, 'fail');
  assert.equal(sc.explainedBy, undefined);
  assert.equal(rt.verdict, 'fail');
  assert.equal(rt.explainedBy, 'scale-collapse');
  assert.match(rt.explanation!, /^with its scale and zero-point fitted to the data .* w_q reaches .* dB on the same tensor, against .* dB: re-judged with that repair, roundtrip passes \(SQNR deficit vs reference = 0, threshold 10\)$/);
});

test('codes leaking into float maths stay a cause beside a collapsed scale: no parameter repair clears a graph fault', () => {
  const leak = { node: 'cast', opType: 'Cast', tensor: 'w_codes_f', consumers: ['MatMul mm'], rmsRatio: 50, integerFraction: 1 };
  const rs = judgeSite(weightSite(1000, { leaks: [leak] }), ctx);
  const md = byProbe(rs, 'missing-dequant');
  assert.equal(md.verdict, 'fail');
  assert.equal(md.explainedBy, undefined);
  assert.equal(byProbe(rs, 'scale-collapse').explainedBy, undefined);
  assert.equal(byProbe(rs, 'roundtrip').explainedBy, 'scale-collapse');
});

test('a roundtrip failure with a sound scale is a cause of its own (nothing to repair it with)', () => {
  const f = weightSite(1);
  const rs = judgeSite({ ...f, stats: { ...f.stats, localSqnrDb: f.stats.refSqnrDb! - 30 } }, ctx);
  assert.equal(byProbe(rs, 'scale-collapse').verdict, 'pass');
  assert.equal(byProbe(rs, 'roundtrip').verdict, 'fail');
  assert.equal(byProbe(rs, 'roundtrip').explainedBy, undefined);
});

test('one judging path: outside probes/, no module builds a verdict for a probe module\'s id (mutants only name the probe that must catch them)', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(root, 'src'));
  const ids = PROBES.map((p) => p.id).join('|');
  const literal = new RegExp(`probe: '(${ids})'`);
  const offenders = files
    .filter((f) => !relative(root, f).startsWith(join('src', 'targets', 'mutants')))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => [f, i, line] as const))
    .filter(([, , line]) => literal.test(line))
    .map(([f, i]) => `${relative(root, f)}:${i + 1}`);
  assert.deepEqual(offenders, []);
  assert.ok(files.length > 100, `walked ${files.length} files`);
});
