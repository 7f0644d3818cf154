/**
 * Lane curves for report.html: bits per byte against step, one panel per optimizer, lanes
 * coloured by status (the fp32 control thick in the ink colour), the uniform baseline
 * log2(V) as a dashed line. The y axis is fitted to the lanes that stay near the baseline
 * (up to 1.25 × log2(V)); a lane that diverges (NaN, ∞, or far above) is drawn at the top edge
 * from where it left the axis and marked with its value there, so one blown-up lane never
 * flattens the others. The lane table under the panels holds every number (the charts' text
 * alternative). Also used for a fleet witness, whose lanes are the fleet's runs.
 */
import { axisStyle, colour, renderChartSvg, type ColourRole } from './html-charts.js';
import { findCause } from './html-model.js';
import type { Lane, ProbeResult, Report } from './types.js';
import { esc, htmlTable, plural } from './html-page.js';
import { fmtBpb, fmtNum, fmtUpdateToStep, uniformBaseline } from './text.js';

/** Lanes that get an end label per panel (the most telling first); the rest are in the table. */
const MAX_LABELLED_LANES = 10;

interface StatusStyle {
  legend: string;
  role: ColourRole;
  width: number;
  dashed: boolean;
  /** Draw order: higher is drawn later (on top). */
  z: number;
  /** Label priority: lower first; Infinity = never labelled. */
  labelRank: number;
}

const STYLES: Record<string, StatusStyle> = {
  control: { legend: 'control', role: 'ink', width: 3, dashed: false, z: 9, labelRank: 0 },
  diverged: { legend: 'diverged', role: 'diverged', width: 2, dashed: true, z: 8, labelRank: 1 },
  dead: { legend: 'dead', role: 'dead', width: 2, dashed: false, z: 7, labelRank: 2 },
  partial: { legend: 'partial', role: 'partial', width: 1.75, dashed: false, z: 6, labelRank: 3 },
  inconclusive: { legend: 'inconclusive', role: 'inconclusive', width: 1.5, dashed: true, z: 5, labelRank: 4 },
  learns: { legend: 'learns', role: 'learns', width: 1.25, dashed: false, z: 4, labelRank: 5 },
  clean: { legend: 'clean', role: 'clean', width: 1, dashed: false, z: 3, labelRank: Infinity },
};

/** The style key of a lane: `control`, its status, or `inconclusive` for a status this renderer does not know. */
function laneStyleKey(lane: Lane): string {
  if (lane.control === true) return 'control';
  return STYLES[lane.status] ? lane.status : 'inconclusive';
}

/** The y range the panel shows and the value above which a point counts as off the chart. */
export function laneAxis(lanes: Lane[], baseline: number): { min: number; max: number } {
  const cap = baseline * 1.25;
  const near = lanes.flatMap((l) => l.curve.map((p) => p.bpb)).filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v <= cap);
  const top = Math.max(baseline + 0.25, ...near);
  const bottom = Math.min(baseline, ...near);
  return { min: Math.max(0, Math.floor((bottom - 0.25) * 2) / 2), max: Math.ceil(top * 2) / 2 };
}

/** A short name for a lane inside its panel: the format, plus what tells it apart from its neighbours. */
export function laneLabel(lane: Lane, panel: Lane[]): string {
  const same = panel.filter((l) => l.format === lane.format && l !== lane);
  if (same.length === 0) return lane.control ? `${lane.format} control` : lane.format;
  const parts = [lane.format];
  if (same.some((l) => l.lr !== lane.lr)) parts.push(`lr ${fmtNum(lane.lr)}`);
  if (same.some((l) => l.seed !== lane.seed)) parts.push(`seed ${lane.seed}`);
  if (same.some((l) => l.hidden !== lane.hidden)) parts.push(`h${lane.hidden}`);
  return parts.length > 1 ? parts.join(' ') : lane.name;
}

