/**
 * Binary tensor frames (docs/exec-protocol.md): a tensor as raw little-endian float32 bytes
 * after its JSON line, `{"offset", "bytes"}` in the JSON. Negotiated by `"tensors": "binary"`
 * in describe; base64 stays for servers that do not say so. A broken frame fails its own
 * request with expected vs got, and the stream stays framed for the requests after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import { openExecTarget } from '../src/targets/exec/index.js';
import { BinaryTensor, binaryTensorBytes, decodeTensor, resolveBinaryTensors } from '../src/targets/exec/tensor.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import { TargetError } from '../src/errors.js';
import { FIXTURES, nodeServer, weights } from './support/exec-support.js';

const options = { registry: defaultRegistry, timeoutMs: 10_000 };
const bits = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

test('binary tensor bytes are little-endian float32 on either host, and decode back to the same bits', () => {
  const x = new Float32Array([1, -2, 0.5, Number.NaN, -0]);
  const le = binaryTensorBytes(x);
  assert.equal(le.toString('hex'), '0000803f000000c00000003f0000c07f00000080');
  assert.equal(binaryTensorBytes(x, false).toString('hex'), le.toString('hex'));
  assert.notEqual(le.buffer, x.buffer); // a copy: the caller may reuse its array while the request is in flight
  const payload = Buffer.concat([Buffer.alloc(8), le]);
  assert.equal(bits(decodeTensor(new BinaryTensor(payload, 8, 20), 5) as Float32Array), bits(x));
  assert.equal(bits(decodeTensor(new BinaryTensor(payload, 8, 20), 5, false) as Float32Array), bits(x));
  // an offset that is not a multiple of 4 is copied, not viewed
  const odd = Buffer.concat([Buffer.alloc(3), le]);
  assert.equal(bits(decodeTensor(new BinaryTensor(odd, 3, 20), 5) as Float32Array), bits(x));
});

test('a binary tensor that does not fit its request is described, not decoded', () => {
  const payload = Buffer.alloc(16);
  assert.match(decodeTensor(new BinaryTensor(payload, 0, 12), 4) as string, /got 12 bytes \(3 float32 values\) in the binary frame, expected 16 bytes = 4 values/);
  assert.match(decodeTensor(new BinaryTensor(payload, 8, 16), 4) as string, /ends at byte 24 of a 16-byte payload/);
  assert.match(decodeTensor(new BinaryTensor(payload, -4, 16), 4) as string, /does not hold two non-negative integers/);
  assert.match(decodeTensor(new BinaryTensor(payload, '0', 16), 4) as string, /\{"offset": "0", "bytes": 16\}/);
  assert.match(decodeTensor({ offset: 0, bytes: 16 }, 4) as string, /got the object \{"offset":0,"bytes":16\}/); // a descriptor in a reply without payload
  const resolved = resolveBinaryTensors({ y: { offset: 0, bytes: 16 }, note: 'ok', shape: [4] }, payload) as Record<string, unknown>;
  assert.ok(resolved.y instanceof BinaryTensor);
  assert.deepEqual([resolved.note, resolved.shape], ['ok', [4]]);
});

test('the Node example server negotiates binary frames; forward/gradient/update are bit-identical to base64 and to the reference', async () => {
  const binary = await openExecTarget(nodeServer(), options);
  const forced = await openExecTarget(nodeServer(), options, { tensors: 'base64' });
  const old = await openExecTarget(nodeServer('--base64-only'), options);
  try {
    assert.deepEqual([binary.info.tensors, forced.info.tensors, old.info.tensors], ['binary frames', 'base64', 'base64']);
    const x = weights(300_001, 5); // odd length, 1.2 MB: many pipe chunks each way
    x[7] = Number.NaN;
    x[8] = Number.NEGATIVE_INFINITY;
    x[9] = -0;
    const dy = weights(300_001, 6);
    const delta = new Float32Array(x.length).fill(1e-4);
    const expected = bits(fakeQuant(defaultRegistry.get('int8'), x));
    for (const t of [binary, forced, old]) {
      // three in flight: replies are matched by id, frames stay whole
      const [y1, dx, w] = await Promise.all([t.forward('int8', x, [x.length]), t.gradient!('int8', x, [x.length], dy), t.update!('int8', x, [x.length], delta, 3)]);
      assert.equal(bits(y1), expected, t.info.tensors);
      assert.equal(bits(dx), bits(await binary.gradient!('int8', x, [x.length], dy)));
      assert.equal(bits(w), bits(await old.update!('int8', x, [x.length], delta, 3)));
    }
    const empty = await binary.forward('int8', new Float32Array(0), [0]);
    assert.equal(empty.length, 0);
  } finally {
    await Promise.all([binary.close(), forced.close(), old.close()]);
  }
});

/** A binary server (server.mjs) whose int4 replies are broken frames as `mode` says; int8 stays correct. */
function brokenFrames(mode: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qa-binary-'));
  const file = join(dir, 'broken-frames.mjs');
  writeFileSync(
    file,
    `import { makeMethods, serve } from ${JSON.stringify(`${FIXTURES}server.mjs`)};
const base = makeMethods({ binary: true });
const methods = { ...base, describe: () => ({ ...base.describe(), formats: ['int8', 'int4'] }) };
const mode = ${JSON.stringify(mode)};
serve(methods, (request, answer) => {
  const { id, params } = request;
  if (request.method !== 'forward' || params.format !== 'int4') return answer(request);
  const n = params.x.bytes;
  const head = (json) => process.stdout.write(json + '\\n');
  if (mode === 'short') { head(JSON.stringify({ jsonrpc: '2.0', id, binary: n - 4, result: { y: { offset: 0, bytes: n - 4 } } })); process.stdout.write(Buffer.alloc(n - 4)); }
  if (mode === 'broken-json') { head('{"jsonrpc": "2.0", "id": ' + id + ', "binary": ' + n + ', "result": {"y": {"offset": 0, "bytes": ' + n + '}}'); process.stdout.write(Buffer.alloc(n, 0x7b)); }
  if (mode === 'negative') head(JSON.stringify({ jsonrpc: '2.0', id, binary: -4, result: { y: { offset: 0, bytes: n } } }));
  if (mode === 'huge') head(JSON.stringify({ jsonrpc: '2.0', id, binary: 1e12, result: { y: { offset: 0, bytes: n } } }));
});
`,
  );
  return quote([process.execPath, file]);
}

for (const [mode, message] of [
  ['short', /forward int4: "y" for shape \[64\] is wrong: got 252 bytes \(63 float32 values\) in the binary frame, expected 256 bytes = 64 values/],
  ['broken-json', /forward int4: the server wrote a line that is not JSON/],
  ['negative', /forward int4: the server's reply has "binary": -4, not the number of payload bytes that follow the line/],
  ['huge', /forward int4: the server wrote a stdout line longer than \d+ bytes \(1000000000000 so far\)/],
] as const) {
  test(`a broken binary frame (${mode}) fails that request only; int8 goes on`, async () => {
    const t = await openExecTarget(brokenFrames(mode), { ...options, maxTensorElements: 1 << 16 });
    try {
      const x = weights(64, 2);
      await assert.rejects(t.forward('int4', x, [64]), (e: unknown) => e instanceof TargetError && message.test(e.message));
      // the payload of the broken frame was consumed (or the server restarted): the next frame parses
      assert.equal(bits(await t.forward('int8', x, [64])), bits(fakeQuant(defaultRegistry.get('int8'), x)));
    } finally {
      await t.close();
    }
  });
}
