/**
 * The model's headline row ('qdq-audit'): a roll-up of its site results, not a finding of its own. The sites are
 * judged by the probe modules (probes/judge-site.ts); this counts the sites with a failure of their own (a primary
 * cause: not explained by another failure at the site, nor by an upstream site — causal.ts), names the first in graph
 * order, and carries the table of every site.
 */
import type { ProbeResult } from '../report/types.js';
import { db, type SiteContext, type SiteFindings } from '../../probes/site.js';
import type { QdqSite } from './sites.js';

export const HEADLINE_PROBE = 'qdq-audit';

/** What the headline claims and what to do (shown by the views beside the probes' own claim and fix). */
export const HEADLINE_INFO = {
  claim: 'a QuantizeLinear/DequantizeLinear site of the ONNX model is broken (the per-site rows say which node and why)',
  fix: 'Fix the first broken node (the sites after it may fail only because their input is already wrong), then re-run: the per-site rows give the hypothesis and the numbers for each node.',
} as const;

export interface ModelSummary {
  path: string;
  opset: number;
  sites: SiteFindings<QdqSite>[];
  /** SQNR of each model output against the float twin. */
  outputSqnrDb: Record<string, number | null>;
  inputsFrom: string;
}

/**
 * One verdict per model: how many sites have a failure of their own (a primary cause: not explained by an upstream
 * site), and the first one in graph order. Sites that fail only because an upstream one does are listed as explained.
 */
export function judgeModel(summary: ModelSummary, siteResults: ProbeResult[], ctx: SiteContext, format: string): ProbeResult {
  const failing = siteResults.filter((r) => r.verdict === 'fail');
  const order = new Map(summary.sites.map((s) => [s.site.name, s.site.order]));
  const byOrder = (a: string, b: string): number => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const brokenSites = [...new Set(failing.map((r) => r.site!))].sort(byOrder);
  // A site is a cause when one of its failures is explained by nothing (not by an upstream site, nor by its own scale).
  const primarySites = brokenSites.filter((site) => failing.some((r) => r.site === site && !r.explainedBy));
  const first = primarySites[0];
  // its own failures first, then those another failure at the site explains
  const firstWhy = first ? failing.filter((r) => r.site === first).sort((a, b) => Number(a.explainedBy !== undefined) - Number(b.explainedBy !== undefined)).map((r) => r.probe) : [];
  const rows = summary.sites.map((f) => {
    const mine = siteResults.filter((r) => r.site === f.site.name);
    const v = (p: string): string => mine.find((r) => r.probe === p)?.verdict ?? '';
    const failed = mine.some((r) => r.verdict === 'fail');
    const explainedBy = [...new Set(mine.filter((r) => r.verdict === 'fail' && r.explainedBySite).map((r) => r.explainedBySite!))];
    const own = primarySites.includes(f.site.name);
    // A site after the first broken one that no repair cleared may still fail only because its input is already wrong.
    const note = !failed ? '' : f.site.name === first ? 'first broken node'
      : !own ? `explained by ${explainedBy.join(', ')}`
        : first && f.site.order > (order.get(first) ?? 0) ? `downstream of ${first}${explainedBy.length > 0 ? `; partly explained by ${explainedBy.join(', ')}` : ''}` : '';
    return [f.site.name, f.site.inputKind, f.site.codeType?.name ?? '?', db(f.stats.localSqnrDb), db(f.stats.cumulativeSqnrDb), v('missing-dequant'), v('scale-collapse'), v('roundtrip'), note];
  });
  const result: ProbeResult = {
    probe: HEADLINE_PROBE,
    hypothesis: 'qdq',
    format,
    seed: ctx.seed,
    verdict: failing.length > 0 ? 'fail' : 'pass',
    statistic: { name: 'QDQ sites with a failure of their own', value: primarySites.length, threshold: 0, comparator: '>' },
    evidence: {
      measurements: {
        model: summary.path,
        opset: summary.opset,
        sites: summary.sites.length,
        brokenSites: brokenSites.length,
        primaryBrokenSites: primarySites.length,
        firstBrokenNode: first ?? null,
        firstBrokenBecause: firstWhy.join(', ') || null,
        inputs: summary.inputsFrom,
        ...Object.fromEntries(Object.entries(summary.outputSqnrDb).map(([k, v]) => [`outputSqnrDb.${k}`, db(v)])),
      },
      tables: [{ title: 'QDQ sites in graph order', headings: ['node', 'input', 'codes', 'local SQNR dB', 'cumulative SQNR dB', 'missing-dequant', 'scale-collapse', 'roundtrip', 'note'], rows }],
    },
  };
  if (first) {
    const firstFailure = failing.find((r) => r.site === first && !r.explainedBy) ?? failing.find((r) => r.site === first)!;
    // The headline restates its sites' findings: it follows from the first site's own failure (not a cause of its own).
    result.explainedBy = firstFailure.probe;
    result.explainedBySite = first;
    result.explanation = `the model verdict summarises its sites: ${primarySites.length} with a failure of their own (${primarySites.slice(0, 4).join(', ')}${primarySites.length > 4 ? ', …' : ''})`;
    result.witness = {
      summary: `${brokenSites.length} of ${summary.sites.length} QDQ sites fail${primarySites.length < brokenSites.length ? ` (${brokenSites.length - primarySites.length} only because of an upstream site)` : ''}; first broken node in graph order: ${first} (${firstWhy.join(', ')}). ${firstFailure.witness?.summary ?? ''}`.trim(),
      samples: firstFailure.witness?.samples,
      repro: ctx.reproCommand(HEADLINE_PROBE, format),
    };
  }
  return result;
}
