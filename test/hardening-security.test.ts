/**
 * Security audit as tests: no shell anywhere a user string reaches a process, exec commands
 * are argv (shell syntax is refused, never interpreted), ONNX external data is confined
 * (test/fuzz-onnx.test.ts), `attach` refuses plain http except loopback and never prints
 * the token (test/hardening-cli.test.ts runs every CLI case with a GITHUB_TOKEN set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/fuzz-support.js';
import { parseCommand } from '../src/targets/exec/argv.js';
import { UsageError } from '../src/errors.js';
import { checkApiUrl } from '../src/github/comment.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
    if (e.isFile() && /\.(ts|mjs|js)$/.test(e.name)) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

test('no shell: nothing in src/ or probes/ uses exec/execSync, shell: true, or spawns through sh -c', () => {
  const offenders: string[] = [];
  const files = [...sources('src'), ...sources('probes')];
  assert.ok(files.length > 50, `${files.length} source files scanned`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const childProcess = /from ['"](node:)?child_process['"]/.test(text);
    if (/shell\s*:\s*(true|['"`])/.test(text)) offenders.push(`${file}: shell option`);
    if (childProcess && /\b(exec|execSync)\s*\(/.test(text.replace(/\.exec\(/g, ''))) offenders.push(`${file}: exec/execSync`);
    if (childProcess && /['"](\/bin\/)?(ba)?sh['"]\s*,\s*\[\s*['"]-c['"]/.test(text)) offenders.push(`${file}: sh -c`);
  }
  assert.deepEqual(offenders, []);
});

test('exec commands become argv; shell syntax is refused, never interpreted', () => {
  assert.deepEqual(parseCommand(`python3 'my server.py' --name "a b"`), ['python3', 'my server.py', '--name', 'a b']);
  const canary = join(mkdtempSync(join(tmpdir(), 'qa-sec-')), 'pwned');
  for (const hostile of [
    `node server.mjs; touch ${canary}`,
    `node server.mjs && touch ${canary}`,
    `node server.mjs | tee ${canary}`,
    `node server.mjs > ${canary}`,
    'node server.mjs $(touch /tmp/x)',
    'node server.mjs `touch /tmp/x`',
    'node server.mjs $HOME',
    'FOO=1 node server.mjs',
    'node *.mjs',
  ]) {
    assert.throws(() => parseCommand(hostile), UsageError, hostile);
  }
  assert.equal(existsSync(canary), false);
  rmSync(join(canary, '..'), { recursive: true, force: true });
});

test('attach: plain http only to loopback; credentials in the URL refused', () => {
  for (const url of ['http://api.example.com', 'http://10.0.0.1/api/v3', 'ftp://example.com', 'https://user:pw@example.com']) {
    assert.throws(() => checkApiUrl(url), UsageError, url);
  }
  for (const url of ['https://api.github.com', 'http://127.0.0.1:8080', 'http://localhost:3000/api']) {
    assert.doesNotThrow(() => checkApiUrl(url), url);
  }
});
