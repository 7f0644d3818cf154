/**
 * The canonical order of results and lanes. A run, a re-render and a merge of shards all
 * sort with these comparators, so the same findings always print in the same order.
 *   results: probe (PROBE_ORDER, then others by name) · format (run.formats order, then by
 *            name) · site · optimizer · seed — absent fields first
 *   lanes:   control lanes first · format · optimizer · seed · lr · hidden · name
 * Strings compare by UTF-16 code units (never locale), numbers numerically.
 */
import { PROBE_IDS } from '../../probes/ids.js';
import { stableJson } from './json.js';
import type { Lane, ProbeResult, Report } from './types.js';

export const PROBE_ORDER: readonly string[] = PROBE_IDS;

export const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function optString(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return byCodeUnits(a, b);
}

function optNumber(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a - b;
}

/** Rank in a preferred list, then by name after everything listed. */
function ranked(order: readonly string[]): (a: string, b: string) => number {
  const rank = new Map(order.map((x, i) => [x, i]));
  return (a, b) => {
    const ra = rank.get(a) ?? Number.MAX_SAFE_INTEGER;
    const rb = rank.get(b) ?? Number.MAX_SAFE_INTEGER;
    return ra !== rb ? ra - rb : byCodeUnits(a, b);
  };
}

export function compareResults(formats: readonly string[]): (a: ProbeResult, b: ProbeResult) => number {
  const byProbe = ranked(PROBE_ORDER);
  const byFormat = ranked(formats);
  return (a, b) =>
    byProbe(a.probe, b.probe) ||
    byFormat(a.format, b.format) ||
    optString(a.site, b.site) ||
    optString(a.optimizer, b.optimizer) ||
    optNumber(a.seed, b.seed) ||
    byCodeUnits(contentKey(a), contentKey(b));
}

/** Last tie-break (results that share every coordinate): their content, timing left out. */
function contentKey(r: ProbeResult): string {
  return stableJson(r);
}

export function compareLanes(formats: readonly string[]): (a: Lane, b: Lane) => number {
  const byFormat = ranked(formats);
  return (a, b) =>
    Number(b.control === true) - Number(a.control === true) ||
    byFormat(a.format, b.format) ||
    byCodeUnits(a.optimizer, b.optimizer) ||
    a.seed - b.seed ||
    a.lr - b.lr ||
    a.hidden - b.hidden ||
    byCodeUnits(a.name, b.name);
}

/** The identity of a result within a run (two results with the same key are the same job). */
export function resultKey(r: ProbeResult): string {
  return JSON.stringify([r.probe, r.format, r.site ?? null, r.optimizer ?? null, r.seed ?? null]);
}

export function laneKey(l: Lane): string {
  return l.name;
}

/** A copy of the report with results, lanes and diagnosis entries in canonical order (the verdict is left as is). */
export function canonicalOrder(report: Report): Report {
  const formats = report.run.formats ?? [];
  const byFormat = ranked(formats);
  return {
    ...report,
    results: [...report.results].sort(compareResults(formats)),
    lanes: [...report.lanes].sort(compareLanes(formats)),
    ...(report.diagnosis ? { diagnosis: [...report.diagnosis].sort((a, b) => byFormat(a.format, b.format) || optString(a.site, b.site)) } : {}),
  };
}
