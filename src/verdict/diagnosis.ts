/**
 * The differential diagnosis of a run: which failures are causes and which follow from them.
 *
 * Links between probe results are decided by experiments while the target is open
 * (probes/causes.ts sets `explainedBy` on a result whose failure vanishes once another
 * hypothesis' symptom is undone). This pure module adds the one link that needs no new
 * experiment — a lane that did not learn is explained by the primary causes on its format
 * that stop training (the lane itself is the experiment) — and groups everything per format
 * (and ONNX site) for the headline, the views and the gate. Idempotent: merging shards runs it
 * again over the joined results and lanes.
 */
import type { Diagnosis, Lane, ProbeResult } from '../report/types.js';
import { NOT_LEARNING } from './lanes.js';
import { LEARNABILITY_ID } from '../../probes/ids.js';
import { byCodeUnits, PROBE_ORDER } from '../report/order.js';

const probeRank = (p: string): number => {
  const i = PROBE_ORDER.indexOf(p);
  return i < 0 ? PROBE_ORDER.length : i;
};
const byProbe = <T extends { probe: string }>(a: T, b: T, tie: (x: T) => string): number => probeRank(a.probe) - probeRank(b.probe) || byCodeUnits(a.probe, b.probe) || byCodeUnits(tie(a), tie(b));

/**
 * Hypotheses whose failure stops a lane from learning, and when: codes instead of values, a
 * collapsed scale, a broken gradient and a wrong codec always can; lost updates only when the
 * lane itself trained without fp32 master weights (with master weights nothing is lost).
 * format-applied is not here: a silent fp32 fallback learns fine.
 */
const LANE_KILLERS: Readonly<Record<string, 'always' | 'without-master-weights'>> = {
  'missing-dequant': 'always',
  'scale-collapse': 'always',
  'broken-ste': 'always',
  roundtrip: 'always',
  'lost-updates': 'without-master-weights',
};

/** A failure nothing else explains: what the headline names and the gate counts. */
export function isPrimaryCause(r: ProbeResult): boolean {
  return r.verdict === 'fail' && r.explainedBy === undefined;
}

/** A failing or unjudgeable result that follows from a cause. */
export function isConsequence(r: ProbeResult): boolean {
  return (r.verdict === 'fail' || r.verdict === 'inconclusive') && r.explainedBy !== undefined;
}

function killsLane(cause: ProbeResult, lane: Lane): boolean {
  const when = LANE_KILLERS[cause.probe];
  return when === 'always' || (when === 'without-master-weights' && lane.masterWeights === false);
}

/** The lane a learnability result is about: the one its evidence names, else the only non-control lane with its coordinates. */
function laneOf(r: ProbeResult, lanes: readonly Lane[]): Lane | undefined {
  const name = r.evidence.measurements.lane;
  if (typeof name === 'string') return lanes.find((l) => l.name === name);
  const same = lanes.filter((l) => l.control !== true && l.format === r.format && l.optimizer === r.optimizer && (r.seed === undefined || l.seed === r.seed));
  return same.length === 1 ? same[0] : undefined;
}

export interface Diagnosed {
  results: ProbeResult[];
  lanes: Lane[];
  diagnosis: Diagnosis[];
}

/**
 * A format-level result that follows from a failing ONNX site (`explainedBySite` without
 * `explainedBy`: where the model parts from its float original, the stored-weight roll-up) names
 * the probe that failed there: the site's primary cause, else its first failure in probe order.
 * A site with no failure explains nothing, and the result stays a cause.
 */
function linkSiteConsequences(results: readonly ProbeResult[]): ProbeResult[] {
  const atSite = (site: string): ProbeResult | undefined =>
    results
      .filter((r) => r.site === site && r.verdict === 'fail')
      .sort((a, b) => Number(isPrimaryCause(b)) - Number(isPrimaryCause(a)) || probeRank(a.probe) - probeRank(b.probe))[0];
  return results.map((r) => {
    if (r.explainedBySite === undefined || r.explainedBy !== undefined || r.site === r.explainedBySite || (r.verdict !== 'fail' && r.verdict !== 'inconclusive')) return r;
    const cause = atSite(r.explainedBySite);
    return cause ? { ...r, explainedBy: cause.probe } : r;
  });
}

