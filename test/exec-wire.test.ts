/**
 * exec target, pure parts: the command line → argv split (no shell) and the base64
 * little-endian float32 tensor encoding, including the big-endian host path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../src/targets/exec/argv.js';
import { base64LengthFor, decodeTensor, encodeTensor } from '../src/targets/exec/tensor.js';
import { parseDescription } from '../src/targets/exec/index.js';
import { parseLine, RawJsonString } from '../src/targets/exec/reply.js';
import { TargetError, UsageError } from '../src/errors.js';

test('commands split into argv with quotes and backslashes honoured', () => {
  assert.deepEqual(parseCommand('python3 fixtures/exec/server.py'), ['python3', 'fixtures/exec/server.py']);
  assert.deepEqual(parseCommand(`python3 "my dir/server.py" --scale='0.5 1' a\\ b`), ['python3', 'my dir/server.py', '--scale=0.5 1', 'a b']);
  assert.deepEqual(parseCommand(`sh -c 'exec ./quant | tee log'`), ['sh', '-c', 'exec ./quant | tee log']);
  assert.deepEqual(parseCommand(`echo '$HOME' '*.py'`), ['echo', '$HOME', '*.py']);
  assert.deepEqual(parseCommand('env RUST_LOG=debug ./target/release/fq-server'), ['env', 'RUST_LOG=debug', './target/release/fq-server']);
});

test('shell-only syntax is a UsageError that says what it was', () => {
  const cases: [string, RegExp][] = [
    ['server | tee log', /shell operator '\|'/],
    ['a && b', /shell operator '&&'/],
    ['server > out.txt', /shell operator '>'/],
    ['a; b', /shell operator ';'/],
    ['python3 *.py', /glob '\*\.py'/],
    ['python3 $HOME/server.py', /shell substitution \(\$HOME\)/],
    ['python3 "${DIR}/s.py"', /shell substitution \(\$DIR\)/],
    ['python3 $(which server)', /shell substitution \(\$\(…\)\)/],
    ['python3 `which server`', /backtick/],
    ['python3 server.py # fast mode', /'#' comment/],
    ['RUST_LOG=debug ./server', /environment assignment \(RUST_LOG=debug\).*env RUST_LOG=debug/],
    ['   ', /empty command/],
  ];
  for (const [command, message] of cases) {
    assert.throws(() => parseCommand(command), (e: unknown) => e instanceof UsageError && message.test(e.message), command);
  }
});

test('tensors are base64 of little-endian float32 bytes', () => {
  const x = new Float32Array([1, -2, 0.5, Number.NaN]);
  const text = encodeTensor(x);
  // 1.0f = 00 00 80 3f little-endian
  assert.equal(Buffer.from(text, 'base64').subarray(0, 4).toString('hex'), '0000803f');
  assert.equal(text, 'AACAPwAAAMAAAAA/AADAfw==');
  assert.equal(text.length, base64LengthFor(4));
  const back = decodeTensor(text, 4);
  assert.ok(back instanceof Float32Array);
  assert.deepEqual([...back].slice(0, 3), [1, -2, 0.5]);
  assert.ok(Number.isNaN(back[3]));
});

test('a big-endian host writes and reads the same little-endian bytes', () => {
  const x = new Float32Array([1, -2, 3.140625, 1e-10]);
  const bigEndianText = encodeTensor(x, false);
  assert.equal(bigEndianText, encodeTensor(x, true));
  const back = decodeTensor(bigEndianText, 4, false);
  assert.deepEqual(back, x);
  // and a view that does not start at offset 0 encodes only its own elements
  assert.equal(encodeTensor(x.subarray(1, 2)), encodeTensor(new Float32Array([-2])));
});

test('decoding refuses the wrong element count, non-strings and garbage', () => {
  assert.match(decodeTensor(encodeTensor(new Float32Array(7)), 8) as string, /got 40 base64 characters \(≈ 7 float32 values\), expected 44 characters = 8 values/);
  assert.match(decodeTensor([1, 2, 3], 3) as string, /got a JSON array/);
  assert.match(decodeTensor(null, 3) as string, /got null/);
  assert.match(decodeTensor('!!!!!!!!!!!!!!!!', 3) as string, /decodes to 0 bytes, expected 12/);
  assert.equal((decodeTensor('', 0) as Float32Array).length, 0);
});

test('describe results are validated with the expected shape in the message', () => {
  assert.deepEqual(parseDescription({ formats: ['int8', 'int8', 'int4'], capabilities: ['forward', 'update'], name: 'fq' }), {
    formats: ['int8', 'int4'],
    capabilities: ['forward', 'update'],
    name: 'fq',
    tensors: 'base64',
  });
  assert.equal(parseDescription({ formats: ['int8'], capabilities: ['forward'], tensors: 'binary' }).tensors, 'binary');
  assert.throws(() => parseDescription({ formats: ['int8'], capabilities: ['forward'], tensors: 'raw' }), /"tensors" = "raw"; valid values are "binary" .* and "base64"/);
  assert.throws(() => parseDescription({ formats: [], capabilities: ['forward'] }), (e: unknown) => e instanceof TargetError && /not a non-empty list of format names/.test(e.message));
  assert.throws(() => parseDescription({ formats: ['int8'], capabilities: ['forward', 'backward'] }), /unknown capabilities backward \(valid: forward, gradient, update\)/);
  assert.throws(() => parseDescription(['int8']), /describe result is \["int8"\]/);
});

test('reply lines: long tensor strings are cut out as raw bytes, the rest is ordinary JSON', () => {
  const x = new Float32Array(40_000).map((_, i) => i / 7);
  const b64 = encodeTensor(x);
  const line = Buffer.from(`{"jsonrpc":"2.0","id":7,"result":{"note":"a \\"quoted\\" word","y":"${b64}","shape":[40000]}}`);
  const parsed = parseLine(line);
  assert.ok(parsed.ok);
  const value = parsed.value as { id: number; result: { note: string; y: unknown; shape: number[] } };
  assert.equal(value.id, 7);
  assert.equal(value.result.note, 'a "quoted" word');
  assert.deepEqual(value.result.shape, [40000]);
  assert.ok(value.result.y instanceof RawJsonString);
  assert.deepEqual(decodeTensor(value.result.y, 40_000), x);
  assert.equal(JSON.stringify(value.result.y), `"<${b64.length} characters>"`);

  // short lines and long strings with escapes take the plain JSON.parse path
  assert.deepEqual(parseLine(Buffer.from('{"id":1,"result":null}')), { ok: true, value: { id: 1, result: null } });
  const escaped = `${'x'.repeat(70_000)}\\n`;
  const plain = parseLine(Buffer.from(`{"id":2,"error":{"message":"${escaped}"}}`));
  assert.ok(plain.ok);
  assert.equal((plain.value as { error: { message: string } }).error.message, `${'x'.repeat(70_000)}\n`);
  // a long line that is not JSON is reported as such, with the tensor elided
  const broken = parseLine(Buffer.from(`{"id":3,"result":{"y":"${b64}",}}`));
  assert.equal(broken.ok, false);
  assert.match((broken as { text: string }).text, /^\{"id":3,"result":\{"y":"…",\}\}$/);
});

/** `bytes` cut at the given offsets: a line as the pipe chunks it may arrive in. */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const bounds = [0, ...at, bytes.length];
  return bounds.slice(1).map((end, i) => bytes.subarray(bounds[i], end));
}

