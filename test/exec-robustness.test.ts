/**
 * exec target robustness: every way a server can misbehave (fixtures/exec/misbehave.mjs)
 * becomes a TargetError naming the method and format — and the other format keeps working —
 * or, at startup, a UsageError naming the command. No failure leaves a process behind.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import { openExecTarget } from '../src/targets/exec/index.js';
import { defaultRegistry, fakeQuant } from '../src/formats/index.js';
import { TargetError, UsageError } from '../src/errors.js';
import type { Target, TargetOptions } from '../src/targets/types.js';
import { eventually, FIXTURES, isAlive, misbehaving, weights } from './support/exec-support.js';

const pid = (t: Target): number | undefined => (t as Target & { pid?: number }).pid;
const int8 = defaultRegistry.get('int8');
const x = weights(8, 3);

function options(log: string[] = [], extra: Partial<TargetOptions> = {}): TargetOptions {
  return { registry: defaultRegistry, timeoutMs: 5000, log: (m) => log.push(m), ...extra };
}

/** Open `mode`, run `body`, always close, and check the server is gone afterwards. */
async function withServer(mode: string, body: (t: Target, log: string[]) => Promise<void>, extra: Partial<TargetOptions> = {}): Promise<void> {
  const log: string[] = [];
  const target = await openExecTarget(misbehaving(mode), options(log, extra));
  const pids = new Set<number>();
  const firstPid = pid(target);
  if (firstPid) pids.add(firstPid);
  try {
    await body(target, log);
    const last = pid(target);
    if (last) pids.add(last);
  } finally {
    await target.close();
  }
  for (const p of pids) assert.equal(isAlive(p), false, `server pid ${p} (${mode}) outlived close()`);
}

const isTargetError = (message: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof TargetError, `expected a TargetError, got ${String(e)}`);
  assert.match(e.message, message);
  return true;
};

async function int8StillWorks(target: Target): Promise<void> {
  assert.deepEqual(await target.forward('int8', x, [8]), fakeQuant(int8, x));
}

