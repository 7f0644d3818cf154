/**
 * The package as a library: package.json's `main` and `types` exist after the build, and
 * auditQuantizer judges a target the way `quant-audit run` does (same diagnosis, same gate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string };

test("package.json's main and types are files the build writes", () => {
  assert.ok(existsSync(join(ROOT, pkg.main)), pkg.main);
  assert.ok(existsSync(join(ROOT, pkg.types)), pkg.types);
});

test('auditQuantizer: a quantizer that returns codes gets H1 as its one cause and exit 1; the reference gets nothing and exit 0', async () => {
  const lib = (await import(pathToFileURL(join(ROOT, pkg.main)).href)) as typeof import('../src/index.js');
  const bad = await lib.auditQuantizer('mutant:missing-dequant', { formats: ['int8'] });
  assert.equal(bad.verdict.exitCode, 1);
  assert.deepEqual(bad.diagnosis.map((d) => [d.format, d.causes.map((c) => c.probe)]), [['int8', ['missing-dequant']]]);
  assert.ok(bad.results.filter((r) => r.verdict === 'fail' && r.probe !== 'missing-dequant').every((r) => r.explainedBy === 'missing-dequant'));
  const good = await lib.auditQuantizer('reference', { formats: ['int8', 'nf4'] });
  assert.equal(good.verdict.exitCode, 0);
  assert.deepEqual(good.diagnosis, []);
  assert.equal(good.results.length, 2 * lib.PROBES.length);
  await assert.rejects(lib.auditQuantizer('reference', { formats: ['int9'] }), /unknown format 'int9'/);
});
