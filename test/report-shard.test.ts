import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inShard, parseShard, probeJobKey, shardOf, stableHash } from '../src/report/shard.js';
import { experimentCommand, mergeReports, stableJson, unshardedCommand } from '../src/report/merge.js';
import { validate } from '../src/report/schema.js';
import { UsageError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import type { Report } from '../src/report/types.js';
import { fixtureReport, shardOfReport } from './support/report-fixture.js';

test('parseShard: I/N is 1-based; bad input is a UsageError', () => {
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
  for (const bad of ['0/4', '5/4', '2', '2/0', 'a/b', '-1/4', '1.5/4', '']) assert.throws(() => parseShard(bad), UsageError, bad);
  assert.throws(() => parseShard('0/4'), /numbered from 1/);
});

test('stableHash is FNV-1a 32-bit (fixed values, so shards agree across machines)', () => {
  assert.equal(stableHash(''), 0x811c9dc5);
  assert.equal(stableHash('a'), 0xe40c292c);
  assert.equal(stableHash('foobar'), 0xbf9cf968);
  assert.equal(shardOf(probeJobKey('int8'), 1), 1);
});

test('shards partition any job set: union is everything, no overlap, roughly balanced', () => {
  const probes = ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'lost-updates', 'format-applied', 'learnability'];
  const formats = ['int2', 'int3', 'int4', 'int8', 'uint4', 'uint8', 'fp16', 'bf16', 'fp8-e4m3', 'fp8-e5m2', 'gf8', 'gf16', 'posit8', 'posit16', 'nf4', 'mxfp8', 'mxfp4', 'mxint8'];
  const keys = [...formats.map((f) => probeJobKey(f)), ...probes.flatMap((p) => formats.map((f) => `QA-${f}-${p}`))];
  for (const n of [1, 2, 3, 4, 7]) {
    const shards = Array.from({ length: n }, (_, i) => keys.filter((k) => inShard(k, { index: i + 1, count: n })));
    const union = shards.flat().sort();
    assert.deepEqual(union, [...keys].sort(), `N=${n}: union`);
    assert.equal(new Set(union).size, keys.length, `N=${n}: disjoint`);
    for (const s of shards) assert.ok(s.length >= keys.length / n / 2, `N=${n}: a shard has only ${s.length} of ${keys.length} jobs`);
  }
});

/** The report without timing fields. */
function untimed(r: Report): unknown {
  const c = JSON.parse(stableJson(r)) as Report;
  delete (c.run as Partial<Report['run']>).startedAt;
  delete c.run.finishedAt;
  delete c.run.durationMs;
  (c.run as Partial<Report['run']>).id = undefined;
  return c;
}

test('merge of 4 shards equals the unsharded run (apart from timing)', () => {
  const full = fixtureReport();
  const rng = new Rng(1597);
  const shards = [3, 1, 4, 2].map((i) => shardOfReport(full, i, 4, rng));
  assert.ok(shards.every((s) => s.results.length < full.results.length), 'every shard holds only part of the matrix');
  const merged = mergeReports(shards);
  assert.deepEqual(untimed(merged), untimed(full));
  assert.deepEqual(merged.verdict, full.verdict);
  assert.deepEqual(merged.results.map((r) => `${r.probe}|${r.format}|${r.site ?? ''}|${r.optimizer ?? ''}`), full.results.map((r) => `${r.probe}|${r.format}|${r.site ?? ''}|${r.optimizer ?? ''}`));
  assert.equal(merged.run.shard, undefined);
  assert.equal(merged.run.command, full.run.command);
  assert.equal(merged.run.startedAt, '2026-11-26T10:31:00.000Z');
  assert.equal(merged.run.finishedAt, '2026-11-26T10:44:00.000Z');
  assert.deepEqual(validate(merged), { valid: true, errors: [] });
});

