/**
 * The three GitHub REST calls `attach` makes (list an issue's comments page by page, create
 * one, update one), on Node's fetch. A refused connection or an unknown host is a UsageError
 * that says the host could not be reached; an HTTP error status is a GitHubHttpError with the
 * API's message, which the caller turns into advice. The token goes only into the
 * Authorization header of requests to the API's own origin (a `Link: rel="next"` pointing
 * elsewhere is refused).
 */
import { UsageError } from '../errors.js';

export class GitHubHttpError extends Error {
  constructor(
    readonly status: number,
    readonly apiMessage: string,
  ) {
    super(`GitHub answered ${status}${apiMessage ? `: ${apiMessage}` : ''}`);
    this.name = 'GitHubHttpError';
  }
}

/** The `rel="next"` URL of a Link header, if any (RFC 8288; GitHub's pagination). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;\s*rel="?([^";]*)"?/.exec(part.trim());
    if (m && m[2]!.split(/\s+/).includes('next')) return m[1];
  }
  return undefined;
}

/** Why fetch could not get an answer, in a few words (the cause's code: ECONNREFUSED, ENOTFOUND, …). */
function connectionProblem(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

export class GitHubApi {
  private readonly origin: string;

  /** `apiUrl`: checked by checkApiUrl (https, or http on loopback), without a trailing slash. */
  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.origin = new URL(apiUrl).origin;
  }

  private async send(method: string, url: string, doing: string, body?: unknown): Promise<Response> {
    if (new URL(url).origin !== this.origin) throw new UsageError(`the GitHub API at ${this.apiUrl} pointed ${doing} to another host (${new URL(url).origin}); the token is not sent there.`);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${this.token}`,
          'user-agent': 'quant-audit',
          'x-github-api-version': '2022-11-28',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const reason = (e as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : connectionProblem(e);
      throw new UsageError(`could not connect to the GitHub API at ${this.apiUrl} while ${doing} (${reason}). Check --api-url (or GITHUB_API_URL) and the network.`);
    }
    if (!res.ok) {
      let message = '';
      try {
        message = String(((await res.json()) as { message?: unknown }).message ?? '');
      } catch {
        // not JSON: the status says enough
      }
      throw new GitHubHttpError(res.status, message);
    }
    return res;
  }

  /** One call; `path` is relative to the API URL. */
  async request<T>(method: 'POST' | 'PATCH' | 'GET', path: string, doing: string, body?: unknown): Promise<T> {
    const res = await this.send(method, `${this.apiUrl}${path}`, doing, body);
    return (await res.json()) as T;
  }

  /** Every page of a list, following Link rel="next". */
  async *pages<T>(path: string, doing: string): AsyncGenerator<T[]> {
    let url: string | undefined = `${this.apiUrl}${path}`;
    for (let page = 0; url !== undefined && page < 1000; page++) {
      const res = await this.send('GET', url, doing);
      yield (await res.json()) as T[];
      url = nextLink(res.headers.get('link'));
    }
  }
}
