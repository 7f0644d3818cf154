/**
 * report.md: GitHub-flavoured markdown, ready to paste into an issue (or posted by
 * `attach`). Reads only the Report. Order: headline verdict and diagnosis → lanes (+ bpb
 * chart) → hypothesis matrix → QDQ sites → witnesses (causes) → consequences → suggested
 * fixes → not judged → environment.
 * Long parts (evidence, legends, thresholds, extra witnesses) sit in <details>.
 * Deterministic: the same report gives the same bytes.
 */
import { buildCharts } from './chart.js';
import { downstreamPhrase, foldDownstream } from '../verdict/diagnosis.js';
import { PROBE_INFO, probeClaim } from './probe-info.js';
import {
  FLOAT_MODEL_PROBE,
  fmtBpb,
  fmtLaneBpb,
  fmtNum,
  hypothesisOf,
  isCause,
  isLaneGated,
  notLearning,
  fmtRule,
  fmtUpdateToStep,
  fmtValue,
  hypothesisLabel,
  judgedLanes,
  judgedOnly,
  siteColumnLabel,
  laneStatusLabel,
  probeColumns,
  resultCoordinates,
  uniformBaseline,
  VERDICT_ICON,
  VERDICT_WORD,
  worstResult,
  runState,
  type RunState,
} from './text.js';
import type { EvidenceTable, ProbeResult, Report } from './types.js';

/** Witnesses shown in full before the rest fold into one <details>. */
export const OPEN_WITNESSES = 6;
/** Matrix rows above which a table folds into <details>. */
const FOLD_ROWS = 24;

export function renderMarkdown(report: Report): string {
  const sections = [
    headline(report),
    lanesSection(report),
    matrixSection(report),
    sitesSection(report),
    floatModelSection(report),
    witnessesSection(report),
    consequencesSection(report),
    fixesSection(report),
    notJudgedSection(report),
    environmentSection(report),
  ].filter((s) => s !== '');
  return `${sections.join('\n\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

// ── text helpers ───────────────────────────────────────────────────────────────────

/** Free text from targets and probes: no raw HTML, one line. */
function text(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, ' ');
}

/** Inline code; backticks in the value are replaced (names never need them). */
function code(s: string): string {
  return `\`${s.replace(/`/g, "'").replace(/\r?\n/g, ' ')}\``;
}

/** A table cell: pipes escaped (GFM splits cells before inline parsing, even inside code). */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(headings: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = headings.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  const line = (cells: string[]): string => `| ${cells.map((c) => (c === '' ? ' ' : cell(c))).join(' | ')} |`;
  return [line(headings), `|${sep.join('|')}|`, ...rows.map(line)].join('\n');
}

function details(summary: string, body: string): string {
  return `<details>\n<summary>${text(summary)}</summary>\n\n${body.trim()}\n\n</details>`;
}

