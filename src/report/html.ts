/**
 * report.html: one self-contained page rendered from report.json alone — the headline
 * verdict, the per-format diagnosis (primary causes and what follows from them), lane curves,
 * the hypothesis matrix linking each cell to its witness, ONNX sites by SQNR, witness cards
 * with the picture that proves each failure, the probes not judged, and the environment with
 * copyable repro commands. Charts are inline SVG rendered here (html-charts.ts), so the page
 * needs no network, no CDN and no script to show them. Deterministic: the same report gives
 * the same bytes (no clock, no random ids).
 */
import { PROBE_INFO, probeClaim } from './probe-info.js';
import { lanesSection } from './html-lanes.js';
import { findCause, resultAnchors } from './html-model.js';
import { sitesSection } from './html-onnx.js';
import { commandBlock, details, esc, htmlTable, pageShell, plural } from './html-page.js';
import { witnessCard, type CardContext } from './html-witness.js';
import { fmtNum, fmtRule, fmtValue, hypothesisLabel, probeColumns, resultCoordinates, runState, VERDICT_WORD, worstResult, type RunState } from './text.js';
import type { ProbeResult, Report, Verdict } from './types.js';
import { controlFailed, NOT_LEARNING } from '../verdict/lanes.js';
import { foldDownstream } from '../verdict/diagnosis.js';

/** Verdict marks in fonts every system has (no colour emoji: a CI runner or a printer may lack them). */
const VERDICT_MARK: Record<Verdict, string> = { fail: '✗', pass: '✓', skipped: '–', inconclusive: '?' };

export function renderHtml(report: Report): string {
  const anchors = resultAnchors(report.results);
  let chartCount = 0;
  const nextId = (): string => `chart${++chartCount}`;
  const causal = report.diagnosis !== undefined || report.results.some((r) => r.explainedBy !== undefined || r.explainedBySite !== undefined);
  const cards: CardContext = { report, anchors, nextId, causal, charts: { drawn: 0 } };
  const sections = [
    { id: 'diagnosis', title: 'Diagnosis', html: diagnosisSection(report, anchors) },
    { id: 'lanes', title: report.kind === 'witness' ? 'Fleet lanes' : 'Lanes', html: lanesSection(report, anchors, nextId) },
    { id: 'matrix', title: 'Hypothesis matrix', html: matrixSection(report, anchors) },
    { id: 'sites', title: 'ONNX sites', html: sitesSection(report, anchors, nextId) },
    { id: 'witnesses', title: 'Witnesses', html: witnessesSection(report, cards) },
    { id: 'fixes', title: 'Fixes', html: fixesSection(report) },
    { id: 'not-judged', title: 'Not judged', html: notJudgedSection(report) },
    { id: 'environment', title: 'Environment', html: environmentSection(report) },
  ].filter((s) => s.html !== '');
  const nav = `<nav aria-label="Sections">${sections.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('')}</nav>`;
  const title = `${report.kind === 'witness' ? 'Fleet witness' : 'quant-audit'} — ${report.run.target} — ${headlineState(report).word}`;
  return pageShell(title, [header(report, anchors), nav, ...sections.map((s) => s.html)].join('\n'));
}

// ── headline ─────────────────────────────────────────────────────────────────────────

const STATE_CLASS: Readonly<Record<RunState['kind'], string>> = { falsified: 'fail', inconclusive: 'info', 'usage-error': 'info', 'below-gate': 'warn', 'no-witness': 'ok' };

function headlineState(report: Report): { word: string; className: string; detail: string } {
  const state = runState(report.verdict);
  const gate = `exit ${report.verdict.exitCode} at --fail-on ${report.run.failOn}`;
  return { word: state.word, className: STATE_CLASS[state.kind], detail: state.note ? `${gate}: ${state.note}` : gate };
}

