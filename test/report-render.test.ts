import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Code, Heading, Root } from 'mdast';
import { renderMarkdown } from '../src/report/markdown.js';
import { buildVerdict } from '../src/verdict/gate.js';
import { renderJunit } from '../src/report/junit.js';
import { renderTerminal } from '../src/report/terminal.js';
import { roundTrip, serializeReport } from '../src/report/json.js';
import { validate } from '../src/report/schema.js';
import { readReport, writeRunReport } from '../src/report/write.js';
import { renderAs } from '../src/report/renderers.js';
import { fixtureReport, fleetReport } from './support/report-fixture.js';
import { parseGfm, parseXml, tables, textOf, validateXyChart, type XmlElement } from './support/report-check.js';

const report = fixtureReport();
const md = renderMarkdown(report);
const tree = parseGfm(md);

function codeBlocks(root: Root, lang: string): string[] {
  return root.children.filter((n): n is Code => n.type === 'code' && n.lang === lang).map((n) => n.value);
}

function headings(root: Root, depth: number): string[] {
  return root.children.filter((n): n is Heading => n.type === 'heading' && n.depth === depth).map(textOf);
}

test('markdown: title and headline name the target and the verdict', () => {
  assert.deepEqual(headings(tree, 1), ['R7 falsification witness (R7: a reproducible counterexample to a claim about the quantizer) — mutant:in-place']);
  const headline = textOf(tree.children[1]!);
  assert.equal(headline, '🔴 Falsified (exit 1 at --fail-on fail): 2 hypotheses supported as a cause, 3 failures following from them, 3 of 8 lanes dead (1 diverged), 1 partial.');
  assert.match(md, /- ❌ \*\*H4 · lost-updates\*\* — updates smaller than half a quantization step vanish \(no fp32 master weights\): `int4`, `int8`/);
  assert.doesNotMatch(md, /- ❌ \*\*learnability\*\*/, 'the dead lanes follow from H4: learnability is not a cause of its own');
  assert.deepEqual(headings(tree, 2), ['Lanes', 'Hypothesis matrix', 'Quantization sites', 'Witnesses (3)', 'Consequences (3)', 'Suggested fixes', 'Not judged', 'Environment']);
});

test('markdown: the diagnosis names causes, what follows from them, and dead lanes no probe explains', () => {
  assert.match(md, /- `int8`: \*\*H4 · lost-updates\*\* — learnability follows from H4 — 1 lane that did not learn, explained by H4/);
  assert.match(md, /- `posit8`: no primary cause — 1 lane that did not learn and \*\*no probe explains\*\* \(`QA-posit8-h128-LR0\.003-rng1597-muon`\)/);
  // a downstream site with nothing of its own folds into the upstream cause's line
  assert.match(md, /- `fc2\/QuantizeLinear` \(`uint8`\): \*\*H2 · scale-collapse\*\* — 1 failure downstream follows from it: scale-collapse at `fc3\/QuantizeLinear`/);
  assert.doesNotMatch(md, /- `fc3\/QuantizeLinear`/);
  const consequences = tables(tree).find((t) => t.header.join() === 'Result,Where,Follows from,How we know')!;
  assert.deepEqual(consequences.rows.map((r) => [r[0], r[2]]), [['FAIL H2 · scale-collapse', 'H2 at fc2/QuantizeLinear'], ['FAIL learnability', 'H4'], ['FAIL learnability', 'H4']]);
});

test('markdown: every GFM table has as many cells per row as header columns', () => {
  const all = tables(tree);
  assert.ok(all.length >= 8, `expected at least 8 top-level tables, got ${all.length}`);
  for (const t of all) for (const row of t.rows) assert.equal(row.length, t.header.length, `row ${JSON.stringify(row)} of table ${JSON.stringify(t.header)}`);
});