function fence(lang: string, body: string): string {
  const ticks = body.includes('```') ? '````' : '```';
  return `${ticks}${lang}\n${body.replace(/\n$/, '')}\n${ticks}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

// ── sections ──────────────────────────────────────────────────────────────────────

const STATE_ICON: Readonly<Record<RunState['kind'], string>> = { falsified: '🔴', inconclusive: '❔', 'usage-error': '❔', 'below-gate': '🟡', 'no-witness': '✅' };

function headline(report: Report): string {
  const v = report.verdict;
  const gate = `exit ${v.exitCode} at ${code(`--fail-on ${report.run.failOn}`)}`;
  const rs = runState(v);
  const state = `${STATE_ICON[rs.kind]} **${rs.word}** (${gate})${rs.note ? `: ${rs.note}` : ''}`;
  const supported = Object.entries(v.supported);
  const judged = judgedLanes(report.lanes);
  const dead = notLearning(report.lanes);
  const diverged = dead.filter((l) => l.status === 'diverged');
  const partial = judged.filter((l) => l.status === 'partial');
  const consequences = report.results.filter((r) => r.verdict === 'fail' && !isCause(r)).length;
  const facts = [
    ...(report.results.length > 0 ? [plural(supported.length, 'hypothesis', 'hypotheses') + ' supported as a cause'] : []),
    ...(consequences > 0 ? [`${plural(consequences, 'failure')} following from ${supported.length === 1 ? 'it' : 'them'}`] : []),
    ...(judged.length > 0 ? [`${dead.length} of ${judged.length} lanes dead${diverged.length ? ` (${diverged.length} diverged)` : ''}`, `${partial.length} partial`] : []),
  ];
  const lines = [`# R7 falsification witness (R7: a reproducible counterexample to a claim about the quantizer) — ${text(report.run.target)}`, '', `${state}${facts.length ? `: ${facts.join(', ')}.` : '.'}`];
  const byHypothesis = new Map<string, string>();
  for (const r of report.results) if (isCause(r) && !byHypothesis.has(r.hypothesis)) byHypothesis.set(r.hypothesis, r.probe);
  if (supported.length > 0) {
    lines.push('');
    for (const [h, formats] of supported) {
      const probe = byHypothesis.get(h) ?? h;
      lines.push(`- ❌ **${text(hypothesisLabelFor(h, probe))}** — ${text(probeClaim(probe, h))}: ${formats.map(code).join(', ')}`);
    }
  } else if (report.results.length > 0) {
    lines.push('', 'No hypothesis is supported: no probe produced a witness.');
  }
  if (dead.length + partial.length > 0) {
    lines.push('');
    const deadOnly = dead.filter((l) => l.status === 'dead');
    if (deadOnly.length) lines.push(`- 💀 dead: ${deadOnly.map((l) => code(l.name)).join(', ')}`);
    if (diverged.length) lines.push(`- 💥 diverged (the loss blew up; no bpb is reported for it): ${diverged.map((l) => code(l.name)).join(', ')}`);
    if (partial.length) lines.push(`- 🔴 partial${partial.some((l) => isLaneGated(l, report)) ? ' (gated at this level)' : ''}: ${partial.map((l) => code(l.name)).join(', ')}`);
  }
  for (const a of report.asymmetries ?? []) {
    lines.push('', `- ⚖️ **Optimizer asymmetry** — ${text(a.summary)}${a.explainedBy.length ? ` (**${a.explainedBy.join(', ')}**)` : ''}.`);
    for (const e of a.evidence) lines.push(`  - ${text(e)}`);
  }
  const controls = report.lanes.filter((l) => l.control === true && l.status !== 'clean' && l.status !== 'learns');
  if (controls.length > 0) lines.push('', `- ❔ control lane${controls.length > 1 ? 's' : ''} did not learn: ${controls.map((l) => code(l.name)).join(', ')} — the lanes it controls cannot be judged.`);
  const diagnosis = diagnosisSection(report);
  if (diagnosis) lines.push('', diagnosis);
  lines.push('', `<sub>${text(v.summary)}. Exit codes: 0 nothing at or above the gate · 1 falsified · 2 usage error · 3 inconclusive.</sub>`);
  return lines.join('\n');
}

/** One line per format (or site) with a finding: its causes, what follows from them, and its dead lanes. */
function diagnosisSection(report: Report): string {
  const entries = report.diagnosis ?? [];
  if (entries.length === 0) return '';
  const hyp = (probe: string): string => hypothesisLabelFor(hypothesisOf(probe, report.results), probe);
  const lines = foldDownstream(entries).map(({ entry: d, downstream }) => {
    const where = d.site !== undefined ? `${code(d.site)} (${code(d.format)})` : code(d.format);
    const below = downstreamPhrase(downstream, code);
    const causes = d.causes.length > 0 ? [...new Set(d.causes.map((c) => `**${text(hyp(c.probe))}**`))].join(' + ') : 'no primary cause';
    const follows = [...new Map(d.consequences.map((c) => [`${c.probe}|${c.explainedBy}|${c.explainedBySite ?? ''}`, c])).values()].map(
      (c) => `${text(hyp(c.probe))} follows from ${text(hypothesisOf(c.explainedBy, report.results))}${c.explainedBySite ? ` at ${code(c.explainedBySite)}` : ''}`,
    );
    const unexplained = d.deadLanes.filter((l) => l.explainedBy.length === 0);
    const lanes = d.deadLanes.length === 0 ? []
      : unexplained.length === 0 ? [`${plural(d.deadLanes.length, 'lane')} that did not learn, explained by ${[...new Set(d.deadLanes.flatMap((l) => l.explainedBy))].map((p) => text(hypothesisOf(p, report.results))).join(' and ')}`]
      : [`${plural(unexplained.length, 'lane')} that did not learn and **no probe explains** (${unexplained.map((l) => code(l.lane)).join(', ')})`];
    return `- ${where}: ${[causes, ...follows, ...(below ? [below] : []), ...lanes].join(' — ')}`;
  });
  return ['**Diagnosis** (causes first; what follows from them is marked, not counted):', '', ...lines].join('\n');
}