function header(report: Report, anchors: Map<ProbeResult, string>): string {
  const v = report.verdict;
  const state = headlineState(report);
  const judged = report.lanes.filter((l) => l.control !== true);
  const count = (status: string): number => judged.filter((l) => l.status === status).length;
  const supported = Object.entries(v.supported);
  const facts = [
    ...(report.results.length > 0 ? [`${plural(supported.length, 'hypothesis', 'hypotheses')} supported`] : []),
    ...(judged.length > 0 ? [`${count('dead')} of ${judged.length} lanes dead`, ...(count('diverged') ? [`${count('diverged')} diverged`] : []), `${count('partial')} partial`] : []),
  ];
  const byHypothesis = new Map<string, ProbeResult>();
  for (const r of report.results) if (r.verdict === 'fail' && !byHypothesis.has(r.hypothesis)) byHypothesis.set(r.hypothesis, r);
  const items = supported.map(([h, formats]) => {
    const first = byHypothesis.get(h);
    const probe = first?.probe ?? h;
    const label = h !== probe ? `${h} · ${probe}` : probe;
    const link = first ? `<a href="#${anchors.get(first)}">${esc(label)}</a>` : esc(label);
    return `<li>✗ <strong>${link}</strong> — ${esc(probeClaim(probe, h))}: ${formats.map((f) => `<code>${esc(f)}</code>`).join(', ')}</li>`;
  });
  const bad = judged.filter((l) => NOT_LEARNING.includes(l.status));
  if (bad.length) items.push(`<li>dead or diverged: ${bad.map((l) => `<code>${esc(l.name)}</code>`).join(', ')}</li>`);
  for (const a of report.asymmetries ?? []) items.push(`<li>⚖ <strong>optimizer asymmetry</strong> — ${esc(a.summary)}${a.explainedBy.length ? ` (<strong>${esc(a.explainedBy.join(', '))}</strong>)` : ''}.</li>`);
  const controls = report.lanes.filter(controlFailed);
  if (controls.length) items.push(`<li>? control lane${controls.length > 1 ? 's' : ''} did not learn: ${controls.map((l) => `<code>${esc(l.name)}</code>`).join(', ')} — the lanes it controls cannot be judged.</li>`);
  return [
    '<header>',
    `<h1>${report.kind === 'witness' ? 'Fleet witness' : 'R7 falsification witness'} — ${esc(report.run.target)}</h1>`,
    `<div class="sub">run <code>${esc(report.run.id)}</code> · ${esc(report.run.startedAt)} · quant-audit ${esc(report.tool.version)}</div>`,
    `<div class="banner ${state.className}" role="status"><strong>${esc(state.word)}</strong> (${esc(state.detail)})${facts.length ? `: ${esc(facts.join(', '))}.` : '.'}`,
    items.length ? `<ul>${items.join('\n')}</ul>` : report.results.length > 0 ? '<p>No hypothesis is supported: no probe produced a witness.</p>' : '',
    `<p class="sub">${esc(v.summary)}. Exit codes: 0 nothing at or above the gate · 1 falsified · 2 usage error · 3 inconclusive.</p>`,
    '</div>',
    '</header>',
  ].join('\n');
}

// ── diagnosis ────────────────────────────────────────────────────────────────────────

function resultLink(report: Report, anchors: Map<ProbeResult, string>, from: { format: string; site?: string }, probe: string, hypothesis: string, site?: string): string {
  const r = findCause(report.results, from, probe, site);
  const label = `${hypothesis !== probe ? `${hypothesis} · ${probe}` : probe}${site !== undefined ? ` at ${site}` : ''}`;
  return r ? `<a href="#${anchors.get(r)}">${esc(label)}</a>` : esc(label);
}

