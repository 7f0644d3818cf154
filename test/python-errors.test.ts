/**
 * python: targets when the user's module is wrong. Loading problems (file missing, import
 * error, no such function, no formats, a hang at import) are usage errors that quote the
 * Python traceback; a format whose function raises or returns something unusable (wrong
 * shape, a list, float64, a tuple, None) is a TargetError for that format only, with the
 * traceback's last lines, while the other formats go on; prints cannot corrupt the protocol.
 * The interpreter is found by trying python3 on PATH in order.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPythonTarget } from '../src/targets/python/index.js';
import { parsePythonSpec } from '../src/targets/python/spec.js';
import { interpreterCandidates } from '../src/targets/python/interpreter.js';
import { defaultRegistry } from '../src/formats/index.js';
import { TargetError, UsageError } from '../src/errors.js';
import type { Target } from '../src/targets/types.js';
import { PY_FIXTURES, runPython, scratchModule, TORCH, TORCH_PYTHON } from './support/python-support.js';
import { testWith } from './support/requirements.js';

const open = (spec: string, extra: Record<string, unknown> = {}, tuning = {}): Promise<Target> =>
  openPythonTarget(spec, { registry: defaultRegistry, python: TORCH_PYTHON, timeoutMs: 60_000, ...extra }, tuning);

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

/** One module, one misbehaviour per format; int8 is correct and must keep working after all of them. */
const MISBEHAVING = `
import sys
import torch
FORMATS = ["int8", "int4", "int3", "int2", "uint8", "uint4", "fp16", "bf16"]

def helper(x):
    return x / 0 if False else x.reshape(-1)[:3]

def fake_quant(x, fmt):
    print("debug: fake_quant called", fmt)               # print() goes to stderr, not the protocol
    sys.stdout.write("more debug output\\n")
    if fmt == "int4":
        raise ValueError("int4 kernel is not compiled in")
    if fmt == "int3":
        return helper(x)                                   # wrong shape
    if fmt == "int2":
        return x.tolist()                                  # a Python list
    if fmt == "uint8":
        return x.double()                                  # float64
    if fmt == "uint4":
        return x, torch.tensor(1.0)                        # (y, scale)
    if fmt == "fp16":
        x.mul_(1.0)                                        # changed in place, nothing returned
        return None
    s = x.abs().max() / 127
    return torch.fake_quantize_per_tensor_affine(x, float(s), 0, -127, 127)
`;

let misbehaving: Target | undefined;
before(async () => {
  if (TORCH.missing === undefined) misbehaving = await open(`${scratchModule('misbehaving.py', MISBEHAVING)}:fake_quant`);
});
after(async () => {
  await misbehaving?.close();
});

testWith(TORCH, 'each bad return is a TargetError for its format, naming what came back and what to return; int8 still works', async () => {
  const t = misbehaving!;
  const x = new Float32Array([0.5, -0.25, 0.1, 1]);
  const cases: [string, RegExp][] = [
    ['int4', /raised ValueError: int4 kernel is not compiled in — traceback: File ".*misbehaving\.py", line \d+, in fake_quant ⏎ raise ValueError\("int4 kernel is not compiled in"\) ⏎ ValueError: int4 kernel is not compiled in/],
    ['int3', /returned shape \[3\] for an input of shape \[2, 2\]; a fake-quant keeps the shape/],
    ['int2', /returned a Python list; return a torch\.Tensor of float32/],
    ['uint8', /returned float64; return float32 like the input/],
    ['uint4', /returned a tuple of 2 \(Tensor, Tensor\); return only the fake-quantized tensor/],
    ['fp16', /returned None; return the fake-quantized tensor/],
  ];
  for (const [format, message] of cases) {
    await assert.rejects(t.forward(format, x, [2, 2]), (e: unknown) => e instanceof TargetError && e.message.startsWith(`forward ${format}: `) && message.test(e.message), format);
  }
  // the adapter survived all of it (no restart), and the prints went to stderr
  const y = await t.forward('int8', x, [2, 2]);
  assert.equal(Buffer.from(y.buffer, y.byteOffset, y.byteLength).toString('base64'), 'BAIBPwQCgb5Go9E9AACAPw=='); // docs/exec-protocol.md's int8 example
  await assert.rejects(t.forward('int9', x, [4]), /unknown format 'int9'; .*misbehaving\.py implements int8, int4/);
});

