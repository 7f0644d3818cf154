/**
 * exec target against the example servers in fixtures/exec (Python and Node): forward,
 * gradient and update give the reference's numbers, requests pipeline, close() reaps the
 * process, and a forward-only server exposes only forward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openExecTarget } from '../src/targets/exec/index.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import type { Target, TargetOptions } from '../src/targets/types.js';
import { HAVE_PYTHON, isAlive, nodeServer, pythonServer, weights } from './support/exec-support.js';

const options = (log: string[] = []): TargetOptions => ({ registry: defaultRegistry, timeoutMs: 10_000, log: (m) => log.push(m) });
const pid = (t: Target): number => (t as Target & { pid: number }).pid;

const servers: { name: string; command: string; formats: string[] }[] = [
  { name: 'node', command: nodeServer(), formats: ['int8'] },
  ...(HAVE_PYTHON ? [{ name: 'python', command: pythonServer(), formats: ['int8', 'int4'] }] : []),
];
if (!HAVE_PYTHON) test('python example server', { skip: 'python3 is not on PATH' }, () => undefined);

for (const server of servers) {
  test(`${server.name} server: describe, forward/gradient/update match the reference int8, close reaps it`, async () => {
    const target = await openExecTarget(server.command, options());
    try {
      assert.equal(target.kind, 'exec');
      assert.equal(target.spec, `exec:${server.command}`);
      assert.deepEqual(target.formats, server.formats);
      assert.deepEqual([...target.capabilities].sort(), ['forward', 'gradient', 'update']);
      assert.equal(target.info.server, `quant-audit example server (${server.name}) 1.0`);
      assert.equal(target.info.command, server.command);

      const spec = defaultRegistry.get('int8');
      const x = weights(300, 7);
      x[0] = 0.2; // absmax → scale = fround(0.2 / 127)
      const y = await target.forward('int8', x, [3, 100]);
      assert.notEqual(y, x);
      assert.deepEqual(y, fakeQuant(spec, x));
      assert.equal(y[0], Math.fround(0.2));

      // straight-through: every x lies inside the absmax range, so dx = dy exactly
      const dy = weights(300, 8);
      assert.deepEqual(await target.gradient!('int8', x, [300], dy), dy);

      // fp32 master weights: 100 steps of +1e-4 move every weight by 0.01 before rounding
      const w = weights(64, 9);
      const delta = new Float32Array(64).fill(1e-4);
      const moved = await target.update!('int8', w, [8, 8], delta, 100);
      const master = new Float32Array(w);
      for (let s = 0; s < 100; s++) for (let i = 0; i < 64; i++) master[i] = master[i]! + delta[i]!;
      assert.deepEqual(moved, fakeQuant(spec, master));

      const serverPid = pid(target);
      assert.ok(isAlive(serverPid));
      await target.close();
      assert.equal(isAlive(serverPid), false, `server pid ${serverPid} is still alive after close()`);
      await target.close(); // idempotent
      await assert.rejects(target.forward('int8', x, [300]), /the exec target is closed/);
    } finally {
      await target.close();
    }
  });

  test(`${server.name} server: 40 pipelined forwards each get their own answer`, async () => {
    const target = await openExecTarget(server.command, options());
    try {
      const spec = defaultRegistry.get('int8');
      const inputs = Array.from({ length: 40 }, (_, i) => weights(16 + i, 100 + i));
      const outputs = await Promise.all(inputs.map((x) => target.forward('int8', x, [x.length])));
      outputs.forEach((y, i) => assert.deepEqual(y, fakeQuant(spec, inputs[i]!), `request ${i}`));
    } finally {
      await target.close();
    }
  });

  test(`${server.name} server: large tensors (lines of many pipe chunks both ways) with NaN, ±Inf and -0, three in flight, match the reference bit for bit`, async () => {
    const target = await openExecTarget(server.command, options());
    try {
      const spec = defaultRegistry.get('int8');
      const inputs = [21, 22, 23].map((seed) => weights(100_000, seed));
      inputs[0]!.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0], 1);
      const outputs = await Promise.all(inputs.map((x) => target.forward('int8', x, [100, 1000])));
      outputs.forEach((y, i) => assert.deepEqual(y, fakeQuant(spec, inputs[i]!), `request ${i}`));
      assert.deepEqual([...outputs[0]!.subarray(1, 5)], [0, fakeQuant(spec, inputs[0]!)[2], fakeQuant(spec, inputs[0]!)[3], 0]);
    } finally {
      await target.close();
    }
  });

  test(`${server.name} server: unknown format is the server's error, for that format only`, async () => {
    const target = await openExecTarget(server.command, options());
    try {
      await assert.rejects(target.forward('int5', new Float32Array(4), [4]), {
        name: 'TargetError',
        message: /^forward int5: the server returned an error: unknown format 'int5'; this server implements .* \(code -32602\)$/,
      });
      assert.equal((await target.forward('int8', new Float32Array([1, 0.5]), [2]))[1], fakeQuant(defaultRegistry.get('int8'), new Float32Array([1, 0.5]))[1]);
    } finally {
      await target.close();
    }
  });

  test(`${server.name} server --forward-only: only forward is exposed`, async () => {
    const command = server.name === 'node' ? nodeServer('--forward-only') : pythonServer('--forward-only');
    const target = await openExecTarget(command, options());
    try {
      assert.deepEqual([...target.capabilities], ['forward']);
      assert.equal(target.gradient, undefined);
      assert.equal(target.update, undefined);
      assert.equal((await target.forward('int8', new Float32Array([2, -1]), [2]))[0], 2);
    } finally {
      await target.close();
    }
  });
}

if (HAVE_PYTHON) {
  test('python server: int4 never dequantizes (returns codes), and --in-place loses small updates', async () => {
    const target = await openExecTarget(pythonServer(), options());
    const inPlace = await openExecTarget(pythonServer('--in-place'), options());
    try {
      const x = new Float32Array([0.7, -0.35, 0.1, 0.05]);
      assert.deepEqual([...(await target.forward('int4', x, [4]))], [7, -4, 1, 0]);

      // step = 0.7/127 ≈ 0.0055; 50 updates of 1e-4 (0.005 in total) move the fp32 master …
      // (the absmax weight gets no update, so the scale stays put)
      const w = new Float32Array([0.7, 0.3, -0.2, 0.1]);
      const delta = new Float32Array([0, 1e-4, 1e-4, 1e-4]);
      const master = await target.update!('int8', w, [4], delta, 50);
      // … but rounding in place after every step undoes each one
      const rounded = await inPlace.update!('int8', w, [4], delta, 50);
      const once = await target.forward('int8', w, [4]);
      assert.deepEqual(rounded, once);
      assert.notDeepEqual(master, once);
    } finally {
      await target.close();
      await inPlace.close();
    }
  });
}