export function diagnose(inputResults: readonly ProbeResult[], lanes: readonly Lane[]): Diagnosed {
  const results = linkSiteConsequences(inputResults);
  const probeCauses = results.filter((r) => r.probe !== LEARNABILITY_ID && r.site === undefined && isPrimaryCause(r));
  const outLanes = lanes.map((l): Lane => {
    const lane = { ...l };
    delete lane.explainedBy;
    if (lane.control === true || !NOT_LEARNING.includes(lane.status)) return lane;
    const killers = probeCauses.filter((c) => c.format === lane.format && killsLane(c, lane)).map((c) => c.probe);
    return { ...lane, explainedBy: [...new Set(killers)] };
  });
  const outResults = results.map((r): ProbeResult => {
    if (r.probe !== LEARNABILITY_ID) return r;
    const out = { ...r };
    delete out.explainedBy;
    delete out.explanation;
    const lane = laneOf(r, outLanes);
    if (r.verdict === 'fail' && lane?.explainedBy && lane.explainedBy.length > 0) {
      out.explainedBy = lane.explainedBy[0]!;
      out.explanation = lane.status === 'diverged'
        ? `${lane.name} diverged (its loss ended non-finite or above the uniform baseline); ${lane.explainedBy.join(' and ')} failed on ${lane.format}, which can make a lane diverge`
        : `${lane.name} did not learn; ${lane.explainedBy.join(' and ')} failed on ${lane.format}, which stops a lane from learning`;
    }
    return out;
  });

  const keyOf = (format: string, site: string | undefined): string => `${format}\u0000${site ?? ''}`;
  const entries = new Map<string, Diagnosis>();
  const entry = (format: string, site: string | undefined): Diagnosis => {
    const k = keyOf(format, site);
    let d = entries.get(k);
    if (!d) {
      d = { format, ...(site !== undefined ? { site } : {}), causes: [], consequences: [], deadLanes: [] };
      entries.set(k, d);
    }
    return d;
  };
  for (const r of outResults) {
    if (isPrimaryCause(r)) {
      entry(r.format, r.site).causes.push({ probe: r.probe, hypothesis: r.hypothesis, summary: r.witness?.summary ?? `${r.statistic.name} = ${String(r.statistic.value)}` });
    } else if (isConsequence(r)) {
      entry(r.format, r.site).consequences.push({
        probe: r.probe,
        hypothesis: r.hypothesis,
        explainedBy: r.explainedBy!,
        ...(r.explainedBySite !== undefined ? { explainedBySite: r.explainedBySite } : {}),
        ...(r.explanation !== undefined ? { explanation: r.explanation } : {}),
      });
    }
  }
  for (const l of outLanes) {
    if (l.control === true || !NOT_LEARNING.includes(l.status)) continue;
    entry(l.format, undefined).deadLanes.push({ lane: l.name, status: l.status, explainedBy: l.explainedBy ?? [] });
  }
  // Inside an entry, the order is the probes' canonical order whatever order the results came in (a merge joins shards).
  for (const d of entries.values()) {
    d.causes.sort((a, b) => byProbe(a, b, (x) => x.summary));
    d.consequences.sort((a, b) => byProbe(a, b, (x) => `${x.explainedBy}\u0000${x.explainedBySite ?? ''}`));
    d.deadLanes.sort((a, b) => byCodeUnits(a.lane, b.lane));
  }
  return { results: outResults, lanes: outLanes, diagnosis: [...entries.values()] };
}

/** "uint8: H1 (missing-dequant) — H2 scale-collapse follows from it" — one line per diagnosis entry. */
/** A diagnosis entry as the views list it: with the failures downstream of it folded in. */
export interface DiagnosisView {
  entry: Diagnosis;
  /** Failures at other sites (or the model's roll-ups) that follow from this entry's cause, and nothing else. */
  downstream: { probe: string; site?: string }[];
}

