/**
 * The `formats` and `quantize` commands as a user runs them: exit codes, JSON fields,
 * negative values as arguments, custom formats from a config file, no colour when piped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli.js';

/** Run the CLI in-process with stdout/stderr captured (a pipe: not a TTY, so no colour). */
async function run(args: string[], cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const dir = process.cwd();
  const env = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
  delete process.env.NO_COLOR;
  delete process.env.FORCE_COLOR;
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  if (cwd) process.chdir(cwd);
  try {
    process.exitCode = undefined;
    const code = await main(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.chdir(dir);
    process.exitCode = undefined;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  }
}

test('formats --json lists every format with its fields; the table has no colour when piped', async () => {
  const r = await run(['formats', '--json']);
  assert.equal(r.code, 0, r.err);
  const infos = JSON.parse(r.out) as { name: string; family: string; bits: number; codes: number; maxFinite: number; minPositive: number; layout: string; scaling: string; note?: string }[];
  assert.equal(infos.length, 31);
  const byName = new Map(infos.map((i) => [i.name, i]));
  assert.deepEqual(byName.get('fp8-e4m3'), { name: 'fp8-e4m3', family: 'minifloat', bits: 8, layout: '1/4/3 bias 7, subnormals, NaN at S.1…1, no Inf', scaling: 'per-tensor-absmax', codes: 253, maxFinite: 448, minPositive: 2 ** -9, source: 'builtin' });
  assert.equal(byName.get('posit8')!.maxFinite, 2 ** 24);
  assert.equal(byName.get('mxfp4')!.codes, 15);
  assert.match(byName.get('gf4')!.note!, /defined by quant-audit/);
  const t = await run(['formats']);
  assert.equal(t.code, 0);
  assert.match(t.out, /posit16-es1/);
  assert.doesNotMatch(t.out, /\u001b\[/); // no ANSI escapes on a pipe
});

test('quantize prints code, dequantized value and error; negative values are values, not flags', async () => {
  const r = await run(['quantize', '--format', 'posit8', '--json', '1', '-1.5', '-0.3']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { values: { hex: string; dequantized: number; error: number }[] };
  assert.deepEqual(j.values.map((v) => v.hex), ['0x40', '0xBC', '0xCE']);
  assert.deepEqual(j.values.map((v) => v.dequantized), [1, -1.5, -0.3125]);
  const first = await run(['quantize', '-1.5', '--format', 'int8', '--scale', '0.5', '--json', '2']);
  assert.equal(first.code, 0, first.err);
  const k = JSON.parse(first.out) as { scales: number[]; values: { code: number; dequantized: number }[] };
  assert.deepEqual(k.scales, [0.5]);
  assert.deepEqual(k.values.map((v) => v.code), [0xfd, 4]); // -1.5/0.5 = -3, 2/0.5 = 4
  const table = await run(['quantize', '--format', 'fp4-e2m1', '--scale', '1', '5', '-0.25']);
  assert.equal(table.code, 0);
  assert.match(table.out, /0x6 .*│ 4 /);
});

test('quantize --format int4 --scale 3 --zero-point 1 -- -30 -20 6 9 prints the ONNX spec codes −8, −6, 3, 4', async () => {
  const t = await run(['quantize', '--format', 'int4', '--scale', '3', '--zero-point', '1', '--', '-30', '-20', '6', '9']);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /zero-point 1/);
  const rows = t.out.split('\n').filter((l) => /0x[0-9A-F]/.test(l)).map((l) => l.split('│').map((c) => c.trim()).filter(Boolean));
  assert.deepEqual(rows, [['-30', '0x8', '-8', '-27', '3'], ['-20', '0xA', '-6', '-21', '-1'], ['6', '0x3', '3', '6', '0'], ['9', '0x4', '4', '9', '0']]);
  const j = await run(['quantize', '--format', 'int4', '--scale', '3', '--zero-point', '1', '--json', '--', '-30', '-20', '6', '9']);
  const parsed = JSON.parse(j.out) as { zeroPoints: number[]; values: { code: number; q: number; dequantized: number }[] };
  assert.deepEqual(parsed.zeroPoints, [1]);
  assert.deepEqual(parsed.values.map((v) => v.q), [-8, -6, 3, 4]);
  assert.deepEqual(parsed.values.map((v) => v.code), [8, 10, 3, 4]);
  // a zero-point on a row without one (int8 is symmetric) and on an unsigned row
  const i8 = await run(['quantize', '--format', 'int8', '--scale', '0.5', '--zero-point', '-128', '--json', '0', '-1']);
  assert.deepEqual((JSON.parse(i8.out) as { values: { q: number }[] }).values.map((v) => v.q), [-128, -128]);
  const u8 = await run(['quantize', '--format', 'uint8', '--scale', '2', '--zero-point', '128', '--json', '0', '2', '3', '1000', '-254', '-1000']);
  assert.deepEqual((JSON.parse(u8.out) as { values: { q: number }[] }).values.map((v) => v.q), [128, 129, 130, 255, 1, 0]);
});

test('quantize and formats: bad input exits 2 with a message that says what is valid', async () => {
  const unknown = await run(['quantize', '--format', 'int9', '1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown format 'int9'. Did you mean 'int8'\? Known formats: .*int8/);
  const flag = await run(['quantize', '--format', 'int8', '--jsonn', '1']);
  assert.equal(flag.code, 2);
  assert.match(flag.err, /unknown option '--jsonn'/);
  const notNumber = await run(['quantize', '--format', 'int8', 'abc']);
  assert.equal(notNumber.code, 2);
  assert.match(notNumber.err, /'abc' is not a number/);
  const scale = await run(['quantize', '--format', 'int8', '--scale', '0', '1']);
  assert.equal(scale.code, 2);
  assert.match(scale.err, /--scale must be a positive finite number/);
  const zp = await run(['quantize', '--format', 'int4', '--zero-point', '8', '1']);
  assert.equal(zp.code, 2);
  assert.match(zp.err, /--zero-point must be an integer code of int4, in \[-8, 7\], got '8'/);
  const zpFloat = await run(['quantize', '--format', 'fp8-e4m3', '--zero-point', '1', '1']);
  assert.equal(zpFloat.code, 2);
  assert.match(zpFloat.err, /--zero-point only applies to integer formats/);
  assert.equal((await run(['formats', '--bogus'])).code, 2);
});

test('custom formats from quant-audit.yaml appear in formats and work in quantize; bad rows name the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-formats-'));
  writeFileSync(join(dir, 'quant-audit.yaml'), 'customFormats:\n  gf8:\n    scaling: none\n  gf10:\n    family: goldenfloat\n    bits: 10\n    exponentBits: 4\n    mantissaBits: 5\n    bias: 7\n    subnormals: false\n    specials: ieee\n    scaling: none\n');
  const f = await run(['formats', '--json'], dir);
  assert.equal(f.code, 0, f.err);
  const infos = JSON.parse(f.out) as { name: string; scaling: string; source: string }[];
  assert.deepEqual(infos.find((i) => i.name === 'gf10'), { ...infos.find((i) => i.name === 'gf10'), source: 'config', scaling: 'none' });
  assert.equal(infos.find((i) => i.name === 'gf8')!.scaling, 'none');
  const q = await run(['quantize', '--format', 'gf8', '--json', '0.001', '1'], dir);
  assert.deepEqual((JSON.parse(q.out) as { values: { dequantized: number }[] }).values.map((v) => v.dequantized), [0, 1]);
  writeFileSync(join(dir, 'bad.yaml'), 'customFormats:\n  p9:\n    family: posit\n    bits: 9\n    scaling: none\n');
  const bad = await run(['formats', '--config', 'bad.yaml'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /customFormats\.p9\.es/);
});
