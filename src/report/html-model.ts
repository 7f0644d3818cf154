/**
 * What report.html reads from a report, typed loosely enough that a report written before or
 * after a field was added still renders: the diagnosis, causal links (`explainedBy`), gate
 * decisions, the `diverged` lane status and witness plots are all optional here, and an
 * unknown status or plot kind is drawn generically instead of failing.
 */
import type { Lane, ProbeResult, Report, Witness } from './types.js';
import { resultKey } from './order.js';

export interface WitnessPlotView {
  kind: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: { name: string; y: (number | null)[] }[];
}

export type WitnessView = Omit<Witness, 'plot'> & { plot?: WitnessPlotView };

export type ResultView = Omit<ProbeResult, 'witness'> & {
  witness?: WitnessView;
  explainedBy?: string;
  explainedBySite?: string;
  explanation?: string;
  gated?: boolean;
};

export type LaneView = Omit<Lane, 'status'> & {
  status: string;
  gated?: boolean;
  explainedBy?: string[];
};

export interface DiagnosisView {
  format: string;
  site?: string;
  causes: { probe: string; hypothesis: string; summary: string }[];
  consequences: { probe: string; hypothesis: string; explainedBy: string; explainedBySite?: string; explanation?: string }[];
  deadLanes: { lane: string; status?: string; explainedBy: string[] }[];
}

export type ReportView = Omit<Report, 'results' | 'lanes'> & {
  results: ResultView[];
  lanes: LaneView[];
  diagnosis?: DiagnosisView[];
};

export function viewOf(report: Report): ReportView {
  return report as unknown as ReportView;
}

/**
 * Anchor ids for witness cards, one per result in report order: `w-<probe>-<format>[-<site>]
 * [-<optimizer>][-<seed>]` reduced to [a-z0-9-], suffixed -2, -3… on a clash. Stable for the
 * same report, readable in a URL.
 */
export function resultAnchors(results: ResultView[]): Map<ResultView, string> {
  const out = new Map<ResultView, string>();
  const used = new Set<string>();
  for (const r of results) {
    const parts = JSON.parse(resultKey(r as ProbeResult)) as (string | number | null)[];
    const base = `w-${parts.filter((p) => p !== null).join('-')}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/-$/, '');
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    out.set(r, id);
  }
  return out;
}

/**
 * The failing result a causal link points at: that probe on the same format — at `site` when
 * the link names an upstream site (any probe there when `probe` is undefined), else at the
 * linking result's own site, else anywhere on the format.
 */
export function findCause(results: ResultView[], from: { format: string; site?: string }, probe: string | undefined, site?: string): ResultView | undefined {
  const failing = results.filter((r) => r.verdict === 'fail' && (probe === undefined || r.probe === probe));
  if (site !== undefined) return failing.find((r) => r.site === site && r.format === from.format) ?? failing.find((r) => r.site === site);
  return failing.find((r) => r.format === from.format && r.site === from.site) ?? failing.find((r) => r.format === from.format);
}