testWith(TORCH, 'a gradient through a detached output is 0 (the broken-STE finding), not an error; an nn.Module instance is deep-copied per request', async () => {
  const file = scratchModule(
    'detached.py',
    [
      'import torch',
      'from torch.ao.quantization import FakeQuantize',
      'from torch.ao.quantization.observer import MinMaxObserver',
      'FORMATS = ["int8"]',
      'def fake_quant(x, fmt):',
      '    s = float(x.abs().max()) / 127',
      '    return torch.round(x.detach() / s) * s',
      '# one module for all formats: its MinMaxObserver would widen its range over calls if it were reused',
      'quantizer = FakeQuantize(observer=MinMaxObserver, quant_min=-127, quant_max=127, dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)',
      '',
    ].join('\n'),
  );
  const logs: string[] = [];
  const t = await open(file, { log: (m: string) => logs.push(m) });
  const module = await open(`${file}:quantizer`, { formats: ['int8'] });
  try {
    const dx = await t.gradient!('int8', new Float32Array([0.5, -1, 0.25]), [3], new Float32Array([1, 2, 3]));
    assert.deepEqual([...dx], [0, 0, 0]);
    assert.ok(logs.some((m) => /gradient int8: the output does not depend on x through autograd: gradient 0/.test(m)), logs.join('\n'));

    assert.equal(module.info.kind, 'nn.Module (deep-copied for every request)');
    const big = await module.forward('int8', new Float32Array([127, -63.5, 1]), [3]); // scale 1
    const small = await module.forward('int8', new Float32Array([1.27, -0.635, 0.01]), [3]); // scale 0.01, not 1 from the call before
    assert.deepEqual([...big], [127, -64, 1]);
    assert.deepEqual([...small].map((v) => Math.round(v * 100)), [127, -64, 1]);
    assert.deepEqual([...(await module.gradient!('int8', new Float32Array([1, -2]), [2], new Float32Array([3, 4])))], [3, 4]);
  } finally {
    await Promise.all([t.close(), module.close()]);
  }
});

testWith(TORCH, 'loading failures are usage errors that quote the traceback', async () => {
  await assert.rejects(
    open(`${scratchModule('broken_import.py', 'import torch\nFORMATS = ["int8"]\nSCALE = 1 / 0\n')}:fake_quant`),
    usage(/could not be loaded by .*: importing .*broken_import\.py failed: ZeroDivisionError: division by zero — traceback: File ".*broken_import\.py", line 3, in <module> ⏎ SCALE = 1 \/ 0 ⏎ ZeroDivisionError: division by zero\. Fix the module/),
  );
  await assert.rejects(
    open(`${scratchModule('other_names.py', 'FORMATS = ["int8"]\ndef quantize(x, fmt):\n    return x\ndef calibrate(x):\n    return x\n')}:fake_quant`),
    usage(/other_names\.py has no 'fake_quant'; it defines calibrate, quantize/),
  );
  await assert.rejects(open(`${scratchModule('no_formats.py', 'import numpy as np\ndef fake_quant(x, fmt):\n    return x\n')}`), usage(/declares no formats: add FORMATS = \['int8', …\].*or name them with --format/));
  await assert.rejects(open(`${scratchModule('bad_formats.py', 'FORMATS = "int8"\ndef fake_quant(x, fmt):\n    return x\n')}`), usage(/FORMATS must be a list of format names such as \['int8', 'int4'\], got 'int8'/));
  await assert.rejects(open('fixtures/python/does_not_exist.py:fake_quant'), usage(/python target file 'fixtures\/python\/does_not_exist\.py' does not exist/));
  await assert.rejects(open(`${PY_FIXTURES}torch_quant.py`, { python: '/nonexistent/python3' }), usage(/the interpreter \/nonexistent\/python3 \(--python\) could not be started \('\/nonexistent\/python3' does not exist\)/));
  // without FORMATS, the --format list is what the module serves
  const t = await open(`${scratchModule('plain.py', 'import numpy as np\ndef fake_quant(x, fmt):\n    return np.round(x)\n')}`, { formats: ['int8', 'int4'] });
  try {
    assert.deepEqual(t.formats, ['int8', 'int4']);
    assert.equal(t.info.api, 'numpy');
    assert.deepEqual([...t.capabilities], ['forward']); // NumPy without fake_quant_grad: no gradient
    assert.match(t.info.gradient!, /fake_quant_grad/);
  } finally {
    await t.close();
  }
});

testWith(TORCH, 'a module that hangs at import is killed at the timeout, and the message says where it hung', async () => {
  const file = scratchModule('hangs.py', 'import time\nFORMATS = ["int8"]\ntime.sleep(3600)\ndef fake_quant(x, fmt):\n    return x\n');
  await assert.rejects(
    open(file, { timeoutMs: 300 }, { startupTimeoutMs: 1500 }),
    usage(/loading .*hangs\.py under .* did not finish \(no reply within 1500 ms of starting .*\)\. Something at import time hangs or waits/),
  );
  // the adapter (its argv names the module) is gone, with its process group
  assert.deepEqual(processesNaming(file), []);
});

