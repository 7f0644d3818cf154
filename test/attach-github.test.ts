/**
 * `attach` against a small GitHub look-alike on 127.0.0.1: list issue comments (paginated
 * with Link headers, 2 per page), create, update; it checks the Authorization header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { attach, type AttachFlags } from '../src/commands/attach.js';
import { checkApiUrl, commentBody, COMMENT_LIMIT, markerFor } from '../src/github/comment.js';
import { nextLink } from '../src/github/api.js';
import { writeRunReport } from '../src/report/write.js';
import { fixtureReport } from './support/report-fixture.js';
import { UsageError } from '../src/errors.js';

const TOKEN = 'ghp_test_secret_0123456789';

interface Comment {
  id: number;
  body: string;
  html_url: string;
}

interface FakeGitHub {
  url: string;
  comments: Comment[];
  requests: { method: string; path: string; auth: string | undefined }[];
  /** Force a status for every request (401/404/422 tests). */
  failWith?: { status: number; message: string; methods: string[] };
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function fakeGitHub(): Promise<FakeGitHub> {
  const state: Omit<FakeGitHub, 'url' | 'close'> = { comments: [], requests: [] };
  let nextId = 100;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      state.requests.push({ method: req.method ?? '', path: url.pathname + url.search, auth: req.headers.authorization });
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `token ${TOKEN}` && req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'Bad credentials' });
      if (state.failWith && state.failWith.methods.includes(req.method ?? '')) return send(state.failWith.status, { message: state.failWith.message });
      const body = req.method === 'GET' ? '' : await readBody(req);
      let m: RegExpExecArray | null;
      if ((m = /^\/repos\/octo-org\/trainer\/issues\/7\/comments$/.exec(url.pathname))) {
        if (req.method === 'GET') {
          const page = Number(url.searchParams.get('page') ?? '1');
          const size = 2; // small pages so pagination is exercised
          const slice = state.comments.slice((page - 1) * size, page * size);
          const more = page * size < state.comments.length;
          const next = `<http://${req.headers.host}${url.pathname}?per_page=100&page=${page + 1}>; rel="next"`;
          return send(200, slice, more ? { link: next } : {});
        }
        if (req.method === 'POST') {
          const c = { id: nextId++, body: (JSON.parse(body) as { body: string }).body, html_url: `https://github.example/octo-org/trainer/issues/7#issuecomment-${nextId - 1}` };
          state.comments.push(c);
          return send(201, c);
        }
      }
      if ((m = /^\/repos\/octo-org\/trainer\/issues\/comments\/(\d+)$/.exec(url.pathname)) && req.method === 'PATCH') {
        const c = state.comments.find((x) => x.id === Number(m![1]));
        if (!c) return send(404, { message: 'Not Found' });
        c.body = (JSON.parse(body) as { body: string }).body;
        return send(200, c);
      }
      return send(404, { message: 'Not Found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

function setup(): { dir: string; md: string; flags: (api: string, extra?: Partial<AttachFlags>) => AttachFlags } {
  const dir = mkdtempSync(join(tmpdir(), 'qa-attach-'));
  const md = join(dir, 'report.md');
  writeFileSync(md, '# R7 falsification witness — mutant:in-place\n\nrun 1\n');
  return { dir, md, flags: (api, extra = {}) => ({ repo: 'octo-org/trainer', issue: '7', apiUrl: api, ...extra }) };
}

test('attach creates the sticky comment once, then updates it; other comments are left alone', async () => {
  const gh = await fakeGitHub();
  const { dir, md, flags } = setup();
  const out: string[] = [];
  const io = { out: (t: string) => void out.push(t), env: { GITHUB_TOKEN: TOKEN } };
  try {
    // Three unrelated comments first, so the marker search has to page.
    gh.comments.push({ id: 1, body: 'first!', html_url: 'u1' }, { id: 2, body: 'me too', html_url: 'u2' }, { id: 3, body: 'ping', html_url: 'u3' });
    await attach(md, flags(gh.url), io);
    assert.equal(gh.comments.length, 4);
    assert.equal(gh.comments[3]!.body, `${markerFor()}\n# R7 falsification witness — mutant:in-place\n\nrun 1\n`);
    assert.match(out[0]!, /^created comment https:\/\/github.example\/octo-org\/trainer\/issues\/7#issuecomment-100 on octo-org\/trainer#7\n$/);

    writeFileSync(md, '# R7 falsification witness — mutant:in-place\n\nrun 2\n');
    await attach(md, flags(gh.url), io);
    assert.equal(gh.comments.length, 4, 'updated, not added');
    assert.match(gh.comments[3]!.body, /run 2/);
    assert.match(out[1]!, /^updated comment /);
    assert.deepEqual(gh.comments.slice(0, 3).map((c) => c.body), ['first!', 'me too', 'ping']);

    // Every request carried the token, in the header only; nothing printed it.
    assert.ok(gh.requests.every((r) => r.auth === `Bearer ${TOKEN}`), JSON.stringify(gh.requests.map((r) => r.auth)));
    assert.ok(gh.requests.some((r) => r.path.includes('page=2')), 'the listing followed the Link header');
    assert.ok(gh.requests.every((r) => !r.path.includes(TOKEN)));
    assert.ok(out.every((t) => !t.includes(TOKEN)));

    // A separate key is a separate sticky comment.
    await attach(md, flags(gh.url, { key: 'nightly' }), io);
    assert.equal(gh.comments.length, 5);
    assert.ok(gh.comments[4]!.body.startsWith('<!-- quant-audit:report:nightly -->\n'));
  } finally {
    await gh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function expectUsage(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, new RegExp(TOKEN));
    return true;
  });
}

test('attach: 401, 403, 404 and 422 from the API are clear errors that never show the token', async () => {
  const gh = await fakeGitHub();
  const { dir, md, flags } = setup();
  const io = { out: () => undefined, env: { GITHUB_TOKEN: TOKEN } };
  try {
    await expectUsage(attach(md, flags(gh.url), { ...io, env: { GITHUB_TOKEN: 'wrong-token' } }), /GitHub rejected the token while listing the comments \(401 Bad credentials\)/);
    await expectUsage(attach(md, flags(gh.url, { repo: 'octo-org/missing' }), io), /octo-org\/missing#7 was not found while listing the comments \(404\): check --repo and --issue/);
    gh.failWith = { status: 403, message: 'Resource not accessible by integration', methods: ['GET'] };
    await expectUsage(attach(md, flags(gh.url), io), /GitHub denied access while listing the comments on octo-org\/trainer#7 \(403: Resource not accessible by integration\): the token lacks permission\. .*issues: write/);
    gh.failWith = { status: 422, message: 'Validation Failed', methods: ['POST'] };
    await expectUsage(attach(md, flags(gh.url), io), /GitHub refused the comment on octo-org\/trainer#7 \(422 Unprocessable: Validation Failed\)/);
    gh.failWith = undefined;
    await expectUsage(attach(md, flags(gh.url), { ...io, env: {} }), /GITHUB_TOKEN is not set/);
    assert.equal(gh.comments.length, 0);
  } finally {
    await gh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attach --dry-run prints the body and sends nothing (no token needed)', async () => {
  const gh = await fakeGitHub();
  const { dir, md, flags } = setup();
  const out: string[] = [];
  try {
    await attach(md, flags(gh.url, { dryRun: true }), { out: (t) => void out.push(t), env: {} });
    assert.equal(gh.requests.length, 0);
    assert.match(out.join(''), /^dry run: would create or update the comment marked <!-- quant-audit:report --> on octo-org\/trainer#7 via http:\/\/127\.0\.0\.1:\d+ \(\d+ characters from .*report\.md\); nothing was sent\.\n\n<!-- quant-audit:report -->\n# R7 falsification witness/);
  } finally {
    await gh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attach refuses plain-http API URLs except loopback, bad repos, issues and keys', async () => {
  assert.equal(checkApiUrl('https://ghe.example.com/api/v3/'), 'https://ghe.example.com/api/v3');
  assert.equal(checkApiUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  assert.equal(checkApiUrl('http://localhost:3000/api'), 'http://localhost:3000/api');
  assert.throws(() => checkApiUrl('http://ghe.example.com/api/v3'), /plain http: the token would be sent unencrypted/);
  assert.throws(() => checkApiUrl('https://user:pw@ghe.example.com'), /must not contain credentials/);
  assert.throws(() => checkApiUrl('not a url'), /is not a URL/);
  const { dir, md } = setup();
  try {
    const io = { out: () => undefined, env: { GITHUB_TOKEN: TOKEN } };
    await expectUsage(attach(md, { repo: 'trainer', issue: '7' }, io), /--repo 'trainer' is not OWNER\/NAME/);
    await expectUsage(attach(md, { repo: 'octo-org/trainer', issue: '0' }, io), /--issue '0' is not an issue/);
    await expectUsage(attach(md, { repo: 'octo-org/trainer', issue: '7', key: 'a b' }, io), /--key 'a b'/);
    await expectUsage(attach(join(dir, 'missing.md'), { repo: 'octo-org/trainer', issue: '7', dryRun: true }, io), /cannot read .*missing\.md: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a report longer than GitHub allows is cut at a section boundary, marker kept', () => {
  const big = `# T\n\n## A\n\n${'a'.repeat(40000)}\n\n## B\n\n${'b'.repeat(40000)}\n`;
  const body = commentBody(big, markerFor());
  assert.ok(body.length <= COMMENT_LIMIT);
  assert.ok(body.startsWith('<!-- quant-audit:report -->\n# T'));
  assert.ok(body.includes('## A') && !body.includes('## B'));
  assert.match(body, /cut to fit GitHub’s 65536-character comment limit/);
});

test('attach to a host that does not answer says it could not connect (not "GitHub answered 500")', async () => {
  // A port that was just free: listen, note the port, close, then attach to it.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const { dir, md, flags } = setup();
  try {
    await expectUsage(
      attach(md, flags(`http://127.0.0.1:${port}`), { out: () => undefined, env: { GITHUB_TOKEN: TOKEN } }),
      new RegExp(`^could not connect to the GitHub API at http://127\\.0\\.0\\.1:${port} while listing the comments \\(ECONNREFUSED\\)\\. Check --api-url`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pagination follows Link rel="next" only on the API origin (the token never goes elsewhere)', async () => {
  assert.equal(nextLink('<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'), 'https://api.github.com/x?page=2');
  assert.equal(nextLink('<https://api.github.com/x?page=1>; rel="prev"'), undefined);
  assert.equal(nextLink(null), undefined);
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', link: '<http://localhost:1/steal?page=2>; rel="next"' });
    res.end('[]');
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const { port } = evil.address() as AddressInfo;
  const { dir, md, flags } = setup();
  try {
    await expectUsage(attach(md, flags(`http://127.0.0.1:${port}`), { out: () => undefined, env: { GITHUB_TOKEN: TOKEN } }), /pointed listing the comments to another host \(http:\/\/localhost:1\); the token is not sent there/);
  } finally {
    await new Promise<void>((resolve) => evil.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a report over 65,536 characters is posted in its short form: headline, lanes, every witness with its repro, fixes, a link to the rest', async () => {
  const gh = await fakeGitHub();
  const dir = mkdtempSync(join(tmpdir(), 'qa-attach-big-'));
  try {
    // The fixture report with its witnesses repeated over many seeds and long evidence: ~3× the limit.
    const base = fixtureReport();
    const failing = base.results.filter((r) => r.verdict === 'fail');
    const results = [...base.results];
    for (let seed = 1; seed <= 40; seed++) {
      for (const r of failing) {
        results.push({
          ...r,
          seed,
          evidence: { ...r.evidence, notes: ['x'.repeat(1500)] },
          ...(r.witness ? { witness: { ...r.witness, repro: `${r.witness.repro} --seed ${seed}` } } : {}),
        });
      }
    }
    const big = { ...base, results };
    const written = await writeRunReport(big, join(dir, 'reports'));
    const full = readFileSync(written.files.md, 'utf8');
    assert.ok(full.length > 2 * COMMENT_LIMIT, `the full report is ${full.length} characters`);
    await attach(written.files.md, { repo: 'octo-org/trainer', issue: '7', apiUrl: gh.url }, { out: () => undefined, env: { GITHUB_TOKEN: TOKEN, GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'octo-org/trainer', GITHUB_RUN_ID: '42' } });
    const body = gh.comments[0]!.body;
    assert.ok(body.length <= COMMENT_LIMIT, `${body.length} characters`);
    assert.ok(body.startsWith(`${markerFor()}\n# R7 falsification witness`));
    assert.match(body, /^## Lanes$/m);
    assert.match(body, /^## Suggested fixes$/m);
    const fails = results.filter((r) => r.verdict === 'fail');
    assert.match(body, new RegExp(`^## Witnesses \\(${fails.length}\\)$`, 'm'));
    for (const r of fails) assert.ok(body.includes(`\`${r.witness!.repro}\``), `the repro of ${r.probe} ${r.format} seed ${r.seed} is in the comment`);
    assert.match(body, /full report: the workflow run's artifacts, https:\/\/github\.com\/octo-org\/trainer\/actions\/runs\/42/);
    assert.doesNotMatch(body, /x{1500}/, 'per-witness evidence is what was trimmed');
  } finally {
    await gh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
