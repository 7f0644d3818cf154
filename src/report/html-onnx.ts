/**
 * ONNX QDQ sites for report.html: local and cumulative SQNR per site in graph order, broken
 * sites highlighted — the primary ones (their own fault) in the failure colour, those whose
 * failure follows from an upstream site (`explainedBySite`, or "downstream of" in older
 * reports) in the warning colour. Local SQNR compares a site's output with its own input;
 * cumulative SQNR compares it with the float twin, so it carries upstream error and shows where
 * the signal was lost. Graph order comes from the model headline's "QDQ sites in graph order"
 * table (src/onnx/headline.ts); without it the sites keep report order and the caption says so.
 */
import { axisStyle, colour, renderChartSvg } from './html-charts.js';
import type { ProbeResult, Report } from './types.js';
import { esc, htmlTable, plural } from './html-page.js';
import { fmtNum } from './text.js';

export type SiteState = 'primary' | 'consequence' | 'pass';

export interface SiteRow {
  site: string;
  local: number | null;
  cumulative: number | null;
  state: SiteState;
  /** Cells of the headline's table row, when there is one. */
  cells?: (string | number | null)[];
}

export interface SiteSeries {
  format: string;
  graphOrder: boolean;
  headings?: string[];
  rows: SiteRow[];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function siteState(results: ProbeResult[], site: string, note: string): SiteState {
  const failing = results.filter((r) => r.site === site && r.verdict === 'fail');
  if (failing.length === 0) return 'pass';
  const explained = failing.every((r) => r.explainedBySite !== undefined || r.explainedBy !== undefined);
  if (explained || /^downstream of /.test(note)) return 'consequence';
  return 'primary';
}

/**
 * One series per model headline that carries a "QDQ sites in graph order" table (its sites
 * may span several code types, e.g. int8 weights and uint8 activations); site results that no
 * such table lists form one more series in report order.
 */
export function siteSeries(report: Report): SiteSeries[] {
  const siteResults = report.results.filter((r) => r.site !== undefined);
  if (siteResults.length === 0) return [];
  const out: SiteSeries[] = [];
  const covered = new Set<string>();
  for (const headline of report.results.filter((r) => r.site === undefined)) {
    const table = headline.evidence.tables?.find(isSiteTable);
    if (!table) continue;
    const h = table.headings;
    const iLocal = h.indexOf('local SQNR dB');
    const iCum = h.indexOf('cumulative SQNR dB');
    const iNote = h.indexOf('note');
    const rows = table.rows.map((row) => {
      const site = String(row[0] ?? '');
      covered.add(site);
      return { site, local: num(row[iLocal]), cumulative: num(row[iCum]), state: siteState(siteResults, site, iNote >= 0 ? String(row[iNote] ?? '') : ''), cells: row };
    });
    out.push({ format: headline.format, graphOrder: true, headings: h, rows });
  }
  const rest = siteResults.filter((r) => !covered.has(r.site!));
  if (rest.length > 0) {
    const sites = [...new Set(rest.map((r) => r.site!))];
    out.push({
      format: [...new Set(rest.map((r) => r.format))].join('+'),
      graphOrder: false,
      rows: sites.map((site) => {
        const m = rest.find((r) => r.site === site && 'localSqnrDb' in r.evidence.measurements)?.evidence.measurements ?? {};
        return { site, local: num(m.localSqnrDb), cumulative: num(m.cumulativeSqnrDb), state: siteState(rest, site, '') };
      }),
    });
  }
  return out;
}

function isSiteTable(t: { headings: string[] }): boolean {
  return t.headings.includes('local SQNR dB') && t.headings.includes('cumulative SQNR dB');
}

const STATE_ROLE = { primary: 'dead', consequence: 'partial', pass: 'learns' } as const;
const STATE_WORD = { primary: 'broken here', consequence: 'follows from upstream', pass: 'ok' } as const;

function short(name: string): string {
  return name.length > 22 ? `${name.slice(0, 10)}…${name.slice(-10)}` : name;
}

function sqnrChart(s: SiteSeries, idPrefix: string, captionId: string): string {
  const width = Math.min(1400, Math.max(620, 34 * s.rows.length + 140));
  return renderChartSvg(
    {
      width,
      height: 360,
      option: {
        legend: { top: 4, left: 60, itemWidth: 18, itemHeight: 9, textStyle: { color: colour('ink'), fontSize: 11.5 }, data: ['local SQNR (dB)', 'cumulative SQNR vs float twin (dB)'] },
        grid: { left: 60, right: 20, top: 40, bottom: 96 },
        xAxis: axisStyle('', {
          type: 'category',
          data: s.rows.map((r) => short(r.site)),
          axisLabel: { color: colour('muted'), fontSize: 10.5, rotate: 40, interval: 0 },
          splitLine: { show: false },
        }),
        yAxis: axisStyle('SQNR (dB)', { type: 'value', nameGap: 40 }),
        series: [
          {
            type: 'bar',
            name: 'local SQNR (dB)',
            color: colour('learns'),
            barMaxWidth: 22,
            emphasis: { disabled: true },
            // A band behind each failing site: a broken site's bar may have no height at all (0 dB, or no finite SQNR).
            markArea: {
              silent: true,
              data: s.rows
                .map((r, i) => ({ r, i }))
                .filter(({ r }) => r.state !== 'pass')
                .map(({ r, i }) => [{ xAxis: i, itemStyle: { color: colour(STATE_ROLE[r.state]), opacity: 0.14 } }, { xAxis: i }]),
            },
            data: s.rows.map((r) => ({
              value: r.local,
              itemStyle: { color: colour(STATE_ROLE[r.state]) },
              ...(r.state === 'primary' ? { label: { show: true, position: 'top', formatter: () => 'broken', color: colour('dead'), fontSize: 11, fontWeight: 600 } } : {}),
            })),
          },
          {
            type: 'line',
            name: 'cumulative SQNR vs float twin (dB)',
            color: colour('ink'),
            itemStyle: { color: colour('ink') },
            lineStyle: { color: colour('ink'), width: 2 },
            symbolSize: 6,
            connectNulls: false,
            emphasis: { disabled: true },
            data: s.rows.map((r) => r.cumulative),
          },
        ],
      },
    },
    idPrefix,
    captionId,
  );
}

function siteTable(s: SiteSeries, anchorFor: (site: string) => string | undefined): string {
  const stateCell = (r: SiteRow): string => `<span class="v ${r.state === 'primary' ? 's-dead' : r.state === 'consequence' ? 's-partial' : 's-clean'}">${STATE_WORD[r.state]}</span>`;
  const siteCell = (r: SiteRow): string => {
    const a = anchorFor(r.site);
    return a ? `<a href="#${a}"><code>${esc(r.site)}</code></a>` : `<code>${esc(r.site)}</code>`;
  };
  if (s.headings && s.rows.every((r) => r.cells)) {
    const rows = s.rows.map((r) => [siteCell(r), ...r.cells!.slice(1).map((v) => esc(typeof v === 'number' ? fmtNum(v) : v === null ? 'n/a' : v)), stateCell(r)]);
    const numeric = s.headings.map((h, i) => (/SQNR/.test(h) ? i : -1)).filter((i) => i >= 0);
    return htmlTable([...s.headings.map(esc), 'state'], rows, { numeric, caption: 'QDQ sites in graph order (n/a: no finite SQNR — exact roundtrip, or no float original)' });
  }
  const rows = s.rows.map((r) => [siteCell(r), esc(r.local === null ? 'n/a' : fmtNum(r.local)), esc(r.cumulative === null ? 'n/a' : fmtNum(r.cumulative)), stateCell(r)]);
  return htmlTable(['site', 'local SQNR dB', 'cumulative SQNR dB', 'state'], rows, { numeric: [1, 2], caption: 'QDQ sites (report order)' });
}

export function sitesSection(report: Report, anchors: Map<ProbeResult, string>, nextId: () => string): string {
  const all = siteSeries(report);
  if (all.length === 0) return '';
  const parts = all.map((s) => {
    const id = nextId();
    const captionId = `${id}-caption`;
    const anchorFor = (site: string): string | undefined => {
      const failing = report.results.filter((r) => r.site === site && r.verdict === 'fail');
      const first = failing.find((r) => r.explainedBy === undefined && r.explainedBySite === undefined) ?? failing[0];
      return first ? anchors.get(first) : undefined;
    };
    const primary = s.rows.filter((r) => r.state === 'primary').map((r) => r.site);
    const consequence = s.rows.filter((r) => r.state === 'consequence').map((r) => r.site);
    const caption =
      `Local SQNR (bars) and cumulative SQNR against the float twin (line) per QDQ site${s.graphOrder ? ' in graph order' : ' (report order: this report has no graph-order table)'}, ${s.format}: ` +
      `${plural(s.rows.length, 'site')}; ${primary.length ? `broken here: ${primary.join(', ')}` : 'no site broken by itself'}` +
      `${consequence.length ? `; failing only because of an upstream site: ${consequence.join(', ')}` : ''}. A missing bar or point has no finite SQNR.`;
    const drawable = s.rows.some((r) => r.local !== null || r.cumulative !== null);
    return [
      drawable ? `<figure class="chart sqnr-chart" data-format="${esc(s.format)}">${sqnrChart(s, id, captionId)}<figcaption id="${captionId}">${esc(caption)}</figcaption></figure>` : '<p class="sub">No site has a finite SQNR to draw.</p>',
      `<div class="scroll">${siteTable(s, anchorFor)}</div>`,
    ].join('\n');
  });
  return ['<section id="sites">', '<h2>Quantization sites (ONNX)</h2>', '<p>Where the signal is lost: each site’s own roundtrip (local SQNR) and what is left of the signal after every site up to it (cumulative SQNR). Fix the first site broken by itself; the ones after it may only inherit its error.</p>', ...parts, '</section>'].join('\n');
}