function diagnosisSection(report: Report, anchors: Map<ProbeResult, string>): string {
  const diagnosis = report.diagnosis ?? [];
  if (diagnosis.length === 0) return '';
  const blocks = foldDownstream(diagnosis).map(({ entry: d, downstream }) => {
    const where = { format: d.format, ...(d.site !== undefined ? { site: d.site } : {}) };
    const below = downstream.map((x) => {
      const r = report.results.find((y) => y.probe === x.probe && y.site === x.site && (y.verdict === 'fail' || y.verdict === 'inconclusive'));
      return `<li>${resultLink(report, anchors, { format: r?.format ?? d.format }, x.probe, r?.hypothesis ?? x.probe, x.site)}${x.site === undefined ? ' (the model)' : ''}</li>`;
    });
    const causes = d.causes.map((c) => `<li><strong>${resultLink(report, anchors, where, c.probe, c.hypothesis)}</strong> — ${esc(c.summary)}</li>`);
    const consequences = d.consequences.map((c) => {
      const cause = findCause(report.results, where, c.explainedBy, c.explainedBySite);
      const causeLabel = cause ? `${cause.hypothesis !== cause.probe ? `${cause.hypothesis} · ` : ''}${cause.probe}` : c.explainedBy;
      return `<li>${resultLink(report, anchors, where, c.probe, c.hypothesis)} — follows from ${cause ? `<a href="#${anchors.get(cause)}">${esc(causeLabel)}</a>` : esc(causeLabel)}${c.explainedBySite !== undefined ? ` at <code>${esc(c.explainedBySite)}</code>` : ''}${c.explanation ? `<br><span class="sub">${esc(c.explanation)}</span>` : ''}</li>`;
    });
    const lanes = d.deadLanes.map((l) => `<li><code>${esc(l.lane)}</code>${l.status && l.status !== 'dead' ? ` (${esc(l.status)})` : ''} — ${l.explainedBy.length ? `explained by ${l.explainedBy.map((p) => resultLink(report, anchors, where, p, findCause(report.results, where, p)?.hypothesis ?? p)).join(', ')}` : 'no probe explains it'}</li>`);
    return [
      `<div class="diag" data-format="${esc(d.format)}">`,
      `<h3><code>${esc(d.format)}</code>${d.site !== undefined ? ` at site <code>${esc(d.site)}</code>` : ''}</h3>`,
      causes.length ? `<div>${causes.length > 1 ? 'Primary causes' : 'Primary cause'}:</div><ul>${causes.join('')}</ul>` : '<div>No primary cause found by a probe.</div>',
      consequences.length ? `<div>What follows from ${causes.length > 1 ? 'them' : 'it'}:</div><ul>${consequences.join('')}</ul>` : '',
      below.length ? `<div>Downstream, following from ${causes.length > 1 ? 'them' : 'it'}:</div><ul>${below.join('')}</ul>` : '',
      lanes.length ? `<div>Dead or diverged lanes:</div><ul>${lanes.join('')}</ul>` : '',
      '</div>',
    ].filter((s) => s !== '').join('\n');
  });
  return ['<section id="diagnosis">', '<h2>Diagnosis</h2>', '<p>Per format: the failures that are causes in their own right, and the failures and dead lanes that follow from them (fix the causes first).</p>', ...blocks, '</section>'].join('\n');
}

// ── matrix ───────────────────────────────────────────────────────────────────────────

function matrixCell(results: ProbeResult[], anchors: Map<ProbeResult, string>, all: ProbeResult[]): string {
  const worst = worstResult(results as ProbeResult[]) as ProbeResult | undefined;
  if (worst === undefined) return '<td></td>';
  const word = `${VERDICT_MARK[worst.verdict]} ${VERDICT_WORD[worst.verdict]}`;
  const value = worst.verdict === 'skipped' || worst.statistic.value === null ? '' : ` ${fmtValue(worst.statistic)}`;
  const count = results.length > 1 ? ` (${results.filter((r) => r.verdict === 'fail').length}/${results.length} fail)` : '';
  const rule = fmtRule(worst.statistic);
  const title = `${worst.statistic.name}${rule ? `, fails when ${rule}` : ''}${worst.reason ? ` — ${worst.reason}` : ''}`;
  const body = `<span class="v ${worst.verdict}">${esc(word)}</span>${esc(value + count)}`;
  const cause = worst.explainedBy !== undefined ? findCause(all, worst, worst.explainedBy) : undefined;
  const follows = worst.explainedBy !== undefined ? `<br><span class="follows">↳ follows from ${esc(cause && cause.hypothesis !== cause.probe ? cause.hypothesis : worst.explainedBy)}</span>` : '';
  const inner = worst.witness ? `<a href="#${anchors.get(worst)}">${body}</a>` : body;
  return `<td class="cell ${worst.verdict}" title="${esc(title)}">${inner}${follows}</td>`;
}

