/**
 * The CLI's own flags are the truth about its commands: the README's commands table names every
 * flag `quant-audit <command> --help` shows and no flag the command lacks (with the same choices
 * where the table lists them); every concrete `quant-audit …` command written inline in the docs
 * parses; no doc asks for an output view with `--format`, which is the old, hidden name of
 * `--as` (`--format` names number formats); and the README's dependency table names exactly the
 * packages package.json depends on (type packages and the compiler aside).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseShell } from 'shell-quote';
import { fromMarkdown } from 'mdast-util-from-markdown';
import type { InlineCode, Root, RootContent } from 'mdast';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { cliParseError } from './support/cli-parse.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', 'reports/README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** Visible long flags of a command and their choices (commander's own record of them). */
function visibleFlags(cmd: Command): Map<string, readonly string[] | undefined> {
  return new Map(cmd.options.filter((o) => !o.hidden && o.long && o.long !== '--help').map((o) => [o.long!, o.argChoices]));
}

/** The first cell of the README's commands table row for `quant-audit NAME`, unescaped. */
function tableCell(name: string): string | undefined {
  const row = README.split('\n').find((l) => l.startsWith(`| \`quant-audit ${name} `) || l.startsWith(`| \`quant-audit ${name}\``));
  const cell = row && /^\| `([^`]*)`/.exec(row)?.[1];
  return cell?.replace(/\\\|/g, '|');
}

test('the README commands table lists every command with exactly the flags its --help shows', () => {
  const program = buildProgram();
  const commands = program.commands.filter((c) => c.name() !== 'help');
  assert.ok(commands.length >= 8, commands.map((c) => c.name()).join(', '));
  for (const cmd of commands) {
    const cell = tableCell(cmd.name());
    assert.ok(cell, `README.md's commands table has no row for \`quant-audit ${cmd.name()}\``);
    const inReadme = new Map([...cell.matchAll(/(--[a-z][a-z0-9-]*)(?: ([a-z0-9-]+(?:\|[a-z0-9-]+)+))?/g)].map((m) => [m[1]!, m[2]?.split('|')]));
    const inHelp = visibleFlags(cmd);
    assert.deepEqual([...inReadme.keys()].filter((f) => !inHelp.has(f)), [], `README.md: \`quant-audit ${cmd.name()}\` names flags the command does not have`);
    assert.deepEqual([...inHelp.keys()].filter((f) => !inReadme.has(f)), [], `README.md: \`quant-audit ${cmd.name()}\` lacks flags its --help shows`);
    for (const [flag, listed] of inReadme) {
      const choices = inHelp.get(flag);
      if (listed && choices) assert.deepEqual([...listed].sort(), [...choices].sort(), `README.md: \`quant-audit ${cmd.name()} ${flag}\` lists other values than the CLI accepts`);
    }
  }
});

function inlineCode(node: Root | RootContent, out: InlineCode[] = []): InlineCode[] {
  if (node.type === 'inlineCode') out.push(node);
  if ('children' in node) for (const c of node.children) inlineCode(c, out);
  return out;
}

/** Inline `quant-audit COMMAND ARG…` spans of the docs, as argv (up to a redirection); bare command names and synopses with […] or … are left out. */
const INLINE = DOCS.flatMap((file) =>
  inlineCode(fromMarkdown(readFileSync(join(REPO, file), 'utf8')))
    .filter((c) => /^(npx )?quant-audit [a-z]+ \S/.test(c.value) && !/[[…]/.test(c.value))
    .map((c) => {
      const tokens = parseShell(c.value);
      const end = tokens.findIndex((t) => typeof t !== 'string');
      const argv = (end < 0 ? tokens : tokens.slice(0, end)) as string[];
      return { where: `${file}:${c.position?.start.line}`, text: c.value, args: argv.slice(argv[0] === 'npx' ? 2 : 1) };
    }),
);

test('every concrete quant-audit command written inline in the docs parses', async () => {
  assert.ok(INLINE.length >= 5, INLINE.map((i) => i.text).join('\n'));
  for (const { where, text, args } of INLINE) assert.equal(await cliParseError(args), undefined, `${where}: \`${text}\``);
});

test('no doc asks for an output view with --format (the view flag is --as)', () => {
  const VIEW = /--format[ =](md|junit|terminal|json|html)\b/;
  for (const file of [...DOCS, 'action.yml']) {
    readFileSync(join(REPO, file), 'utf8').split('\n').forEach((line, i) => {
      assert.doesNotMatch(line, VIEW, `${file}:${i + 1} selects a view with --format; say --as`);
    });
  }
  assert.match('quant-audit report r.json --format md', VIEW); // the pattern does catch the old spelling
});

test("the README's dependency table names exactly package.json's dependencies (@types/* and typescript aside)", () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const declared = ['dependencies', 'optionalDependencies', 'devDependencies']
    .flatMap((k) => Object.keys(pkg[k] ?? {}))
    .filter((name) => !name.startsWith('@types/') && name !== 'typescript')
    .sort();
  const section = README.slice(README.indexOf('## Dependencies'), README.indexOf('\n## ', README.indexOf('## Dependencies') + 1));
  const named = [...section.matchAll(/^\| (.*?) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([^`]+)`/g)].map((n) => n[1]!));
  assert.ok(named.length >= 10, section);
  assert.deepEqual([...new Set(named)].sort(), declared);
});