function offChartLabel(v: number | null): string {
  if (v === null || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  return `↑ ${Math.abs(v) >= 100 ? fmtNum(v) : fmtBpb(v)}`;
}

function panelChart(optimizer: string, panel: Lane[], baseline: number, idPrefix: string, captionId: string, size = { width: 620, height: 380 }): string {
  const axis = laneAxis(panel, baseline);
  const maxStep = Math.max(1, ...panel.flatMap((l) => l.curve.map((p) => p.step)));
  const labelled = new Set(
    panel
      .filter((l) => STYLES[laneStyleKey(l)]!.labelRank !== Infinity)
      .sort((a, b) => STYLES[laneStyleKey(a)]!.labelRank - STYLES[laneStyleKey(b)]!.labelRank)
      .slice(0, MAX_LABELLED_LANES),
  );
  // A fleet's control need not be fp32 (posit16, gf256…): name it by its format.
  const controlFormats = [...new Set(panel.filter((l) => l.control === true).map((l) => l.format))];
  const legendOf = (key: string): string => (key === 'control' ? `${controlFormats.length === 1 ? `${controlFormats[0]} ` : ''}control` : STYLES[key]!.legend);
  // Lanes that leave the axis at the same step get their value labels stacked, not overprinted.
  const leftAt = new Map<number, number>();
  const drawOrder = [...panel].sort((a, b) => STYLES[laneStyleKey(a)]!.z - STYLES[laneStyleKey(b)]!.z);
  const series: Record<string, unknown>[] = drawOrder.map((lane) => {
    const style = STYLES[laneStyleKey(lane)]!;
    const c = colour(style.role);
    const off: { coord: [number, number]; value: string; label: { offset: [number, number] } }[] = [];
    const data = lane.curve.map((p) => {
      const v = p.bpb;
      const outside = v === null || !Number.isFinite(v) || v > axis.max;
      if (outside && off.length === 0) {
        const stacked = leftAt.get(p.step) ?? 0;
        leftAt.set(p.step, stacked + 1);
        off.push({ coord: [p.step, axis.max], value: offChartLabel(v), label: { offset: [0, 13 * stacked] } });
      }
      return [p.step, outside ? axis.max : Math.max(axis.min, v)];
    });
    const label = laneLabel(lane, panel);
    return {
      type: 'line',
      name: legendOf(laneStyleKey(lane)),
      data,
      z: style.z,
      color: c,
      showSymbol: data.length <= 2,
      symbolSize: 5,
      itemStyle: { color: c },
      lineStyle: { color: c, width: style.width, type: style.dashed ? 'dashed' : 'solid' },
      emphasis: { disabled: true },
      ...(labelled.has(lane) ? { endLabel: { show: true, formatter: () => label, color: c, fontSize: 11, distance: 4 }, labelLayout: { moveOverlap: 'shiftY' } } : {}),
      ...(off.length > 0
        ? {
            markPoint: {
              symbol: 'triangle',
              symbolSize: 11,
              symbolOffset: [0, 2],
              itemStyle: { color: c },
              label: { show: true, position: 'right', distance: 4, color: c, fontSize: 11, formatter: (p: { value: string }) => p.value },
              data: off,
            },
          }
        : {}),
    };
  });
  const baselineName = `uniform baseline ${fmtBpb(baseline)}`;
  series.unshift({
    type: 'line',
    name: baselineName,
    data: [[0, baseline], [maxStep, baseline]],
    showSymbol: false,
    color: colour('muted'),
    lineStyle: { color: colour('muted'), width: 1.5, type: [6, 4] },
    emphasis: { disabled: true },
    z: 2,
  });
  const present = Object.keys(STYLES).filter((key) => panel.some((l) => laneStyleKey(l) === key)).map(legendOf);
  return renderChartSvg(
    {
      ...size,
      option: {
        title: { text: optimizer, left: 8, top: 4, textStyle: { color: colour('ink'), fontSize: 15, fontWeight: 600 } },
        legend: { data: [...present, baselineName], top: 6, right: 8, left: 110, itemWidth: 18, itemHeight: 8, itemGap: 14, textStyle: { color: colour('ink'), fontSize: 11.5 }, inactiveColor: colour('grid') },
        grid: { left: 52, right: 104, top: 64, bottom: 46 },
        xAxis: axisStyle('step', { type: 'value', min: 0, max: maxStep, nameGap: 26, splitLine: { show: false } }),
        yAxis: axisStyle('bits per byte', { type: 'value', min: axis.min, max: axis.max, nameGap: 34, interval: axis.max - axis.min > 4 ? 1 : 0.5 }),
        series,
      },
    },
    idPrefix,
    captionId,
  );
}

function statusBadge(lane: Lane): string {
  return `<span class="v s-${esc(laneStyleKey(lane) === 'control' ? lane.status : laneStyleKey(lane))}">${esc(lane.status)}</span>`;
}

/**
 * The lanes a learnability result judged: its lane (same format and optimizer; the one its
 * witness names when several match) and that optimizer's fp32 control.
 */
export function lanesOfResult(report: Report, r: ProbeResult): Lane[] {
  if (r.optimizer === undefined) return [];
  const candidates = report.lanes.filter((l) => l.control !== true && l.format === r.format && l.optimizer === r.optimizer && l.curve.length > 0);
  const lane = candidates.find((l) => r.witness?.summary.includes(l.name)) ?? candidates.find((l) => r.seed === undefined || l.seed === r.seed);
  if (!lane) return [];
  const control = report.lanes.find((l) => l.control === true && l.optimizer === r.optimizer && l.curve.length > 0);
  return control ? [control, lane] : [lane];
}

/** A small lane chart for a witness card: the judged lane against its control and the baseline. */
export function laneWitnessChart(report: Report, lanes: Lane[], idPrefix: string, captionId: string): { svg: string; caption: string } {
  const baseline = uniformBaseline(report as never);
  const lane = lanes[lanes.length - 1]!;
  const svg = panelChart(lane.optimizer, lanes, baseline, idPrefix, captionId, { width: 560, height: 300 });
  const control = lanes.length > 1 ? lanes[0]! : undefined;
  const caption =
    `${lane.name}: best ${fmtBpb(lane.bestBpb)} bits per byte after ${lane.stepsRun ?? lane.steps} steps` +
    (control ? `; its control ${control.name} reached ${fmtBpb(control.bestBpb)}` : '') +
    `; uniform baseline ${fmtBpb(baseline)}.`;
  return { svg, caption };
}

function explainedCell(lane: Lane, report: Report, anchors: Map<ProbeResult, string>): string {
  if (lane.explainedBy === undefined) return '';
  if (lane.explainedBy.length === 0) return '<span class="follows">no probe explains it</span>';
  return lane.explainedBy
    .map((probe) => {
      const cause = findCause(report.results, { format: lane.format }, probe);
      const label = esc(cause ? `${cause.hypothesis} · ${probe}` : probe);
      return cause ? `<a href="#${anchors.get(cause)}">${label}</a>` : label;
    })
    .join(', ');
}

export function lanesSection(report: Report, anchors: Map<ProbeResult, string>, nextId: () => string): string {
  const lanes = report.lanes;
  if (lanes.length === 0) return '';
  const baseline = uniformBaseline(report as never);
  const withCurves = lanes.filter((l) => l.curve.length > 0);
  const optimizers = [...new Set(withCurves.map((l) => l.optimizer))];
  const figures = optimizers.map((optimizer) => {
    const panel = withCurves.filter((l) => l.optimizer === optimizer);
    const id = nextId();
    const captionId = `${id}-caption`;
    const svg = panelChart(optimizer, panel, baseline, id, captionId);
    const axis = laneAxis(panel, baseline);
    const off = panel.filter((l) => l.curve.some((p) => p.bpb === null || !Number.isFinite(p.bpb) || p.bpb > axis.max));
    const counts = Object.entries(STYLES)
      .map(([key, s]) => [key === 'control' ? 'control' : s.legend, panel.filter((l) => laneStyleKey(l) === key).length] as const)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${n} ${name}`);
    const caption =
      `Validation bits per byte against step, ${optimizer}: ${plural(panel.length, 'lane')} (${counts.join(', ')}). ` +
      `Dashed grey line: the uniform baseline log2(V) = ${fmtBpb(baseline)} — a lane there learned nothing.` +
      (off.length > 0 ? ` ${plural(off.length, 'lane')} left the axis (▲ at the top edge, with the value there): ${off.map((l) => l.name).join(', ')}.` : '') +
      (panel.filter((l) => laneStyleKey(l) !== 'clean').length > MAX_LABELLED_LANES ? ` Only the ${MAX_LABELLED_LANES} most telling lanes are labelled; the table has all.` : '');
    return `<figure class="chart lanes-chart" data-optimizer="${esc(optimizer)}">${svg}<figcaption id="${captionId}">${esc(caption)}</figcaption></figure>`;
  });
  const withExplain = lanes.some((l) => l.explainedBy !== undefined);
  const withRatio = lanes.some((l) => l.updateToStep !== undefined);
  const rows = lanes.map((l) => [
    `<code>${esc(l.name)}</code>${l.control ? ' <span class="v s-control">control</span>' : ''}`,
    `<code>${esc(l.format)}</code>`,
    esc(l.optimizer),
    statusBadge(l),
    esc(fmtBpb(l.bestBpb)),
    esc(fmtBpb(l.bpb)),
    esc(String(l.stepsRun ?? l.steps)),
    ...(withRatio ? [esc(fmtUpdateToStep(l))] : []),
    ...(withExplain ? [explainedCell(l, report, anchors)] : []),
    esc(l.targetError ? `target error: ${l.targetError}` : l.note ?? ''),
  ]);
  rows.push(['uniform baseline log2(V)', '', '', '', esc(fmtBpb(baseline)), '', '', ...(withRatio ? [''] : []), ...(withExplain ? [''] : []), '']);
  const table = htmlTable(
    ['Lane', 'Format', 'Optimizer', 'Status', 'Best bpb', 'Final bpb', 'Steps', ...(withRatio ? ['Update/step'] : []), ...(withExplain ? ['Explained by'] : []), 'Note'],
    rows,
    { numeric: withRatio ? [4, 5, 6, 7] : [4, 5, 6], caption: 'Every lane and its numbers (the charts above draw these curves).', className: 'lanes' },
  );
  const legend = Object.values(report.legend);
  return [
    '<section id="lanes">',
    `<h2>${report.kind === 'witness' ? 'Fleet lanes' : 'Lanes'}</h2>`,
    `<p>Bits per byte on the validation split, one panel per optimizer. The uniform baseline is <strong>${esc(fmtBpb(baseline))}</strong> bits: a lane that stays there learned nothing.</p>`,
    figures.length ? `<div class="charts">${figures.join('\n')}</div>` : '<p class="sub">No lane has a curve to draw.</p>',
    `<div class="scroll">${table}</div>`,
    legend.length ? `<details><summary>Status legend</summary><ul>${legend.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></details>` : '',
    '</section>',
  ].filter((s) => s !== '').join('\n');
}
