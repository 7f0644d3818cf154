/**
 * Witness cards for report.html: one card per failing result — the statistic against its
 * threshold, the picture that proves it, the telling samples, the command that reproduces it
 * and the evidence. The picture comes from `witness.plot` (x against fq(x) for target and
 * reference, gradient against the STE's expected gradient, weight trajectories…), drawn
 * generically from its series whatever the kind; a report without plots (older reports) gets a
 * scatter of the witness samples instead. A card whose failure follows from another one (its
 * `explainedBy`) says so and links to the cause.
 */
import { axisStyle, CATEGORICAL, colour, renderChartSvg, type ColourRole } from './html-charts.js';
import { laneWitnessChart, lanesOfResult } from './html-lanes.js';
import { findCause } from './html-model.js';
import { commandBlock, details, esc, htmlTable, plural } from './html-page.js';
import { fmtNum, fmtRule, fmtValue, resultCoordinates } from './text.js';
import type { EvidenceTable, ProbeResult, Report, WitnessPlot } from './types.js';

/** A witness plot, or the one this view draws from the witness samples when the report has none. */
type DrawnPlot = Omit<WitnessPlot, 'kind'> & { kind: WitnessPlot['kind'] | 'samples' };

/** Cards beyond this many are drawn without a chart (their samples table stays), to keep the page small. */
const MAX_WITNESS_CHARTS = 60;

/** Series that show what a correct quantizer does: drawn dashed in the ink colour, under the target's. */
const REFERENCE_NAME = /\b(reference|expected|ste|fp32|master|ideal|float)\b/i;

const PLOT_TITLE: Record<string, string> = {
  transfer: 'x → fq(x): what the quantizer returns for each input',
  gradient: 'gradient through the quantizer vs the STE’s expected gradient',
  updates: 'weights over the update steps',
  'scale-sweep': 'statistic across scales',
};

function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Pairs sorted by x when x is not already ascending (a transfer curve must read left to right). */
function orderByX(plot: DrawnPlot): number[] {
  const idx = plot.x.map((_, i) => i);
  const ascending = plot.x.every((v, i) => i === 0 || v >= plot.x[i - 1]!);
  return ascending ? idx : idx.sort((a, b) => plot.x[a]! - plot.x[b]! || a - b);
}

export interface PlotFigure {
  svg: string;
  caption: string;
}

function plotFigure(plot: DrawnPlot, idPrefix: string, captionId: string): PlotFigure {
  const order = orderByX(plot).filter((i) => Number.isFinite(plot.x[i]!));
  const few = order.length <= 40;
  let targetIndex = 0;
  let dropped = 0;
  const series = plot.series.map((s) => {
    const reference = REFERENCE_NAME.test(s.name);
    const role: ColourRole = reference ? 'ink' : targetIndex === 0 ? 'dead' : CATEGORICAL[(targetIndex - 1) % CATEGORICAL.length]!;
    if (!reference) targetIndex++;
    const data = order.map((i) => {
      const y = finiteOrNull(s.y[i]);
      if (y === null) dropped++;
      return [plot.x[i]!, y];
    });
    const c = colour(role);
    return {
      // Witness samples are a few scattered inputs, not a curve: points, not lines.
      type: plot.kind === 'samples' ? 'scatter' : 'line',
      name: s.name,
      data,
      connectNulls: false,
      showSymbol: few,
      symbolSize: reference ? 4 : 6,
      z: reference ? 2 : 3,
      color: c,
      itemStyle: { color: c },
      lineStyle: { color: c, width: reference ? 1.5 : 2, type: reference ? 'dashed' : 'solid', opacity: reference ? 0.85 : 1 },
      emphasis: { disabled: true },
    };
  });
  const svg = renderChartSvg(
    {
      width: 560,
      height: 300,
      option: {
        legend: { top: 4, left: 56, right: 8, itemWidth: 18, itemHeight: 8, itemGap: 14, textStyle: { color: colour('ink'), fontSize: 11.5 } },
        grid: { left: 64, right: 16, top: 36, bottom: 46 },
        xAxis: axisStyle(plot.xLabel, { type: 'value', scale: true, nameGap: 26, splitLine: { show: false } }),
        yAxis: axisStyle(plot.yLabel, { type: 'value', scale: true, nameGap: 46 }),
        series,
      },
    },
    idPrefix,
    captionId,
  );
  const title = PLOT_TITLE[plot.kind] ?? `${plot.yLabel} against ${plot.xLabel}`;
  const caption =
    `${title}: ${plot.series.map((s) => s.name).join(', ')} at ${plural(order.length, 'point')}.` +
    (dropped > 0 ? ` ${plural(dropped, 'non-finite value')} not drawn (gaps in the line).` : '');
  return { svg, caption };
}

