/**
 * Fleet witness from files: the motivating report's 12 lanes give its hand classification, the
 * JSONL copy gives the identical report, the flags fixture shows every flag, bad input is a
 * clear error, and the command writes the usual run directory with the gate's exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { UsageError } from '../src/errors.js';
import { validate } from '../src/report/schema.js';
import { fixtureFiles, FIXTURE_DIR, IGLA_LANES, igLaneName } from '../fixtures/fleet/generate.js';
import { FLAGS_CSV, IGLA_CSV, IGLA_JSONL, sourceFree, statusOf, witness } from './support/witness-helpers.js';

test('the checked-in fleet fixtures equal what fixtures/fleet/generate.ts writes', () => {
  for (const [name, text] of Object.entries(fixtureFiles())) {
    assert.equal(readFileSync(join(FIXTURE_DIR, name), 'utf8'), text, `${name} is stale: run node dist/fixtures/fleet/generate.js`);
  }
});

test('the 12 published lanes: 8 dead, int4 muon partial, gf256 / posit16 / fp16 learned', async () => {
  const { report } = await witness(IGLA_CSV);
  assert.equal(report.kind, 'witness');
  assert.equal(report.lanes.length, 12);
  assert.deepEqual(statusOf(report), {
    'nf4 muon': 'dead',
    'nf4 adamw': 'dead',
    'posit8 muon': 'dead',
    'fp8-e4m3 adamw': 'dead',
    'int4 adamw': 'dead',
    'int8 adamw': 'dead',
    'posit8 adamw': 'dead',
    'int8 muon': 'dead',
    'int4 muon': 'partial',
    'fp16 adamw': 'learns', // 2.6691 is 0.097 above the adamw control gf256 (2.5719): learns, not clean
    'posit16 muon': 'clean', // the muon control
    'gf256 adamw': 'clean', // the adamw control (not in the registry; 256 ≥ 16 bits by its name)
  });
  // the report's hand classification, with clean counted as learned
  for (const l of IGLA_LANES) {
    const lane = report.lanes.find((x) => x.name === igLaneName(l))!;
    assert.equal(lane.status === 'clean' ? 'learns' : lane.status, l.expected, lane.name);
    assert.equal(lane.bestBpb, l.best, lane.name);
    assert.equal(lane.steps, 1000);
  }
  const byName = (f: string, o: string) => report.lanes.find((x) => x.format === f && x.optimizer === o)!;
  assert.equal(byName('posit8', 'adamw').bestBpb, 6.9903);
  assert.equal(byName('nf4', 'muon').bestBpb, 7.0552);
  assert.equal(byName('gf256', 'adamw').control, true);
  assert.equal(byName('posit16', 'muon').control, true);
  assert.equal(byName('fp16', 'adamw').control, undefined);
  assert.deepEqual(report.lanes.filter((l) => l.control).map((l) => l.format).sort(), ['gf256', 'posit16']);
  assert.equal(byName('posit8', 'adamw').hidden, 128);
  assert.equal(byName('posit8', 'adamw').lr, 0.0001);
  assert.equal(byName('posit8', 'adamw').seed, 1597);
  assert.equal(report.verdict.exitCode, 1);
  assert.equal(report.verdict.deadLanes.length, 8);
  assert.deepEqual(report.results, []);
  assert.equal(report.run.uniformBaselineBits, 7);
  assert.deepEqual(validate(report).errors ?? [], []);
});

test('the same samples as JSONL give the identical report', async () => {
  const csv = await witness(IGLA_CSV);
  const jsonl = await witness(IGLA_JSONL);
  assert.equal(jsonl.source.kind, 'jsonl');
  assert.deepEqual(sourceFree(jsonl.report), sourceFree(csv.report));
});

test('--vocab moves the baseline: at V = 256 (8 bits) the ≈7.0 lanes are no longer dead', async () => {
  const { report } = await witness(IGLA_CSV, { vocab: 256 });
  assert.equal(report.run.uniformBaselineBits, 8);
  assert.equal(statusOf(report)['posit8 adamw'], 'partial');
});

test('--controls replaces the ≥16-bit rule: with fp16 as the only control, gf256 is judged against it', async () => {
  const { report } = await witness(IGLA_CSV, { controls: ['fp16'] });
  const s = statusOf(report);
  assert.equal(s['fp16 adamw'], 'clean');
  assert.equal(s['gf256 adamw'], 'clean'); // 2.5719 <= 2.6691 + 0.05
  // no muon control any more: muon lanes judged against log2(V) alone
  assert.equal(s['posit16 muon'], 'learns');
  assert.equal(s['int4 muon'], 'learns'); // 5.8473 <= 7 - 1
  assert.match(report.lanes.find((l) => l.format === 'int4' && l.optimizer === 'muon')!.note!, /no ≥16-bit control lane with optimizer muon/);
});

test('flags: bit-identical curve (H5), too few samples, NaN samples, an unparsed name, a rejected row', async () => {
  const { report, fleet, classification } = await witness(FLAGS_CSV);
  const lane = (format: string) => report.lanes.find((l) => l.format === format)!;
  assert.equal(lane('fp32').control, true);
  assert.equal(lane('fp32').status, 'clean');
  // int4 logged the fp32 curve bit for bit: one format-applied witness, for int4 only
  assert.deepEqual(classification.identicalGroups, [['QA-fp32-h128-LR0.003-rng1597-adamw', 'QA-int4-h128-LR0.003-rng1597-adamw']]);
  assert.equal(report.results.length, 1);
  assert.equal(report.results[0]!.probe, 'format-applied');
  assert.equal(report.results[0]!.format, 'int4');
  assert.equal(report.results[0]!.verdict, 'fail');
  assert.equal(report.results[0]!.statistic.value, 5);
  assert.match(report.results[0]!.witness!.summary, /int4 trained as fp32/);
  assert.deepEqual(report.verdict.supported, { H5: ['int4'] });
  // int8: 2 samples + 1 rejected row
  assert.equal(lane('int8').status, 'inconclusive');
  assert.match(lane('int8').note!, /only 2 samples \(--min-samples 3\)/);
  // nf4 diverged: best 6.95, last NaN, NaN counted
  assert.equal(lane('nf4').status, 'diverged');
  assert.equal(lane('nf4').bestBpb, 6.95);
  assert.ok(Number.isNaN(lane('nf4').bpb));
  assert.match(lane('nf4').note!, /2 NaN\/Inf samples \(first at step 100\)/);
  // the unparsed name is listed, not defaulted to any format
  assert.equal(lane('?').name, 'baseline run 7');
  assert.equal(lane('?').status, 'inconclusive');
  assert.deepEqual(classification.unparsed, ['baseline run 7']);
  assert.match(report.run.targetInfo!['unparsed names']!, /baseline run 7/);
  // the malformed row: line 25 (the nf4 notes span two lines each)
  assert.equal(fleet.rejectedCount, 1);
  assert.equal(report.run.targetInfo!['rejected 1'], `${FLAGS_CSV}:25: bpb "abc" is not a number (lane QA-int8-h128-LR0.003-rng1597-adamw)`);
  assert.equal(report.verdict.exitCode, 1);
  // --min-samples 1 judges int8 (6.1 is 3.1 above the fp32 control: partial)
  const loose = await witness(FLAGS_CSV, { minSamples: 1 });
  assert.equal(loose.report.lanes.find((l) => l.format === 'int8')!.status, 'partial');
});

test('a control that did not learn makes its lanes inconclusive (exit 3 when nothing else is gated)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-witness-'));
  try {
    const file = join(dir, 'fleet.csv');
    const rows = ['canon_name,step,bpb'];
    for (const [fmt, values] of [['fp32', [7.0, 6.95, 6.85]], ['int8', [7.0, 6.5, 6.4]]] as const) {
      values.forEach((v, i) => rows.push(`QA-${fmt}-h128-LR0.003-rng1-adamw,${i},${v}`));
    }
    writeFileSync(file, `${rows.join('\n')}\n`);
    const { report } = await witness(file, { failOn: 'dead' });
    assert.equal(statusOf(report)['int8 adamw'], 'inconclusive');
    assert.equal(statusOf(report)['fp32 adamw'], 'partial');
    assert.equal(report.verdict.exitCode, 3);
    assert.match(report.verdict.summary, /control did not learn: QA-fp32/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('empty input, header only, all names unparsed, an unknown extension: clear errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-witness-'));
  try {
    const write = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const is = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
    await assert.rejects(witness(write('empty.csv', '')), is(/empty\.csv is empty: expected a header row/));
    await assert.rejects(witness(write('empty.jsonl', '')), is(/empty\.jsonl is empty/));
    await assert.rejects(witness(write('header.csv', 'canon_name,step,bpb\n')), is(/no samples in .*header\.csv: the file has a header but no rows/));
    await assert.rejects(witness(write('bad.csv', 'canon_name,step,bpb\nA,0,x\nA,1,y\n')), is(/all 2 rows were rejected, e\.g\.:\n.*bad\.csv:2: bpb "x" is not a number/));
    await assert.rejects(witness(write('names.csv', 'canon_name,step,bpb\nrun one,0,7\nrun two,0,7\n')), is(/none of the 2 lane names .* matches the name pattern.*"run one"/s));
    await assert.rejects(witness(write('f.parquet', 'x')), is(/cannot tell the source kind/));
    await assert.rejects(witness(join(dir, 'missing.csv')), is(/cannot read .*missing\.csv: ENOENT/));
    await assert.rejects(witness(undefined, { env: {} }), is(/needs --from/));
    await assert.rejects(witness(IGLA_CSV, { table: 'samples' }), is(/--table and --query apply to a postgres/));
    const nanJsonl = write('nan.jsonl', '{"canon_name":"QA-int8-h128-LR0.003-rng1-adamw","step":0,"bpb":"NaN"}\n{"canon_name":"QA-int8-h128-LR0.003-rng1-adamw","step":1,"bpb":null}\nnot json\n');
    const { fleet, report } = await witness(nanJsonl, { minSamples: 1 });
    assert.equal(fleet.rejectedCount, 2);
    assert.match(report.run.targetInfo!['rejected 1']!, /nan\.jsonl:2: 'bpb' is null, not a number/);
    assert.match(report.run.targetInfo!['rejected 2']!, /nan\.jsonl:3: not valid JSON/);
    assert.equal(report.lanes[0]!.status, 'diverged'); // only a NaN sample: it did not learn, its loss is not a number
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The witness command in a child process (the test runner owns this process's stdout). */
function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const entry = new URL('../src/commands/witness.js', import.meta.url).href;
  const script = `import { Command } from 'commander'; import { registerWitness } from ${JSON.stringify(entry)};
const p = new Command('quant-audit').exitOverride(); registerWitness(p);
try { await p.parseAsync(process.argv.slice(1), { from: 'user' }); } catch (e) { process.stderr.write(String(e.message) + '\\n'); process.exitCode = 2; }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the command writes report.json/.md/.xml and sets the gate exit code; --json prints the report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-witness-'));
  try {
    const r = cli(['witness', '--from', IGLA_CSV, '--out', dir, '--fail-on', 'dead', '--json']);
    assert.equal(r.code, 1);
    const printed = JSON.parse(r.stdout) as { kind: string; lanes: unknown[]; run: { id: string; command: string } };
    assert.equal(printed.kind, 'witness');
    assert.equal(printed.lanes.length, 12);
    assert.match(printed.run.command, /quant-audit witness --from .*igla-12-lanes\.csv --fail-on dead/);
    const runDir = join(dir, printed.run.id);
    for (const f of ['report.json', 'report.md', 'report.xml', 'report.html']) assert.ok(existsSync(join(runDir, f)), f);
    const md = readFileSync(join(runDir, 'report.md'), 'utf8');
    assert.match(md, /\| `IGLA-TIER1-posit8-h128-LR0\.0001-rng1597-adamw` \| `posit8` \| adamw \| 6\.990 \|/);
    const never = cli(['witness', '--from', IGLA_CSV, '--no-write', '--fail-on', 'never', '--quiet']);
    assert.equal(never.code, 0);
    assert.match(never.stdout, /8 dead, 1 partial/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
