/**
 * Terminal view: cli-table3 tables, coloured with chalk when `color` is on (the caller
 * decides: src/color.ts honours NO_COLOR, FORCE_COLOR and non-TTY output). `compact` is for
 * CI logs: ASCII borders, no row separators, words instead of emoji, no evidence. Reads
 * only the Report. `width` wraps the hypothesis matrix to the terminal.
 */
import { Chalk } from 'chalk';
import Table from 'cli-table3';
import { FLOAT_MODEL_PROBE, fmtBpb, fmtLaneBpb, fmtNum, fmtStatistic, fmtUpdateToStep, fmtValue, hypothesisLabel, hypothesisOf, isCause, judgedLanes, judgedOnly, notLearning, probeColumns, resultCoordinates, siteColumnLabel, uniformBaseline, VERDICT_WORD, worstResult } from './text.js';
import { diagnosisLine, foldDownstream } from '../verdict/diagnosis.js';
import { LANE_STATUS_ICON } from '../verdict/lanes.js';
import type { LaneStatus, ProbeResult, Report, Verdict } from './types.js';

export interface TerminalOptions {
  color: boolean;
  width?: number;
  compact?: boolean;
}

const ASCII = {
  top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+',
  bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+',
  left: '|', 'left-mid': '+', mid: '-', 'mid-mid': '+', right: '|', 'right-mid': '+', middle: '|',
};