/** A plot from the witness samples when the report has no `witness.plot`: target and reference at the telling inputs. */
function samplesPlot(r: ProbeResult): DrawnPlot | undefined {
  const samples = r.witness?.samples ?? [];
  if (samples.length < 2) return undefined;
  const withExpected = samples.some((s) => s.expected !== undefined);
  return {
    kind: 'samples',
    xLabel: 'x (input)',
    yLabel: 'output',
    x: samples.map((s) => s.x),
    series: [
      { name: 'target', y: samples.map((s) => s.y) },
      ...(withExpected ? [{ name: 'reference', y: samples.map((s) => s.expected ?? null) }] : []),
    ],
  };
}

function evidenceTable(t: EvidenceTable): string {
  const numeric = t.headings.map((_, i) => i).filter((i) => t.rows.every((row) => typeof row[i] === 'number' || row[i] === null));
  const rows = t.rows.map((row) => t.headings.map((_, i) => {
    const v = row[i];
    return esc(typeof v === 'number' ? fmtNum(v) : v === null || v === undefined ? 'n/a' : v);
  }));
  return `<div class="scroll">${htmlTable(t.headings.map(esc), rows, { numeric, ...(t.title ? { caption: esc(t.title) } : {}) })}</div>`;
}

export function evidenceDetails(r: ProbeResult): string {
  const m = Object.entries(r.evidence.measurements);
  const parts: string[] = [];
  if (m.length > 0) parts.push(htmlTable(['Measurement', 'Value'], m.map(([k, v]) => [`<code>${esc(k)}</code>`, esc(typeof v === 'number' ? fmtNum(v) : v === null ? 'n/a' : String(v))]), { numeric: [1] }));
  for (const t of r.evidence.tables ?? []) parts.push(evidenceTable(t));
  if (r.evidence.notes?.length) parts.push(`<ul>${r.evidence.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  if (parts.length === 0) return '';
  const what = [m.length ? plural(m.length, 'measurement') : '', r.evidence.tables?.length ? plural(r.evidence.tables.length, 'table') : '', r.evidence.notes?.length ? plural(r.evidence.notes.length, 'note') : ''].filter(Boolean).join(', ');
  return details(`Evidence: ${esc(what)}`, parts.join('\n'));
}

function samplesTable(r: ProbeResult): string {
  const samples = r.witness?.samples ?? [];
  if (samples.length === 0) return '';
  const withExpected = samples.some((s) => s.expected !== undefined);
  const withNote = samples.some((s) => s.note !== undefined);
  const headings = ['x', 'target', ...(withExpected ? ['reference'] : []), ...(withNote ? ['note'] : [])];
  const rows = samples.map((s) => [esc(fmtNum(s.x)), esc(fmtNum(s.y)), ...(withExpected ? [esc(s.expected === undefined ? '' : fmtNum(s.expected))] : []), ...(withNote ? [esc(s.note ?? '')] : [])]);
  return htmlTable(headings, rows, { numeric: [0, 1, ...(withExpected ? [2] : [])], caption: 'Telling values: input, what the target returned, what the reference returns' });
}

export interface CardContext {
  report: Report;
  anchors: Map<ProbeResult, string>;
  nextId: () => string;
  /** Whether the report carries causal links at all (then an unlinked failure is labelled a primary cause). */
  causal: boolean;
  charts: { drawn: number };
}

function causeTag(r: ProbeResult, ctx: CardContext): string {
  if (r.explainedBy === undefined && r.explainedBySite === undefined) return ctx.causal ? '<span class="tag primary">primary cause</span>' : '';
  const cause = findCause(ctx.report.results, r, r.explainedBy, r.explainedBySite);
  const what = cause ? `${cause.hypothesis !== cause.probe ? `${cause.hypothesis} · ` : ''}${cause.probe}` : r.explainedBy ?? 'a failure';
  const label = `${what}${r.explainedBySite !== undefined ? ` at ${r.explainedBySite}` : ''}`;
  return `<span class="tag secondary">follows from ${cause && cause !== r ? `<a href="#${ctx.anchors.get(cause)}">${esc(label)}</a>` : esc(label)}</span>`;
}

export function witnessCard(r: ProbeResult, ctx: CardContext): string {
  const id = ctx.anchors.get(r)!;
  const w = r.witness;
  const judgedLanes = w?.plot ? [] : lanesOfResult(ctx.report, r);
  const plot = w?.plot ?? (judgedLanes.length > 0 ? undefined : samplesPlot(r));
  let figure = '';
  if (judgedLanes.length > 0) {
    const chartId = ctx.nextId();
    const { svg, caption } = laneWitnessChart(ctx.report, judgedLanes, chartId, `${chartId}-caption`);
    figure = `<figure class="chart witness-chart" data-kind="lane">${svg}<figcaption id="${chartId}-caption">${esc(caption)}</figcaption></figure>`;
  } else if (plot && plot.x.length > 0 && plot.series.length > 0) {
    if (ctx.charts.drawn < MAX_WITNESS_CHARTS) {
      ctx.charts.drawn++;
      const chartId = ctx.nextId();
      const { svg, caption } = plotFigure(plot, chartId, `${chartId}-caption`);
      const source = w?.plot ? '' : ' (from the witness samples; this report has no witness plot)';
      figure = `<figure class="chart witness-chart" data-kind="${esc(plot.kind)}">${svg}<figcaption id="${chartId}-caption">${esc(caption + source)}</figcaption></figure>`;
    } else {
      figure = `<p class="sub">Chart left out: the first ${MAX_WITNESS_CHARTS} witnesses have one (keeps the page small); the samples below show the same failure.</p>`;
    }
  }
  const gate = r.gated === false ? '<span class="tag secondary">below the gate</span>' : '';
  const rule = fmtRule(r.statistic);
  return [
    `<article class="card${r.explainedBy !== undefined || r.explainedBySite !== undefined ? ' consequence' : ''}" id="${id}">`,
    `<h3>✗ ${esc(r.hypothesis !== r.probe ? `${r.hypothesis} · ${r.probe}` : r.probe)} <span class="sub">— ${esc(resultCoordinates(r as never))}</span>${causeTag(r, ctx)}${gate}</h3>`,
    w ? `<p>${esc(w.summary)}</p>` : '',
    r.explanation ? `<p class="sub">${esc(r.explanation)}</p>` : '',
    `<div class="stat"><span>${esc(r.statistic.name)}</span><span class="value">${esc(fmtValue(r.statistic))}</span><span class="rule">${rule ? `fails when ${esc(rule)}` : 'no threshold'}</span></div>`,
    figure,
    samplesTable(r),
    w ? `<div>Reproduce:</div>${commandBlock(w.repro)}` : '',
    evidenceDetails(r),
    '</article>',
  ].filter((s) => s !== '').join('\n');
}
