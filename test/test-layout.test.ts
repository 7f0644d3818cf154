/**
 * The test tree's layout: test/ holds only *.test.ts files, shared helpers live in
 * test/support/, and `npm test` runs only dist/test/*.test.js — so a helper never runs as an
 * (empty, always green) test file, and a test file is never left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/exec-support.js';

const files = (dir: string): string[] => readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());

test('test/ holds only *.test.ts; helpers are in test/support/ and none of them is a test file', () => {
  assert.deepEqual(files(join(ROOT, 'test')).filter((f) => !f.endsWith('.test.ts')), []);
  const support = files(join(ROOT, 'test', 'support'));
  assert.ok(support.includes('exec-support.ts') && support.includes('fuzz-support.ts'), support.join(', '));
  assert.deepEqual(support.filter((f) => f.endsWith('.test.ts')), []);
});

test("npm test builds, then runs exactly dist/test/*.test.js (not the directory, which would run the helpers too)", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.test, /^tsc -p tsconfig.json && node --test\b.* dist\/test\/\*\.test\.js$/);
});