function hypothesisLabelFor(hypothesis: string, probe: string): string {
  return hypothesis !== probe ? `${hypothesis} · ${probe}` : probe;
}

function lanesSection(report: Report): string {
  if (report.lanes.length === 0) return '';
  const baseline = uniformBaseline(report);
  const rows = report.lanes.map((l) => [
    code(l.name) + (l.control ? ' (control)' : ''),
    code(l.format),
    l.optimizer,
    fmtLaneBpb(l, 'best'),
    fmtLaneBpb(l, 'final'),
    `${l.stepsRun ?? l.steps}`,
    laneStatusLabel(l.status) + (l.explainedBy && l.explainedBy.length > 0 ? ` ← ${l.explainedBy.map((p) => hypothesisOf(p, report.results)).join(', ')}` : ''),
    fmtUpdateToStep(l),
  ]);
  rows.push(['uniform baseline log2(V)', '', '', fmtBpb(baseline), '', '', '', '']);
  const tbl = table(['Lane', 'Format', 'Optimizer', 'Best bpb', 'Final bpb', 'Steps', 'Status', 'Update/step'], rows, ['l', 'l', 'l', 'r', 'r', 'r', 'l', 'r']);
  const legend = Object.values(report.legend);
  const parts = ['## Lanes', '', `Bits per byte on the validation split; the uniform baseline is **${fmtBpb(baseline)}** — a lane there learned nothing.`, '', rows.length - 1 > FOLD_ROWS ? details(`${report.lanes.length} lanes`, tbl) : tbl];
  if (legend.length > 0) parts.push('', details('Legend', legend.map((l) => `- ${text(l)}`).join('\n')));
  // Group lanes by note: a mode (e.g. no master weights) usually annotates many lanes alike.
  const byNote = new Map<string, string[]>();
  for (const l of report.lanes) if (l.note) byNote.set(l.note, [...(byNote.get(l.note) ?? []), l.name]);
  if (byNote.size > 0) {
    const items = [...byNote].map(([note, names]) => `- ${text(note)} — ${names.length === report.lanes.length ? 'all lanes' : names.map(code).join(', ')}`);
    parts.push('', details('Lane notes', items.join('\n')));
  }
  const ratio = report.thresholds['learnability.divergedRatio'];
  const charts = buildCharts(report.lanes, baseline, baseline * (typeof ratio === 'number' ? ratio : 1.25));
  for (const c of charts) {
    const order = c.lines
      .map((name, i) => `${i + 1}. ${i === 0 ? text(name) : name.endsWith(' (control)') ? `${code(name.slice(0, -' (control)'.length))} (control)` : code(name)}`)
      .join('\n');
    const omitted = c.omitted.length ? `\n\n${plural(c.omitted.length, 'more lane')} not drawn: ${c.omitted.map(code).join(', ')}.` : '';
    const clipped = c.clipped.length ? `\n\nDrawn at the top of the axis (clipped, their loss went above it or non-finite): ${c.clipped.map(code).join(', ')}.` : '';
    parts.push('', `### ${text(c.title)}`, '', fence('mermaid', c.mermaid), '', details('Lines in plot order (mermaid charts have no legend)', `${order}${omitted}${clipped}\n\nA lane holds its last value after it stopped; the axis ends at ${fmtBpb(c.yMax)} bits (${text(c.clipNote)}).`));
  }
  return parts.join('\n');
}

function matrixCell(results: ProbeResult[], all: ProbeResult[]): string {
  const worst = worstResult(results);
  if (worst === undefined) return '';
  const follows = worst.explainedBy !== undefined && (worst.verdict === 'fail' || worst.verdict === 'inconclusive');
  const word = worst.verdict === 'fail' ? (follows ? 'FAIL' : `**${VERDICT_WORD[worst.verdict]}**`) : VERDICT_WORD[worst.verdict];
  const icon = follows ? `↳ ${word} ← ${hypothesisOf(worst.explainedBy!, all)}` : `${VERDICT_ICON[worst.verdict]} ${word}`;
  if (worst.verdict === 'skipped' || worst.statistic.value === null) return icon;
  const count = results.length > 1 ? ` (${results.filter((r) => r.verdict === 'fail').length}/${results.length} fail)` : '';
  return `${icon} ${fmtValue(worst.statistic)}${count}`;
}

