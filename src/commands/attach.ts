/**
 * `quant-audit attach --repo OWNER/NAME --issue N [REPORT.md]` — post the report as one
 * sticky issue/PR comment, updated in place on the next run (hidden marker). Token from
 * GITHUB_TOKEN (or GH_TOKEN); API from --api-url, GITHUB_API_URL (set by GitHub Actions,
 * also on Enterprise), or https://api.github.com. --dry-run prints the body and sends nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { checkApiUrl, COMMENT_LIMIT, commentBody, markerFor, parseIssue, parseRepo, upsertStickyComment } from '../github/comment.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderComment } from '../report/comment.js';
import { readReport, resolveReportPath } from '../report/write.js';

export interface AttachFlags {
  repo: string;
  issue: string;
  apiUrl?: string;
  key?: string;
  dryRun?: boolean;
}

/**
 * The markdown to post: a report.md, or a report.json rendered; default reports/latest. When the
 * report.json is at hand (given, or beside the report.md) and the report is longer than a
 * comment may be, its short form (src/report/comment.ts) is posted instead of a cut one.
 */
function loadMarkdown(path: string | undefined, fit?: { limit: number; fullReport: (file: string) => string }): { file: string; markdown: string } {
  const file = resolveReportPath(path ?? 'reports', 'report.md');
  const json = file.endsWith('.json') ? file : join(dirname(file), 'report.json');
  if (fit && existsSync(json)) return { file, markdown: renderComment(readReport(json), { limit: fit.limit, fullReport: fit.fullReport(file.endsWith('.json') ? join(dirname(file), 'report.md') : file) }) };
  if (file.endsWith('.json')) return { file, markdown: renderMarkdown(readReport(file)) };
  try {
    return { file, markdown: readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(e))}. Pass a report.md (or report.json), or run \`quant-audit run\` first so reports/latest exists.`);
  }
}

/** Where the full report is: the workflow run (its artifacts) in GitHub Actions, else the report.md path. */
function fullReportLink(reportMd: string, env: NodeJS.ProcessEnv): string {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  if (server && repo && run) return `the workflow run's artifacts, ${server}/${repo}/actions/runs/${run} (${reportMd} there)`;
  return `\`${reportMd}\``;
}

export interface AttachIo {
  out(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** The command's work, separate from commander so tests can drive it with their own env and output. */
export async function attach(path: string | undefined, flags: AttachFlags, io: AttachIo): Promise<void> {
  const { owner, repo } = parseRepo(flags.repo);
  const issue = parseIssue(flags.issue);
  const apiUrl = checkApiUrl(flags.apiUrl ?? io.env.GITHUB_API_URL ?? 'https://api.github.com');
  const marker = markerFor(flags.key);
  const { file, markdown } = loadMarkdown(path, { limit: COMMENT_LIMIT - marker.length - 64, fullReport: (md) => fullReportLink(md, io.env) });
  const body = commentBody(markdown, marker);
  if (flags.dryRun) {
    io.out(`dry run: would create or update the comment marked ${marker} on ${owner}/${repo}#${issue} via ${apiUrl} (${body.length} characters from ${file}); nothing was sent.\n\n${body}`);
    return;
  }
  const token = io.env.GITHUB_TOKEN || io.env.GH_TOKEN;
  if (!token) throw new UsageError('GITHUB_TOKEN is not set. In GitHub Actions pass `env: GITHUB_TOKEN: ${{ github.token }}` (with `permissions: issues: write`); locally export a token, or use --dry-run.');
  const result = await upsertStickyComment({ owner, repo, issue, apiUrl, token, body }, marker);
  io.out(`${result.action} comment ${result.url || `#${result.id}`} on ${owner}/${repo}#${issue}\n`);
}

export function registerAttach(program: Command): void {
  program
    .command('attach')
    .description('post or update one sticky comment with the report on a GitHub issue or pull request')
    .argument('[report]', 'report.md or report.json (default: reports/latest)')
    .requiredOption('--repo <owner/name>', 'repository, e.g. octo-org/trainer')
    .requiredOption('--issue <n>', 'issue or pull request number')
    .option('--api-url <url>', 'GitHub API base URL (GitHub Enterprise: https://HOST/api/v3; default $GITHUB_API_URL or https://api.github.com)')
    .option('--key <name>', 'keep several sticky comments on one issue, one per key')
    .option('--dry-run', 'print what would be sent; send nothing')
    .action((path: string | undefined, flags: AttachFlags) => attach(path, flags, { out: (t) => process.stdout.write(t), env: process.env }));
}
