/**
 * Docs that run: every ```sh, ```yaml and ```json example in README.md and docs/*.md, and every
 * `$ quant-audit …` line of a transcript, is executed or validated here, so an example cannot
 * rot without a failing test.
 *  - quant-audit commands go through the CLI's own parser; a quick one (probes without lanes,
 *    an ONNX model, formats, quantize) runs for real from the repository, a long one (lanes) runs
 *    as `run --dry-run`, which checks the flags and the config and builds the plan. A `# exit N`
 *    comment, or the `exit N` line of a transcript, is the exit code the run must give; a
 *    transcript's verdict line must be the one the run prints.
 *  - a quant-audit.yaml goes through the real config loader and run planner; a GitHub workflow
 *    (or a list of its steps) must give the action only inputs action.yml declares, and its
 *    quant-audit commands are parsed like the others.
 *  - npm commands (install, build, test) are what .ci/run and test/install.test.ts run; an
 *    `apt-get install` must name packages a .ci/ script installs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseShell } from 'shell-quote';
import { parse as parseYaml } from 'yaml';
import { fromMarkdown } from 'mdast-util-from-markdown';
import type { Code, Root, RootContent } from 'mdast';
import { cliParseError } from './support/cli-parse.js';
import { buildPlan } from '../src/run/plan.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(REPO, 'dist/src/cli.js');
const DOCS = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

interface Example {
  where: string;
  lang: string;
  text: string;
}

function codeBlocks(node: Root | RootContent, out: Code[] = []): Code[] {
  if (node.type === 'code') out.push(node);
  if ('children' in node) for (const c of node.children) codeBlocks(c, out);
  return out;
}

const EXAMPLES: Example[] = DOCS.flatMap((file) =>
  codeBlocks(fromMarkdown(readFileSync(join(REPO, file), 'utf8'))).map((c) => ({ where: `${file}:${c.position?.start.line}`, lang: c.lang ?? '', text: c.value })),
);

/** One command of a shell example: environment assignments, argv, the comment on its line. */
interface Command {
  env: Record<string, string>;
  argv: string[];
  comment: string;
}

/** Placeholders a workflow fills in at run time, with stand-ins. */
function substitute(line: string): string {
  return line.replace(/\$\{\{[^}]*\}\}/g, '7').replace(/"\$GITHUB_REPOSITORY"/g, 'octo-org/trainer');
}

function commandsOf(text: string): Command[] {
  const out: Command[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const tokens = parseShell(substitute(line), (name) => `$${name}`);
    let comment = '';
    let current: string[] = [];
    const flush = () => {
      if (current.length === 0) return;
      const env: Record<string, string> = {};
      while (current[0] !== undefined && /^[A-Z_][A-Z0-9_]*=/.test(current[0])) {
        const [k, ...v] = current.shift()!.split('=');
        env[k!] = v.join('=');
      }
      out.push({ env, argv: current, comment: '' });
      current = [];
    };
    for (const t of tokens) {
      if (typeof t === 'string') current.push(t);
      else if ('comment' in t) comment = t.comment;
      else if ('op' in t && t.op === '&&') flush();
      else if ('op' in t && t.op === 'glob') current.push(t.pattern);
      else assert.fail(`unsupported shell syntax ${JSON.stringify(t)} in: ${line}`);
    }
    flush();
    if (out.length > 0) out[out.length - 1]!.comment = comment;
  }
  return out;
}

/** The quant-audit arguments of a command, or undefined when it is not quant-audit. */
function quantAuditArgs(argv: string[]): string[] | undefined {
  if (argv[0] === 'quant-audit') return argv.slice(1);
  if (argv[0] === 'npx' && argv[1] === 'quant-audit') return argv.slice(2);
  return undefined;
}

/** npm steps the docs may show: they are what .ci/run and the QA_SLOW install test run. */
const NPM_STEPS = new Set(['ci', 'test', 'pack', 'install']);