function statisticsLegend(columns: string[], results: ProbeResult[]): string {
  return columns
    .map((p) => {
      const judged = results.find((r) => r.probe === p && r.verdict !== 'skipped' && r.statistic.threshold !== null) ?? results.find((r) => r.probe === p)!;
      const rule = fmtRule(judged.statistic);
      return `- ${code(p)}: ${text(judged.statistic.name)}${rule ? `, fails when ${text(rule)}` : ''}`;
    })
    .join('\n');
}

function matrixSection(report: Report): string {
  const all = report.results.filter((r) => r.site === undefined);
  const results = judgedOnly(all);
  if (results.length === 0) return '';
  const columns = probeColumns(report, results);
  const formats = [...new Set(results.map((r) => r.format))];
  const rows = formats.map((f) => [code(f), ...columns.map((p) => matrixCell(results.filter((r) => r.format === f && r.probe === p), report.results))]);
  const tbl = table(['Format', ...columns.map((p) => hypothesisLabel(p, results))], rows);
  return [
    '## Hypothesis matrix',
    '',
    'Each cell: the verdict on the hypothesis for that format, with the measured statistic (the worst one when several optimizers or seeds ran). `↳ FAIL ← H1`: the failure follows from H1 on the same format (an experiment undid H1 and this probe passed) — a consequence, not a second cause.',
    '',
    rows.length > FOLD_ROWS ? details(`${rows.length} formats × ${columns.length} probes`, tbl) : tbl,
    ...(all.length > results.length ? ['', `${plural(all.length - results.length, 'result')} skipped for every format of a row or column are left out (listed under Not judged).`] : []),
    '',
    details('Statistic per column', statisticsLegend(columns, results)),
  ].join('\n');
}

function sitesSection(report: Report): string {
  const results = judgedOnly(report.results.filter((r) => r.site !== undefined), (r) => `${r.site}\u0000${r.format}`);
  if (results.length === 0) return '';
  const columns = probeColumns(report, results);
  const keys = [...new Map(results.map((r) => [`${r.site}\u0000${r.format}`, { site: r.site!, format: r.format }])).values()];
  const rows = keys.map(({ site, format }) => [code(site), code(format), ...columns.map((p) => matrixCell(results.filter((r) => r.site === site && r.format === format && r.probe === p), report.results))]);
  const tbl = table(['Site', 'Format', ...columns.map((p) => siteColumnLabel(p, results))], rows);
  const failing = new Set(results.filter((r) => r.verdict === 'fail').map((r) => r.site!));
  return [
    '## Quantization sites',
    '',
    `${plural(keys.length, 'QuantizeLinear/DequantizeLinear site')} audited on the tensors they really see; ${plural(failing.size, 'site')} with a witness${failing.size ? `: ${[...failing].map(code).join(', ')}` : ''}.`,
    '',
    rows.length > FOLD_ROWS ? details(`${rows.length} sites`, tbl) : tbl,
    '',
    details('Statistic per column', statisticsLegend(columns, results)),
  ].join('\n');
}

function evidenceTable(t: EvidenceTable): string {
  const head = t.title ? `**${text(t.title)}**\n\n` : '';
  const rows = t.rows.map((r) => t.headings.map((_, i) => {
    const v = r[i];
    return typeof v === 'number' ? fmtNum(v) : v === null || v === undefined ? 'n/a' : text(v);
  }));
  return head + table(t.headings.map(text), rows);
}

/** ONNX `--float-model`: the per-weight and per-output SQNR tables and the worst weight, pass or fail. */
function floatModelSection(report: Report): string {
  const parts: string[] = [];
  for (const r of report.results.filter((x) => x.probe === FLOAT_MODEL_PROBE && (x.evidence.tables?.length ?? 0) >= 2)) {
    parts.push(`## Against the float model ${code(String(r.evidence.measurements.floatModel ?? ''))}`);
    for (const t of r.evidence.tables!.slice(0, 2)) parts.push(evidenceTable(t));
    if (r.evidence.notes?.length) parts.push(r.evidence.notes.map((n) => `- ${text(n)}`).join('\n'));
  }
  return parts.join('\n\n');
}