// Each test owns its server(s); they are independent, so run a few at once (node start-up dominates).
describe('exec target robustness', { concurrency: 4 }, () => {
  test('crash: the format that crashed fails with exit code and stderr, is not resent, the server restarts for others', async () => {
    await withServer('crash', async (target) => {
      const before = pid(target)!;
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server exited with code 3 while handling it\. Its last stderr: misbehave: segfault-like crash in int4 kernel$/));
      await int8StillWorks(target);
      assert.notEqual(pid(target), before);
      assert.equal(isAlive(before), false);
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: not sent — it crashed the server earlier \(exited with code 3\)$/));
      await int8StillWorks(target);
    });
  });

  test('crash twice: restarted once, then every request fails with a clear "died 2 times"', async () => {
    await withServer('always-crash', async (target) => {
      await assert.rejects(target.forward('int8', x, [8]), isTargetError(/^forward int8: the server exited with code 3/));
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server exited with code 3/));
      await assert.rejects(target.gradient!('int8', x, [8], x), isTargetError(/^gradient int8: the exec server \(.*misbehave\.mjs --mode always-crash\) has died 2 times \(last: exited with code 3\); quant-audit restarts it only once\. Fix the crash and rerun\./));
      assert.equal(pid(target), undefined);
    });
  });

  test('crash with requests queued behind: the oldest is blamed, the others are resent to the restarted server', async () => {
    await withServer('crash', async (target) => {
      const [crashed, ...queued] = await Promise.allSettled([
        target.forward('int4', x, [8]),
        target.forward('int8', x, [8]),
        target.forward('int8', weights(8, 4), [8]),
      ]);
      assert.equal(crashed.status, 'rejected');
      assert.deepEqual(queued.map((r) => r.status), ['fulfilled', 'fulfilled']);
      assert.deepEqual((queued[1] as PromiseFulfilledResult<Float32Array>).value, fakeQuant(int8, weights(8, 4)));
    });
  });

  test('crash with the same format queued behind: those are not re-sent (they would crash it again), the others are', async () => {
    await withServer('crash', async (target, log) => {
      const [crashed, sameFormat, other, sameFormatAgain] = await Promise.allSettled([
        target.forward('int4', x, [8]),
        target.forward('int4', weights(8, 5), [8]),
        target.forward('int8', weights(8, 6), [8]),
        target.forward('int4', weights(8, 7), [8]),
      ]);
      assert.match(String((crashed as PromiseRejectedResult).reason), /forward int4: the server exited with code 3 while handling it/);
      for (const r of [sameFormat, sameFormatAgain]) {
        assert.match(String((r as PromiseRejectedResult).reason), /^TargetError: forward int4: not re-sent — it crashed the server earlier \(exited with code 3\)$/);
      }
      assert.deepEqual((other as PromiseFulfilledResult<Float32Array>).value, fakeQuant(int8, weights(8, 6)));
      // one death, one restart: the server is still there for the other formats
      await int8StillWorks(target);
      assert.equal(log.filter((l) => /restarting the exec server/.test(l)).length, 1);
    });
  });

  test('hang: no reply within timeoutMs kills the server; the format fails, the others go on', async () => {
    await withServer(
      'hang',
      async (target, log) => {
        const hungPid = pid(target)!;
        await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: no reply within 300 ms \(exec\.timeoutMs\); the server seems hung, so it was killed\.$/));
        assert.equal(isAlive(hungPid), false);
        assert.ok(log.some((l) => /forward int4 \(id 2\): no reply within 300 ms/.test(l)));
        await int8StillWorks(target);
        await assert.rejects(target.forward('int4', x, [8]), isTargetError(/not sent — it hung the server earlier \(no reply within 300 ms\)/));
      },
      { timeoutMs: 300 },
    );
  });

  test('non-JSON on stdout: that request fails, its late real reply is ignored, the next request is not confused', async () => {
    await withServer('non-json', async (target, log) => {
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server wrote a line that is not JSON: "debug: entering int4 kernel" \(stdout is reserved for JSON-RPC replies, one per line; write logs to stderr\)\.$/));
      await int8StillWorks(target);
      assert.ok(await eventually(() => log.some((l) => /ignoring a late reply to request id 2/.test(l))));
    });
  });

  test('wrong id: the request in flight fails with the id that came back', async () => {
    await withServer('wrong-id', async (target) => {
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server replied with id 1002, which matches no request in flight \(ids in flight: 2\); a reply must echo the id of its request\.$/));
      await int8StillWorks(target);
    });
  });

  test('wrong length: the reply tensor is checked against the shape', async () => {
    await withServer('wrong-length', async (target) => {
      await assert.rejects(target.forward('int4', x, [2, 4]), isTargetError(/^forward int4: "y" for shape \[2,4\] is wrong: got 40 base64 characters \(≈ 7 float32 values\), expected 44 characters = 8 values\.$/));
      await int8StillWorks(target);
    });
  });

  test('NaN written as a bare JSON number is a clear error for that request', async () => {
    await withServer('nan-json', async (target) => {
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server wrote NaN or Infinity as a bare JSON number, which is not JSON .*tensors travel as base64 float32, where NaN is representable/));
      await int8StillWorks(target);
    });
  });

  test('NaN inside a base64 tensor is data, passed through for the probes to judge', async () => {
    await withServer('nan-tensor', async (target) => {
      const y = await target.forward('int4', x, [8]);
      assert.equal(y.length, 8);
      assert.ok(y.every((v) => Number.isNaN(v)));
    });
  });

  test('error object: message, code and data reach the TargetError', async () => {
    await withServer('error', async (target) => {
      await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server returned an error: int4 kernel not compiled in this build \(code -32000\) data: "\{\\"format\\":\\"int4\\"\}"$/));
      await int8StillWorks(target);
    });
  });

  test('pipelining: replies that come back out of order reach the right callers', async () => {
    await withServer('out-of-order', async (target) => {
      const inputs = Array.from({ length: 8 }, (_, i) => weights(8, 50 + i));
      const order: number[] = [];
      const outputs = await Promise.all(inputs.map((input, i) => target.forward('int8', input, [8]).then((y) => (order.push(i), y))));
      outputs.forEach((y, i) => assert.deepEqual(y, fakeQuant(int8, inputs[i]!), `request ${i}`));
      // the server delays early ids longest, so answers arrive out of issue order
      assert.notDeepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  test('replies trickling out in odd-sized pieces, with \\r\\n line ends and blank lines, reach the right callers', async () => {
    // y = x, written back a few bytes at a time: every line, short or long, spans many chunks
    const dir = mkdtempSync(join(tmpdir(), 'qa-exec-trickle-'));
    const script = join(dir, 'trickle.mjs');
    writeFileSync(
      script,
      `let input = '';
      const out = [];
      const pump = () => { const piece = out.shift(); if (piece === undefined) return; process.stdout.write(piece, pump); };
      const reply = (text) => { for (let i = 0; i < text.length; i += 997) out.push(text.slice(i, i + 997)); if (out.length > 0) pump(); };
      process.stdin.setEncoding('latin1').on('data', (d) => {
        input += d;
        for (let nl = input.indexOf('\\n'); nl >= 0; nl = input.indexOf('\\n')) {
          const req = JSON.parse(input.slice(0, nl));
          input = input.slice(nl + 1);
          const result = req.method === 'describe' ? { formats: ['int8'], capabilities: ['forward'] } : req.method === 'forward' ? { y: req.params.x } : null;
          reply(' \\r\\n\\r\\n' + JSON.stringify({ jsonrpc: '2.0', id: req.id, result }) + '\\r\\n');
        }
      });
      process.stdin.on('end', () => process.exit(0));`,
    );
    const target = await openExecTarget(quote([process.execPath, script]), options());
    try {
      const inputs = [8, 50_000, 3, 70_001].map((n, i) => weights(n, 60 + i));
      const outputs = await Promise.all(inputs.map((input) => target.forward('int8', input, [input.length])));
      outputs.forEach((y, i) => assert.deepEqual(y, inputs[i], `request ${i}`));
    } finally {
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reply without "jsonrpc": "2.0" is accepted with one warning in the log', async () => {
    await withServer('no-version', async (target, log) => {
      await int8StillWorks(target);
      await int8StillWorks(target);
      assert.equal(log.filter((l) => /lack "jsonrpc": "2.0"/.test(l)).length, 1);
    });
  });

  test('forward-only server: no gradient or update methods', async () => {
    await withServer('forward-only', async (target) => {
      assert.deepEqual([...target.capabilities], ['forward']);
      assert.equal(target.gradient, undefined);
      assert.equal(target.update, undefined);
    });
  });

  test('a reply line longer than limits.maxTensorElements allows kills the server; other formats go on', async () => {
    await withServer(
      'huge-line',
      async (target) => {
        await assert.rejects(target.forward('int4', x, [8]), isTargetError(/^forward int4: the server wrote a stdout line longer than 65592 bytes \(\d+ so far\) without a newline\.$/));
        await int8StillWorks(target);
      },
      { maxTensorElements: 10 },
    );
  });

  test('maxTensorElements: a larger tensor is refused before it is sent', async () => {
    await withServer(
      'none',
      async (target) => {
        await assert.rejects(target.forward('int8', new Float32Array(11), [11]), isTargetError(/^forward int8: the tensor has 11 elements, more than limits\.maxTensorElements = 10\.$/));
        await int8StillWorks(target);
      },
      { maxTensorElements: 10 },
    );
  });

  const isUsageError = (message: RegExp) => (e: unknown): boolean => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  };

  test('startup failures are UsageErrors that name the command', async () => {
    await assert.rejects(openExecTarget(misbehaving('exit-at-start'), options()), isUsageError(/^exec target '.*misbehave\.mjs --mode exit-at-start' did not start: the server exited with code 1 while handling it\. Its last stderr: misbehave: cannot load the quantizer library, exiting\. Check that the command runs/));
    await assert.rejects(openExecTarget('quant-audit-no-such-program --serve', options()), isUsageError(/^exec target 'quant-audit-no-such-program --serve' did not start: the server could not be started \('quant-audit-no-such-program' was not found on PATH\)\. Check that/));
    await assert.rejects(openExecTarget(misbehaving('bad-describe'), options()), isUsageError(/did not start: its describe result has "formats" = "int8", not a non-empty list of format names/));
    await assert.rejects(openExecTarget(misbehaving('unknown-capability'), options()), isUsageError(/lists unknown capabilities teleport \(valid: forward, gradient, update\)/));
    await assert.rejects(
      openExecTarget(misbehaving('silent-describe'), options([], { timeoutMs: 200 }), { startupTimeoutMs: 300 }),
      isUsageError(/did not start: no reply within 300 ms of starting \(start-up allowance; exec\.timeoutMs = 200 ms\); the server seems hung, so it was killed\./),
    );
    await assert.rejects(openExecTarget('server.py | tee', options()), isUsageError(/shell operator '\|'/));
  });

  test('close() kills a server that ignores shutdown, EOF and SIGTERM', async () => {
    const log: string[] = [];
    const target = await openExecTarget(misbehaving('ignore-shutdown'), options(log), { shutdownGraceMs: 200 });
    const serverPid = pid(target)!;
    await target.close();
    assert.equal(isAlive(serverPid), false);
    assert.ok(log.some((l) => /did not exit within 200 ms of shutdown; killing it/.test(l)));
  });

  test('close() also kills what the server started (its process group)', async () => {
    const log: string[] = [];
    const target = await openExecTarget(misbehaving('grandchild'), options(log));
    assert.ok(await eventually(() => log.some((l) => /grandchild pid \d+/.test(l))));
    const grandchild = Number(/grandchild pid (\d+)/.exec(log.find((l) => /grandchild pid/.test(l))!)![1]);
    assert.ok(isAlive(grandchild));
    await target.close();
    assert.ok(await eventually(() => !isAlive(grandchild)), `grandchild ${grandchild} outlived close()`);
  });

  for (const how of ['SIGINT', 'SIGTERM', 'exit'] as const) {
    for (const where of ['main thread', 'worker thread'] as const) {
      test(`no orphans when quant-audit ends by ${how} without close() (target opened in the ${where})`, async () => {
        const args = [`${FIXTURES}orphan-check.mjs`, how, misbehaving('ignore-shutdown'), ...(where === 'worker thread' ? ['--in-worker'] : [])];
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
        const serverPid = Number(/server pid (\d+)/.exec(out)?.[1]);
        assert.ok(serverPid > 0, `the helper printed no server pid: ${JSON.stringify(out)}`);
        if (how === 'exit') assert.equal(code, 0);
        else assert.equal(signal, how, `quant-audit should still die of ${how} (got code ${code}, signal ${signal})`);
        // ignore-shutdown also ignores stdin EOF and SIGTERM: only the reaper's SIGKILL ends it
        assert.ok(await eventually(() => !isAlive(serverPid)), `server ${serverPid} outlived its parent (${how}, ${where})`);
      });
    }
  }
});
