/**
 * The confusion matrix of the selftest: rows = what was planted (the reference plants
 * nothing), columns = which probe fired. Each cell is judged against one expectation:
 *  - `cause`: the row's own hypothesis — the probe fails for every format the bug applies to,
 *    as a primary cause (nothing explains it away);
 *  - `consequence`: the bug breaks this probe's measurement too, for every format — and the
 *    failure (or the unjudgeable result) is marked as following from the planted cause
 *    (`explainedBy` = the row's probe), never blamed as a cause of its own;
 *  - `may-follow`: as `consequence`, but only some formats show it (it depends on the grid);
 *  - `none`: the probe stays quiet: no fail, no inconclusive, on any format.
 * docs/selftest.md shows the same table; a test keeps the two in step.
 */
import type { ProbeId } from '../../probes/types.js';
import type { SelftestRow, SelftestRun } from './run.js';

export type Expectation = 'cause' | 'consequence' | 'may-follow' | 'none';

/**
 * What each planted bug does to the other probes' measurements, and so what must be marked as
 * following from it (the causal experiments of probes/causes.ts decide it per result):
 *  - missing-dequant: codes are the wrong round trip (undone by the affine dequantization);
 *  - collapsed-scale: zeros and a coarse grid are the wrong round trip; integer outputs at
 *    scale 1 sit on a coarser integer grid (undone by repairing the scale);
 *  - uint8-zero-point, sign-flip, zero-point-clamp: lost or flipped signs and saturated values
 *    are the wrong round trip; a flipped nf4 or uint value is off its (asymmetric) grid;
 *  - wrong-grid: another format's values are the wrong round trip against the named one;
 *  - non-finite: NaN/Inf outputs leave the other forward probes and the update test nothing
 *    to judge (inconclusive, explained by the round trip's witness).
 */
export const EXPECTED_CONSEQUENCES: Readonly<Record<string, Readonly<Partial<Record<ProbeId, Exclude<Expectation, 'cause' | 'none'>>>>>> = {
  'missing-dequant': { roundtrip: 'consequence' },
  'collapsed-scale': { roundtrip: 'consequence', 'format-applied': 'may-follow', 'lost-updates': 'may-follow' },
  'uint8-zero-point': { roundtrip: 'consequence', 'format-applied': 'may-follow' },
  'sign-flip': { roundtrip: 'consequence', 'format-applied': 'may-follow' },
  'wrong-grid': { roundtrip: 'may-follow', 'scale-collapse': 'may-follow' },
  'zero-point-clamp': { roundtrip: 'consequence' },
  'non-finite': { 'missing-dequant': 'may-follow', 'scale-collapse': 'may-follow', 'format-applied': 'may-follow', 'lost-updates': 'consequence' },
};

export function expectedCell(row: Pick<SelftestRow, 'name' | 'probe'>, probe: ProbeId): Expectation {
  if (row.probe === probe) return 'cause';
  return EXPECTED_CONSEQUENCES[row.name]?.[probe] ?? 'none';
}

export interface MatrixCell {
  row: string;
  probe: ProbeId;
  /** Formats the row was run on. */
  formats: number;
  /** Primary causes: failures nothing explains. */
  failed: string[];
  /** Failing or unjudgeable results marked as following from another failure (format ← probe). */
  explained: { format: string; explainedBy: string }[];
  skipped: number;
  /** Unjudgeable results nothing explains (`format: reason`). */
  inconclusive: string[];
  expected: Expectation;
  ok: boolean;
}

export interface ConfusionMatrix {
  seed: number;
  rows: SelftestRow[];
  probes: ProbeId[];
  cells: MatrixCell[];
  /** Planted bugs caught by their own probe as a primary cause / planted bugs (mutant × applicable format). */
  sensitivity: number;
  /** Verdicts that had to blame nothing and did not / all such verdicts (the reference row included): no primary cause, no unexplained inconclusive. */
  specificity: number;
  /** Expected consequences marked as such / expected consequences (`consequence` cells × formats). */
  consequencesMarked: number;
  ok: boolean;
  mismatches: string[];
  durationMs: number;
}

export function cellOf(m: ConfusionMatrix, row: string, probe: ProbeId): MatrixCell {
  const c = m.cells.find((x) => x.row === row && x.probe === probe);
  if (!c) throw new Error(`no selftest cell ${row} × ${probe}`);
  return c;
}

