/**
 * quant-audit.yaml fuzz: wrong types, unknown keys, deep nesting, alias bombs, huge and
 * non-UTF-8 files, duplicate keys, multi-document streams, bad thresholds and custom
 * formats — each through loadConfig + buildPlan. A config is the user's input: every case
 * is a plan or a UsageError (exit 2) with a message, never an internal error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan } from '../src/run/plan.js';
import { nestingDepth, parseConfig, MAX_NESTING } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { resolveLimits, DEFAULT_LIMITS } from '../src/limits.js';
import { classify, configCase, Tally, writeCase } from './support/fuzz-support.js';

export const SHORT_CONFIG_CASES = 200;

test(`${SHORT_CONFIG_CASES} hostile quant-audit.yaml files: a plan or a clear UsageError`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-fuzz-cfg-'));
  const tally = new Tally();
  try {
    for (let i = 0; i < SHORT_CONFIG_CASES; i++) {
      const c = configCase(20261126, i);
      const file = writeCase(dir, c, '.yaml');
      tally.add(c, await classify(async () => void buildPlan({ config: file }), 10_000));
    }
    assert.deepEqual(tally.bad.map((b) => `${b.name}: ${b.outcome.kind}: ${b.outcome.message.slice(0, 300)}`), []);
    const row = tally.byCategory.get('config')!;
    assert.equal(row.usage + row.ok, SHORT_CONFIG_CASES);
    assert.ok(row.usage > row.ok, JSON.stringify(row));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deep nesting is refused before the YAML parser recurses (regression: stack overflow, then a fatal V8 OOM)', () => {
  assert.deepEqual(nestingDepth('formats: [int8, nf4]\nlearnability:\n  hidden: 64\n'), { depth: 2, line: 1 });
  assert.equal(nestingDepth(`a: ${'['.repeat(100)}`).depth, 101);
  assert.equal(nestingDepth('- - - x\n').depth, 3 + 1);
  assert.equal(nestingDepth('a: "[[[[[[[["\n# {{{{{{{\n').depth, 1, 'brackets in strings and comments do not count');
  for (const text of [`formats: ${'['.repeat(5000)}`, `x: ${'{a: '.repeat(3000)}`, Array.from({ length: 100 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')]) {
    assert.throws(() => parseConfig(text), (e: unknown) => e instanceof UsageError && new RegExp(`nested more than ${MAX_NESTING} levels deep`).test(e.message));
  }
  // twice in one process: the second parse used to abort the process
  for (let i = 0; i < 3; i++) assert.throws(() => parseConfig(`formats: ${'['.repeat(3000)}`), UsageError);
});

test('limits: config values are checked; defaults are 2^26 elements and 4096 MB', () => {
  assert.deepEqual(resolveLimits(undefined), { maxTensorElements: 67108864, maxMemoryMB: 4096 });
  assert.deepEqual(resolveLimits({ maxTensorElements: 1000 }), { maxTensorElements: 1000, maxMemoryMB: DEFAULT_LIMITS.maxMemoryMB });
  for (const bad of ['0', '-1', '0.5', '1e308', 'many']) {
    assert.throws(
      () => parseConfig(`limits:\n  maxMemoryMB: ${bad}\n`, 'q.yaml'),
      (e: unknown) => e instanceof UsageError && /^q\.yaml:2:16: 'limits\.maxMemoryMB' must be (a positive integer|an integer), got /.test(e.message),
    );
  }
});
