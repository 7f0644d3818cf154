/**
 * Judging a site of a model (probes/site.ts): every probe module with a site judge gives its verdict on the site's
 * measurements, in the probes' order, and the causal step (probes/causes.ts) marks what another failure at the same
 * site explains. The ONNX target gathers the sites (src/onnx/audit.ts) and calls this; nothing else judges a site.
 */
import type { ProbeResult } from '../src/report/types.js';
import { PROBES, type ProbeId } from './index.js';
import { explainSiteFailures } from './causes.js';
import { siteResult, type SiteArtifact, type SiteContext } from './site.js';

/** The probes that judge sites: missing-dequant (H1), scale-collapse (H2), roundtrip. */
export const SITE_PROBES = PROBES.filter((p) => p.site !== undefined);

/** `only`: the probes to judge the site with (default: every site probe); the others are not run. */
export function judgeSite(f: SiteArtifact, ctx: SiteContext, only?: readonly ProbeId[]): ProbeResult[] {
  const results: ProbeResult[] = [];
  for (const p of only ? SITE_PROBES.filter((q) => only.includes(q.id)) : SITE_PROBES) {
    const outcome = p.site!(f, ctx);
    if (outcome) results.push(siteResult(p, f, ctx, outcome));
  }
  if (f.artifact === 'measured') explainSiteFailures(f, results, SITE_PROBES, ctx);
  return results;
}