test('markdown: the lane table has format · optimizer · best bpb · status and the uniform baseline', () => {
  const lanes = tables(tree).find((t) => t.header[0] === 'Lane')!;
  assert.deepEqual(lanes.header, ['Lane', 'Format', 'Optimizer', 'Best bpb', 'Final bpb', 'Steps', 'Status', 'Update/step']);
  assert.equal(lanes.rows.length, 11);
  assert.deepEqual(lanes.rows[0], ['QA-fp32-h128-LR0.003-rng1597-adamw (control)', 'fp32', 'adamw', '2.669', '2.679', '100', '✅ clean', '']);
  assert.deepEqual(lanes.rows.find((r) => r[0] === 'QA-int8-h128-LR0.003-rng1597-adamw'), ['QA-int8-h128-LR0.003-rng1597-adamw', 'int8', 'adamw', '6.985', '6.995', '100', '💀 dead ← H4', '0.027']);
  assert.deepEqual(lanes.rows.find((r) => r[0] === 'QA-posit8-h128-LR0.003-rng1597-adamw')?.[6], '🔴 partial');
  assert.deepEqual(lanes.rows.find((r) => r[0] === 'QA-int4-h128-LR0.003-rng1597-muon')?.[6], '🟡 learns');
  // a diverged lane's loss is not a measurement: named, never printed as a number
  assert.deepEqual(lanes.rows.find((r) => r[0] === 'QA-posit8-h128-LR0.003-rng1597-muon')?.slice(3), ['—', 'diverged', '100', '💥 diverged', '0.18']);
  assert.deepEqual(lanes.rows.at(-1), ['uniform baseline log2(V)', '', '', '7.000', '', '', '', '']);
});

test('markdown: hypothesis matrix is format × hypothesis with the statistic; sites get their own table', () => {
  const matrix = tables(tree).find((t) => t.header[0] === 'Format' && t.header.length > 2)!;
  assert.deepEqual(matrix.header, ['Format', 'roundtrip', 'H1 · missing-dequant', 'H3 · broken-ste', 'H4 · lost-updates', 'learnability']);
  assert.deepEqual(matrix.rows.map((r) => r[0]), ['int4', 'int8', 'posit8', 'nf4']);
  const int8 = matrix.rows[1]!;
  assert.equal(int8[4], '❌ supported 0');
  assert.equal(int8[3], '✅ refuted 0.9998');
  assert.equal(matrix.rows[2]![3], '➖ skipped');
  assert.equal(matrix.rows[3]![1], '✅ refuted ∞ dB');
  assert.equal(matrix.rows[3]![5], '❔ inconclusive');
  const sites = tables(tree).find((t) => t.header[0] === 'Site')!;
  assert.deepEqual(sites.header, ['Site', 'Format', 'roundtrip: SQNR deficit, lower is better', 'H2 · scale-collapse: zero fraction, lower is better']);
  assert.deepEqual(sites.rows, [
    ['conv1/QuantizeLinear', 'int8', '✅ refuted 0.2', ''],
    ['fc2/QuantizeLinear', 'uint8', '', '❌ supported 0.97'],
    ['fc3/QuantizeLinear', 'uint8', '', '↳ FAIL ← H2 0.99'],
  ]);
});

test('markdown: every mermaid block is a valid xychart-beta with one series per lane plus the baseline', () => {
  const charts = codeBlocks(tree, 'mermaid');
  assert.equal(charts.length, 2);
  for (const c of charts) assert.deepEqual(validateXyChart(c), []);
  const adamw = charts[0]!.split('\n');
  assert.equal(adamw.filter((l) => l.trim().startsWith('line [')).length, 6); // baseline + 5 adamw lanes
  assert.ok(adamw.includes('  x-axis "step" ["0", "20", "40", "60", "80", "100"]'));
  assert.ok(adamw.includes('  line [7, 7, 7, 7, 7, 7]'));
  // The validator itself rejects what mermaid would.
  assert.notDeepEqual(validateXyChart('xychart-beta\n  x-axis ["a", "b"]\n  y-axis 0 --> 8\n  line [1, NaN]'), []);
  assert.notDeepEqual(validateXyChart('xychart-beta\n  x-axis ["a", "b"]\n  y-axis 0 --> 8\n  line [1, 2, 3]'), []);
  assert.notDeepEqual(validateXyChart('graph TD\n  line [1]'), []);
});

