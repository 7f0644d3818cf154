/**
 * report.html without a browser: byte-identical re-renders (in one process and across
 * processes — ECharts' id counters are process-wide), what the page holds for a report with
 * and without the diagnosis fields, escaping of hostile text, no external references, the
 * y-axis fit of the lane panels, unique ids, and the size bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseSvg } from '../src/report/html-charts.js';
import { laneAxis, laneLabel } from '../src/report/html-lanes.js';
import { siteSeries } from '../src/report/html-onnx.js';
import { renderHtml } from '../src/report/html.js';
import { roundTrip } from '../src/report/json.js';
import type { Lane, Report } from '../src/report/types.js';
import { readReport, writeRunReport } from '../src/report/write.js';
import { causalReport, hostileReport } from './support/report-html-fixture.js';
import { fixtureReport, fleetReport, lane, legacyReport } from './support/report-fixture.js';

const causal = roundTrip(causalReport());
const causalHtml = renderHtml(causal);

function count(html: string, re: RegExp): number {
  return [...html.matchAll(re)].length;
}

function ids(html: string): string[] {
  return [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]!);
}

test('html: the same report gives the same bytes, in this process and in a fresh one', () => {
  // Render something else in between: ECharts' instance and class counters move on.
  renderHtml(fixtureReport());
  assert.equal(renderHtml(causal), causalHtml);
  const script = `import('./dist/test/support/report-html-fixture.js').then(async (f) => { const { renderHtml } = await import('./dist/src/report/html.js'); const { roundTrip } = await import('./dist/src/report/json.js'); process.stdout.write(renderHtml(roundTrip(f.causalReport()))); });`;
  const fresh = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(fresh, causalHtml);
});

test('html: writeRunReport writes report.html and `quant-audit report --as html` re-renders it byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-html-write-'));
  try {
    const written = await writeRunReport(fixtureReport(), dir);
    const onDisk = readFileSync(written.files.html, 'utf8');
    assert.equal(written.files.html, join(written.dir, 'report.html'));
    assert.equal(renderHtml(readReport(written.files.json)), onDisk);
    const cli = execFileSync(process.execPath, ['dist/src/cli.js', 'report', written.files.json, '--as', 'html'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(cli, onDisk);
    assert.match(onDisk, /^<!doctype html>\n<html lang="en">/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('html: a report with the diagnosis fields shows causes, consequences, and links each to its witness card', () => {
  const report = causal as unknown as Report;
  assert.deepEqual([...causalHtml.matchAll(/<div class="diag" data-format="([^"]+)">/g)].map((m) => m[1]), ['int4', 'int8', 'posit8']);
  const failing = report.results.filter((r) => r.verdict === 'fail');
  assert.equal(count(causalHtml, /<article class="card/g), failing.length);
  assert.equal(failing.length, 7);
  // Causes first: the four primary causes, then the three that follow (learnability ×2, the downstream ONNX site).
  const order = [...causalHtml.matchAll(/<article class="card( consequence)?" id="([^"]+)"/g)].map((m) => `${m[1] ? 'follows:' : ''}${m[2]}`);
  assert.deepEqual(order, [
    'w-missing-dequant-int4-1597',
    'w-broken-ste-int8-1597',
    'w-lost-updates-int4-1597',
    'w-lost-updates-int8-1597',
    'follows:w-scale-collapse-uint8-fc2-quantizelinear-1597',
    'follows:w-learnability-int4-adamw-1597',
    'follows:w-learnability-int8-adamw-1597',
  ]);
  // Every internal link lands on an element of the page.
  const targets = new Set(ids(causalHtml));
  const links = [...causalHtml.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(links.length > 20);
  for (const l of links) assert.ok(targets.has(l), `link #${l} has no target`);
  // The learnability card says what it follows from and links there; the matrix cell links to the card.
  assert.match(causalHtml, /<span class="tag secondary">follows from <a href="#w-lost-updates-int4-1597">H4 · lost-updates<\/a><\/span>/);
  assert.match(causalHtml, /<td class="cell fail" title="[^"]*"><a href="#w-missing-dequant-int4-1597"><span class="v fail">✗ supported<\/span> 8\.01<\/a><\/td>/);
  assert.match(causalHtml, /<span class="tag secondary">below the gate<\/span>/);
  // The dead lane no probe explains says so.
  assert.match(causalHtml, /<code>QA-posit8-h128-LR0\.003-rng1597-muon<\/code> \(diverged\) — no probe explains it/);
  assert.match(causalHtml, /— follows from <a href="#w-lost-updates-int4-1597">H4 · lost-updates<\/a><br><span class="sub">with fp32 master weights the same lane learns<\/span><\/li>/);
  // Each witness plot kind is drawn as a chart in its card.
  assert.deepEqual([...causalHtml.matchAll(/<figure class="chart witness-chart" data-kind="([^"]+)">/g)].map((m) => m[1]), ['transfer', 'gradient', 'updates', 'updates', 'lane', 'lane']);
});

test('html: an old report without the diagnosis fields still renders, with no diagnosis and no cause tags', () => {
  const html = renderHtml(legacyReport());
  assert.doesNotMatch(html, /id="diagnosis"/);
  assert.doesNotMatch(html, /primary cause|follows from/);
  assert.equal(count(html, /<article class="card"/g), legacyReport().results.filter((r) => r.verdict === 'fail').length);
  // Witness samples stand in for the missing plot; the learnability witness shows its lane against the control.
  assert.match(html, /\(from the witness samples; this report has no witness plot\)/);
  assert.match(html, /data-kind="lane"/);
  // Two lane panels, one per optimizer.
  assert.deepEqual([...html.matchAll(/<figure class="chart lanes-chart" data-optimizer="([^"]+)">/g)].map((m) => m[1]), ['adamw', 'muon']);
});

test('html: a fleet witness report shows the fleet’s lanes and no matrix', () => {
  const html = renderHtml(fleetReport());
  assert.match(html, /<h1>Fleet witness — fleet\.csv<\/h1>/);
  assert.match(html, /<h2>Fleet lanes<\/h2>/);
  assert.doesNotMatch(html, /id="matrix"/);
  assert.equal(count(html, /<figure class="chart lanes-chart"/g), 2);
});

test('html: text from targets and data sources is escaped everywhere, and the page loads nothing', () => {
  const html = renderHtml(hostileReport());
  assert.doesNotMatch(html, /<img/i);
  assert.doesNotMatch(html, /onerror="/);
  assert.ok(html.includes('&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;'), 'escaped text is shown');
  // No external resource of any kind; the only script is inline and allowed by its hash.
  assert.doesNotMatch(html, /<(link|iframe|object|embed|img)\b/i);
  assert.doesNotMatch(html, /\b(src|href)="(?!#)/);
  assert.doesNotMatch(html, /url\((?!#)/);
  assert.equal(count(html, /<script>/g), 1);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/]+=*'; base-uri 'none'; form-action 'none'">/);
});

test('html: ids are unique across the page (each chart renumbers its ECharts ids under its own prefix)', () => {
  const all = ids(causalHtml);
  assert.equal(new Set(all).size, all.length, `duplicate ids: ${all.filter((x, i) => all.indexOf(x) !== i).join(', ')}`);
  assert.doesNotMatch(causalHtml, /zr\d+-/);
  const svg = '<svg width="10" height="5" xmlns="http://www.w3.org/2000/svg">\n<g clip-path="url(#zr7-c0)" class="zr7-cls-3"></g>\n<defs><clipPath id="zr7-c0"><path d="M0 0"/></clipPath></defs><style>.zr7-cls-3:hover{}</style></svg>';
  assert.equal(
    normaliseSvg(svg, 'chart4', 'chart4-caption'),
    '<svg role="img" aria-labelledby="chart4-caption" style="max-width:10px" width="10" height="5" xmlns="http://www.w3.org/2000/svg">\n<g clip-path="url(#chart4-0)"></g>\n<defs><clipPath id="chart4-0"><path d="M0 0"/></clipPath></defs></svg>',
  );
});

test('html: the lane y axis fits the lanes near the baseline; a diverged lane is marked, not stretching it', () => {
  const near = [lane('int8', 'adamw', 'dead', 7.29), lane('fp32', 'adamw', 'clean', 2.67, { control: true })] as unknown as Lane[];
  assert.deepEqual(laneAxis(near, 7), { min: 2, max: 7.5 });
  const diverged = { ...lane('posit8', 'adamw', 'dead', 6.2), status: 'diverged', curve: [{ step: 0, bpb: 7 }, { step: 20, bpb: 6.2 }, { step: 40, bpb: 23.4 }, { step: 60, bpb: Number.NaN }] } as unknown as Lane;
  assert.deepEqual(laneAxis([...near, diverged], 7), { min: 2, max: 7.5 });
  // The muon panel of the causal report has the diverged posit8 lane: it is drawn at 7.5 and labelled with 23.4.
  const muon = causalHtml.match(/<figure class="chart lanes-chart" data-optimizer="muon">[\s\S]*?<\/figure>/)![0];
  assert.match(muon, />↑ 23\.400</);
  assert.match(muon, /1 lane left the axis \(▲ at the top edge, with the value there\): QA-posit8-h128-LR0\.003-rng1597-muon\./);
  // Labels tell lanes of one format apart by what differs.
  const a = lane('int8', 'adamw', 'dead', 7) as unknown as Lane;
  const b = { ...a, lr: 0.01, name: 'b' } as Lane;
  assert.equal(laneLabel(a, [a, b]), 'int8 lr 0.003');
  assert.equal(laneLabel(a, [a]), 'int8');
});

test('html: ONNX sites come in graph order from the model headline, with primary and downstream sites told apart', () => {
  const report = legacyReport() as unknown as Report;
  const headline = report.results.find((r) => r.probe === 'roundtrip' && r.site === undefined && r.format === 'int8')!;
  headline.evidence.tables = [{ title: 'QDQ sites in graph order', headings: ['node', 'input', 'codes', 'local SQNR dB', 'cumulative SQNR dB', 'missing-dequant', 'scale-collapse', 'roundtrip', 'note'], rows: [
    ['fc2/QuantizeLinear', 'activation', 'uint8', 3.1, 2.9, 'pass', 'fail', 'pass', 'first broken node'],
    ['conv1/QuantizeLinear', 'weight', 'int8', 40.2, 40.2, 'pass', 'pass', 'pass', ''],
  ] }];
  const [series, ...rest] = siteSeries(report);
  assert.equal(rest.length, 0);
  assert.equal(series!.graphOrder, true);
  assert.deepEqual(series!.rows.map((r) => [r.site, r.local, r.cumulative, r.state]), [['fc2/QuantizeLinear', 3.1, 2.9, 'primary'], ['conv1/QuantizeLinear', 40.2, 40.2, 'pass']]);
  const causalSites = siteSeries(causal as unknown as Report);
  assert.deepEqual(causalSites[0]!.rows.map((r) => r.state), ['pass', 'consequence']);
});

test('html: a large failing report stays under 2 MB (60 lanes, 60 witnesses with 512-point plots)', () => {
  const base = causalReport() as unknown as Report;
  const witness = base.results.find((r) => r.probe === 'missing-dequant' && r.verdict === 'fail')!;
  const x = Array.from({ length: 512 }, (_, i) => -1 + (2 * i) / 511);
  const many = Array.from({ length: 60 }, (_, i) => ({
    ...structuredClone(witness),
    format: `fmt${i}`,
    witness: { ...witness.witness!, plot: { kind: 'transfer', xLabel: 'x', yLabel: 'fq(x)', x, series: [{ name: 'target', y: x.map((v) => Math.round(v * 7 + i / 60)) }, { name: 'reference', y: x.map((v) => Math.round(v * 7) / 7) }] } },
  }));
  const lanes = Array.from({ length: 60 }, (_, i) => ({ ...lane(`fmt${i}`, i % 2 ? 'muon' : 'adamw', i % 5 === 0 ? 'dead' : 'clean', 3 + (i % 7) / 3), name: `lane-${i}` }));
  const big = { ...base, results: [...base.results, ...many], lanes: [...base.lanes, ...lanes] } as unknown as Report;
  const bytes = Buffer.byteLength(renderHtml(big), 'utf8');
  assert.ok(bytes < 2 * 1024 * 1024, `${bytes} bytes`);
});

test('html: the chart library loads only when a report.html is rendered (no static import of html.ts outside src/report/html*)', () => {
  const offenders: string[] = [];
  for (const rel of readdirSync('src', { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.ts') || /^report[\\/]html/.test(rel)) continue;
    const text = readFileSync(join('src', rel), 'utf8');
    if (/^import[^;]*from '[./]*(report\/)?html(-[a-z]+)?\.js'/m.test(text) || /from 'echarts/.test(text)) offenders.push(rel);
  }
  assert.deepEqual(offenders, []);
  assert.match(readFileSync('src/report/renderers.ts', 'utf8'), /load: async \(\) => \(await import\('\.\/html\.js'\)\)\.renderHtml/);
});

test('html: the lane table has the update/step column when lanes carry it, and the headline each optimizer asymmetry from report.json', () => {
  const r = fixtureReport();
  const html = renderHtml(r);
  const table = html.match(/<table class="lanes"[\s\S]*?<\/table>/)![0];
  assert.match(table, /<th[^>]*>Update\/step<\/th>/);
  const int8Adamw = table.match(/<tr><td><code>QA-int8-h128-LR0\.003-rng1597-adamw<\/code>[\s\S]*?<\/tr>/)![0];
  assert.match(int8Adamw, /<td[^>]*>0\.027<\/td>/);
  const header = html.match(/<header>[\s\S]*?<\/header>/)![0];
  assert.equal(count(header, /optimizer asymmetry/g), r.asymmetries!.length);
  assert.ok(header.includes('adamw dead / muon learns on int8 (weights rounded in place, no fp32 master weights) is explained by lost updates'), header);
  // a report whose lanes have no ratio (an old report) keeps the old columns
  const old = structuredClone(r);
  for (const l of old.lanes) delete l.updateToStep;
  delete old.asymmetries;
  assert.doesNotMatch(renderHtml(old), /Update\/step|optimizer asymmetry/);
});

test('html: a downstream site with nothing of its own is listed under the upstream cause, not as a block of its own', () => {
  const html = renderHtml(roundTrip(fixtureReport()));
  const blocks = [...html.matchAll(/<div class="diag" data-format="[^"]+">\n<h3>(.*?)<\/h3>/g)].map((m) => m[1]!);
  assert.ok(blocks.some((h) => h.includes('fc2/QuantizeLinear')), blocks.join(' | '));
  assert.ok(!blocks.some((h) => h.includes('fc3/QuantizeLinear')), blocks.join(' | '));
  assert.match(html, /Downstream, following from it:<\/div><ul><li><a href="#[^"]+">H2 · scale-collapse at fc3\/QuantizeLinear<\/a><\/li><\/ul>/);
});