function judgeCell(expected: Expectation, row: SelftestRow, probe: ProbeId, c: Omit<MatrixCell, 'ok' | 'expected'>): string | undefined {
  const wrongCause = c.explained.filter((e) => e.explainedBy !== row.probe).map((e) => `${e.format} ← ${e.explainedBy}`);
  switch (expected) {
    case 'cause': {
      const missed = row.formats.filter((f) => !c.failed.includes(f));
      return missed.length > 0 ? `expected ${probe} to fail as the primary cause for every format, missed ${missed.join(', ')}` : undefined;
    }
    case 'consequence': {
      const unmarked = row.formats.filter((f) => !c.explained.some((e) => e.format === f));
      if (c.failed.length + c.inconclusive.length > 0) return `expected only consequences of ${row.probe}, got causes ${[...c.failed, ...c.inconclusive].join(', ')}`;
      if (wrongCause.length > 0) return `expected consequences of ${row.probe}, got ${wrongCause.join(', ')}`;
      return unmarked.length > 0 ? `expected a consequence of ${row.probe} for every format, none for ${unmarked.join(', ')}` : undefined;
    }
    case 'may-follow':
      if (c.failed.length + c.inconclusive.length > 0) return `expected no cause (at most consequences of ${row.probe}), got ${[...c.failed, ...c.inconclusive].join(', ')}`;
      return wrongCause.length > 0 ? `expected consequences of ${row.probe}, got ${wrongCause.join(', ')}` : undefined;
    case 'none': {
      const any = [...c.failed, ...c.inconclusive, ...c.explained.map((e) => `${e.format} ← ${e.explainedBy}`)];
      return any.length > 0 ? `expected nothing, got ${any.join(', ')}` : undefined;
    }
  }
}

export function confusionMatrix(run: SelftestRun): ConfusionMatrix {
  const cells: MatrixCell[] = [];
  let planted = 0;
  let caught = 0;
  let quietTotal = 0;
  let quietOk = 0;
  let consequencesExpected = 0;
  let consequencesMarked = 0;
  const mismatches: string[] = [];
  for (const row of run.rows) {
    for (const probe of run.probes) {
      const rs = run.results.filter((r) => r.row === row.name && r.probe === probe);
      const unjudged = (r: (typeof rs)[number]) => r.verdict === 'fail' || r.verdict === 'inconclusive';
      const base = {
        row: row.name,
        probe,
        formats: row.formats.length,
        failed: rs.filter((r) => r.verdict === 'fail' && r.explainedBy === undefined).map((r) => r.format),
        explained: rs.filter((r) => unjudged(r) && r.explainedBy !== undefined).map((r) => ({ format: r.format, explainedBy: r.explainedBy! })),
        skipped: rs.filter((r) => r.verdict === 'skipped').length,
        inconclusive: rs.filter((r) => r.verdict === 'inconclusive' && r.explainedBy === undefined).map((r) => `${r.format}: ${r.reason ?? ''}`),
      };
      const expected = expectedCell(row, probe);
      const mismatch = judgeCell(expected, row, probe, base);
      if (expected === 'cause') {
        planted += row.formats.length;
        caught += base.failed.length;
      } else {
        quietTotal += rs.length;
        quietOk += rs.length - base.failed.length - base.inconclusive.length;
      }
      if (expected === 'consequence') {
        consequencesExpected += row.formats.length;
        consequencesMarked += new Set(base.explained.filter((e) => e.explainedBy === row.probe).map((e) => e.format)).size;
      }
      if (mismatch) mismatches.push(`${row.name} × ${probe}: ${mismatch}`);
      cells.push({ ...base, expected, ok: mismatch === undefined });
    }
  }
  return {
    seed: run.seed,
    rows: run.rows,
    probes: run.probes,
    cells,
    sensitivity: planted === 0 ? 1 : caught / planted,
    specificity: quietTotal === 0 ? 1 : quietOk / quietTotal,
    consequencesMarked: consequencesExpected === 0 ? 1 : consequencesMarked / consequencesExpected,
    ok: mismatches.length === 0,
    mismatches,
    durationMs: run.durationMs,
  };
}
