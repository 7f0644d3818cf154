/**
 * Charts for report.html: Apache ECharts rendered to an SVG string in Node (server-side
 * rendering, no browser, no canvas), inlined into the page. Three things make the output fit
 * a static, deterministic, two-scheme page:
 * - ECharts names its CSS classes and clip paths from process-wide counters (`zr3-cls-12`,
 *   `zr3-c0`), so the same chart would differ between renders: hover styles and classes are
 *   dropped (a static page has no hover) and ids are renumbered per chart from a prefix the
 *   page assigns in document order.
 * - Colours are baked into SVG attributes. Every colour a chart uses comes from PALETTE, whose
 *   light values double as keys: the page's CSS maps `[fill="#cf222e"]` to a custom property,
 *   so the dark scheme (and print) recolour the same SVG with no second copy.
 * - Animation is off and every instance is disposed (its timers would keep Node alive).
 */
import * as echarts from 'echarts/core';
import { BarChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkAreaComponent, MarkLineComponent, MarkPointComponent, TitleComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

echarts.use([LineChart, BarChart, ScatterChart, GridComponent, LegendComponent, TitleComponent, MarkAreaComponent, MarkLineComponent, MarkPointComponent, SVGRenderer]);

/** Role → [light, dark]. The light value is what ECharts writes into the SVG; CSS swaps it for dark. */
export const PALETTE = {
  ink: ['#1f2328', '#e6edf3'],
  muted: ['#59636e', '#9198a1'],
  grid: ['#d1d9e0', '#3d444d'],
  dead: ['#cf222e', '#ff7b72'],
  partial: ['#bc4c00', '#f0883e'],
  learns: ['#0969da', '#58a6ff'],
  clean: ['#1a7f37', '#3fb950'],
  inconclusive: ['#818b98', '#8b949e'],
  diverged: ['#8250df', '#bc8cff'],
  // Categorical colours for witness series beyond target/reference (weight trajectories…).
  c1: ['#0550ae', '#79c0ff'],
  c2: ['#953800', '#ffa657'],
  c3: ['#116329', '#56d364'],
  c4: ['#6639ba', '#d2a8ff'],
  c5: ['#9a6700', '#e3b341'],
  c6: ['#bf3989', '#ff9bce'],
} as const satisfies Record<string, readonly [string, string]>;

export type ColourRole = keyof typeof PALETTE;

export function colour(role: ColourRole): string {
  return PALETTE[role][0];
}

export const CATEGORICAL: readonly ColourRole[] = ['learns', 'partial', 'c3', 'c4', 'c5', 'c6', 'c1', 'c2'];

/** CSS that recolours chart SVGs per scheme: one rule per role and SVG paint property. */
export function paletteCss(): string {
  const vars = (i: 0 | 1): string => Object.entries(PALETTE).map(([role, pair]) => `--chart-${role}:${pair[i]};`).join('');
  const rules = Object.entries(PALETTE)
    .flatMap(([role, [light]]) => [`.chart [fill="${light}"]{fill:var(--chart-${role})}`, `.chart [stroke="${light}"]{stroke:var(--chart-${role})}`])
    .join('\n');
  return `:root{${vars(0)}}\n@media screen and (prefers-color-scheme: dark){:root{${vars(1)}}}\n${rules}\n`;
}

/** The font every chart uses; also the page's, so SVG text matches the prose around it. */
export const CHART_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", sans-serif';

/** Shared axis/text styling in palette colours. */
export function axisStyle(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    nameLocation: 'middle',
    nameTextStyle: { color: colour('muted'), fontSize: 12 },
    axisLine: { onZero: false, lineStyle: { color: colour('muted') } },
    axisTick: { lineStyle: { color: colour('muted') } },
    axisLabel: { color: colour('muted'), fontSize: 11 },
    splitLine: { lineStyle: { color: colour('grid') } },
    ...extra,
  };
}

export interface ChartSpec {
  width: number;
  height: number;
  option: EChartsCoreOption;
}

/**
 * Render one chart to a standalone `<svg>` element: deterministic for the same option and
 * idPrefix, ids unique within the page, labelled for assistive technology by `labelledBy`
 * (the id of the element that describes it, normally its figcaption).
 */
export function renderChartSvg(spec: ChartSpec, idPrefix: string, labelledBy: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: spec.width, height: spec.height });
  let svg: string;
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: CHART_FONT, color: colour('ink') }, ...spec.option });
    svg = chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
  return normaliseSvg(svg, idPrefix, labelledBy);
}

/** Strip ECharts' hover machinery, renumber ids under `prefix`, make the root responsive and labelled. */
export function normaliseSvg(svg: string, prefix: string, labelledBy: string): string {
  let out = svg
    .replace(/<style\b[^>]*>[\s\S]*?<\/style>/g, '')
    .replace(/ class="zr\d+-cls-\d+"/g, '')
    .replace(/ ecmeta_[a-z_]+="[^"]*"/g, '')
    .replace(/ pointer-events="visible"/g, '')
    .replace(/<defs\s*>\s*<\/defs>/g, '');
  const ids = new Map<string, string>();
  for (const m of out.matchAll(/ id="([^"]+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, `${prefix}-${ids.size}`);
  if (ids.size > 0) {
    out = out.replace(/(id="|url\(#|href="#)([^")]+)/g, (whole, lead: string, id: string) => {
      const renamed = ids.get(id);
      return renamed === undefined ? whole : `${lead}${renamed}`;
    });
  }
  if (/zr\d+-/.test(out)) throw new Error('renderChartSvg: an ECharts id survived normalisation; the page would not be deterministic');
  return out
    // Scale down with the page, never up past the size the chart was laid out for.
    .replace(/^<svg width="(\d+)"/, `<svg role="img" aria-labelledby="${labelledBy}" style="max-width:$1px" width="$1"`)
    .replace(/\n+/g, '\n')
    .trim();
}
