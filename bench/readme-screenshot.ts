/**
 * Regenerates docs/img/lane-chart.png, the README's picture of report.html's lane panels.
 *
 *   npm run build && node dist/bench/readme-screenshot.js [REPORT.json]
 *
 * Without an argument it runs the README's example (the in-place-rounding mutant without
 * master weights, int8 / posit8 / int4 / fp16, AdamW at 1e-4 and Muon at 0.0235; about half a minute) into a temporary
 * directory. It opens that run's report.html in headless Chromium (Debian's `chromium`, as
 * the tests do) and screenshots the lane panels in the light scheme.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderHtml } from '../src/report/html.js';
import { readReport } from '../src/report/write.js';
import { findChromium, launch } from '../test/support/report-html-browser.js';

const OUT = resolve('docs/img/lane-chart.png');
const README_RUN = ['run', '--target', 'mutant:in-place', '--no-master-weights', '--format', 'int8', 'posit8', 'int4', 'fp16', '--lr', 'adamw=1e-4', '--lr', 'muon=0.0235', '--quiet'];

async function main(): Promise<void> {
  const browserPath = findChromium();
  if (!browserPath) throw new Error('no Chromium found: apt-get install -y chromium (or set QA_CHROMIUM)');
  const work = mkdtempSync(join(tmpdir(), 'qa-readme-shot-'));
  try {
    let reportPath = process.argv[2];
    if (!reportPath) {
      const out = join(work, 'reports');
      try {
        execFileSync(process.execPath, [resolve('dist/src/cli.js'), ...README_RUN, '--out', out], { stdio: 'inherit' });
      } catch (e) {
        if ((e as { status?: number }).status !== 1) throw e; // 1 = falsified: the point of the example
      }
      reportPath = join(out, readFileSync(join(out, 'latest'), 'utf8').trim(), 'report.json');
    }
    const html = join(work, 'report.html');
    writeFileSync(html, renderHtml(readReport(reportPath)));
    const browser = await launch(browserPath, { colorScheme: 'light', width: 1000, height: 800 });
    try {
      const page = await browser.context.newPage();
      await page.goto(pathToFileURL(html).href);
      mkdirSync(dirname(OUT), { recursive: true });
      await page.locator('#lanes .charts').screenshot({ path: OUT });
    } finally {
      await browser.close();
    }
    console.log(`${OUT}: ${statSync(OUT).size} bytes (from ${reportPath})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