/**
 * The views' list: an entry with no cause and no dead lane of its own, whose every failure
 * follows (directly, or through another failure in the same entry) from the cause at one ONNX
 * site, is folded into that site's entry — "6 failures downstream follow from it" instead of
 * six lines that each say "no primary cause". report.json keeps every entry.
 */
export function foldDownstream(entries: readonly Diagnosis[]): DiagnosisView[] {
  const views = entries.map((entry): DiagnosisView => ({ entry, downstream: [] }));
  const causeAt = new Map<string, DiagnosisView>();
  for (const v of views) if (v.entry.site !== undefined && v.entry.causes.length > 0 && !causeAt.has(v.entry.site)) causeAt.set(v.entry.site, v);
  return views.filter((v) => {
    const e = v.entry;
    if (e.causes.length > 0 || e.deadLanes.length > 0 || e.consequences.length === 0) return true;
    const rootSite = (c: Diagnosis['consequences'][number], seen = new Set<string>()): string | undefined => {
      if (c.explainedBySite !== undefined) return c.explainedBySite;
      if (seen.has(c.probe)) return undefined;
      seen.add(c.probe);
      const via = e.consequences.find((x) => x.probe === c.explainedBy);
      return via ? rootSite(via, seen) : undefined;
    };
    const roots = new Set(e.consequences.map((c) => rootSite(c)));
    const [root] = [...roots];
    const into = roots.size === 1 && root !== undefined ? causeAt.get(root) : undefined;
    if (!into || into === v) return true;
    for (const c of e.consequences) into.downstream.push({ probe: c.probe, ...(e.site !== undefined ? { site: e.site } : {}) });
    return false;
  });
}

/** "5 failures downstream follow from it: roundtrip at /add/…, scale-collapse at /conv2/…, qdq-audit (the model)". */
export function downstreamPhrase(downstream: DiagnosisView['downstream'], show: (s: string) => string = (s) => s, max = 4): string | undefined {
  if (downstream.length === 0) return undefined;
  const named = [...new Set(downstream.map((d) => (d.site !== undefined ? `${d.probe} at ${show(d.site)}` : `${d.probe} (the model)`)))];
  const list = named.length > max ? `${named.slice(0, max).join(', ')} and ${named.length - max} more` : named.join(', ');
  return `${downstream.length} failure${downstream.length > 1 ? 's' : ''} downstream follow${downstream.length > 1 ? '' : 's'} from it: ${list}`;
}

export function diagnosisLine(d: Diagnosis, hypothesisOf: (probe: string) => string = (p) => p, downstream: DiagnosisView['downstream'] = []): string {
  const where = d.site !== undefined ? `${d.format} at ${d.site}` : d.format;
  const label = (probe: string, hypothesis: string): string => (hypothesis !== probe ? `${hypothesis} (${probe})` : probe);
  const causes = d.causes.length > 0 ? [...new Set(d.causes.map((c) => label(c.probe, c.hypothesis)))].join(' + ') : 'no primary cause';
  // one phrase per (probe, cause, site): learnability follows once however many optimizers ran
  const follows = [...new Set(d.consequences.map((c) => `${label(c.probe, c.hypothesis)} follows from ${hypothesisOf(c.explainedBy)}${c.explainedBySite ? ` at ${c.explainedBySite}` : ''}`))];
  const unexplained = d.deadLanes.filter((l) => l.explainedBy.length === 0);
  const lanesWord = (n: number): string => `${n} lane${n > 1 ? 's' : ''}`;
  const explainers = [...new Set(d.deadLanes.flatMap((l) => l.explainedBy))].map(hypothesisOf);
  const lanes = d.deadLanes.length === 0 ? []
    : [unexplained.length === 0 ? `${lanesWord(d.deadLanes.length)} that did not learn, explained by ${explainers.join(' and ')}` : `${lanesWord(unexplained.length)} that did not learn and no probe explains`];
  const below = downstreamPhrase(downstream);
  return [`${where}: ${causes}`, ...follows, ...(below ? [below] : []), ...lanes].join(' — ');
}