function evidenceDetails(r: ProbeResult): string {
  const m = Object.entries(r.evidence.measurements);
  const parts: string[] = [];
  if (m.length > 0) parts.push(table(['Measurement', 'Value'], m.map(([k, v]) => [code(k), typeof v === 'number' ? fmtNum(v) : v === null ? 'n/a' : text(String(v))]), ['l', 'r']));
  for (const t of r.evidence.tables ?? []) parts.push(evidenceTable(t));
  for (const n of r.evidence.notes ?? []) parts.push(`> ${text(n)}`);
  if (parts.length === 0) return '';
  const what = [m.length ? plural(m.length, 'measurement') : '', r.evidence.tables?.length ? plural(r.evidence.tables.length, 'table') : '', r.evidence.notes?.length ? plural(r.evidence.notes.length, 'note') : ''].filter(Boolean).join(', ');
  return details(`Evidence: ${what}`, parts.join('\n\n'));
}

function witnessBlock(r: ProbeResult): string {
  const w = r.witness;
  const lines = [`### ❌ ${text(hypothesisLabelFor(r.hypothesis, r.probe))} — ${text(resultCoordinates(r))}`, ''];
  if (w) lines.push(`> ${text(w.summary)}`, '');
  lines.push(table(['Statistic', 'Value', 'Fails when'], [[text(r.statistic.name), fmtValue(r.statistic), text(fmtRule(r.statistic)) || 'n/a']], ['l', 'r', 'l']));
  if (w?.samples && w.samples.length > 0) {
    const withExpected = w.samples.some((s) => s.expected !== undefined);
    const withNote = w.samples.some((s) => s.note !== undefined);
    const labels = w.sampleLabels ?? { x: 'x', y: 'target', expected: 'reference' };
    const headings = [labels.x, labels.y, ...(withExpected ? [labels.expected ?? 'reference'] : []), ...(withNote ? ['note'] : [])];
    const rows = w.samples.map((s) => [fmtNum(s.x), fmtNum(s.y), ...(withExpected ? [s.expected === undefined ? '' : fmtNum(s.expected)] : []), ...(withNote ? [text(s.note ?? '')] : [])]);
    lines.push('', table(headings.map(text), rows, headings.map((h, i) => (withNote && i === headings.length - 1 ? 'l' : 'r'))));
  }
  if (w) lines.push('', 'Reproduce:', '', fence('sh', w.repro));
  const ev = evidenceDetails(r);
  if (ev) lines.push('', ev);
  return lines.join('\n');
}

function witnessesSection(report: Report): string {
  const failed = report.results.filter(isCause);
  if (failed.length === 0) return '';
  const open = failed.slice(0, OPEN_WITNESSES).map(witnessBlock);
  const rest = failed.slice(OPEN_WITNESSES);
  const parts = [`## Witnesses (${failed.length})`, '', ...open.flatMap((b) => [b, ''])];
  if (rest.length > 0) parts.push(details(`${plural(rest.length, 'more witness', 'more witnesses')}`, rest.map(witnessBlock).join('\n\n')));
  return parts.join('\n');
}

/** Failures (and unjudgeable results) that follow from a cause: named with the experiment that showed it, folded. */
function consequencesSection(report: Report): string {
  const follows = report.results.filter((r) => (r.verdict === 'fail' || r.verdict === 'inconclusive') && r.explainedBy !== undefined);
  if (follows.length === 0) return '';
  const rows = follows.map((r) => [
    `${r.verdict === 'fail' ? 'FAIL' : 'n/a'} ${text(hypothesisLabelFor(r.hypothesis, r.probe))}`,
    text(resultCoordinates(r)),
    `${text(hypothesisOf(r.explainedBy!, report.results))}${r.explainedBySite ? ` at ${code(r.explainedBySite)}` : ''}`,
    text(r.explanation ?? r.witness?.summary ?? r.reason ?? ''),
  ]);
  return [
    `## Consequences (${follows.length})`,
    '',
    'These results failed (or could not be judged) only because of a cause above: undoing that cause made them pass. They are not counted by the gate.',
    '',
    details(plural(follows.length, 'consequence'), table(['Result', 'Where', 'Follows from', 'How we know'], rows)),
  ].join('\n');
}