test('markdown: each witness has its statistic, samples and a repro command; fixes follow', () => {
  const repro = codeBlocks(tree, 'sh');
  assert.ok(repro.includes('npx quant-audit run --target mutant:in-place --probe lost-updates --format int8 --seed 1597'));
  assert.ok(repro.includes('quant-audit run --target mutant:in-place --no-master-weights')); // environment command
  const witnesses = tree.children.filter((n): n is Heading => n.type === 'heading' && n.depth === 3 && textOf(n).startsWith('❌'));
  assert.deepEqual(witnesses.map(textOf), [
    '❌ H2 · scale-collapse — uint8 · seed 1597 · site fc2/QuantizeLinear',
    '❌ H4 · lost-updates — int4 · seed 1597',
    '❌ H4 · lost-updates — int8 · seed 1597',
  ]);
  const samples = tables(tree).find((t) => t.header.join() === 'x,target,reference,note')!;
  assert.deepEqual(samples.rows[1], ['-0.25', 'NaN', '0.75', '']);
  assert.match(md, /\*\*H4 · lost-updates\*\* \(`int4`, `int8`\): Keep fp32 master weights/);
  assert.equal((md.match(/<details>/g) ?? []).length, (md.match(/<\/details>/g) ?? []).length);
  // Pipes and angle brackets from probe text are escaped, not markup.
  assert.match(md, /\| `note` \| a \\\| pipe \|/);
  assert.match(md, /rounded away &lt;every time&gt;/);
});

test('markdown: the environment names version, backend, ep, seeds and corpus', () => {
  const env = tables(tree).find((t) => t.header.join() === 'What,Value')!;
  const get = (k: string): string | undefined => env.rows.find((r) => r[0] === k)?.[1];
  assert.equal(get('quant-audit'), '0.1.0');
  assert.equal(get('Backend'), 'wasm');
  assert.equal(get('Execution provider'), 'n/a');
  assert.equal(get('Seeds'), '1597');
  assert.equal(get('Corpus'), 'builtin:english · name brown · bytes 1000000 · vocab 128', 'one row: the spec once, then what it is');
  assert.equal(get('Corpus bytes'), undefined);
  assert.equal(get('Versions'), 'node 20.19.0 · @tensorflow/tfjs 4.22.0', 'one row, without repeating quant-audit');
});

test('markdown: a fleet witness report (lanes only) renders lanes and a chart, no matrix', () => {
  const fleet = fleetReport();
  const out = renderMarkdown(fleet);
  const t = parseGfm(out);
  assert.deepEqual(headings(t, 1), ['R7 falsification witness (R7: a reproducible counterexample to a claim about the quantizer) — fleet.csv']);
  assert.deepEqual(headings(t, 2), ['Lanes', 'Environment']);
  for (const c of codeBlocks(t, 'mermaid')) assert.deepEqual(validateXyChart(c), []);
  assert.match(out, /🔴 \*\*Falsified\*\* \(exit 1 at `--fail-on dead`\): 3 of 7 lanes dead \(1 diverged\), 1 partial\./);
  assert.deepEqual(validate(fleet), { valid: true, errors: [] });
});

test('markdown: an empty run still renders a valid document', () => {
  const empty = { ...fixtureReport(), results: [], lanes: [], asymmetries: undefined, verdict: buildVerdict([], [], 'fail') };
  const out = renderMarkdown(empty);
  assert.deepEqual(headings(parseGfm(out), 2), ['Environment']);
  assert.match(out, /✅ \*\*No witness\*\*/);
});

test('schema: fixture, fleet and empty reports validate; broken ones are rejected with the path', () => {
  assert.deepEqual(validate(report), { valid: true, errors: [] });
  const noWitness = structuredClone(roundTrip(report));
  const failing = noWitness.results.find((r) => r.verdict === 'fail')!;
  delete failing.witness;
  const bad = validate(noWitness);
  assert.equal(bad.valid, false);
  assert.ok(bad.errors.some((e) => /^\/results\/\d+: must have required property 'witness'$/.test(e)), bad.errors.join('\n'));
  const wrongEnum = structuredClone(roundTrip(report));
  (wrongEnum.lanes[0] as { status: string }).status = 'zombie';
  assert.ok(validate(wrongEnum).errors.some((e) => e.startsWith('/lanes/0/status: must be equal to one of the allowed values')));
});

test('schema: declares every field the fixture uses (it fills every optional field)', async () => {
  // Re-validate with additionalProperties:false injected everywhere: an undeclared field fails.
  const { Ajv } = await import('ajv');
  const schema = JSON.parse(readFileSync(new URL('../../schema/report.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const close = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(close);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.properties && o.additionalProperties === undefined) o.additionalProperties = false;
      Object.values(o).forEach(close);
    }
  };
  close(schema);
  const check = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const ok = check(JSON.parse(serializeReport(report)));
  assert.equal(ok, true, JSON.stringify(check.errors?.slice(0, 3)));
});

function all(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => all(c, name))];
}

