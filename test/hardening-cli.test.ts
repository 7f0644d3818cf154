/**
 * End to end through the real CLI (`node dist/src/cli.js …`): hostile configs, models,
 * reports, tfjs modules and exec servers. Each case must end with exit 2 and one clear
 * message — never "internal error", never a stack trace — and leave no run directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ONNX_FIXTURES, ROOT } from './support/fuzz-support.js';
import { onnx } from '../src/onnx/proto.js';

const work = mkdtempSync(join(tmpdir(), 'qa-cli-'));
const out = join(work, 'reports');
const FUZZ = join(ROOT, 'fixtures', 'fuzz');
const EXEC = join(ROOT, 'fixtures', 'exec');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

function write(name: string, content: string | Uint8Array): string {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
}

function model(name: string, edit: (m: InstanceType<typeof onnx.ModelProto>) => void, from = 'good-int8-per-tensor.onnx'): string {
  const m = onnx.ModelProto.decode(readFileSync(join(ONNX_FIXTURES, from)));
  edit(m);
  return write(name, onnx.ModelProto.encode(m).finish());
}

const aliasBomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\nformats: *i\n`;

/** [name, args, what stderr must say] — every case must exit 2. */
const CASES: [string, () => string[], RegExp][] = [
  ['config: nested 5000 levels deep', () => ['run', '--config', write('deep.yaml', `formats: ${'['.repeat(5000)}`)], /nested more than 64 levels deep/],
  ['config: not UTF-8', () => ['run', '--config', write('utf16.yaml', Uint8Array.from([0xff, 0xfe, 0x66, 0x00]))], /is not UTF-8 text \(byte 0 does not decode\)/],
  ['config: alias bomb', () => ['run', '--config', write('bomb.yaml', aliasBomb)], /aliases are limited to 100 expansions|Excessive alias count/],
  ['config: a device, not a file', () => ['run', '--config', '/dev/zero'], /is not a regular file/],
  ['config: negative limit', () => ['run', '--config', write('limit.yaml', 'limits:\n  maxTensorElements: -1\n')], /limit\.yaml:2:22: 'limits\.maxTensorElements' must be a positive integer, got number -1\./],
  ['onnx: truncated', () => ['run', '--target', `onnx:${write('trunc.onnx', readFileSync(join(ONNX_FIXTURES, 'torch-qat-mlp.onnx')).subarray(0, 1000))}`, '--out', out], /is not a valid ONNX model/],
  [
    'onnx: external data outside the model folder',
    () => [
      'run', '--target',
      `onnx:${model('escape.onnx', (m) => {
        const t = m.graph!.initializer![0]!;
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        t.rawData = new Uint8Array(0);
        t.externalData = [{ key: 'location', value: '../../../../etc/passwd' }];
      })}`,
      '--out', out,
    ],
    /points its external data at '\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd', outside the model's folder/,
  ],
  [
    'onnx: absolute external data path',
    () => [
      'run', '--target',
      `onnx:${model('abs.onnx', (m) => {
        const t = m.graph!.initializer![0]!;
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        t.externalData = [{ key: 'location', value: '/etc/hostname' }];
      })}`,
      '--out', out,
    ],
    /outside the model's folder/,
  ],
  [
    'onnx: declared input of 2^40 × 16 elements',
    () => ['run', '--target', `onnx:${model('huge-in.onnx', (m) => { m.graph!.input![0]!.type = { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 ** 40 }, { dimValue: 16 }] } } }; })}`, '--out', out],
    /input 'x' \(declared dims \[1099511627776, 16\]\) has 17592186044416 elements, over the limit of 67108864/,
  ],
  [
    'onnx: initializer declared [2^31]',
    () => ['run', '--target', `onnx:${model('huge-init.onnx', (m) => { m.graph!.initializer![0]!.dims = [2 ** 31]; })}`, '--out', out],
    /has 2147483648 elements \(dims \[2147483648\]\), over the limit of 67108864 \(limits\.maxTensorElements/,
  ],
  [
    'onnx: a model over a lowered limits.maxMemoryMB',
    () => ['run', '--config', write('mem.yaml', 'limits:\n  maxMemoryMB: 1\n  maxTensorElements: 100000000\n'), '--target', `onnx:${model('mem.onnx', (m) => { const t = m.graph!.initializer![0]!; t.dims = [200_000]; t.rawData = new Uint8Array(800_000); })}`, '--out', out],
    /needs 1\.5 MB, over the limit of 1 MB \(limits\.maxMemoryMB/,
  ],
  ['report: truncated', () => ['report', write('trunc.json', '{"schemaVersion": 1, "tool": {"name": "quant-audit"')], /is truncated/],
  ['report: another schemaVersion', () => ['report', write('v99.json', '{"schemaVersion": 99, "results": []}')], /has schemaVersion 99; this quant-audit reads schemaVersion/],
  ['report: empty', () => ['report', write('empty.json', '')], /is empty/],
  ['report: a directory without a report', () => { mkdirSync(join(work, 'nodir'), { recursive: true }); return ['report', join(work, 'nodir')]; }, /no such file|directory/],
  ['tfjs: fakeQuant never returns', () => ['run', '--target', `tfjs:${join(FUZZ, 'hang-fakequant.mjs')}`, '--probe', 'roundtrip', '--timeout-ms', '1000', '--out', out], /fakeQuant\(x\) for format int4 did not return within 1000 ms and was stopped/],
  ['tfjs: the factory never returns', () => ['run', '--target', `tfjs:${join(FUZZ, 'hang-factory.mjs')}`, '--timeout-ms', '500', '--out', out], /the default export did not return within 500 ms/],
  ['tfjs: the factory throws null', () => ['run', '--target', `tfjs:${join(FUZZ, 'factory-throws.mjs')}`, '--out', out], /the default export threw when called with tf: null/],
  ['tfjs: import throws', () => ['run', '--target', `tfjs:${join(FUZZ, 'top-level-throws.mjs')}`, '--out', out], /the module could not be loaded: cannot initialise the quantizer library/],
  ['exec: exits at start', () => ['run', '--target', `exec:${process.execPath} ${join(EXEC, 'misbehave.mjs')} --mode exit-at-start`, '--out', out], /did not start/],
  ['exec: malformed describe', () => ['run', '--target', `exec:${process.execPath} ${join(EXEC, 'misbehave.mjs')} --mode bad-describe`, '--out', out], /did not start: .*"formats" = "int8"/],
  ['quantize: unknown format', () => ['quantize', '--format', 'int9', '1'], /unknown format|int9/],
  ['attach: plain-http API URL', () => ['attach', '--repo', 'o/r', '--issue', '1', '--api-url', 'http://api.example.com', write('r.md', '# r\n')], /uses plain http: the token would be sent unencrypted/],
];

test('every hostile input ends with exit 2, one clear message, no stack trace and no run directory', async () => {
  const failures: string[] = [];
  const queue = [...CASES];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [name, args, expected] = c;
      const r = await cli(args(), { GITHUB_TOKEN: 'ghp_secretTOKEN1234567890' });
      const problems: string[] = [];
      if (r.code !== 2) problems.push(`exit ${r.code}`);
      if (!expected.test(r.stderr)) problems.push(`stderr lacks ${expected}`);
      if (/internal error/.test(r.stderr) || /\n\s+at .+:\d+:\d+/.test(r.stderr)) problems.push('stack trace / internal error');
      if (r.stderr.includes('ghp_secretTOKEN')) problems.push('the token was printed');
      if (/onnxruntime_src|\[E:onnxruntime/.test(r.stderr)) problems.push("onnxruntime's own log lines on stderr");
      if (problems.length) failures.push(`${name}: ${problems.join('; ')}\n    stderr: ${r.stderr.slice(0, 400)}`);
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, []);
  // nothing half-done: no run directory for any of the failed runs
  const left = existsSync(out) ? readdirSync(out) : [];
  assert.deepEqual(left, []);
});

test('hostile values through `quantize` (NaN, ±Inf, -0, denormals, 1e39) are answered, not crashed on', async () => {
  const r = await cli(['quantize', '--format', 'int8', '--json', '--', 'NaN', 'Infinity', '-Infinity', '-0', '1e-45', '1e39']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error/);
  const r2 = await cli(['quantize', '--format', 'int8', 'abc']);
  assert.equal(r2.code, 2);
  assert.doesNotMatch(r2.stderr, /internal error|\n\s+at /);
});

test('a tfjs module returning garbage for every format gets a verdict or a clear error per format, and a report', async () => {
  const dir = join(work, 'garbage-out');
  const r = await cli(['run', '--target', `tfjs:${join(FUZZ, 'garbage.mjs')}`, '--probe', 'roundtrip', 'missing-dequant', 'broken-ste', '--out', dir, '--quiet']);
  assert.ok(r.code === 1 || r.code === 3, `exit ${r.code}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error/);
  const runs = readdirSync(dir).filter((d) => d !== 'latest');
  assert.equal(runs.length, 1);
  const report = JSON.parse(readFileSync(join(dir, runs[0]!, 'report.json'), 'utf8')) as { results: { format: string; verdict: string; reason?: string }[] };
  // nf4 returned a fake tensor, mxfp8 a Promise, gf8 threw: each is inconclusive with the reason
  for (const f of ['nf4', 'mxfp8', 'gf8', 'bf16']) {
    const rows = report.results.filter((x) => x.format === f && x.verdict !== 'skipped');
    assert.ok(rows.length > 0 && rows.every((x) => x.verdict === 'inconclusive' && /target error/.test(x.reason ?? '')), `${f}: ${JSON.stringify(rows.map((x) => [x.verdict, x.reason]))}`);
  }
});

test.after(() => rmSync(work, { recursive: true, force: true }));
