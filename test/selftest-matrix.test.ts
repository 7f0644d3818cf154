// `quant-audit selftest`: the full confusion matrix over every format, and docs/selftest.md
// in step with the expected matrix in code.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';
import { initTf } from '../src/tf.js';
import { defaultRegistry } from '../src/formats/index.js';
import { runSelftest } from '../src/selftest/run.js';
import { cellOf, confusionMatrix, expectedCell, type ConfusionMatrix } from '../src/selftest/matrix.js';
import { renderMatrix } from '../src/selftest/render.js';
import { PROBES } from '../probes/index.js';
import type { ProbeId } from '../probes/types.js';

let m: ConfusionMatrix;

before(async () => {
  await initTf('cpu');
  m = confusionMatrix(await runSelftest({ registry: defaultRegistry, seed: 1 }));
});

test('the matrix is the expected one: sensitivity and specificity 100 %', () => {
  assert.deepEqual(m.mismatches, []);
  assert.equal(m.ok, true);
  assert.equal(m.sensitivity, 1);
  assert.equal(m.specificity, 1);
});

test('matrix cells: each mutant caught by its own probe for every format it applies to', () => {
  const diag: [string, ProbeId, number][] = [
    ['missing-dequant', 'missing-dequant', 20],
    ['collapsed-scale', 'scale-collapse', 7],
    ['round-no-ste', 'broken-ste', 30],
    ['vanishing-ste', 'broken-ste', 30],
    ['in-place', 'lost-updates', 22],
    ['fp32-fallback', 'format-applied', 27],
    ['uint8-zero-point', 'scale-collapse', 6],
  ];
  for (const [row, probe, n] of diag) {
    const c = cellOf(m, row, probe);
    assert.equal(c.formats, n, `${row} formats`);
    assert.equal(c.failed.length, n, `${row} × ${probe}`);
  }
  assert.deepEqual(cellOf(m, 'uint8-zero-point', 'scale-collapse').failed, ['int2', 'int3', 'int4', 'int8', 'uint4', 'uint8']);
  assert.deepEqual(cellOf(m, 'collapsed-scale', 'scale-collapse').failed, ['int2', 'int3', 'int4', 'int8', 'uint4', 'uint8', 'nf4']);
});

test('matrix cells: off-diagonal fails only where physics makes them real (roundtrip of forward-breaking mutants)', () => {
  assert.equal(cellOf(m, 'missing-dequant', 'roundtrip').failed.length, 20);
  assert.equal(cellOf(m, 'collapsed-scale', 'roundtrip').failed.length, 7);
  assert.equal(cellOf(m, 'uint8-zero-point', 'roundtrip').failed.length, 6);
  for (const c of m.cells.filter((x) => x.expected === 'none')) {
    assert.deepEqual([c.row, c.probe, c.failed, c.inconclusive], [c.row, c.probe, [], []]);
  }
  assert.equal(cellOf(m, 'reference', 'roundtrip').formats, defaultRegistry.names().length);
  // without an update step lost-updates is skipped, never passed
  assert.equal(cellOf(m, 'round-no-ste', 'lost-updates').skipped, 30);
});

test('the rendered matrix shows every row, the counts and the two rates', () => {
  const text = renderMatrix(m);
  assert.match(text, /missing-dequant \(H1\)/);
  assert.match(text, /20\/20 ✓/);
  assert.match(text, /sensitivity 100\.0 %/);
  assert.match(text, /specificity 100\.0 %/);
  assert.match(text, /as expected/);
});

test('docs/selftest.md shows the same expected matrix as the code', () => {
  const tree = fromMarkdown(readFileSync('docs/selftest.md', 'utf8'), { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  type Node = { type: string; children?: Node[]; value?: string };
  const text = (n: Node): string => (n.value ?? '') + (n.children ?? []).map(text).join('');
  const tables = (tree.children as Node[]).filter((n) => n.type === 'table');
  const expected = tables.find((t) => text(t.children![0]!.children![0]!) === 'planted')!;
  assert.ok(expected, 'the expected-matrix table');
  const rows = expected.children!.map((r) => r.children!.map(text));
  assert.deepEqual(rows[0], ['planted', ...PROBES.map((p) => p.id)]);
  for (const r of rows.slice(1)) {
    const row = m.rows.find((x) => x.name === r[0])!;
    assert.ok(row, r[0]);
    PROBES.forEach((p, i) => assert.equal(r[i + 1] === 'all' ? 'all' : 'none', expectedCell(row, p.id), `${r[0]} × ${p.id}`));
  }
  assert.equal(rows.length - 1, m.rows.length);
});
