/**
 * The views of a report, one row each: the name `quant-audit report --as NAME` takes, the file
 * every run writes it to beside report.json (no file: the view is only printed), and how it
 * renders — from the Report alone, so a saved report.json re-renders byte for byte.
 *
 * Everything that lists views reads this table: the `report --as` choices and help
 * (src/commands/report.ts), the files writeRunReport writes (src/report/write.ts), the
 * library's renderReport (src/index.ts) and the fuzzers. To add a view, write
 * src/report/<view>.ts and add its row here; test/report-renderers fails on a view renderer
 * in src/report/ that is not a row.
 *
 * report.html's renderer is loaded on first use (`load`): its chart library (ECharts) is heavy,
 * and no other view or command needs it.
 */
import { useColor } from '../color.js';
import { UsageError } from '../errors.js';
import { serializeReport } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { renderTerminal } from './terminal.js';
import type { Report } from './types.js';

/** Where a view is printed: the terminal view fits its colour and width to it; the others ignore it. */
export interface ViewStream {
  isTTY?: boolean;
  columns?: number;
}

export type Render = (report: Report, stream: ViewStream) => string;

export type RendererRow = {
  /** `quant-audit report --as NAME`. */
  view: string;
  /** The file every run writes this view to, beside report.json; absent: printed only. */
  file?: `report.${string}`;
} & ({ render: Render; load?: never } | { load: () => Promise<Render>; render?: never });

export const RENDERERS = [
  { view: 'md', file: 'report.md', render: renderMarkdown },
  { view: 'junit', file: 'report.xml', render: renderJunit },
  {
    view: 'terminal',
    render: (report: Report, stream: ViewStream) => renderTerminal(report, { color: useColor(stream), compact: stream.isTTY !== true, ...(stream.columns ? { width: stream.columns } : {}) }),
  },
  { view: 'json', file: 'report.json', render: serializeReport },
  { view: 'html', file: 'report.html', load: async () => (await import('./html.js')).renderHtml },
] as const satisfies readonly RendererRow[];

export type ViewRow = (typeof RENDERERS)[number];
export type ReportView = ViewRow['view'];
/** Views whose renderer is loaded with this module (every row without `load`): they render synchronously. */
export type EagerRow = Extract<ViewRow, { render: Render }>;
export type EagerView = EagerRow['view'];
export type FileRow = Extract<ViewRow, { file: string }>;
type Extension<F> = F extends `report.${infer E}` ? E : never;
/** The files a run writes, by their extension (report.xml → xml): the keys of writeRunReport's `files`. */
export type ReportFileKey = Extension<FileRow['file']>;

export const REPORT_VIEWS: readonly ReportView[] = RENDERERS.map((r) => r.view);
export const EAGER_VIEWS: readonly EagerView[] = RENDERERS.filter((r): r is EagerRow => 'render' in r).map((r) => r.view);
/** What `quant-audit report` prints without --as. */
export const DEFAULT_VIEW: ReportView = 'terminal';
/** The views every run writes, in table order, each with its file name. */
export const WRITTEN_VIEWS: readonly FileRow[] = RENDERERS.filter((r): r is FileRow => 'file' in r);

export function fileKey(file: FileRow['file']): ReportFileKey {
  return file.slice('report.'.length) as ReportFileKey;
}

function rowOf(view: string): ViewRow {
  const row = RENDERERS.find((r) => r.view === view);
  if (!row) throw new UsageError(`unknown report view '${view}': one of ${REPORT_VIEWS.join(', ')}.`);
  return row;
}

/** The renderer of any view, loading it first when it is lazy (html). */
export async function rendererOf(view: ReportView): Promise<Render> {
  const row = rowOf(view);
  return 'render' in row ? row.render : row.load();
}

/** A view of the report as text (html loads its chart library on the first call). */
export async function renderReport(report: Report, view: ReportView, stream: ViewStream = process.stdout): Promise<string> {
  return (await rendererOf(view))(report, stream);
}

/** The same for a view loaded with this module, without waiting: md, junit, terminal, json. */
export function renderAs(report: Report, view: EagerView, stream: ViewStream = process.stdout): string {
  const render: Render = (rowOf(view) as EagerRow).render;
  return render(report, stream);
}
