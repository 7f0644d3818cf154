/**
 * Causal links between failing QDQ sites. A site downstream of a broken one may fail only because
 * its input is already wrong (an upstream weight scale zeroed every weight, so the activation it
 * feeds collapsed too). That is decided by an experiment, not by graph order: the model runs again
 * with the upstream site repaired — its Q/DQ bypassed, the float tensor (or its folded clamp) in
 * place of DequantizeLinear(QuantizeLinear(x)), every other site as it is — and the downstream site
 * is judged again on the input it sees then. A failure that goes away is `explainedBy` the upstream
 * site's failing probe (`explainedBySite`); one that stays is a cause of its own.
 *
 * Pure: planning which experiments to run and reading their outcomes; audit.ts runs them.
 */
import type { ProbeResult } from '../report/types.js';
import { subgraphsOf, type GraphIndex } from './graph.js';
import type { GraphProto, NodeProto } from './proto.js';
import type { QdqSite } from './sites.js';

/** At most this many single-site repairs per audit (each is a copy of the graph up to the sites it feeds). */
export const MAX_REPAIRS = 8;

/** Probes whose failure an upstream repair can explain (a leak is structural: missing-dequant always stands). */
const INPUT_DEPENDENT = new Set(['scale-collapse', 'roundtrip']);
/** The order in which a site's failing probes are read for its primary cause. */
const PROBE_ORDER = ['missing-dequant', 'scale-collapse', 'roundtrip'];

/**
 * For every site, the sites whose dequantized output, codes or leaked tensors its input is computed from (any
 * distance upstream), in graph order. Subgraph readers count: a node holding a subgraph depends on every outer
 * tensor its subgraphs read.
 */
export function upstreamSites(index: GraphIndex, sites: readonly QdqSite[]): Map<QdqSite, QdqSite[]> {
  const siteOf = new Map<string, QdqSite>();
  for (const s of sites) {
    for (const d of s.dequantize) for (const o of d.output ?? []) if (o) siteOf.set(o, s);
    if (s.kind === 'qdq') siteOf.set(s.codes, s);
    for (const l of s.leaks) siteOf.set(l.tensor, s);
  }
  const readsOf = (n: NodeProto): string[] => {
    const names = [...(n.input ?? [])];
    const visit = (g: GraphProto): void => {
      for (const m of g.node ?? []) {
        names.push(...(m.input ?? []));
        subgraphsOf(m).forEach(visit);
      }
    };
    subgraphsOf(n).forEach(visit);
    return names.filter((x) => x);
  };
  const out = new Map<QdqSite, QdqSite[]>();
  for (const s of sites) {
    const found = new Set<QdqSite>();
    const seen = new Set<string>();
    const stack = s.kind === 'qdq' ? [s.input] : [];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const up = siteOf.get(t);
      if (up && up !== s) found.add(up);
      const p = index.producer.get(t);
      if (p) stack.push(...readsOf(p));
    }
    out.set(s, [...found].sort((a, b) => a.order - b.order));
  }
  return out;
}

export interface Repair {
  /** Sites bypassed (repaired) in this run. */
  bypass: QdqSite[];
  /** Failing sites downstream of them, judged again on this run's tensors. */
  evaluate: QdqSite[];
}

/** Sites with a failing result that an upstream repair could explain, and the failing sites upstream of each. */
export function candidates(results: readonly ProbeResult[], sites: readonly QdqSite[], upstream: Map<QdqSite, QdqSite[]>): Map<QdqSite, QdqSite[]> {
  const failing = new Set(results.filter((r) => r.site && r.verdict === 'fail').map((r) => r.site!));
  const out = new Map<QdqSite, QdqSite[]>();
  for (const s of sites) {
    const mine = results.filter((r) => r.site === s.name && r.verdict === 'fail' && INPUT_DEPENDENT.has(r.probe));
    if (mine.length === 0) continue;
    // Only an upstream Q → DQ can be bypassed (a stored-codes site has no float original to put back).
    const ups = (upstream.get(s) ?? []).filter((u) => failing.has(u.name) && u.kind === 'qdq');
    if (ups.length > 0) out.set(s, ups);
  }
  return out;
}

