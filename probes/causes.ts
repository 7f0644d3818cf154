/**
 * Causal experiments: is a failure a cause, or a consequence of another failure on the same
 * format? A quantizer that returns codes (H1) also fails the round trip and loses the sign of
 * its unsigned codes; a scale that zeroes every weight also leaves the lost-updates test
 * nothing to observe. Reporting all of them as causes tells the reader three stories for one
 * bug. So, per format, after its probes ran:
 *
 *   for every failing (or unjudgeable) result E and every other failing result C:
 *     undo C's symptom on E's own observations (the repair below) and run E's own pure judge
 *     again; if E passes once C is undone, C explains E.
 *
 * Repairs, one per hypothesis that can be a cause:
 *  - missing-dequant (H1): per scale group, the least-squares affine map from the outputs back
 *    to the inputs (the dequantization the target forgot: scale and zero-point);
 *  - scale-collapse (H2): the scale repaired — elements the format's codec got right at the
 *    target's own (wrong) scale, and elements the target zeroed, sign-flipped or sent to one
 *    level while the reference kept them apart, get the reference's values;
 *  - format-applied (H5): the yardstick becomes the format the outputs were identified as
 *    (fp32 for a fallback): a format that was not the named one is judged as itself;
 *  - roundtrip, when it failed on NaN/Inf: those outputs get the reference codec's values (what
 *    the missing clamp would have given).
 * A lost-updates result that could not observe anything because the forward pass is collapsed
 * or non-finite is explained by the forward cause that failed. Mutual explanations are broken
 * by CAUSE_ORDER (the earlier hypothesis is the cause). Results get `explainedBy` (the root
 * cause's probe id) and `explanation` (the measurement that showed it).
 */
import type { FormatSpec } from '../src/formats/types.js';
import type { ProbeResult } from '../src/report/types.js';
import type { Target } from '../src/targets/types.js';
import { BUILTIN_FORMATS } from '../src/formats/index.js';
import { isForwardProbe, type ForwardProbe, type Observation, type Probe, type ProbeContext } from './types.js';
import { cell, observeAll, scaleBlockLength } from './common.js';
import { collapsedElements, scaleOnlyElements } from './scale-collapse.js';
import { appliedInsteadReference } from './format-applied.js';
import { fmt } from '../src/onnx/lint.js';
import type { SiteContext, SiteFindings } from './site.js';

/** Upstream first: when two failures explain each other, the earlier one is the cause. */
const CAUSE_ORDER: readonly string[] = ['missing-dequant', 'format-applied', 'scale-collapse', 'roundtrip'];

interface Repair {
  /** What the repair undoes, for the explanation. */
  undoes: string;
  /** E's observation with C's symptom undone; undefined when the repair does not apply to this cause result. */
  apply(spec: FormatSpec, o: Observation, cause: ProbeResult, ctx: ProbeContext): Observation | undefined;
}

/** Per group, y → a·y + b with (a, b) the least-squares fit of x on y; for a constant y that fit is the mean of x. */
function affineUndo(x: Float32Array, y: Float32Array, group: number): Float32Array {
  const out = Float32Array.from(y);
  for (let lo = 0; lo < y.length; lo += group) {
    const hi = Math.min(y.length, lo + group);
    let sy = 0;
    let sx = 0;
    let n = 0;
    for (let i = lo; i < hi; i++) {
      if (!Number.isFinite(y[i]!) || !Number.isFinite(x[i]!)) continue;
      sy += y[i]!;
      sx += x[i]!;
      n++;
    }
    if (n === 0) continue;
    const my = sy / n;
    const mx = sx / n;
    let cov = 0;
    let vary = 0;
    for (let i = lo; i < hi; i++) {
      if (!Number.isFinite(y[i]!) || !Number.isFinite(x[i]!)) continue;
      cov += (y[i]! - my) * (x[i]! - mx);
      vary += (y[i]! - my) ** 2;
    }
    if (vary === 0) {
      const mean = Math.fround(mx);
      for (let i = lo; i < hi; i++) if (Number.isFinite(y[i]!)) out[i] = mean;
      continue;
    }
    const a = cov / vary;
    const b = mx - a * my;
    for (let i = lo; i < hi; i++) out[i] = Math.fround(a * y[i]! + b);
  }
  return out;
}

/**
 * NaN/Inf outputs of finite inputs replaced by what a correct codec gives there: the
 * reference's value (the clamp the target left out saturates to it); without a reference,
 * ±(the largest finite |output| of the group), 0 for a zero input.
 */
function saturateNonFinite(x: Float32Array, y: Float32Array, group: number, ref: Float32Array | undefined): Float32Array {
  const out = Float32Array.from(y);
  for (let lo = 0; lo < y.length; lo += group) {
    const hi = Math.min(y.length, lo + group);
    let top = -1;
    for (let i = lo; i < hi; i++) if (Number.isFinite(y[i]!)) top = Math.max(top, Math.abs(y[i]!));
    for (let i = lo; i < hi; i++) {
      if (Number.isFinite(y[i]!) || !Number.isFinite(x[i]!)) continue;
      out[i] = ref && Number.isFinite(ref[i]!) ? ref[i]! : x[i] === 0 ? 0 : top >= 0 ? Math.sign(x[i]!) * top : x[i]!;
    }
  }
  return out;
}