/** Pids of live processes whose command line contains `text` (Linux /proc). */
function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(text)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

testWith(TORCH, 'python3 on PATH without torch is passed over for the next one that has it, and the report says so', async () => {
  // A python3 that cannot import torch: the real interpreter with a stub torch package that fails like a missing one.
  const python = runPython('import sys; print(sys.executable)').trim(); // absolute: the wrappers run without PATH
  const dir = mkdtempSync(join(tmpdir(), 'qa-path-'));
  const stub = join(dir, 'site', 'torch');
  mkdirSync(stub, { recursive: true });
  writeFileSync(join(stub, '__init__.py'), 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'python3'), `#!/bin/sh\nPYTHONPATH=${join(dir, 'site')} exec ${python} "$@"\n`);
  chmodSync(join(bin, 'python3'), 0o755);
  const torchBin = join(dir, 'torch-bin');
  mkdirSync(torchBin);
  writeFileSync(join(torchBin, 'python3'), `#!/bin/sh\nexec ${python} "$@"\n`);
  chmodSync(join(torchBin, 'python3'), 0o755);
  const env = { PATH: `${bin}:${torchBin}` };
  assert.deepEqual(interpreterCandidates(undefined, env).map((c) => c.command), [join(bin, 'python3'), join(torchBin, 'python3')]);
  assert.deepEqual(interpreterCandidates(undefined, { ...env, QUANT_AUDIT_PYTHON: '/opt/py' }), [{ command: '/opt/py', source: 'QUANT_AUDIT_PYTHON' }]);

  const saved = { PATH: process.env.PATH, QUANT_AUDIT_PYTHON: process.env.QUANT_AUDIT_PYTHON };
  process.env.PATH = env.PATH;
  delete process.env.QUANT_AUDIT_PYTHON;
  const logs: string[] = [];
  try {
    const t = await openPythonTarget(`${PY_FIXTURES}torch_quant.py:fake_quant`, { registry: defaultRegistry, timeoutMs: 60_000, log: (m) => logs.push(m) });
    try {
      assert.equal(t.info['interpreter choice'], `${join(bin, 'python3')} cannot import torch; used ${join(torchBin, 'python3')}, the next python3 on PATH`);
      // lane workers start the interpreter that worked, without trying the stub again
      assert.equal(t.reopenWith!.pythonApi, 'torch');
      assert.equal(t.reopenWith!.python, t.info.interpreter!.replace(/ \(Python .*\)$/, ''));
      assert.ok(logs.some((m) => m.includes(`${join(bin, 'python3')} cannot import torch; trying the next interpreter on PATH`)), logs.join('\n'));
      assert.equal((await t.forward('fp16', new Float32Array([1 / 3]), [1]))[0], 0.333251953125);
    } finally {
      await t.close();
    }
    // with only the stub on PATH: a usage error that says how to get torch
    process.env.PATH = bin;
    await assert.rejects(
      openPythonTarget(`${PY_FIXTURES}torch_quant.py`, { registry: defaultRegistry, timeoutMs: 60_000 }),
      usage(/ModuleNotFoundError: No module named 'torch'.* Install torch for that interpreter \(Debian: apt-get install python3-torch, for \/usr\/bin\/python3\), or choose one that has it with --python PATH/),
    );
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.QUANT_AUDIT_PYTHON !== undefined) process.env.QUANT_AUDIT_PYTHON = saved.QUANT_AUDIT_PYTHON;
  }
});

testWith({ what: 'nothing', missing: undefined }, 'target specs: PATH.py:FUNCTION, package.module:FUNCTION, fake_quant by default; bad specs say what to write', () => {
  const root = process.cwd();
  assert.deepEqual(parsePythonSpec('fixtures/python/torch_quant.py:fake_quant', root), {
    raw: 'fixtures/python/torch_quant.py:fake_quant',
    module: 'fixtures/python/torch_quant.py',
    file: join(root, 'fixtures/python/torch_quant.py'),
    function: 'fake_quant',
    adapterTarget: `${join(root, 'fixtures/python/torch_quant.py')}:fake_quant`,
  });
  assert.equal(parsePythonSpec('fixtures/python/torch_modules.py', root).function, 'fake_quant');
  assert.deepEqual(parsePythonSpec('mypkg.quant:make_quantizer', root), { raw: 'mypkg.quant:make_quantizer', module: 'mypkg.quant', function: 'make_quantizer', adapterTarget: 'mypkg.quant:make_quantizer' });
  assert.throws(() => parsePythonSpec('my-pkg:fq', root), usage(/'my-pkg' is neither a \.py file nor a dotted module name/));
  assert.throws(() => parsePythonSpec(':fq', root), usage(/names no module/));
});
