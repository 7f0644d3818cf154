/**
 * quant-audit.yaml is checked by one schema (src/config.ts): every wrong key, type or value —
 * thresholds and custom format rows included — is a UsageError (exit 2) that starts with
 * file:line:col, names the key and says what is valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseConfig, configWhere } from '../src/config.js';
import { buildPlan } from '../src/run/plan.js';
import { UsageError } from '../src/errors.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { closestNames, editDistance } from '../src/suggest.js';

function messageOf(text: string, file = 'q.yaml'): string {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    return e.message;
  }
  assert.fail(`config was accepted:\n${text}`);
}

test('a threshold of the wrong type names file:line:col and the expected type', () => {
  assert.equal(
    messageOf('steps: 10\nthresholds:\n  roundtrip.maxSqnrDeficitDb: [1, 2]\n'),
    "q.yaml:3:31: 'thresholds.roundtrip.maxSqnrDeficitDb' must be a finite number, got a list [1,2]. (default 1)",
  );
  assert.match(messageOf('thresholds:\n  missing-dequant.rmsRatio: 3\n'), /^q\.yaml:2:29: 'thresholds\.missing-dequant\.rmsRatio' must be a \[lo, hi\] pair of numbers, got number 3\./);
  assert.match(messageOf('thresholds:\n  missing-dequant.rmsRatio: [1, 2, 3]\n'), /^q\.yaml:2:29: .* must be a \[lo, hi\] pair of numbers/);
  assert.equal(
    messageOf('thresholds:\n  broken-ste.cosineMin: 0.95\n'),
    "q.yaml:2:3: unknown threshold 'thresholds.broken-ste.cosineMin'. Did you mean 'broken-ste.minCosine'? Valid thresholds under 'thresholds': " + Object.keys(DEFAULT_THRESHOLDS).join(', ') + '.',
  );
});

test('unknown keys, wrong types and bad values name the place, the key and what is valid', () => {
  assert.match(messageOf('target: reference\nstep: 10\n'), /^q\.yaml:2:1: unknown key 'step'\. Did you mean 'steps'\? Valid keys: target, probes, formats,/);
  assert.match(messageOf('learnability:\n  hiden: 64\n'), /^q\.yaml:2:3: unknown key 'learnability\.hiden'\. Did you mean 'hidden'\? Valid keys under 'learnability': hidden, context,/);
  assert.equal(messageOf('steps: many\n'), "q.yaml:1:8: 'steps' must be an integer, got string \"many\".");
  assert.equal(messageOf('steps: 0\n'), "q.yaml:1:8: 'steps' must be an integer from 1 to 1000000, got number 0.");
  assert.equal(messageOf('seeds: [1, x]\n'), "q.yaml:1:12: 'seeds[1]' must be an integer, got string \"x\".");
  assert.equal(messageOf('failOn: sometimes\n'), "q.yaml:1:9: 'failOn' must be one of dead, partial, fail, never, got string \"sometimes\".");
  assert.equal(messageOf('lrs: [0.001, 0]\n'), "q.yaml:1:14: 'lrs[1]' must be a number above 0, got number 0.");
  assert.equal(messageOf('learnability:\n  masterWeights: yes\n'), "q.yaml:2:18: 'learnability.masterWeights' must be true or false, got string \"yes\".");
  assert.equal(messageOf('limits:\n  maxTensorElements: -1\n'), "q.yaml:2:22: 'limits.maxTensorElements' must be a positive integer, got number -1.");
  assert.equal(messageOf('exec: 5\n'), "q.yaml:1:7: 'exec' must be a mapping, got number 5.");
});

test('several problems: the first in the file leads, the others are counted with their places', () => {
  const m = messageOf('steps: x\nformats: int8\nfailOn: no\n');
  assert.equal(m, "q.yaml:1:8: 'steps' must be an integer, got string \"x\". (2 more problems in this file: q.yaml:2:10, q.yaml:3:9)");
});

test('custom format rows: wrong field types from the schema, contradictions from the registry, both located', () => {
  assert.equal(
    messageOf('customFormats:\n  gf8-raw: { family: goldenfloat, bits: 8, exponentBits: 4, mantissaBits: 3, bias: 7, subnormals: no, specials: ieee, scaling: none }\n'),
    "q.yaml:2:99: 'customFormats.gf8-raw.subnormals' must be true or false, got string \"no\".",
  );
  assert.match(messageOf('customFormats:\n  int6: { family: integer, bits: 6, signd: true, scaling: per-tensor-absmax }\n'), /^q\.yaml:2:37: unknown field 'customFormats\.int6\.signd'\. Did you mean 'signed'\?/);
  assert.equal(
    messageOf('customFormats:\n  fp7:\n    family: minifloat\n    bits: 8\n    exponentBits: 3\n    mantissaBits: 3\n    bias: 3\n    subnormals: true\n    specials: none\n    scaling: none\n'),
    'q.yaml:4:11: customFormats.fp7.bits: must equal 1 + exponentBits + mantissaBits = 7, got 8. See docs/formats.md for the fields of each family.',
  );
  // a field missing from a new row is located at the row
  assert.match(messageOf('customFormats:\n  int6: { family: integer, bits: 6, scaling: per-tensor-absmax }\n'), /^q\.yaml:2:9: customFormats\.int6\.signed: must be true or false, got undefined/);
  // overriding one field of a built-in row is fine
  assert.deepEqual(parseConfig('customFormats:\n  gf8: { scaling: none }\n', 'q.yaml').customFormats, { gf8: { scaling: 'none' } });
});

test('names checked against other data (formats, probes, optimizers) are located and suggest the closest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-cfg-'));
  try {
    const file = join(dir, 'quant-audit.yaml');
    writeFileSync(file, 'formats: [int8, int9]\n');
    assert.throws(() => buildPlan({ config: file }), (e: unknown) => e instanceof UsageError && e.message.startsWith(`${file}:1:17: unknown format 'int9'. Did you mean 'int8'?`));
    writeFileSync(file, 'probes:\n  - roundtrip\n  - brokn-ste\n');
    assert.throws(() => buildPlan({ config: file }), (e: unknown) => e instanceof UsageError && e.message.startsWith(`${file}:3:5: unknown probe 'brokn-ste'. Did you mean 'broken-ste'?`));
    writeFileSync(file, 'optimizers: [adam]\n');
    assert.throws(() => buildPlan({ config: file }), (e: unknown) => e instanceof UsageError && e.message.startsWith(`${file}:1:14: unknown optimizer 'adam'. Did you mean 'adamw'?`));
    // from a flag: no place in the file
    assert.throws(() => buildPlan({ config: file, optimizer: ['adamw'], format: ['int9'] }), (e: unknown) => e instanceof UsageError && e.message.startsWith("unknown format 'int9'. Did you mean 'int8'?"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a valid config parses to plain values and remembers where each key is', () => {
  const cfg = parseConfig('target: reference\nformats: [int8, nf4]\nthresholds:\n  broken-ste.minCosine: 0.95\n  missing-dequant.rmsRatio: [0.25, 4]\n', 'q.yaml');
  assert.deepEqual({ ...cfg }, { target: 'reference', formats: ['int8', 'nf4'], thresholds: { 'broken-ste.minCosine': 0.95, 'missing-dequant.rmsRatio': [0.25, 4] }, path: 'q.yaml' });
  assert.equal(configWhere(cfg, ['formats', 1]), 'q.yaml:2:17');
  assert.equal(configWhere(cfg, ['thresholds', 'broken-ste.minCosine']), 'q.yaml:4:25');
});

test('did-you-mean: edit distance with transpositions, and nothing for far-off words', () => {
  assert.equal(editDistance('int9', 'int8'), 1);
  assert.equal(editDistance('fp8e4m3', 'fp8-e4m3'), 1);
  assert.equal(editDistance('mxpf4', 'mxfp4'), 1);
  assert.deepEqual(closestNames('int9', ['int2', 'int8', 'uint8', 'fp16']), ['int8']);
  assert.deepEqual(closestNames('cosineMin', ['minCosine', 'magnitudeRatio']), ['minCosine']);
  assert.deepEqual(closestNames('banana', ['int8', 'nf4']), []);
});

test('CLI: a threshold of the wrong type is exit 2 with file:line:col, not an internal error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-cfg-cli-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'thresholds:\n  roundtrip.maxSqnrDeficitDb: [1, 2]\n');
    const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'run', '--config', file, '--probe', 'roundtrip', '--format', 'int8', '--out', join(dir, 'r')], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `quant-audit: ${file}:2:31: 'thresholds.roundtrip.maxSqnrDeficitDb' must be a finite number, got a list [1,2]. (default 1)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