function fixesSection(report: Report): string {
  const failed = report.results.filter(isCause);
  const probes = [...new Set(failed.map((r) => r.probe))];
  const fixes = probes.filter((p) => PROBE_INFO[p] !== undefined);
  if (fixes.length === 0) return '';
  return [
    '## Suggested fixes',
    '',
    ...fixes.map((p) => {
      const h = failed.find((r) => r.probe === p)!.hypothesis;
      const formats = [...new Set(failed.filter((r) => r.probe === p).map((r) => r.format))];
      return `- **${text(hypothesisLabelFor(h, p))}** (${formats.map(code).join(', ')}): ${PROBE_INFO[p]!.fix}`;
    }),
  ].join('\n');
}

function notJudgedSection(report: Report): string {
  const rest = report.results.filter((r) => r.verdict === 'skipped' || (r.verdict === 'inconclusive' && r.explainedBy === undefined));
  if (rest.length === 0) return '';
  const rows = rest.map((r) => [`${VERDICT_ICON[r.verdict]} ${r.verdict}`, code(r.probe), text(resultCoordinates(r)), text(r.reason ?? r.evidence.notes?.[0] ?? '')]);
  const inconclusive = rest.filter((r) => r.verdict === 'inconclusive').length;
  const summary = `Not judged: ${plural(rest.length - inconclusive, 'skipped probe')}, ${plural(inconclusive, 'inconclusive probe')}`;
  return ['## Not judged', '', details(summary, table(['Verdict', 'Probe', 'Where', 'Why'], rows))].join('\n');
}

/** One line for the corpus: its spec, then what it is and its size (the spec is not repeated). */
function corpusLine(run: Report['run']): string {
  if (run.corpus === null) return 'n/a';
  const info = { ...(run.corpusInfo ?? {}) };
  delete info.corpus;
  const parts = Object.entries(info).map(([k, v]) => (k === 'source' ? text(String(v)) : `${text(k)} ${typeof v === 'number' ? fmtNum(v) : text(v)}`));
  return [code(run.corpus), ...parts].join(' · ');
}

function environmentSection(report: Report): string {
  const run = report.run;
  const rows: [string, string][] = [
    ['quant-audit', report.tool.version],
    ['Report', `${report.kind} · schemaVersion ${report.schemaVersion} · ${code(run.id)}`],
    ['Target', code(run.target)],
    ...Object.entries(run.targetInfo ?? {}).map(([k, v]): [string, string] => [`Target ${text(k)}`, text(v)]),
    ['Backend', text(run.backend)],
    ['Execution provider', run.ep === null ? 'n/a' : text(run.ep)],
    ['Seeds', run.seeds.join(', ') || 'n/a'],
    ['Corpus', corpusLine(run)],
    ['Formats', run.formats.map(code).join(', ') || 'n/a'],
    ['Probes', run.probes.map(code).join(', ') || 'n/a'],
    ['Gate', code(`--fail-on ${run.failOn}`)],
    ...(run.shard ? [['Shard', `${run.shard.index}/${run.shard.count}`] as [string, string]] : []),
    ['Started', run.startedAt],
    ...(run.durationMs !== undefined ? [['Duration', `${fmtNum(run.durationMs / 1000)} s`] as [string, string]] : []),
    ['Versions', Object.entries(run.versions).filter(([k]) => k !== 'quant-audit').map(([k, v]) => `${text(k)} ${text(v)}`).join(' · ') || 'n/a'],
    ...(run.machine ? [['Machine', Object.values(run.machine).map(text).join(' · ')] as [string, string]] : []),
    ...(run.mergeCommand ? [['Merged by', code(run.mergeCommand)] as [string, string]] : []),
  ];
  const thresholds = Object.entries(report.thresholds).map(([k, v]) => [code(k), Array.isArray(v) ? `[${v.map(fmtNum).join(', ')}]` : fmtNum(v)]);
  const parts = ['## Environment', '', table(['What', 'Value'], rows.map(([k, v]) => [k, v])), '', 'Command:', '', fence('sh', run.command)];
  if (thresholds.length > 0) parts.push('', details(`Thresholds (${thresholds.length})`, table(['Threshold', 'Value'], thresholds, ['l', 'r'])));
  return parts.join('\n');
}