test('merge refuses shards of different runs, incomplete or repeated sets, with the file names', () => {
  const full = fixtureReport();
  const rng = new Rng(7);
  const shards = [1, 2].map((i) => shardOfReport(full, i, 2, rng));
  const names = ['a/report.json', 'b/report.json'];
  const otherTarget = [shards[0]!, { ...shards[1]!, run: { ...shards[1]!.run, target: 'reference' } }];
  assert.throws(() => mergeReports(otherTarget, { names }), /cannot merge b\/report.json with a\/report.json: they are not shards of the same run \(run.target: "reference" vs "mutant:in-place"\)/);
  const otherSeeds = [shards[0]!, { ...shards[1]!, run: { ...shards[1]!.run, seeds: [1, 2] } }];
  assert.throws(() => mergeReports(otherSeeds, { names }), /run.seeds/);
  const otherThresholds = [shards[0]!, { ...shards[1]!, thresholds: { ...shards[1]!.thresholds, 'learnability.deadMargin': 0.2 } }];
  assert.throws(() => mergeReports(otherThresholds, { names }), /thresholds/);
  assert.throws(() => mergeReports([shards[0]!], { names }), /missing shard 2\/2/);
  assert.throws(() => mergeReports([shards[0]!, shards[0]!], { names }), /shard 1\/2 is given twice \(a\/report.json and b\/report.json\)/);
  const threeWay = shardOfReport(full, 3, 3, rng);
  assert.throws(() => mergeReports([shards[0]!, threeWay]), /same N/);
  assert.throws(() => mergeReports([]), UsageError);
  const plain = { ...full };
  assert.throws(() => mergeReports([plain, structuredClone(plain)]), /not shards/);
  const failOnDiffers = [shards[0]!, { ...shards[1]!, run: { ...shards[1]!.run, failOn: 'dead' as const } }];
  assert.throws(() => mergeReports(failOnDiffers), /--fail-on/);
  assert.equal(mergeReports(failOnDiffers, { failOn: 'never' }).verdict.exitCode, 3); // never: the fixture's inconclusive nf4/muon lane still makes it 3
  assert.equal(mergeReports(failOnDiffers, { failOn: 'dead' }).verdict.exitCode, 1);
});

test('merge keeps one copy of a job run in two shards and warns when the copies disagree', () => {
  const full = fixtureReport();
  const rng = new Rng(3);
  const shards = [1, 2].map((i) => shardOfReport(full, i, 2, rng));
  const warnings: string[] = [];
  assert.equal(mergeReports(shards, { onWarning: (m) => warnings.push(m) }).lanes.filter((l) => l.control).length, 2);
  assert.equal(warnings.length, 0); // identical controls (timing differs) merge silently
  const control = shards[1]!.lanes.find((l) => l.control && l.optimizer === 'adamw')!;
  control.bestBpb = 2.7;
  const merged = mergeReports(shards, { names: ['s1.json', 's2.json'], onWarning: (m) => warnings.push(m) });
  assert.equal(merged.lanes.find((l) => l.control && l.optimizer === 'adamw')!.bestBpb, 2.669);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /lane QA-fp32-h128-LR0.003-rng1597-adamw differs between s1.json and s2.json .*kept the copy from s1.json/);
});

test('experimentCommand ignores where and how a shard reports, not what it measures', () => {
  assert.equal(experimentCommand('quant-audit run --target reference --shard 2/4 --out /tmp/s2 --json --quiet --workers=2 --fail-on never --steps 100'), 'quant-audit run --target reference --steps 100');
  const full = fixtureReport();
  const rng = new Rng(5);
  const [a, b] = [1, 2].map((i) => shardOfReport(full, i, 2, rng));
  b!.run.command = `${b!.run.command} --out elsewhere --quiet`;
  assert.equal(mergeReports([a!, b!]).results.length, full.results.length);
  b!.run.command = `${b!.run.command} --steps 50`;
  assert.throws(() => mergeReports([a!, b!]), /run.command|command: /);
});

test('unshardedCommand strips --shard in both spellings', () => {
  assert.equal(unshardedCommand('quant-audit run --target reference --shard 2/4 --json'), 'quant-audit run --target reference --json');
  assert.equal(unshardedCommand('quant-audit run --shard=3/4'), 'quant-audit run');
});
