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

/** The words of docs/selftest.md's expected matrix. */
const DOC_WORDS: Record<string, string> = { cause: 'cause', '← follows': 'consequence', '(← follows)': 'may-follow', '—': 'none' };

before(async () => {
  await initTf('cpu');
  m = confusionMatrix(await runSelftest({ registry: defaultRegistry, seed: 1 }));
});

test('the matrix is the expected one: sensitivity and specificity 100 %, every expected consequence marked', () => {
  assert.deepEqual(m.mismatches, []);
  assert.equal(m.ok, true);
  assert.equal(m.sensitivity, 1);
  assert.equal(m.specificity, 1);
  assert.equal(m.consequencesMarked, 1);
});

test('matrix cells: each mutant caught by its own probe, as the primary cause, for every format it applies to', () => {
  const diag: [string, ProbeId, number][] = [
    ['missing-dequant', 'missing-dequant', 20],
    ['collapsed-scale', 'scale-collapse', 7],
    ['round-no-ste', 'broken-ste', 30],
    ['vanishing-ste', 'broken-ste', 30],
    ['in-place', 'lost-updates', 22],
    ['fp32-fallback', 'format-applied', 27],
    ['uint8-zero-point', 'scale-collapse', 6],
    ['sign-flip', 'scale-collapse', 30],
    ['wrong-grid', 'format-applied', 8],
    ['zero-point-clamp', 'scale-collapse', 2],
    ['non-finite', 'roundtrip', 18],
  ];
  for (const [row, probe, n] of diag) {
    const c = cellOf(m, row, probe);
    assert.equal(c.formats, n, `${row} formats`);
    assert.equal(c.failed.length, n, `${row} × ${probe}`);
  }
  assert.deepEqual(cellOf(m, 'uint8-zero-point', 'scale-collapse').failed, ['int2', 'int3', 'int4', 'int8', 'uint4', 'uint8']);
  assert.deepEqual(cellOf(m, 'collapsed-scale', 'scale-collapse').failed, ['int2', 'int3', 'int4', 'int8', 'uint4', 'uint8', 'nf4']);
  assert.deepEqual(cellOf(m, 'zero-point-clamp', 'scale-collapse').failed, ['uint4', 'uint8']);
});

test('matrix cells: symptoms of a planted bug are marked as its consequences, never blamed as causes', () => {
  // the round trip of every forward-breaking mutant follows from its planted cause
  for (const [row, n] of [['missing-dequant', 20], ['collapsed-scale', 7], ['uint8-zero-point', 6], ['sign-flip', 30], ['zero-point-clamp', 2]] as const) {
    const c = cellOf(m, row, 'roundtrip');
    assert.deepEqual([c.failed, c.inconclusive], [[], []], row);
    assert.equal(c.explained.length, n, row);
    assert.ok(c.explained.every((e) => e.explainedBy === m.rows.find((r) => r.name === row)!.probe), row);
  }
  // NaN/Inf outputs leave the update test nothing to observe: inconclusive, explained by the round trip, not H4
  const lost = cellOf(m, 'non-finite', 'lost-updates');
  assert.deepEqual([lost.failed, lost.inconclusive, lost.explained.length], [[], [], 18]);
  assert.ok(lost.explained.every((e) => e.explainedBy === 'roundtrip'));
  for (const c of m.cells.filter((x) => x.expected === 'none')) {
    assert.deepEqual([c.row, c.probe, c.failed, c.inconclusive, c.explained], [c.row, c.probe, [], [], []]);
  }
  assert.equal(cellOf(m, 'reference', 'roundtrip').formats, defaultRegistry.names().length);
  // without an update step lost-updates is skipped, never passed
  assert.equal(cellOf(m, 'round-no-ste', 'lost-updates').skipped, 30);
});

test('the rendered matrix shows every row, the counts and the two rates', () => {
  const text = renderMatrix(m);
  assert.match(text, /missing-dequant \(H1\)/);
  assert.match(text, /20\/20 ✓/);
  assert.match(text, /0\/20 ← 20 follow/);
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
    PROBES.forEach((p, i) => assert.equal(DOC_WORDS[r[i + 1]!], expectedCell(row, p.id), `${r[0]} × ${p.id}: '${r[i + 1]}'`));
  }
  assert.equal(rows.length - 1, m.rows.length);
});
