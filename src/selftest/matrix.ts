/**
 * The confusion matrix of the selftest: rows = what was planted (the reference plants
 * nothing), columns = which probe fired. The expected matrix is the diagonal (each mutant is
 * caught by its own probe, for every format it applies to) plus the few off-diagonal cells
 * where physics makes a second failure real — and nothing else. docs/selftest.md shows the
 * same table; a test keeps the two in step.
 */
import type { ProbeId } from '../../probes/types.js';
import type { SelftestRow, SelftestRun } from './run.js';

/**
 * Off-diagonal cells that must fire too. Each mutant here breaks the forward values, so the
 * round trip against the reference codec is wrong as well:
 *  - missing-dequant returns codes, off by the scale;
 *  - collapsed-scale returns zeros for the weights;
 *  - uint8-zero-point returns zero for every negative value.
 */
export const EXPECTED_OFF_DIAGONAL: Readonly<Record<string, readonly ProbeId[]>> = {
  'missing-dequant': ['roundtrip'],
  'collapsed-scale': ['roundtrip'],
  'uint8-zero-point': ['roundtrip'],
};

/** `all`: fails for every format of the row; `none`: fails for no format (and never errors). */
export type Expectation = 'all' | 'none';

export function expectedCell(row: Pick<SelftestRow, 'name' | 'probe'>, probe: ProbeId): Expectation {
  if (row.probe === probe) return 'all';
  return EXPECTED_OFF_DIAGONAL[row.name]?.includes(probe) ? 'all' : 'none';
}

export interface MatrixCell {
  row: string;
  probe: ProbeId;
  /** Formats the row was run on. */
  formats: number;
  failed: string[];
  skipped: number;
  inconclusive: string[];
  expected: Expectation;
  ok: boolean;
}

export interface ConfusionMatrix {
  seed: number;
  rows: SelftestRow[];
  probes: ProbeId[];
  cells: MatrixCell[];
  /** Planted bugs caught by their own probe / planted bugs (mutant × applicable format). */
  sensitivity: number;
  /** Cells that must stay quiet and did / all such verdicts (reference included). */
  specificity: number;
  ok: boolean;
  mismatches: string[];
  durationMs: number;
}

export function cellOf(m: ConfusionMatrix, row: string, probe: ProbeId): MatrixCell {
  const c = m.cells.find((x) => x.row === row && x.probe === probe);
  if (!c) throw new Error(`no selftest cell ${row} × ${probe}`);
  return c;
}

export function confusionMatrix(run: SelftestRun): ConfusionMatrix {
  const cells: MatrixCell[] = [];
  let planted = 0;
  let caught = 0;
  let quietTotal = 0;
  let quietOk = 0;
  const mismatches: string[] = [];
  for (const row of run.rows) {
    for (const probe of run.probes) {
      const rs = run.results.filter((r) => r.row === row.name && r.probe === probe);
      const failed = rs.filter((r) => r.verdict === 'fail').map((r) => r.format);
      const inconclusive = rs.filter((r) => r.verdict === 'inconclusive').map((r) => `${r.format}: ${r.reason ?? ''}`);
      const expected = expectedCell(row, probe);
      const ok = expected === 'all' ? failed.length === row.formats.length : failed.length === 0 && inconclusive.length === 0;
      if (row.probe === probe) {
        planted += row.formats.length;
        caught += failed.length;
      }
      if (expected === 'none') {
        quietTotal += rs.length;
        quietOk += rs.length - failed.length;
      }
      if (!ok) {
        const missed = row.formats.filter((f) => !failed.includes(f));
        mismatches.push(
          expected === 'all'
            ? `${row.name} × ${probe}: expected a fail for every format, missed ${missed.join(', ')}`
            : `${row.name} × ${probe}: expected no fail, got ${[...failed, ...inconclusive].join(', ')}`,
        );
      }
      cells.push({ row: row.name, probe, formats: row.formats.length, failed, skipped: rs.filter((r) => r.verdict === 'skipped').length, inconclusive, expected, ok });
    }
  }
  return {
    seed: run.seed,
    rows: run.rows,
    probes: run.probes,
    cells,
    sensitivity: planted === 0 ? 1 : caught / planted,
    specificity: quietTotal === 0 ? 1 : quietOk / quietTotal,
    ok: mismatches.length === 0,
    mismatches,
    durationMs: run.durationMs,
  };
}
