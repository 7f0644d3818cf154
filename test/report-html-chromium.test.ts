/**
 * report.html in a real browser: the report of a failing run (mutant:in-place without master
 * weights), of an ONNX fixture run (a weight scale ×1000) and of a hand-made report with the
 * diagnosis fields, opened from disk in headless Chromium in the light and dark schemes. No
 * console error, no request leaves the page, the charts and witness cards are there and have
 * a size, links land on their card, the copy button copies. Screenshots are saved in the
 * test's temp directory (printed at the end). Under CI=true a missing browser fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { PALETTE } from '../src/report/html-charts.js';
import { renderHtml } from '../src/report/html.js';
import type { Report } from '../src/report/types.js';
import { browserOrSkip, launch, type Browser } from './support/report-html-browser.js';
import { causalReport } from './support/report-html-fixture.js';

const exec = promisify(execFile);
const CLI = resolve('dist/src/cli.js');
const found = browserOrSkip();
const skip = 'skip' in found ? found.skip : undefined;
const chromiumPath = 'path' in found ? found.path : '';
const dir = mkdtempSync(join(tmpdir(), 'qa-report-html-'));

interface Run {
  dir: string;
  report: Report;
  html: string;
}

async function run(name: string, args: string[]): Promise<Run> {
  const out = join(dir, name);
  await exec(process.execPath, [CLI, 'run', ...args, '--out', out, '--quiet'], { env: { ...process.env, NO_COLOR: '1' } }).catch((e: { code?: number }) => {
    if (e.code !== 1) throw e; // exit 1 = falsified, which is what these runs are for
  });
  const runDir = join(out, readFileSync(join(out, 'latest'), 'utf8').trim());
  return { dir: runDir, report: JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as Report, html: join(runDir, 'report.html') };
}

let failing: Run;
let onnx: Run;
let causal: Run;
let browsers: Record<'light' | 'dark', Browser>;

before(async () => {
  if (skip) return;
  [failing, onnx] = await Promise.all([
    run('failing', ['--target', 'mutant:in-place', '--no-master-weights', '--format', 'int8', '--lr', '1e-4']),
    run('onnx', ['--target', 'onnx:fixtures/onnx/bad-scale-x1000.onnx']),
  ]);
  const report = causalReport();
  const html = join(dir, 'causal.html');
  writeFileSync(html, renderHtml(report));
  causal = { dir, report, html };
  browsers = { light: await launch(chromiumPath, { colorScheme: 'light' }), dark: await launch(chromiumPath, { colorScheme: 'dark' }) };
});

after(async () => {
  if (browsers) await Promise.all(Object.values(browsers).map((b) => b.close()));
  if (!skip) console.log(`# report.html screenshots: ${readdirSync(dir).filter((f) => f.endsWith('.png')).map((f) => join(dir, f)).join(' ')}`);
});

interface Opened {
  page: Page;
  problems: string[];
}

/** Open a report.html from disk; every console error, page error and request that is not the file itself is a problem. */
async function open(file: string, scheme: 'light' | 'dark'): Promise<Opened> {
  const page = await browsers[scheme].context.newPage();
  const problems: string[] = [];
  const url = pathToFileURL(file).href;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (r.url() !== url && !r.url().startsWith('data:')) problems.push(`request: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** Rendered size of every element matching the selector. */
async function boxes(page: Page, selector: string): Promise<{ width: number; height: number }[]> {
  return page.$$eval(selector, (els) => els.map((e) => ({ width: e.getBoundingClientRect().width, height: e.getBoundingClientRect().height })));
}

/** A computed style of the first element matching the selector (evaluated in the page; the tests compile without DOM types). */
async function css(page: Page, selector: string, property: string): Promise<string> {
  return page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(selector)})).getPropertyValue(${JSON.stringify(property)})`);
}

function rgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

function failingResults(report: Report): number {
  return report.results.filter((r) => r.verdict === 'fail').length;
}

