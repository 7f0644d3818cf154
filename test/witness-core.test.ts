/**
 * Fleet witness, the pure parts: number parsing, lane names, the CSV reader over awkward
 * chunkings, and the per-lane aggregates (order independence, bit-identical curves).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDecimalBytes, parseDecimalString } from '../src/witness/numbers.js';
import { compileNamePattern } from '../src/witness/names.js';
import { FleetSamples } from '../src/witness/aggregate.js';
import { readCsvChunks } from '../src/witness/csv.js';
import { DEFAULT_COLUMNS } from '../src/witness/source.js';
import { quoteTableName, redactConnectionString } from '../src/witness/postgres.js';
import { formatBits } from '../src/witness/classify.js';
import { defaultRegistry } from '../src/formats/registry.js';
import { UsageError } from '../src/errors.js';
import { Rng } from '../src/rng.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const num = (s: string): number | null => parseDecimalBytes(bytes(s), 0, s.length);

test('decimal bytes parse to exactly the double parseFloat gives', () => {
  assert.equal(num('6.9903'), 6.9903);
  assert.equal(num('0.0001'), 0.0001);
  assert.equal(num('-2.5'), -2.5);
  assert.equal(num('+7'), 7);
  assert.equal(num(' 2.6691 '), 2.6691);
  assert.equal(num('1e-3'), 0.001);
  assert.equal(num('.5'), 0.5);
  assert.equal(num('0'), 0);
  assert.equal(num('123456789012345678'), 123456789012345678); // > 15 digits: slow path
  assert.ok(Number.isNaN(num('NaN')!));
  assert.ok(Number.isNaN(num('nan')!));
  assert.equal(num('-inf'), Number.NEGATIVE_INFINITY);
  assert.equal(num('Infinity'), Number.POSITIVE_INFINITY);
  for (const bad of ['', ' ', 'abc', '1.2.3', '0x10', '1,5', '.', '-', '7e', 'NaNx']) assert.equal(num(bad), null, bad);
  const rng = new Rng(8);
  for (let i = 0; i < 20000; i++) {
    const digits = 1 + rng.int(8);
    const text = (rng.next() * 10 ** rng.int(4)).toFixed(digits);
    assert.equal(num(text), parseFloat(text), text);
    assert.equal(parseDecimalString(text), parseFloat(text), text);
  }
});

test('the default name pattern reads prefix, format, hidden, LR, seed and optimizer', () => {
  const p = compileNamePattern();
  assert.deepEqual(p.parse('IGLA-TIER1-posit8-h128-LR0.0001-rng1597-adamw'), { prefix: 'IGLA-TIER1', format: 'posit8', optimizer: 'adamw', hidden: 128, lr: 0.0001, seed: 1597 });
  assert.deepEqual(p.parse('QA-int8-h128-LR0.003-rng1597-adamw'), { prefix: 'QA', format: 'int8', optimizer: 'adamw', hidden: 128, lr: 0.003, seed: 1597 });
  assert.deepEqual(p.parse('IGLA-TIER1-fp8-e4m3-h64-LR3e-4-rng7-muon'), { prefix: 'IGLA-TIER1', format: 'fp8-e4m3', optimizer: 'muon', hidden: 64, lr: 0.0003, seed: 7 });
  assert.equal(p.parse('team-a-posit16-es1-h256-LR0.01-rng1-adamw')?.format, 'posit16-es1');
  assert.equal(p.parse('team-a-posit16-es1-h256-LR0.01-rng1-adamw')?.prefix, 'team-a');
  assert.equal(p.parse('nf4-h128-LR0.003-rng1597-muon')?.prefix, null);
  assert.equal(p.parse('IGLA-TIER1-gf256-h128-LR0.0001-rng1597-AdamW')?.optimizer, 'adamw');
  for (const bad of ['baseline run 7', 'IGLA-posit8-adamw', 'IGLA-TIER1-posit8-h128-LR-rng1597-adamw', 'QA-int8-h128-LR0.003-rng1597-']) assert.equal(p.parse(bad), null, bad);
});

test('a custom name pattern needs format and optimizer groups; optional groups may be absent', () => {
  const p = compileNamePattern('^(?<optimizer>[a-z]+)_(?<format>[a-z0-9-]+)$');
  assert.deepEqual(p.parse('muon_nf4'), { prefix: null, format: 'nf4', optimizer: 'muon', hidden: null, lr: null, seed: null });
  assert.throws(() => compileNamePattern('^(?<format>.+)$'), (e: unknown) => e instanceof UsageError && /\(\?<optimizer>/.test(e.message));
  assert.throws(() => compileNamePattern('(unclosed'), (e: unknown) => e instanceof UsageError && /not a valid regular expression/.test(e.message));
});

test('format bits: the registry, else the number in the name (gf256 → 256), else unknown', () => {
  assert.deepEqual(formatBits('fp16', defaultRegistry), { bits: 16, known: true });
  assert.deepEqual(formatBits('nf4', defaultRegistry), { bits: 4, known: true });
  assert.deepEqual(formatBits('gf256', defaultRegistry), { bits: 256, known: false });
  assert.deepEqual(formatBits('myfloat', defaultRegistry), { bits: null, known: false });
});

async function csvLanes(text: string, chunkSize: number): Promise<{ fleet: FleetSamples; step: string | null }> {
  const buf = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  const fleet = new FleetSamples();
  const info = await readCsvChunks(chunks, 'mem.csv', DEFAULT_COLUMNS, fleet);
  return { fleet, step: info.columns.step };
}

test('CSV: quotes, "" escapes, embedded newlines, CRLF and a BOM give the same lanes at every chunk size', async () => {
  const text =
    '\uFEFFstep,"canon_name",bpb,comment\r\n' +
    '0,"QA-int8-h128-LR0.003-rng1-adamw",6.9990,"a, b"\r\n' +
    '10,QA-int8-h128-LR0.003-rng1-adamw,"5.5000","say ""hi""\nnext line"\r\n' +
    '\r\n' +
    '20,"QA-nf4-h128-LR0.003-rng1-adamw",NaN,\r\n' +
    '20,"QA-nf4-h128-LR0.003-rng1-adamw",6.5,last';
  const reference = await csvLanes(text, 1 << 20);
  assert.equal(reference.step, 'step');
  const int8 = reference.fleet.lanes.get('QA-int8-h128-LR0.003-rng1-adamw')!;
  assert.equal(int8.count, 2);
  assert.equal(int8.best, 5.5);
  assert.equal(int8.last, 5.5);
  assert.equal(int8.lastStep, 10);
  const nf4 = reference.fleet.lanes.get('QA-nf4-h128-LR0.003-rng1-adamw')!;
  assert.equal(nf4.nanCount, 1);
  assert.ok(Number.isNaN(nf4.last), 'two samples at the last step: NaN wins');
  assert.equal(nf4.best, 6.5);
  assert.equal(reference.fleet.rejectedCount, 0);
  for (const size of [1, 2, 3, 5, 7, 16]) {
    const { fleet } = await csvLanes(text, size);
    assert.deepEqual([...fleet.lanes.keys()], [...reference.fleet.lanes.keys()], `chunk ${size}`);
    for (const [name, lane] of reference.fleet.lanes) {
      const other = fleet.lanes.get(name)!;
      assert.equal(other.curveKey(), lane.curveKey(), `chunk ${size} ${name}`);
      assert.deepEqual(other.curve(), lane.curve(), `chunk ${size} ${name}`);
    }
  }
});

test('CSV: malformed rows are listed with their line, not dropped and not fatal', async () => {
  const text = 'canon_name,step,bpb\nA-int8-h1-LR1-rng1-adamw,0,7\nA-int8-h1-LR1-rng1-adamw,1\nA-int8-h1-LR1-rng1-adamw,x,6\n,2,6\nA-int8-h1-LR1-rng1-adamw,3,"6"junk\nA-int8-h1-LR1-rng1-adamw,4,\n';
  const { fleet } = await csvLanes(text, 1 << 20);
  assert.equal(fleet.rows, 6);
  assert.equal(fleet.rejectedCount, 5);
  assert.deepEqual(
    fleet.rejected.map((r) => r.where),
    ['mem.csv:3', 'mem.csv:4', 'mem.csv:5', 'mem.csv:6', 'mem.csv:7'],
  );
  assert.match(fleet.rejected[0]!.reason, /has 2 fields, the header has 3/);
  assert.match(fleet.rejected[1]!.reason, /step "x" is not a finite number/);
  assert.match(fleet.rejected[2]!.reason, /empty lane name/);
  assert.match(fleet.rejected[3]!.reason, /malformed quoting/);
  assert.match(fleet.rejected[4]!.reason, /bpb "" is not a number/);
});

test('CSV: missing columns name the header; a missing step column means sample ordinals', async () => {
  await assert.rejects(csvLanes('name,bpb\nx,1\n', 64), (e: unknown) => e instanceof UsageError && /no column 'canon_name'.*columns: name, bpb.*--name-column/.test(e.message));
  const { fleet, step } = await csvLanes('canon_name,bpb\nL,7\nL,6\nL,6.5\n', 64);
  assert.equal(step, null);
  const lane = fleet.lanes.get('L')!;
  assert.deepEqual(lane.curve(), [{ step: 1, bpb: 7 }, { step: 2, bpb: 6 }, { step: 3, bpb: 6.5 }]);
  assert.equal(lane.last, 6.5);
});

test('aggregates do not depend on row order; equal curves have equal keys, different curves differ', () => {
  const rng = new Rng(3);
  const rows = Array.from({ length: 500 }, (_, i) => ({ step: i * 10, bpb: Math.round((7 - i / 100 + rng.next() * 0.01) * 1e4) / 1e4 }));
  const a = new FleetSamples();
  const b = new FleetSamples();
  const la = a.lane('a');
  const lb = b.lane('b');
  for (const r of rows) a.add(la, r.step, r.bpb);
  const shuffled = [...rows];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  for (const r of shuffled) b.add(lb, r.step, r.bpb);
  assert.equal(la.curveKey(), lb.curveKey());
  assert.deepEqual(la.curve(), lb.curve());
  assert.equal(la.curve().length <= 66, true);
  assert.equal(la.best, lb.best);
  assert.equal(la.last, rows[499]!.bpb);
  assert.equal(lb.last, rows[499]!.bpb);
  const c = new FleetSamples();
  const lc = c.lane('c');
  rows.forEach((r, i) => c.add(lc, r.step, i === 250 ? r.bpb + 1e-4 : r.bpb));
  assert.notEqual(lc.curveKey(), la.curveKey());
});

test('PostgreSQL identifiers are quoted, passwords never printed', () => {
  assert.equal(quoteTableName('samples'), '"samples"');
  assert.equal(quoteTableName('public.bpb samples'), '"public"."bpb samples"');
  assert.equal(quoteTableName('x"; DROP TABLE t; --'), '"x""; DROP TABLE t; --"');
  assert.throws(() => quoteTableName('a.b.c'), UsageError);
  assert.equal(redactConnectionString('postgres://qa:secret@127.0.0.1:5432/db'), 'postgres://qa@127.0.0.1:5432/db');
  assert.equal(redactConnectionString('postgresql://qa@host/db?password=secret').includes('secret'), false);
});
