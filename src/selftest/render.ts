/**
 * The selftest confusion matrix as a terminal table (planted × detected, with sensitivity
 * and specificity).
 */
import Table from 'cli-table3';
import { cellOf, type ConfusionMatrix } from './matrix.js';
import { PROBES } from '../../probes/index.js';

export function percent(v: number): string {
  return `${(100 * v).toFixed(1)} %`;
}

export function renderMatrix(m: ConfusionMatrix): string {
  const head = ['planted ↓ / detected →', ...m.probes.map((p) => `${p}\n(${PROBES.find((q) => q.id === p)?.hypothesis ?? ''})`)];
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of m.rows) {
    const label = row.name === 'reference' ? 'reference (nothing)' : `${row.name} (${row.planted})`;
    table.push([
      `${label}\n${row.formats.length} formats`,
      ...m.probes.map((p) => {
        const c = cellOf(m, row.name, p);
        const mark = c.ok ? (c.expected === 'cause' ? '✓' : '') : `✗ expected ${c.expected}`;
        const follows = c.explained.length > 0 ? ` ← ${c.explained.length} follow` : '';
        const extra = c.inconclusive.length > 0 ? ` (${c.inconclusive.length} inconcl.)` : c.skipped === c.formats && c.formats > 0 ? ' skip' : '';
        return `${c.failed.length}/${c.formats}${follows}${extra} ${mark}`.trim();
      }),
    ]);
  }
  const lines = [
    table.toString(),
    'cells: primary causes/formats; "← N follow": N failures marked as consequences of the planted bug (not blamed)',
    `sensitivity ${percent(m.sensitivity)} (planted bugs caught by their own probe as the cause) · specificity ${percent(m.specificity)} (verdicts that had to blame nothing and did not) · consequences marked ${percent(m.consequencesMarked)} · seed ${m.seed} · ${(m.durationMs / 1000).toFixed(1)} s`,
  ];
  if (m.ok) lines.push('selftest: the matrix is as expected (docs/selftest.md).');
  else lines.push('selftest: the matrix differs from the expected one:', ...m.mismatches.map((s) => `  - ${s}`));
  return lines.join('\n');
}