test('chromium: the failing run’s report.html shows lane panels, matrix links and one witness card per failure, without errors', { skip }, async () => {
  for (const scheme of ['light', 'dark'] as const) {
    const { page, problems } = await open(failing.html, scheme);
    assert.deepEqual(problems, [], `${scheme}: ${problems.join('\n')}`);
    assert.equal(await page.title(), 'quant-audit — mutant:in-place — Falsified');
    // One lane panel per optimizer (adamw, muon), each an SVG with a real size.
    const panels = await page.$$eval('figure.lanes-chart', (els) => els.map((e) => e.getAttribute('data-optimizer')));
    assert.deepEqual(panels, ['adamw', 'muon']);
    for (const b of await boxes(page, 'figure.lanes-chart svg')) assert.ok(b.width > 300 && b.height > 150, `lane chart ${JSON.stringify(b)}`);
    // The dead int8 lanes are drawn in the dead colour: a path stroked with it in each panel.
    const deadPaths = await page.$$eval('figure.lanes-chart svg path[stroke="#cf222e"]', (els) => els.length);
    assert.ok(deadPaths >= 2, `dead lane paths: ${deadPaths}`);
    // Witness cards: H4 lost-updates and learnability for int8, each with a chart.
    const cards = await page.$$eval('article.card', (els) => els.map((e) => ({ id: e.id, charts: e.querySelectorAll('figure svg').length })));
    assert.equal(cards.length, failingResults(failing.report));
    assert.ok(cards.some((c) => c.id.startsWith('w-lost-updates-int8')), JSON.stringify(cards));
    for (const c of cards) assert.equal(c.charts, 1, `card ${c.id} has ${c.charts} charts`);
    // A supported cell of the matrix links to its card, and following it lands there.
    const href = await page.$eval('table.matrix td.fail a', (a) => a.getAttribute('href'));
    assert.match(href ?? '', /^#w-/);
    await page.click(`table.matrix td.fail a[href="${href}"]`);
    assert.equal(await page.evaluate('location.hash'), href);
    assert.equal(await page.$eval(':target', (e) => e.tagName), 'ARTICLE');
    // Dark scheme: the page and the chart ink are recoloured by CSS, not re-rendered.
    assert.equal(await css(page, 'body', 'background-color'), scheme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(255, 255, 255)');
    const fills = new Set(await page.evaluate<string[]>(`[...document.querySelectorAll('figure.lanes-chart svg text')].map((t) => getComputedStyle(t).fill)`));
    const expected = new Set(Object.values(PALETTE).map((pair) => rgb(pair[scheme === 'dark' ? 1 : 0])));
    assert.ok(fills.size >= 2, `text colours: ${[...fills].join(', ')}`);
    for (const f of fills) assert.ok(expected.has(f), `${scheme}: chart text drawn in ${f}, not a ${scheme} palette colour`);
    await shot(page, `failing-${scheme}`);
    await page.close();
  }
});

test('chromium: the ONNX fixture’s report.html draws SQNR per site in graph order with the broken site highlighted', { skip }, async () => {
  for (const scheme of ['light', 'dark'] as const) {
    const { page, problems } = await open(onnx.html, scheme);
    assert.deepEqual(problems, [], `${scheme}: ${problems.join('\n')}`);
    const figures = await boxes(page, 'figure.sqnr-chart svg');
    assert.equal(figures.length, 1);
    assert.ok(figures[0]!.width > 300 && figures[0]!.height > 150);
    // The site table is in graph order, and fc1_w_q (scale ×1000) is the site broken by itself.
    const rows = await page.$$eval('#sites table tbody tr', (trs) => trs.map((tr) => [tr.querySelector('td')!.textContent, tr.lastElementChild!.textContent]));
    assert.deepEqual(rows, [['act_in_q', 'ok'], ['fc1_w_q', 'broken here'], ['act_h_q', 'follows from upstream'], ['fc2_w_q', 'ok']]);
    // The chart labels the broken bar, and draws it in the failure colour.
    const labels = await page.$$eval('figure.sqnr-chart svg text', (ts) => ts.map((t) => t.textContent));
    assert.ok(labels.includes('broken'), JSON.stringify(labels));
    assert.ok((await page.$$('figure.sqnr-chart svg path[fill="#cf222e"]')).length >= 1);
    assert.equal((await page.$$('article.card')).length, failingResults(onnx.report));
    await shot(page, `onnx-${scheme}`);
    await page.close();
  }
});

test('chromium: diagnosis, diverged lane and every witness plot kind render; copy copies the command', { skip }, async () => {
  const { page, problems } = await open(causal.html, 'light');
  assert.deepEqual(problems, [], problems.join('\n'));
  assert.deepEqual(await page.$$eval('#diagnosis .diag', (els) => els.map((e) => e.getAttribute('data-format'))), ['int4', 'int8', 'posit8']);
  const kinds = await page.$$eval('article.card figure', (els) => els.map((e) => e.getAttribute('data-kind')));
  for (const kind of ['transfer', 'gradient', 'updates', 'lane']) assert.ok(kinds.includes(kind), `no ${kind} plot in ${JSON.stringify(kinds)}`);
  // The diverged lane is marked at the top edge with the value where it left the axis.
  const muonText = await page.$eval('figure.lanes-chart[data-optimizer="muon"] svg', (s) => s.textContent ?? '');
  assert.match(muonText, /↑ 23\.400/);
  // Copy: the button's command lands on the clipboard.
  await browsers.light.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.click('#environment .cmd button.copy');
  // Wait through a selector: a string predicate would be eval'd in the page, which the report's CSP forbids.
  await page.locator('#environment .cmd button.copy', { hasText: 'Copied' }).first().waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate('navigator.clipboard.readText()'), causal.report.run.command);
  await shot(page, 'causal-light');
  await page.emulateMedia({ media: 'print' });
  assert.equal(await css(page, 'nav', 'display'), 'none');
  await page.close();
});