function nonFiniteFailure(r: ProbeResult): boolean {
  const n = r.evidence.measurements.nonFinite;
  return typeof n === 'number' && n > 0;
}

const REPAIRS: Readonly<Record<string, Repair>> = {
  'missing-dequant': {
    undoes: 'missing dequantization undone (least-squares scale and zero-point per group)',
    apply: (spec, o) => ({ ...o, y: affineUndo(o.input.x, o.y, scaleBlockLength(spec, o.input.shape)) }),
  },
  'scale-collapse': {
    undoes: 'scale repaired (values the codec got right at the wrong scale, and values zeroed, sign-flipped or sent to one level, given their reference values)',
    apply: (spec, o) => {
      if (!o.ref) return undefined;
      const collapsed = collapsedElements(spec, o);
      const scaleOnly = scaleOnlyElements(spec, o);
      const y = Float32Array.from(o.y);
      for (let i = 0; i < y.length; i++) if (collapsed[i] || scaleOnly[i]) y[i] = o.ref[i]!;
      return { ...o, y };
    },
  },
  'format-applied': {
    undoes: 'format identified in its place taken as the yardstick',
    apply: (spec, o, cause, ctx) => {
      const ref = appliedInsteadReference(spec, cause, ctx.registryFormats?.() ?? BUILTIN_FORMATS, o.input);
      return ref ? { ...o, ref } : undefined;
    },
  },
  roundtrip: {
    undoes: 'NaN/Inf outputs given the values a clamp before the cast gives (the reference codec’s)',
    apply: (spec, o, cause) => {
      if (!nonFiniteFailure(cause)) return undefined;
      return { ...o, y: saturateNonFinite(o.input.x, o.y, scaleBlockLength(spec, o.input.shape), o.ref) };
    },
  },
};

const rank = (probe: string): number => {
  const i = CAUSE_ORDER.indexOf(probe);
  return i < 0 ? CAUSE_ORDER.length : i;
};

/** Does undoing `cause` make `effect` pass? Returns the explanation when it does. */
async function explains(probe: ForwardProbe, effect: ProbeResult, cause: ProbeResult, spec: FormatSpec, target: Target, ctx: ProbeContext): Promise<string | undefined> {
  const repair = REPAIRS[cause.probe];
  if (!repair) return undefined;
  // inputs the target raised on stay out: the experiment is about what it did answer
  const observations = (await observeAll(target, spec, probe.inputs(ctx.seed), ctx)).filter((o) => o.error === undefined);
  const repaired: Observation[] = [];
  for (const o of observations) {
    const r = repair.apply(spec, o, cause, ctx);
    if (!r) return undefined;
    repaired.push(r);
  }
  const again = probe.judge(spec, repaired, { ...ctx, reproCommand: () => '' });
  if (again.verdict !== 'pass') return undefined;
  const s = again.statistic;
  return `re-judged with the ${repair.undoes}, ${probe.id} passes (${s.name} = ${cell(s.value ?? Number.NaN)}, threshold ${Array.isArray(s.threshold) ? `[${s.threshold.join(', ')}]` : String(s.threshold)})`;
}

/** The lost-updates test could not be read because the forward pass is broken, or its result followed neither semantics (probes/lost-updates.ts records why). */
function forwardBroken(r: ProbeResult): string | undefined {
  const v = r.evidence.measurements.forwardBroken;
  return r.probe === 'lost-updates' && r.verdict === 'inconclusive' && typeof v === 'string' ? v : undefined;
}

/**
 * Run the causal experiments for one format's results (mutated in place: `explainedBy`,
 * `explanation`). `probes` are the probe modules by id; observations come from ctx's cache.
 */
