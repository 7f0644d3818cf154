/**
 * One sticky issue comment per report: the body starts with a hidden marker
 * (`<!-- quant-audit:report -->`, or `<!-- quant-audit:report:KEY -->` for several sticky
 * comments on one issue). `upsertStickyComment` lists the issue's comments (all pages),
 * updates the first one carrying the marker, or creates it. Works on pull requests too
 * (their conversation is an issue). The token only ever goes into the Authorization header:
 * it is never printed, logged, or put into an error message.
 */
import { UsageError } from '../errors.js';
import { GitHubApi, GitHubHttpError } from './api.js';
import { fitMarkdown } from '../report/summary.js';

/** GitHub rejects issue comments longer than 65536 characters. */
export const COMMENT_LIMIT = 65536;

export interface StickyTarget {
  owner: string;
  repo: string;
  issue: number;
}

export interface UpsertOptions extends StickyTarget {
  apiUrl: string;
  token: string;
  body: string;
}

export interface UpsertResult {
  action: 'created' | 'updated';
  id: number;
  url: string;
}

export function parseRepo(text: string): { owner: string; repo: string } {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(text.trim());
  if (!m || m[2] === '.' || m[2] === '..') throw new UsageError(`--repo '${text}' is not OWNER/NAME (for example octo-org/trainer).`);
  return { owner: m[1]!, repo: m[2]! };
}

export function parseIssue(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) throw new UsageError(`--issue '${text}' is not an issue or pull request number (a positive integer).`);
  return Number(text);
}

export function markerFor(key?: string): string {
  if (key !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(key)) throw new UsageError(`--key '${key}' may only contain letters, digits, '.', '_' and '-' (at most 64).`);
  return key ? `<!-- quant-audit:report:${key} -->` : '<!-- quant-audit:report -->';
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The API base URL without a trailing slash; plain http only to this machine (the token would travel in clear). */
export function checkApiUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--api-url '${text}' is not a URL (GitHub Enterprise: https://HOST/api/v3).`);
  }
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw new UsageError(`--api-url ${url.origin} uses plain http: the token would be sent unencrypted. Use https (plain http is allowed only for 127.0.0.1/localhost).`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--api-url '${text}' must be an https URL.`);
  if (url.username || url.password) throw new UsageError('--api-url must not contain credentials; the token comes from GITHUB_TOKEN.');
  return url.href.replace(/\/+$/, '');
}

/** The comment body: marker, then the report, cut to GitHub's limit at a section boundary. */
export function commentBody(markdown: string, marker: string): string {
  const note = '> _Report cut to fit GitHub’s 65536-character comment limit; the full report.md is in the run directory._';
  return fitMarkdown(`${marker}\n${markdown}`, COMMENT_LIMIT - 16, note);
}

function describeApiError(e: unknown, t: StickyTarget, apiUrl: string, doing: string): Error {
  if (!(e instanceof GitHubHttpError)) return e as Error; // could not connect: already a UsageError that says so
  const { status } = e;
  const apiMessage = e.apiMessage.slice(0, 200);
  const where = `${t.owner}/${t.repo}#${t.issue}`;
  switch (status) {
    case 401:
      return new UsageError(`GitHub rejected the token while ${doing} (401 Bad credentials). Check that GITHUB_TOKEN is set to a valid, unexpired token for ${apiUrl}.`);
    case 403:
      return new UsageError(`GitHub denied access while ${doing} on ${where} (403${apiMessage ? `: ${apiMessage}` : ''}): the token lacks permission. In GitHub Actions give the job \`permissions: issues: write\` (and pull-requests: write for a PR).`);
    case 404:
      return new UsageError(`${where} was not found while ${doing} (404): check --repo and --issue, and that the token can see the repository (private repositories need a token with access).`);
    case 410:
      return new UsageError(`issues are disabled on ${t.owner}/${t.repo} (410).`);
    case 422:
      return new UsageError(`GitHub refused the comment on ${where} (422 Unprocessable${apiMessage ? `: ${apiMessage}` : ''}); the body may be too long or the issue locked.`);
    default:
      return new UsageError(`GitHub answered ${status} while ${doing} on ${where}${apiMessage ? `: ${apiMessage}` : ''}.`);
  }
}

interface IssueComment {
  id: number;
  body?: string | null;
  html_url: string;
}

export async function upsertStickyComment(opts: UpsertOptions, marker: string): Promise<UpsertResult> {
  const api = new GitHubApi(opts.apiUrl, opts.token);
  const t = { owner: opts.owner, repo: opts.repo, issue: opts.issue };
  const repoPath = `/repos/${encodeURIComponent(opts.owner)}/${encodeURIComponent(opts.repo)}`;
  let existing: IssueComment | undefined;
  try {
    for await (const page of api.pages<IssueComment>(`${repoPath}/issues/${opts.issue}/comments?per_page=100`, 'listing the comments')) {
      existing = page.find((c) => typeof c.body === 'string' && c.body.includes(marker));
      if (existing) break;
    }
  } catch (e) {
    throw describeApiError(e, t, opts.apiUrl, 'listing the comments');
  }
  const doing = existing ? 'updating the comment' : 'creating the comment';
  try {
    const res = existing
      ? await api.request<IssueComment>('PATCH', `${repoPath}/issues/comments/${existing.id}`, doing, { body: opts.body })
      : await api.request<IssueComment>('POST', `${repoPath}/issues/${opts.issue}/comments`, doing, { body: opts.body });
    return { action: existing ? 'updated' : 'created', id: res.id, url: res.html_url };
  } catch (e) {
    throw describeApiError(e, t, opts.apiUrl, doing);
  }
}