export function renderTerminal(report: Report, opts: TerminalOptions): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const compact = opts.compact === true;
  const newTable = (head: string[], colWidths?: number[]): Table.Table =>
    new Table({
      head: head.map((h) => c.bold(h)),
      style: { head: [], border: [], compact: true },
      ...(compact ? { chars: ASCII } : {}),
      ...(colWidths ? { colWidths, wordWrap: true } : {}),
    });
  const verdictCell = (v: Verdict, text: string): string => {
    const paint = v === 'fail' ? c.red.bold : v === 'pass' ? c.green : v === 'inconclusive' ? c.yellow : c.gray;
    return paint(text);
  };
  const laneCell = (s: LaneStatus): string => {
    const paint = s === 'dead' || s === 'diverged' ? c.red.bold : s === 'partial' ? c.red : s === 'learns' ? c.yellow : s === 'clean' ? c.green : c.gray;
    return paint(compact ? s.toUpperCase() : `${LANE_STATUS_ICON[s]} ${s}`);
  };

  const out: string[] = [];
  const v = report.verdict;
  const head = v.exitCode === 1 ? c.red.bold : v.exitCode === 3 ? c.yellow.bold : c.green.bold;
  out.push(`${c.bold(`quant-audit — ${report.run.target}`)} ${c.gray(`(${report.run.id || 'unsaved run'})`)}`);
  out.push(head(v.summary));
  const hyp = (probe: string): string => hypothesisOf(probe, report.results);
  for (const { entry: d, downstream } of foldDownstream(report.diagnosis ?? [])) out.push(`  ${d.causes.length > 0 ? c.red('●') : c.yellow('●')} ${diagnosisLine(d, hyp, downstream)}`);
  for (const a of report.asymmetries ?? []) out.push(`${c.bold('asymmetry')}: ${a.summary}${a.explainedBy.length ? ` [${a.explainedBy.join(', ')}]` : ''}`);

  if (report.lanes.length > 0) {
    const baseline = uniformBaseline(report);
    const t = newTable(['lane', 'format', 'optimizer', 'best bpb', 'final', 'status', 'upd/step']);
    for (const l of report.lanes) {
      const why = l.explainedBy && l.explainedBy.length > 0 ? c.gray(` ← ${l.explainedBy.map(hyp).join(', ')}`) : '';
      t.push([l.name + (l.control ? c.gray(' (control)') : ''), l.format, l.optimizer, fmtLaneBpb(l, 'best'), fmtLaneBpb(l, 'final'), laneCell(l.status) + why, fmtUpdateToStep(l)]);
    }
    out.push('', c.bold(`Lanes (bits per byte; uniform baseline ${fmtBpb(baseline)})`), t.toString());
    const dead = notLearning(report.lanes).length;
    if (dead > 0) out.push(c.red(`${dead} of ${judgedLanes(report.lanes).length} lanes dead`));
  }

  const matrix = (all: ProbeResult[], rowKey: (r: ProbeResult) => string, rowHead: string): void => {
    const results = judgedOnly(all, rowKey);
    if (results.length === 0) return;
    const columns = probeColumns(report, results);
    const rows = [...new Set(results.map(rowKey))];
    const widths = opts.width ? columnWidths(opts.width, columns.length + 1) : undefined;
    const t = newTable([rowHead, ...columns.map((p) => (rowHead === 'site' ? siteColumnLabel(p, results) : hypothesisLabel(p, results)))], widths);
    for (const row of rows) {
      t.push([
        row,
        ...columns.map((p) => {
          const worst = worstResult(results.filter((r) => rowKey(r) === row && r.probe === p));
          if (!worst) return '';
          const follows = worst.explainedBy !== undefined && (worst.verdict === 'fail' || worst.verdict === 'inconclusive');
          const word = (worst.verdict === 'fail' ? 'FAIL' : worst.verdict === 'pass' ? 'pass' : worst.verdict === 'skipped' ? 'skip' : 'inconcl.') + (follows ? ` ← ${hyp(worst.explainedBy!)}` : '');
          const cell = worst.verdict === 'skipped' || worst.statistic.value === null ? word : `${word} ${fmtValue(worst.statistic)}`;
          return follows ? c.yellow(cell) : verdictCell(worst.verdict, cell);
        }),
      ]);
    }
    out.push('', c.bold(rowHead === 'format' ? 'Hypothesis matrix (fail = hypothesis supported)' : 'Quantization sites'), t.toString());
  };
  matrix(report.results.filter((r) => r.site === undefined), (r) => r.format, 'format');
  matrix(report.results.filter((r) => r.site !== undefined), (r) => `${r.site} (${r.format})`, 'site');

  // --float-model (ONNX): the per-weight and per-output SQNR tables and the worst weight are the answer asked for, pass or fail.
  for (const r of report.results.filter((x) => x.probe === FLOAT_MODEL_PROBE && (x.evidence.tables?.length ?? 0) >= 2)) {
    out.push('', c.bold(`Against the float model ${String(r.evidence.measurements.floatModel ?? '')}`));
    for (const t of r.evidence.tables!.slice(0, 2)) {
      const tt = newTable(t.headings);
      for (const row of t.rows) tt.push(t.headings.map((_, i) => (typeof row[i] === 'number' ? fmtNum(row[i] as number) : row[i] === null || row[i] === undefined ? 'n/a' : String(row[i]))));
      out.push(t.title ?? '', tt.toString());
    }
    for (const n of r.evidence.notes ?? []) out.push(n);
  }

  const failed = report.results.filter(isCause);
  if (failed.length > 0) {
    out.push('', c.bold(`Witnesses (${failed.length})`));
    for (const r of failed) {
      out.push(`${c.red('✗')} ${c.bold(r.hypothesis === r.probe ? r.probe : `${r.hypothesis} ${r.probe}`)} ${resultCoordinates(r)}: ${fmtStatistic(r.statistic)}`);
      if (r.witness) {
        out.push(`    ${r.witness.summary}`);
        const labels = r.witness.sampleLabels;
        if (!compact) {
          for (const s of (r.witness.samples ?? []).slice(0, 4)) {
            const line = labels
              ? `${labels.x} ${fmtNum(s.x)} · ${labels.y} ${fmtNum(s.y)}${s.expected !== undefined ? ` · ${labels.expected ?? 'reference'} ${fmtNum(s.expected)}` : ''}`
              : `x=${fmtNum(s.x)} → ${fmtNum(s.y)}${s.expected !== undefined ? ` (reference ${fmtNum(s.expected)})` : ''}`;
            out.push(c.gray(`    ${line}${s.note ? `  ${s.note}` : ''}`));
          }
        }
        out.push(c.gray(`    repro: ${r.witness.repro}`));
      }
    }
  }
  const follows = report.results.filter((r) => (r.verdict === 'fail' || r.verdict === 'inconclusive') && r.explainedBy !== undefined);
  if (follows.length > 0) {
    out.push('', c.bold(`Consequences (${follows.length}; not counted by the gate)`));
    for (const r of follows) out.push(c.gray(`↳ ${r.hypothesis === r.probe ? r.probe : `${r.hypothesis} ${r.probe}`} ${resultCoordinates(r)} follows from ${hyp(r.explainedBy!)}${r.explainedBySite ? ` at ${r.explainedBySite}` : ''}${compact ? '' : `: ${r.explanation ?? ''}`}`));
  }
  const notJudged = report.results.filter((r) => r.verdict === 'inconclusive' && r.explainedBy === undefined);
  if (notJudged.length > 0) {
    out.push('', c.bold(`Inconclusive (${notJudged.length})`));
    for (const r of notJudged) out.push(`${c.yellow('?')} ${r.probe} ${resultCoordinates(r)}: ${r.reason ?? VERDICT_WORD[r.verdict]}`);
  }
  out.push('', c.gray(`exit ${v.exitCode} (--fail-on ${report.run.failOn})`));
  return `${out.join('\n')}\n`;
}

function columnWidths(width: number, columns: number): number[] {
  const usable = Math.max(columns * 8, width - (columns + 1));
  return Array.from({ length: columns }, () => Math.max(8, Math.floor(usable / columns)));
}