export async function explainFailures(results: ProbeResult[], probes: readonly Probe[], spec: FormatSpec, target: Target, ctx: ProbeContext): Promise<void> {
  const byId = new Map(probes.map((p) => [p.id as string, p]));
  const failing = results.filter((r) => r.verdict === 'fail' && byId.has(r.probe));
  const explainers = new Map<ProbeResult, Map<ProbeResult, string>>();
  for (const effect of results) {
    const probe = byId.get(effect.probe);
    if (!probe || !isForwardProbe(probe) || (effect.verdict !== 'fail' && effect.verdict !== 'inconclusive')) continue;
    for (const cause of failing) {
      if (cause === effect) continue;
      const why = await explains(probe, effect, cause, spec, target, ctx);
      if (why) {
        const m = explainers.get(effect) ?? new Map<ProbeResult, string>();
        m.set(cause, why);
        explainers.set(effect, m);
      }
    }
  }
  // Primary causes: failures nothing explains; within a cycle of mutual explanations the earliest in CAUSE_ORDER.
  const primary = new Set(failing.filter((r) => !explainers.has(r)));
  for (const r of [...failing].sort((a, b) => rank(a.probe) - rank(b.probe))) {
    if (primary.has(r)) continue;
    const reachesPrimary = (from: ProbeResult, seen = new Set<ProbeResult>()): boolean => {
      if (primary.has(from)) return true;
      if (seen.has(from)) return false;
      seen.add(from);
      return [...(explainers.get(from)?.keys() ?? [])].some((c) => reachesPrimary(c, seen));
    };
    if (!reachesPrimary(r)) primary.add(r);
  }
  const root = (r: ProbeResult, seen = new Set<ProbeResult>()): ProbeResult | undefined => {
    const causes = [...(explainers.get(r)?.keys() ?? [])].sort((a, b) => rank(a.probe) - rank(b.probe));
    for (const c of causes) {
      if (primary.has(c)) return c;
      if (seen.has(c)) continue;
      seen.add(c);
      const up = root(c, seen);
      if (up) return up;
    }
    return undefined;
  };
  for (const [effect, m] of explainers) {
    if (primary.has(effect)) continue;
    const cause = root(effect);
    if (!cause) continue;
    effect.explainedBy = cause.probe;
    effect.explanation = m.get(cause) ?? `follows from ${[...m.keys()].map((c) => c.probe).join(', ')}, which ${cause.probe} explains`;
  }
  for (const r of results) {
    const why = forwardBroken(r);
    if (!why) continue;
    const cause = [...primary].filter((c) => REPAIRS[c.probe]).sort((a, b) => rank(a.probe) - rank(b.probe))[0];
    if (!cause) continue;
    r.explainedBy = cause.probe;
    r.explanation = `the update test could not be read (forward pass ${why}) and ${cause.probe} failed on the same format: whether tiny updates survive cannot be observed through a broken forward pass`;
  }
}

/**
 * The same experiment at a site of a model (probes/site.ts): undo a failing result's symptom on the site's own
 * measurements and run each other failing result's site judge again. The one repair that applies inside a site is the
 * scale: the site with its scale and zero-point fitted to the data is the reference quantizer the gatherer measured
 * beside it (same code type, granularity and tensor), so its numbers are the reference's. (Q/DQ arithmetic is the
 * runtime's own; what the parameters break, the repaired parameters give back. Codes leaking into float maths are a
 * graph fault no parameter repairs; a site whose input is wrong because an upstream site is broken is src/onnx/causal.ts'
 * experiment: the model run again with the upstream site bypassed.)
 */
interface SiteRepair {
  undoes: string;
  apply(f: SiteFindings): SiteFindings;
  /** What the repaired site measures, for the explanation. */
  shows(f: SiteFindings): string;
}

const SITE_REPAIRS: Readonly<Record<string, SiteRepair>> = {
  'scale-collapse': {
    undoes: 'scale and zero-point fitted to the data (the reference quantizer: same code type and granularity)',
    apply: (f) => ({
      ...f,
      lint: [],
      deadChannels: [],
      stats: {
        ...f.stats,
        zeroFraction: f.stats.refZeroFraction,
        signLoss: f.stats.refSignLoss,
        effectiveBits: f.stats.refEffectiveBits,
        localSqnrDb: f.stats.refSqnrDb,
        nonFiniteOutput: f.stats.nonFiniteInput,
        perGroup: f.stats.perGroup.map((g) => ({ ...g, zeroFraction: g.refZeroFraction, sqnrDb: g.refSqnrDb })),
      },
    }),
    shows: (f) =>
      `${f.site.name} reaches ${fmt(f.stats.refSqnrDb)} dB on the same tensor, against ${fmt(f.stats.localSqnrDb)} dB` +
      (f.stats.nonFiniteOutput > f.stats.nonFiniteInput ? ` and ${f.stats.nonFiniteOutput} NaN/Inf outputs` : ''),
  },
};

/** Site results explained by another failure at the same site (mutated in place: `explainedBy`, `explanation`). */
export function explainSiteFailures(f: SiteFindings, results: ProbeResult[], probes: readonly Probe[], ctx: SiteContext): void {
  const byId = new Map(probes.map((p) => [p.id as string, p]));
  const failing = results.filter((r) => r.verdict === 'fail');
  for (const effect of failing) {
    const judge = byId.get(effect.probe)?.site;
    if (!judge || effect.explainedBy) continue;
    for (const cause of [...failing].sort((a, b) => rank(a.probe) - rank(b.probe))) {
      const repair = SITE_REPAIRS[cause.probe];
      if (cause === effect || !repair || rank(cause.probe) > rank(effect.probe)) continue;
      const again = judge(repair.apply(f), { ...ctx, reproCommand: () => '' });
      if (again?.verdict !== 'pass') continue;
      const s = again.statistic;
      effect.explainedBy = cause.probe;
      effect.explanation =
        `with its ${repair.undoes} ${repair.shows(f)}: re-judged with that repair, ${effect.probe} passes ` +
        `(${s.name} = ${cell(s.value ?? Number.NaN)}, threshold ${Array.isArray(s.threshold) ? `[${s.threshold.join(', ')}]` : String(s.threshold)})`;
      break;
    }
  }
}
