/**
 * report.xml: JUnit XML for CI test tabs. One <testsuite> per probe with one <testcase> per
 * result (probe × format × optimizer/seed/site), plus a `lanes` suite with one testcase per
 * learnability lane. fail → <failure> carrying the witness text; inconclusive → <error>;
 * skipped → <skipped>. A dead lane is a failure (a partial one too at --fail-on partial), an inconclusive lane an error.
 */
import { fmtBpb, fmtStatistic, resultCoordinates, uniformBaseline } from './text.js';
import type { FailOn, Lane, ProbeResult, Report } from './types.js';

/** XML 1.0 text: escape markup, drop characters XML cannot hold at all. */
export function xmlEscape(s: string): string {
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

function resultCase(r: ProbeResult, suite: string): string {
  const open = `    <testcase${attrs({ name: resultCoordinates(r) || r.format, classname: `quant-audit.${suite}`, time: seconds(r.durationMs) })}`;
  switch (r.verdict) {
    case 'pass':
      return `${open}/>`;
    case 'skipped':
      return `${open}>\n      <skipped${attrs({ message: r.reason ?? 'skipped' })}/>\n    </testcase>`;
    case 'inconclusive':
      return `${open}>\n      <error${attrs({ message: `inconclusive: ${r.reason ?? fmtStatistic(r.statistic)}`, type: 'inconclusive' })}>${xmlEscape([r.reason ?? '', ...(r.evidence.notes ?? [])].filter(Boolean).join('\n'))}</error>\n    </testcase>`;
    case 'fail':
      return `${open}>\n      <failure${attrs({ message: `${r.hypothesis} supported: ${fmtStatistic(r.statistic)}`, type: 'falsified' })}>${xmlEscape(witnessText(r))}</failure>\n    </testcase>`;
  }
}

function laneCase(l: Lane, baseline: number, failOn: FailOn): string {
  const open = `    <testcase${attrs({ name: l.name + (l.control ? ' (control)' : ''), classname: 'quant-audit.lanes', time: seconds(l.durationMs) })}`;
  const facts = `best bpb ${fmtBpb(l.bestBpb)}, final ${fmtBpb(l.bpb)}, uniform baseline ${fmtBpb(baseline)}, ${l.format} ${l.optimizer} seed ${l.seed} lr ${l.lr}`;
  // A partial lane is a failure only where the gate counts it (--fail-on partial), so the test tab agrees with the exit code.
  const bad = l.control ? l.status !== 'clean' && l.status !== 'learns' : l.status === 'dead' || (l.status === 'partial' && failOn === 'partial');
  if (l.status === 'inconclusive' || (l.control && bad)) {
    return `${open}>\n      <error${attrs({ message: `${l.control ? 'control lane did not learn' : 'inconclusive'}: ${facts}`, type: 'inconclusive' })}/>\n    </testcase>`;
  }
  if (bad) return `${open}>\n      <failure${attrs({ message: `lane ${l.status}: ${facts}`, type: l.status })}>${xmlEscape(`${facts}${l.note ? `\n${l.note}` : ''}`)}</failure>\n    </testcase>`;
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
      cases: rs.map((r) => resultCase(r, probe)),
      tests: rs.length,
      failures: rs.filter((r) => r.verdict === 'fail').length,
      errors: rs.filter((r) => r.verdict === 'inconclusive').length,
      skipped: rs.filter((r) => r.verdict === 'skipped').length,
      timeMs: rs.reduce((a, r) => a + (r.durationMs ?? 0), 0),
    });
  }
  if (report.lanes.length > 0) {
    const baseline = uniformBaseline(report);
    const cases = report.lanes.map((l) => laneCase(l, baseline, report.run.failOn));
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
