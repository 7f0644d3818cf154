/**
 * report.xml: JUnit XML for CI test tabs. One <testsuite> per probe with one <testcase> per
 * result (probe × format × optimizer/seed/site), plus a `lanes` suite with one testcase per
 * learnability lane. The CI test tab agrees with the exit code: a result or lane is a
 * <failure> exactly when the gate counted it (`gated`, set by src/verdict/gate.ts); a failure
 * that follows from another (`explainedBy`) or lies below the gate passes with the witness in
 * <system-out>. Inconclusive → <error> (unless a cause explains it); skipped → <skipped>.
 */
import { fmtLaneBpb, fmtBpb, fmtStatistic, isGated, isLaneGated, resultCoordinates, uniformBaseline } from './text.js';
import type { Lane, ProbeResult, Report } from './types.js';
import { controlFailed } from '../verdict/lanes.js';

/** XML 1.0 text: escape markup, drop characters XML cannot hold at all. */
function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

function seconds(ms: number | undefined): string {
  return ((ms ?? 0) / 1000).toFixed(3);
}

function witnessText(r: ProbeResult): string {
  const w = r.witness;
  const lines = [fmtStatistic(r.statistic)];
  if (w) {
    lines.push(w.summary);
    for (const s of w.samples ?? []) lines.push(`  x=${s.x} → ${s.y}${s.expected !== undefined ? ` (reference ${s.expected})` : ''}${s.note ? `  ${s.note}` : ''}`);
    lines.push(`repro: ${w.repro}`);
  }
  return lines.join('\n');
}

function resultCase(r: ProbeResult, suite: string, gated: boolean): string {
  const open = `    <testcase${attrs({ name: resultCoordinates(r) || r.format, classname: `quant-audit.${suite}`, time: seconds(r.durationMs) })}`;
  const follows = r.explainedBy !== undefined ? `follows from ${r.explainedBy}${r.explainedBySite ? ` at ${r.explainedBySite}` : ''}: ${r.explanation ?? ''}` : undefined;
  switch (r.verdict) {
    case 'pass':
      return `${open}/>`;
    case 'skipped':
      return `${open}>\n      <skipped${attrs({ message: r.reason ?? 'skipped' })}/>\n    </testcase>`;
    case 'inconclusive':
      if (follows) return `${open}>\n      <system-out>${xmlEscape(`not judged: ${r.reason ?? ''}\n${follows}`)}</system-out>\n    </testcase>`;
      return `${open}>\n      <error${attrs({ message: `inconclusive: ${r.reason ?? fmtStatistic(r.statistic)}`, type: 'inconclusive' })}>${xmlEscape([r.reason ?? '', ...(r.evidence.notes ?? [])].filter(Boolean).join('\n'))}</error>\n    </testcase>`;
    case 'fail':
      if (!gated) return `${open}>\n      <system-out>${xmlEscape(`${follows ?? 'witness below the gate (--fail-on)'}\n${witnessText(r)}`)}</system-out>\n    </testcase>`;
      return `${open}>\n      <failure${attrs({ message: `${r.hypothesis} supported: ${fmtStatistic(r.statistic)}`, type: 'falsified' })}>${xmlEscape(witnessText(r))}</failure>\n    </testcase>`;
  }
}

function laneCase(l: Lane, baseline: number, gated: boolean): string {
  const open = `    <testcase${attrs({ name: l.name + (l.control ? ' (control)' : ''), classname: 'quant-audit.lanes', time: seconds(l.durationMs) })}`;
  const explained = l.explainedBy === undefined ? '' : l.explainedBy.length > 0 ? `; explained by ${l.explainedBy.join(', ')}` : '; no probe explains it';
  const facts = `${l.status}: best bpb ${fmtLaneBpb(l, 'best')}, final ${fmtLaneBpb(l, 'final')}, uniform baseline ${fmtBpb(baseline)}, ${l.format} ${l.optimizer} seed ${l.seed} lr ${l.lr}${explained}`;
  if (l.status === 'inconclusive' || controlFailed(l)) {
    return `${open}>\n      <error${attrs({ message: `${l.control ? 'control lane did not learn' : 'inconclusive'}: ${facts}`, type: 'inconclusive' })}/>\n    </testcase>`;
  }
  if (gated) return `${open}>\n      <failure${attrs({ message: `lane ${facts}`, type: l.status })}>${xmlEscape(`${facts}${l.note ? `\n${l.note}` : ''}`)}</failure>\n    </testcase>`;
  if (l.status === 'dead' || l.status === 'diverged' || l.status === 'partial') return `${open}>\n      <system-out>${xmlEscape(`lane ${facts} (below the gate at --fail-on)`)}</system-out>\n    </testcase>`;
  return `${open}/>`;
}

interface Suite {
  name: string;
  cases: string[];
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  timeMs: number;
}

function suiteXml(s: Suite): string {
  return `  <testsuite${attrs({ name: s.name, tests: s.tests, failures: s.failures, errors: s.errors, skipped: s.skipped, time: seconds(s.timeMs) })}>\n${s.cases.join('\n')}\n  </testsuite>`;
}

export function renderJunit(report: Report): string {
  const suites: Suite[] = [];
  const probes = [...new Set(report.results.map((r) => r.probe))];
  for (const probe of probes) {
    const rs = report.results.filter((r) => r.probe === probe);
    suites.push({
      name: probe,
      cases: rs.map((r) => resultCase(r, probe, isGated(r, report))),
      tests: rs.length,
      failures: rs.filter((r) => r.verdict === 'fail' && isGated(r, report)).length,
      errors: rs.filter((r) => r.verdict === 'inconclusive' && r.explainedBy === undefined).length,
      skipped: rs.filter((r) => r.verdict === 'skipped').length,
      timeMs: rs.reduce((a, r) => a + (r.durationMs ?? 0), 0),
    });
  }
  if (report.lanes.length > 0) {
    const baseline = uniformBaseline(report);
    const cases = report.lanes.map((l) => laneCase(l, baseline, isLaneGated(l, report)));
    suites.push({
      name: 'lanes',
      cases,
      tests: cases.length,
      failures: cases.filter((c) => c.includes('<failure')).length,
      errors: cases.filter((c) => c.includes('<error')).length,
      skipped: 0,
      timeMs: report.lanes.reduce((a, l) => a + (l.durationMs ?? 0), 0),
    });
  }
  const total = (k: 'tests' | 'failures' | 'errors' | 'skipped'): number => suites.reduce((a, s) => a + s[k], 0);
  const head = `<testsuites${attrs({ name: `quant-audit ${report.run.target}`, tests: total('tests'), failures: total('failures'), errors: total('errors'), skipped: total('skipped'), time: seconds(report.run.durationMs) })}>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${head}\n${suites.map(suiteXml).join('\n')}\n</testsuites>\n`;
}
