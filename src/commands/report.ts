/**
 * `quant-audit report FILE.json [--as md|junit|terminal|json|html]` — re-render a saved run.
 * (`--as` was `--format`, which elsewhere names a number format; the old spelling still works.)
 * Renderers read only report.json, so md, junit and html output is byte-identical to the
 * report.md / report.xml / report.html written by the run. FILE may also be a run directory or
 * reports/latest.
 */
import { Option, type Command } from 'commander';
import { useColor } from '../color.js';
import { serializeReport } from '../report/json.js';
import { renderJunit } from '../report/junit.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderTerminal } from '../report/terminal.js';
import type { Report } from '../report/types.js';
import { readReport } from '../report/write.js';

export type ReportFormat = 'md' | 'junit' | 'terminal' | 'json';
const REPORT_VIEWS = ['md', 'junit', 'terminal', 'json', 'html'] as const;
type ReportView = (typeof REPORT_VIEWS)[number];

/** report.html's renderer, loaded on first use: its chart library is heavy, and no other view or command needs it. */
async function renderHtmlLazily(report: Report): Promise<string> {
  const { renderHtml } = await import('../report/html.js');
  return renderHtml(report);
}

export function renderAs(report: Report, format: ReportFormat, stream: { isTTY?: boolean; columns?: number } = process.stdout): string {
  switch (format) {
    case 'md':
      return renderMarkdown(report);
    case 'junit':
      return renderJunit(report);
    case 'json':
      return serializeReport(report);
    case 'terminal':
      return renderTerminal(report, { color: useColor(stream), compact: stream.isTTY !== true, ...(stream.columns ? { width: stream.columns } : {}) });
  }
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('re-render a saved run (report.json, a run directory, or reports/latest)')
    .argument('<file>', 'report.json of a run')
    .addOption(new Option('--as <view>', 'view to print (default: terminal)').choices(REPORT_VIEWS))
    .addOption(new Option('--format <view>', 'old name of --as').choices(REPORT_VIEWS).hideHelp())
    .action(async (file: string, opts: { as?: ReportView; format?: ReportView }) => {
      const report = readReport(file);
      const view = opts.as ?? opts.format ?? 'terminal';
      process.stdout.write(view === 'html' ? await renderHtmlLazily(report) : renderAs(report, view));
    });
}
