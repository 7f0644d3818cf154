/**
 * Helpers report.html shares across its sections, on the report's own types
 * (src/report/types.ts). A field a report written before it was added lacks is optional
 * there; an unknown lane status or plot kind is drawn generically by the sections.
 */
import type { ProbeResult } from './types.js';
import { resultKey } from './order.js';

/**
 * Anchor ids for witness cards, one per result in report order: `w-<probe>-<format>[-<site>]
 * [-<optimizer>][-<seed>]` reduced to [a-z0-9-], suffixed -2, -3… on a clash. Stable for the
 * same report, readable in a URL.
 */
export function resultAnchors(results: ProbeResult[]): Map<ProbeResult, string> {
  const out = new Map<ProbeResult, string>();
  const used = new Set<string>();
  for (const r of results) {
    const parts = JSON.parse(resultKey(r)) as (string | number | null)[];
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
export function findCause(results: ProbeResult[], from: { format: string; site?: string }, probe: string | undefined, site?: string): ProbeResult | undefined {
  const failing = results.filter((r) => r.verdict === 'fail' && (probe === undefined || r.probe === probe));
  if (site !== undefined) return failing.find((r) => r.site === site && r.format === from.format) ?? failing.find((r) => r.site === site);
  return failing.find((r) => r.format === from.format && r.site === from.site) ?? failing.find((r) => r.format === from.format);
}