test('junit: well-formed, one testcase per result and lane, failures carry the witness', () => {
  const xml = renderJunit(report);
  const root = parseXml(xml);
  assert.equal(root.name, 'testsuites');
  const cases = all(root, 'testcase');
  assert.equal(cases.length, report.results.length + report.lanes.length);
  assert.equal(root.attrs.tests, String(cases.length));
  assert.equal(Number(root.attrs.failures), all(root, 'failure').length);
  assert.equal(Number(root.attrs.errors), all(root, 'error').length);
  assert.equal(Number(root.attrs.skipped), all(root, 'skipped').length);
  assert.deepEqual(all(root, 'testsuite').map((s) => s.attrs.name), ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'lost-updates', 'learnability', 'lanes']);
  const lost = all(root, 'testsuite').find((s) => s.attrs.name === 'lost-updates')!;
  const int8 = lost.children.find((c) => c.attrs.name === 'int8 · seed 1597')!;
  const failure = int8.children[0]!;
  assert.equal(failure.name, 'failure');
  assert.equal(failure.attrs.message, 'H4 supported: moved after 1000 tiny updates = 0 (fails when < 0.5)');
  assert.match(failure.text, /repro: npx quant-audit run --target mutant:in-place --probe lost-updates --format int8 --seed 1597/);
  assert.match(failure.text, /x=-0.25 → NaN \(reference 0.75\)/);
  const lanes = all(root, 'testsuite').find((s) => s.attrs.name === 'lanes')!;
  assert.equal(lanes.attrs.failures, '3'); // 2 dead + 1 diverged; the partial lane is not gated at --fail-on fail
  assert.equal(all(parseXml(renderJunit(fixtureReport('partial'))), 'testsuite').find((s) => s.attrs.name === 'lanes')!.attrs.failures, '4'); // + the partial lane
  assert.equal(lanes.attrs.errors, '1'); // the inconclusive lane
  // The minimal parser really rejects broken XML.
  assert.throws(() => parseXml('<a><b></a></b>'));
  assert.throws(() => parseXml('<a x="1 & 2"/>'));
});

test('terminal: tables without colour codes when color is off, compact ASCII for CI', () => {
  const plain = renderTerminal(report, { color: false });
  assert.doesNotMatch(plain, /\x1b\[/);
  assert.match(plain, /│ int8\s+│ pass 0.01 dB\s+│ pass 1.002\s+│ pass 0.9998\s+│ FAIL 0\s+│ FAIL ← H4 6.99 bpb\s+│/);
  assert.match(plain, /💀 dead ← H4/);
  assert.match(plain, /● int8: H4 \(lost-updates\) — learnability follows from H4 — 1 lane that did not learn, explained/);
  assert.match(plain, /Consequences \(3; not counted by the gate\)/);
  const colored = renderTerminal(report, { color: true });
  assert.match(colored, /\x1b\[31m/);
  const ci = renderTerminal(report, { color: false, compact: true, width: 100 });
  assert.doesNotMatch(ci, /[┌│💀]/u);
  assert.match(ci, /\| QA-int8-h128-LR0.003-rng1597-adamw\s+\| int8\s+\| adamw\s+\| 6.985\s+\| 6.995\s+\| DEAD ← H4\s+\|/);
  assert.match(ci, /exit 1 \(--fail-on fail\)\n$/);
});

test('write + read: report re-renders byte-identically (md, junit, json) and validates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-report-'));
  try {
    const written = await writeRunReport(structuredClone(report), dir);
    const back = readReport(written.files.json);
    assert.deepEqual(validate(back), { valid: true, errors: [] });
    assert.equal(renderAs(back, 'md'), readFileSync(written.files.md, 'utf8'));
    assert.equal(renderAs(back, 'junit'), readFileSync(written.files.xml, 'utf8'));
    assert.equal(renderAs(back, 'json'), readFileSync(written.files.json, 'utf8'));
    // The in-memory report (NaN, Infinity) renders the same as its JSON form.
    assert.equal(renderMarkdown(report), readFileSync(written.files.md, 'utf8'));
    assert.ok(Number.isNaN(back.lanes.find((l) => l.name === 'QA-posit8-h128-LR0.003-rng1597-muon')!.bestBpb));
    assert.equal(back.results.find((r) => r.probe === 'roundtrip' && r.format === 'nf4')!.statistic.value, Infinity);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
