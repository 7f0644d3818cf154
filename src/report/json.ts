/**
 * report.json on disk: JSON with non-finite numbers written as the strings "NaN",
 * "Infinity" and "-Infinity" (a SQNR of ∞ on an exact match and a NaN output are both
 * findings, and JSON would turn them into null). parseReportJson turns them back.
 * Output is 2-space indented with a final newline, so equal reports are equal bytes.
 */
import type { Report } from './types.js';

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

export function serializeReport(report: Report): string {
  return `${JSON.stringify(report, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`;
}

/** Parse report.json text (throws SyntaxError on bad JSON; the caller says which file). */
export function parseReportJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => (typeof v === 'string' && NON_FINITE.has(v) ? Number(v) : v));
}

/** What a report looks like after a trip through report.json: renderers see exactly this. */
export function roundTrip(report: Report): Report {
  return parseReportJson(serializeReport(report)) as Report;
}

/** Canonical JSON (sorted keys, non-finite numbers as strings) for comparing reports; `durationMs` fields dropped. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'durationMs') return undefined;
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}
