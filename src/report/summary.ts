/**
 * GitHub Actions job summary: when GITHUB_STEP_SUMMARY names a file, the report markdown is
 * appended to it (GitHub shows it on the run page). GitHub caps a step's summary at 1 MiB;
 * longer markdown is cut at a section boundary with a note pointing at the artifacts.
 */
import { appendFileSync } from 'node:fs';

const STEP_SUMMARY_LIMIT = 1024 * 1024;

/** Cut markdown to at most `limit` UTF-8 bytes, dropping whole trailing `## ` sections first. */
export function fitMarkdown(markdown: string, limit: number, note: string): string {
  if (Buffer.byteLength(markdown, 'utf8') <= limit) return markdown;
  const budget = limit - Buffer.byteLength(note, 'utf8') - 2;
  const sections = markdown.split(/(?=^## )/m);
  let out = '';
  for (const s of sections) {
    if (Buffer.byteLength(out + s, 'utf8') > budget) break;
    out += s;
  }
  if (out === '') {
    // Even the first section is too long: cut at a line boundary.
    const lines = markdown.split('\n');
    for (const line of lines) {
      if (Buffer.byteLength(`${out}${line}\n`, 'utf8') > budget) break;
      out += `${line}\n`;
    }
  }
  return `${out.trimEnd()}\n\n${note}\n`;
}

/** Append to $GITHUB_STEP_SUMMARY when set. Returns whether it wrote. */
export function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return false;
  const text = fitMarkdown(markdown, STEP_SUMMARY_LIMIT - 1024, '> _Report cut to fit the 1 MiB job summary limit; the full report.md is in the run directory (upload `reports/` as an artifact)._');
  appendFileSync(path, text.endsWith('\n') ? `${text}\n` : `${text}\n\n`, 'utf8');
  return true;
}