/** One repair per failing upstream site (graph order, at most MAX_REPAIRS), each judging the failing sites it feeds. */
export function singleRepairs(cands: Map<QdqSite, QdqSite[]>): Repair[] {
  const ups = [...new Set([...cands.values()].flat())].sort((a, b) => a.order - b.order).slice(0, MAX_REPAIRS);
  return ups.map((u) => ({ bypass: [u], evaluate: [...cands].filter(([, us]) => us.includes(u)).map(([s]) => s) }));
}

/** The failing probe of a site that stands for it: the first, in probe order, that nothing explains (else the first). */
export function primaryProbe(results: readonly ProbeResult[], site: string): ProbeResult | undefined {
  const failing = results.filter((r) => r.site === site && r.verdict === 'fail').sort((a, b) => PROBE_ORDER.indexOf(a.probe) - PROBE_ORDER.indexOf(b.probe));
  return failing.find((r) => !r.explainedBy) ?? failing[0];
}

/** What a repair showed for one downstream site: its results judged again on the repaired run. */
export interface RepairOutcome {
  repair: Repair;
  site: QdqSite;
  results: ProbeResult[];
}

const num = (v: number | string | boolean | readonly number[] | null | undefined): string =>
  typeof v === 'number' ? String(Number(v.toPrecision(4))) : Array.isArray(v) ? `[${v.join(', ')}]` : String(v ?? 'n/a');

/**
 * Marks each failing, input-dependent result of a downstream site as explained when a repair makes it pass. Sites
 * are settled in graph order, so an upstream site's own links are known when a downstream one names it; among the
 * repairs that explain a failure, the earliest upstream site that is a primary cause is named (else the earliest).
 * Joint repairs (every failing upstream site at once) settle what no single repair does.
 */
export function applyRepairs(results: ProbeResult[], cands: Map<QdqSite, QdqSite[]>, outcomes: readonly RepairOutcome[]): void {
  const ordered = [...cands.keys()].sort((a, b) => a.order - b.order);
  for (const s of ordered) {
    for (const r of results) {
      if (r.site !== s.name || r.verdict !== 'fail' || !INPUT_DEPENDENT.has(r.probe) || r.explainedBy) continue;
      const passing = outcomes.filter((o) => o.site === s && o.results.find((x) => x.probe === r.probe)?.verdict === 'pass');
      if (passing.length === 0) continue;
      const single = passing.filter((o) => o.repair.bypass.length === 1).sort((a, b) => a.repair.bypass[0]!.order - b.repair.bypass[0]!.order);
      const isPrimary = (u: QdqSite): boolean => results.some((x) => x.site === u.name && x.verdict === 'fail' && !x.explainedBy);
      const pick = single.find((o) => isPrimary(o.repair.bypass[0]!)) ?? single[0] ?? passing[0]!;
      const upstream = pick.repair.bypass.find(isPrimary) ?? pick.repair.bypass[0]!;
      const cause = primaryProbe(results, upstream.name);
      if (!cause) continue;
      const after = pick.results.find((x) => x.probe === r.probe)!;
      const bypassed = pick.repair.bypass.map((u) => u.name).join(', ');
      r.explainedBy = cause.probe;
      r.explainedBySite = upstream.name;
      r.explanation =
        `with ${bypassed} repaired (its QuantizeLinear → DequantizeLinear bypassed, every other site as it is) ${s.name} passes ${r.probe}: ` +
        `${r.statistic.name} ${num(r.statistic.value)} → ${num(after.statistic.value)} (fail when ${after.statistic.comparator} ${num(after.statistic.threshold)})`;
    }
  }
}

/** Joint repairs for failures no single repair explained: every failing upstream site of that site bypassed at once. */
export function jointRepairs(results: readonly ProbeResult[], cands: Map<QdqSite, QdqSite[]>): Repair[] {
  const out = new Map<string, Repair>();
  for (const [s, ups] of cands) {
    if (ups.length < 2) continue;
    const open = results.some((r) => r.site === s.name && r.verdict === 'fail' && INPUT_DEPENDENT.has(r.probe) && !r.explainedBy);
    if (!open) continue;
    const key = ups.map((u) => u.name).join('\u0000');
    const rep = out.get(key) ?? { bypass: ups, evaluate: [] };
    rep.evaluate.push(s);
    out.set(key, rep);
  }
  return [...out.values()];
}
