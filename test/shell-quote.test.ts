import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shellQuote } from '../src/shell.js';

test('repro lines keep safe words bare and single-quote the rest', () => {
  assert.equal(shellQuote(['npx', 'quant-audit', 'run', '--target', 'mutant:in-place', '--lr', '1e-4']), 'npx quant-audit run --target mutant:in-place --lr 1e-4');
  assert.equal(shellQuote(['--target', 'exec:python3 fixtures/exec/server.py']), "--target 'exec:python3 fixtures/exec/server.py'");
  assert.equal(shellQuote(["it's", '', '$HOME', 'a;b']), `'it'\\''s' '' '$HOME' 'a;b'`);
});
