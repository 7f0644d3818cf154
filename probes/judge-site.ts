/**
 * Judging a site of a model (probes/site.ts): every probe module with a site judge gives its verdict on the site's
 * measurements, in the probes' order, and the causal step (probes/causes.ts) marks what another failure at the same
 * site explains. The ONNX target gathers the sites (src/onnx/audit.ts) and calls this; nothing else judges a site.
 */
import type { ProbeResult } from '../src/report/types.js';
import { PROBES } from './index.js';
import { explainSiteFailures } from './causes.js';
import { siteResult, type SiteArtifact, type SiteContext } from './site.js';

/** The probes that judge sites: missing-dequant (H1), scale-collapse (H2), roundtrip. */
export const SITE_PROBES = PROBES.filter((p) => p.site !== undefined);

export function judgeSite(f: SiteArtifact, ctx: SiteContext): ProbeResult[] {
  const results: ProbeResult[] = [];
  for (const p of SITE_PROBES) {
    const outcome = p.site!(f, ctx);
    if (outcome) results.push(siteResult(p, f, ctx, outcome));
  }
  if (f.artifact === 'measured') explainSiteFailures(f, results, SITE_PROBES, ctx);
  return results;
}