function matrixSection(report: Report, anchors: Map<ProbeResult, string>): string {
  const results = report.results.filter((r) => r.site === undefined);
  if (results.length === 0) return '';
  const columns = probeColumns(report as never, results as ProbeResult[]);
  const formats = [...new Set(results.map((r) => r.format))];
  const head = `<tr><th scope="col">Format</th>${columns.map((p) => `<th scope="col">${esc(hypothesisLabel(p, results as ProbeResult[]))}</th>`).join('')}</tr>`;
  const rows = formats.map((f) => `<tr><th scope="row"><code>${esc(f)}</code></th>${columns.map((p) => matrixCell(results.filter((r) => r.format === f && r.probe === p), anchors, report.results)).join('')}</tr>`);
  const rules = columns.map((p) => {
    const judged = results.find((r) => r.probe === p && r.verdict !== 'skipped' && r.statistic.threshold !== null) ?? results.find((r) => r.probe === p)!;
    const rule = fmtRule(judged.statistic);
    return `<li><code>${esc(p)}</code>: ${esc(judged.statistic.name)}${rule ? `, fails when ${esc(rule)}` : ''}</li>`;
  });
  return [
    '<section id="matrix">',
    '<h2>Hypothesis matrix</h2>',
    '<p>Each cell: the verdict on the hypothesis for that format and the measured statistic (the worst result when several optimizers or seeds ran). A supported hypothesis links to its witness.</p>',
    `<div class="scroll"><table class="matrix"><thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table></div>`,
    details('Statistic per column', `<ul>${rules.join('')}</ul>`),
    '</section>',
  ].join('\n');
}

// ── witnesses, fixes, not judged ─────────────────────────────────────────────────────

function witnessesSection(report: Report, ctx: CardContext): string {
  const failed = report.results.filter((r) => r.verdict === 'fail');
  if (failed.length === 0) return '';
  // Causes first, then what follows from them; report order within each.
  const primary = failed.filter((r) => r.explainedBy === undefined && r.explainedBySite === undefined);
  const following = failed.filter((r) => !primary.includes(r));
  const intro = following.length
    ? `${plural(primary.length, 'primary cause')} first, then ${plural(following.length, 'failure')} that follow from them.`
    : 'Each card: the statistic against its threshold, the picture that proves it, the telling values and the command that reproduces it.';
  return ['<section id="witnesses">', `<h2>Witnesses (${failed.length})</h2>`, `<p>${esc(intro)}</p>`, `<div class="cards">`, ...[...primary, ...following].map((r) => witnessCard(r, ctx)), '</div>', '</section>'].join('\n');
}

function fixesSection(report: Report): string {
  const failed = report.results.filter((r) => r.verdict === 'fail' && r.explainedBy === undefined && r.explainedBySite === undefined);
  const probes = [...new Set(failed.map((r) => r.probe))].filter((p) => PROBE_INFO[p] !== undefined);
  if (probes.length === 0) return '';
  const items = probes.map((p) => {
    const h = failed.find((r) => r.probe === p)!.hypothesis;
    const formats = [...new Set(failed.filter((r) => r.probe === p).map((r) => r.format))];
    return `<li><strong>${esc(h !== p ? `${h} · ${p}` : p)}</strong> (${formats.map((f) => `<code>${esc(f)}</code>`).join(', ')}): ${inlineCode(PROBE_INFO[p]!.fix)}</li>`;
  });
  return ['<section id="fixes">', '<h2>Suggested fixes</h2>', `<ul>${items.join('\n')}</ul>`, '</section>'].join('\n');
}

/** The fix texts use markdown `code` spans; show them as <code>. */
function inlineCode(s: string): string {
  return s.split('`').map((part, i) => (i % 2 === 1 ? `<code>${esc(part)}</code>` : esc(part))).join('');
}