/** Commands quick enough to run for real in the suite (no training lanes). */
function runsQuickly(args: string[]): boolean {
  const [command, ...rest] = args;
  if (command === 'formats' || command === 'quantize') return true;
  if (command !== 'run') return false;
  const probeAt = rest.indexOf('--probe');
  const probes = probeAt >= 0 ? rest.slice(probeAt + 1).filter((_, i, a) => !a.slice(0, i + 1).some((x) => x.startsWith('--'))) : [];
  const target = rest[rest.indexOf('--target') + 1] ?? '';
  return (probes.length > 0 && !probes.includes('learnability')) || target.startsWith('onnx:');
}

function cli(args: string[], env: Record<string, string>, cwd = REPO) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 600_000, maxBuffer: 32 << 20 });
}

/** Check one quant-audit command; returns its output when it ran. */
async function checkCommand(where: string, cmd: Command, out: string, expect: { exit?: number; verdict?: string } = {}): Promise<void> {
  const args = quantAuditArgs(cmd.argv)!;
  const parseError = await cliParseError(args);
  assert.equal(parseError, undefined, `${where}: \`${cmd.argv.join(' ')}\` does not parse: ${parseError}`);
  const exitComment = /\bexit (\d)\b/.exec(cmd.comment);
  const exit = expect.exit ?? (exitComment ? Number(exitComment[1]) : undefined);
  if (args[0] !== 'run' && !runsQuickly(args)) return; // witness, attach, merge, report: their inputs are the reader's
  const withOut = args[0] === 'run' ? [...args, '--out', out] : args;
  if (runsQuickly(args) || expect.verdict !== undefined) {
    const r = cli(withOut, cmd.env);
    assert.equal(r.status, exit ?? 0, `${where}: \`${cmd.argv.join(' ')}\` exited ${r.status}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    if (expect.verdict !== undefined) assert.ok(r.stdout.split('\n').includes(expect.verdict), `${where}: the transcript's verdict line is not what the run prints:\n  doc: ${expect.verdict}\n  run: ${r.stdout.split('\n').find((l) => / — /.test(l) && /exit/.test(l))}`);
    return;
  }
  const r = cli([...withOut, '--dry-run'], cmd.env);
  assert.equal(r.status, 0, `${where}: \`${cmd.argv.join(' ')} --dry-run\` exited ${r.status}: ${r.stderr}`);
  assert.match(r.stdout, /^dry run: the flags and config are valid/);
}

/** The scripts CI runs: a Debian package a doc tells you to install must be one they install too. */
const CI_SCRIPTS = readdirSync(join(REPO, '.ci')).map((f) => readFileSync(join(REPO, '.ci', f), 'utf8')).join('\n');

function checkNpm(where: string, cmd: Command): void {
  if (cmd.argv[0] === 'apt-get' && cmd.argv[1] === 'install') {
    for (const pkg of cmd.argv.slice(2).filter((a) => !a.startsWith('-'))) {
      assert.match(CI_SCRIPTS, new RegExp(`apt-get install[^\\n]*\\b${pkg.replace(/[.+]/g, '\\$&')}\\b`), `${where}: the docs install ${pkg}, which no .ci/ script installs`);
    }
    return;
  }
  assert.equal(cmd.argv[0], 'npm', `${where}: an example runs \`${cmd.argv.join(' ')}\`: only quant-audit, npm and apt-get install steps are checked here; add a check for it`);
  assert.ok(NPM_STEPS.has(cmd.argv[1] ?? ''), `${where}: npm ${cmd.argv[1]} is not a step the suite covers`);
}

const ACTION_INPUTS = Object.keys((parseYaml(readFileSync(join(REPO, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> }).inputs);

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
}

function workflowSteps(doc: unknown): Step[] | undefined {
  if (Array.isArray(doc) && doc.every((s) => typeof s === 'object' && s !== null && ('run' in s || 'uses' in s))) return doc as Step[];
  if (typeof doc === 'object' && doc !== null && 'jobs' in doc) {
    return Object.values((doc as { jobs: Record<string, { steps?: Step[] }> }).jobs).flatMap((j) => j.steps ?? []);
  }
  return undefined;
}

test('the docs have examples to check (README.md and docs/*.md)', () => {
  const byLang = (lang: string) => EXAMPLES.filter((e) => e.lang === lang).length;
  assert.ok(byLang('sh') >= 5 && byLang('yaml') >= 4, JSON.stringify(EXAMPLES.map((e) => `${e.where} ${e.lang}`)));
});

test('every quant-audit.yaml and GitHub workflow example is valid', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-docs-yaml-'));
  try {
    for (const ex of EXAMPLES.filter((e) => e.lang === 'yaml')) {
      const doc = parseYaml(ex.text) as unknown;
      const steps = workflowSteps(doc);
      if (steps) {
        for (const step of steps) {
          if (step.uses?.startsWith('./')) {
            const unknown = Object.keys(step.with ?? {}).filter((k) => !ACTION_INPUTS.includes(k));
            assert.deepEqual(unknown, [], `${ex.where}: inputs the action does not declare (action.yml has ${ACTION_INPUTS.join(', ')})`);
          }
          for (const cmd of commandsOf(step.run ?? '')) if (!quantAuditArgs(cmd.argv)) checkNpm(ex.where, cmd);
        }
        continue;
      }
      const file = join(dir, 'quant-audit.yaml');
      writeFileSync(file, ex.text);
      assert.doesNotThrow(() => buildPlan({ config: file }), (e: unknown) => `${ex.where}: the config example is rejected: ${(e as Error).message}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every quant-audit command in a workflow example parses', async () => {
  for (const ex of EXAMPLES.filter((e) => e.lang === 'yaml')) {
    for (const step of workflowSteps(parseYaml(ex.text)) ?? []) {
      for (const cmd of commandsOf(step.run ?? '')) {
        const args = quantAuditArgs(cmd.argv);
        if (args) assert.equal(await cliParseError(args), undefined, `${ex.where}: ${cmd.argv.join(' ')}`);
      }
    }
  }
});

test('every json example parses, and the allowScripts one denies only what quant-audit does not need', () => {
  for (const ex of EXAMPLES.filter((e) => e.lang === 'json')) {
    const text = ex.text.trim().startsWith('"') ? `{${ex.text}}` : ex.text;
    const value = JSON.parse(text) as Record<string, unknown>;
    if ('allowScripts' in value) {
      const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
      assert.deepEqual(Object.keys(value.allowScripts as object).sort(), Object.keys(pkg.allowScripts).sort(), `${ex.where}: the README's allowScripts names the packages whose scripts quant-audit's own package.json decides`);
      assert.ok(Object.values(value.allowScripts as object).every((v) => v === false), `${ex.where}: a project needs none of these scripts`);
    }
  }
});

test('every sh example runs (quick commands), or passes --dry-run (lanes), with the exit code its comment claims', { timeout: 1_200_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-docs-sh-'));
  try {
    for (const ex of EXAMPLES.filter((e) => e.lang === 'sh')) {
      for (const cmd of commandsOf(ex.text)) {
        if (quantAuditArgs(cmd.argv)) await checkCommand(ex.where, cmd, out);
        else checkNpm(ex.where, cmd);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('every transcript ($ quant-audit …) gives the exit code and verdict line it shows', { timeout: 1_200_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-docs-transcript-'));
  try {
    const transcripts = EXAMPLES.filter((e) => e.lang !== 'sh' && /^\$ (npx )?quant-audit /m.test(e.text));
    assert.ok(transcripts.length >= 1);
    for (const ex of transcripts) {
      const lines = ex.text.split('\n');
      const commandLine = lines.find((l) => l.startsWith('$ '))!;
      const [cmd] = commandsOf(commandLine.slice(2));
      const exitLine = lines.find((l) => /^exit \d/.test(l));
      const verdict = lines.find((l) => /^(FALSIFIED|NO WITNESS|OK|INCONCLUSIVE)\b/.test(l));
      await checkCommand(ex.where, cmd!, out, {
        ...(exitLine ? { exit: Number(/^exit (\d)/.exec(exitLine)![1]) } : {}),
        ...(verdict ? { verdict } : {}),
      });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
