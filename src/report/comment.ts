/**
 * The report as one GitHub comment (at most 65,536 characters). When the full markdown fits it
 * is posted as is. Otherwise a reader still gets what they need: the headline, the lane table,
 * every witness as one line (its statistic, threshold and the command that reproduces it), the
 * suggested fixes and a link to the full report; the long parts (per-witness evidence and
 * samples, the matrices, the environment) are what is trimmed, matrices first kept folded in
 * <details> while they fit. Built from report.json, so nothing is cut mid-table.
 */
import { renderMarkdown } from './markdown.js';
import { fmtStatistic, resultCoordinates } from './text.js';
import type { ProbeResult, Report } from './types.js';

/** The `## ` sections of a rendered report, by heading (the headline is ''). */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of markdown.split(/(?=^## )/m)) {
    const title = /^## ([^\n(]*)/.exec(part)?.[1]?.trim() ?? '';
    out.set(title, part.trimEnd());
  }
  return out;
}

function inlineCode(s: string): string {
  const ticks = s.includes('`') ? '``' : '`';
  return `${ticks}${s}${ticks}`;
}

/** One line per witness: what failed, the statistic against its threshold, and the repro. */
function witnessLine(r: ProbeResult): string {
  const who = r.hypothesis === r.probe ? r.probe : `${r.hypothesis} ${r.probe}`;
  const repro = r.witness ? ` — ${inlineCode(r.witness.repro)}` : '';
  return `- ❌ **${who}** ${resultCoordinates(r)}: ${fmtStatistic(r.statistic)}${repro}`;
}

export interface CommentOptions {
  /** Characters available (GitHub's limit minus the marker). */
  limit: number;
  /** Where the full report is (a path in the run directory, or the workflow run's artifacts URL). */
  fullReport: string;
}

export function renderComment(report: Report, opts: CommentOptions): string {
  const full = renderMarkdown(report);
  if (full.length <= opts.limit) return full;
  const parts = sections(full);
  const failed = report.results.filter((r) => r.verdict === 'fail');
  const note = `> _This comment is the short form of a ${full.length.toLocaleString('en-US')}-character report (GitHub allows ${opts.limit.toLocaleString('en-US')}): each witness is one line here; its evidence, samples and the environment are in the full report: ${opts.fullReport}._`;
  const witnessList = (lines: string[]) => [`## Witnesses (${failed.length})`, '', ...lines].join('\n');
  const folded = (title: string) => {
    const s = parts.get(title);
    if (!s) return undefined;
    const body = s.replace(/^## [^\n]*\n+/, '');
    return `## ${title}\n\n<details><summary>${title} (folded)</summary>\n\n${body}\n\n</details>`;
  };
  const required = [parts.get('') ?? '', note, parts.get('Lanes')].filter((s): s is string => s !== undefined && s !== '');
  const fixes = parts.get('Suggested fixes');
  const optional = [folded('Hypothesis matrix'), folded('Quantization sites')].filter((s): s is string => s !== undefined);
  const compose = (witnesses: string, extra: string[]) => `${[...required, witnesses, ...(fixes ? [fixes] : []), ...extra].join('\n\n').trimEnd()}\n`;

  let lines = failed.map(witnessLine);
  let body = compose(witnessList(lines), optional);
  // Drop the folded matrices, then (only for thousands of witnesses) list fewer witness lines.
  for (let k = optional.length; body.length > opts.limit && k > 0; k--) body = compose(witnessList(lines), optional.slice(0, k - 1));
  while (body.length > opts.limit && lines.length > 1) {
    const keep = Math.max(1, Math.floor(lines.length * 0.8));
    lines = [...failed.slice(0, keep).map(witnessLine), `- … and ${failed.length - keep} more witnesses in the full report.`];
    body = compose(witnessList(lines), []);
  }
  return body;
}