function notJudgedSection(report: Report): string {
  const rest = report.results.filter((r) => r.verdict === 'skipped' || r.verdict === 'inconclusive');
  if (rest.length === 0) return '';
  const rows = rest.map((r) => [`<span class="v ${r.verdict}">${esc(`${VERDICT_MARK[r.verdict]} ${r.verdict}`)}</span>`, `<code>${esc(r.probe)}</code>`, esc(resultCoordinates(r as ProbeResult)), esc(r.reason ?? r.evidence.notes?.[0] ?? '')]);
  const inconclusive = rest.filter((r) => r.verdict === 'inconclusive').length;
  const summary = `${plural(rest.length - inconclusive, 'skipped probe')}, ${plural(inconclusive, 'inconclusive probe')}`;
  return ['<section id="not-judged">', '<h2>Not judged</h2>', details(esc(summary), `<div class="scroll">${htmlTable(['Verdict', 'Probe', 'Where', 'Why'], rows)}</div>`), '</section>'].join('\n');
}

// ── environment ──────────────────────────────────────────────────────────────────────

function environmentSection(report: Report): string {
  const run = report.run;
  const code = (s: string): string => `<code>${esc(s)}</code>`;
  const rows: [string, string][] = [
    ['quant-audit', esc(report.tool.version)],
    ['Report', `${esc(report.kind)} · schemaVersion ${esc(report.schemaVersion)} · ${code(run.id)}`],
    ['Target', code(run.target)],
    ...Object.entries(run.targetInfo ?? {}).map(([k, v]): [string, string] => [`Target ${esc(k)}`, esc(v)]),
    ['Backend', esc(run.backend)],
    ['Execution provider', run.ep === null ? 'n/a' : esc(run.ep)],
    ['Seeds', esc(run.seeds.join(', ') || 'n/a')],
    ['Corpus', run.corpus === null ? 'n/a' : code(run.corpus)],
    ...Object.entries(run.corpusInfo ?? {}).map(([k, v]): [string, string] => [`Corpus ${esc(k)}`, esc(typeof v === 'number' ? fmtNum(v) : v)]),
    ['Formats', run.formats.map(code).join(', ') || 'n/a'],
    ['Probes', run.probes.map(code).join(', ') || 'n/a'],
    ['Gate', code(`--fail-on ${run.failOn}`)],
    ...(run.shard ? [['Shard', esc(`${run.shard.index}/${run.shard.count}`)] as [string, string]] : []),
    ['Started', esc(run.startedAt)],
    ...(run.finishedAt ? [['Finished', esc(run.finishedAt)] as [string, string]] : []),
    ...(run.durationMs !== undefined ? [['Duration', esc(`${fmtNum(run.durationMs / 1000)} s`)] as [string, string]] : []),
    ...Object.entries(run.versions).map(([k, v]): [string, string] => [`Version ${esc(k)}`, esc(v)]),
  ];
  const thresholds = Object.entries(report.thresholds).map(([k, v]) => [code(k), esc(Array.isArray(v) ? `[${v.map(fmtNum).join(', ')}]` : fmtNum(v))]);
  const repros = [...new Set(report.results.filter((r) => r.verdict === 'fail' && r.witness).map((r) => r.witness!.repro))];
  return [
    '<section id="environment">',
    '<h2>Environment and reproduction</h2>',
    '<div>The command that wrote this report:</div>',
    commandBlock(run.command),
    repros.length ? details(`Reproduce each witness (${repros.length})`, repros.map((c) => commandBlock(c)).join('\n')) : '',
    `<div>Re-render this page from its report.json:</div>`,
    commandBlock(`npx quant-audit report reports/${run.id}/report.json --as html > report.html`),
    `<div class="scroll">${htmlTable(['What', 'Value'], rows.map(([k, v]) => [k, v]))}</div>`,
    thresholds.length ? details(`Thresholds (${thresholds.length})`, htmlTable(['Threshold', 'Value'], thresholds, { numeric: [1] })) : '',
    '</section>',
  ].filter((s) => s !== '').join('\n');
}
