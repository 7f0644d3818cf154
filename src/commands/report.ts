/**
 * `quant-audit report FILE.json [--as md|junit|terminal|json|html]` — re-render a saved run.
 * (`--as` was `--format`, which elsewhere names a number format; the old spelling still works.)
 * The views and their choices are the rows of src/report/renderers.ts. Renderers read only
 * report.json, so md, junit and html output is byte-identical to the report.md / report.xml /
 * report.html written by the run. FILE may also be a run directory or reports/latest.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_VIEW, renderReport, REPORT_VIEWS, type ReportView } from '../report/renderers.js';
import { readReport } from '../report/write.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('re-render a saved run (report.json, a run directory, or reports/latest)')
    .argument('<file>', 'report.json of a run')
    .addOption(new Option('--as <view>', `view to print (default: ${DEFAULT_VIEW})`).choices(REPORT_VIEWS))
    .addOption(new Option('--format <view>', 'old name of --as').choices(REPORT_VIEWS).hideHelp())
    .action(async (file: string, opts: { as?: ReportView; format?: ReportView }) => {
      const report = readReport(file);
      process.stdout.write(await renderReport(report, opts.as ?? opts.format ?? DEFAULT_VIEW));
    });
}