test('a reply line in pipe chunks parses like the joined line, wherever the chunks are cut', () => {
  const x = new Float32Array(30_001).map((_, i) => Math.sin(i) * 3);
  x[5] = Number.NaN;
  const b64 = encodeTensor(x);
  const text = `{"jsonrpc":"2.0","id":9,"result":{"note":"say \\"hi\\\\\\"","y":"${b64}","dx":"${b64}"}}`;
  const line = Buffer.from(text);
  const yStart = text.indexOf('"y":"') + 5;
  const escapedQuote = text.indexOf('\\"hi');
  // every 4-character group offset at a chunk edge, a cut between a backslash and its quote,
  // cuts at both quotes of a tensor, and 1-byte chunks
  const cuts: number[][] = [
    [yStart + 1, yStart + 6, yStart + 11, yStart + 16],
    [escapedQuote + 1, yStart - 1, yStart, yStart + b64.length, yStart + b64.length + 1],
    [yStart + 70_000, yStart + 70_001, yStart + 70_002, yStart + 70_003, yStart + 70_004],
    Array.from({ length: 64 }, (_, i) => yStart + 1000 + i),
  ];
  for (const at of cuts) {
    const parsed = parseLine(cut(line, at));
    assert.ok(parsed.ok, `cut at ${at.join(', ')}`);
    const result = (parsed.value as { result: { note: string; y: unknown; dx: unknown } }).result;
    assert.equal(result.note, 'say "hi\\"');
    assert.ok(result.y instanceof RawJsonString);
    assert.equal(result.y.length, b64.length);
    const y = decodeTensor(result.y, x.length) as Float32Array;
    assert.ok(y instanceof Float32Array, `cut at ${at.join(', ')}: ${String(y)}`);
    assert.deepEqual([...y.subarray(0, 5)], [...x.subarray(0, 5)]);
    assert.ok(Number.isNaN(y[5]));
    assert.deepEqual(y.subarray(6), x.subarray(6));
    assert.deepEqual(decodeTensor(result.dx, x.length), decodeTensor(b64, x.length));
  }
  // the tensor is not joined into one copy: it stays in the pieces it arrived in
  const pieces = ((parseLine(cut(line, cuts[0]!)) as { value: { result: { y: RawJsonString } } }).value.result.y).pieces;
  assert.deepEqual(pieces.map((p) => p.length), [1, 5, 5, 5, b64.length - 16]);
});

test('a tensor in pieces is checked like a string: element count, garbage in any piece, big-endian hosts', () => {
  const x = new Float32Array(20_000).map((_, i) => i - 0.5);
  const b64 = encodeTensor(x);
  const line = (body: string): Buffer => Buffer.from(`{"id":1,"result":{"y":"${body}"}}`);
  const y = (bytes: Buffer, at: number[]): unknown => ((parseLine(cut(bytes, at)) as { value: { result: { y: unknown } } }).value.result.y);
  assert.equal(decodeTensor(y(line(b64), [40_000]), 20_001), 'got 106668 base64 characters (≈ 20000 float32 values), expected 106672 characters = 20001 values');
  const garbage = `${b64.slice(0, 50_001)}!${b64.slice(50_002)}`;
  assert.match(decodeTensor(y(line(garbage), [30_000, 50_000, 50_003]), 20_000) as string, /decodes to 79999 bytes, expected 80000/);
  assert.deepEqual(decodeTensor(y(line(b64), [30_001, 30_002]), 20_000, false), x);
  // long strings with escapes are not cut out: JSON.parse unescapes them (e.g. servers that write \/)
  const slashes = parseLine(cut(line(b64.replaceAll('/', '\\/')), [40_000]));
  assert.ok(slashes.ok);
  assert.deepEqual(decodeTensor((slashes.value as { result: { y: unknown } }).result.y, 20_000), x);
});
