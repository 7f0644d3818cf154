/**
 * The probes on the example Python exec server (fixtures/exec/server.py), run the way
 * `quant-audit run` runs them: the correct int8 passes every probe; the broken int4 (never
 * dequantizes) is diagnosed as H1 missing-dequant; a forward-only server still gets every
 * forward-only probe and `skipped` for the gradient/update ones; an update-capable server
 * that rounds weights in place is caught by lost-updates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openExecTarget } from '../src/targets/exec.js';
import { defaultRegistry } from '../src/formats/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { PROBES } from '../probes/index.js';
import type { ProbeContext, ProbeId } from '../probes/types.js';
import type { Verdict } from '../src/report/types.js';
import { HAVE_PYTHON, pythonServer } from './support/exec-support.js';

const ctx: ProbeContext = {
  seed: 1597,
  thresholds: DEFAULT_THRESHOLDS,
  lrs: [1e-4, 1e-3],
  resolveFormat: (name) => defaultRegistry.get(name),
  reproCommand: (probe, format) => `quant-audit run --probe ${probe} --format ${format}`,
  log: () => undefined,
};

/** Verdict per probe id for one format, with the skip reasons. */
async function verdicts(command: string, format: string): Promise<{ verdict: Record<string, Verdict>; reason: Record<string, string | undefined> }> {
  const target = await openExecTarget(command, { registry: defaultRegistry, timeoutMs: 30_000 });
  const verdict: Record<string, Verdict> = {};
  const reason: Record<string, string | undefined> = {};
  try {
    for (const probe of PROBES) {
      const outcome = await probe.run(target, defaultRegistry.get(format), ctx);
      verdict[probe.id] = outcome.verdict;
      reason[probe.id] = outcome.reason;
    }
  } finally {
    await target.close();
  }
  return { verdict, reason };
}

const ALL: ProbeId[] = ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'lost-updates', 'format-applied'];
const opts = HAVE_PYTHON ? {} : { skip: 'python3 is not on PATH' };

test('python server int8 (correct) passes every probe', opts, async () => {
  const { verdict } = await verdicts(pythonServer(), 'int8');
  assert.deepEqual(verdict, Object.fromEntries(ALL.map((id) => [id, 'pass'])));
});

test('python server int4 (never dequantizes) is diagnosed as H1 missing-dequant, not as H2–H5', opts, async () => {
  const { verdict, reason } = await verdicts(pythonServer(), 'int4');
  assert.equal(verdict['missing-dequant'], 'fail');
  // codes instead of values also fail the codec comparison; no other hypothesis is blamed
  assert.equal(verdict.roundtrip, 'fail');
  for (const id of ['scale-collapse', 'broken-ste', 'format-applied']) assert.equal(verdict[id], 'pass', id);
  // its update step returns codes too, far beyond what fp32 master weights give (retained > 1): H4 is
  // not blamed, and not passed either — it cannot be judged from such an update
  assert.equal(verdict['lost-updates'], 'inconclusive');
  assert.match(reason['lost-updates'] ?? '', /is above 1: the target's update moved the weights further than fp32 master weights would/);
});

test('forward-only python server: forward probes run, gradient/update probes are skipped with the reason', opts, async () => {
  const { verdict, reason } = await verdicts(pythonServer('--forward-only'), 'int8');
  assert.deepEqual(verdict, {
    roundtrip: 'pass',
    'missing-dequant': 'pass',
    'scale-collapse': 'pass',
    'broken-ste': 'skipped',
    'lost-updates': 'skipped',
    'format-applied': 'pass',
  });
  assert.match(reason['broken-ste']!, /exposes no gradient/);
  assert.match(reason['lost-updates']!, /update/);
});

test('python server --in-place (no master weights) is caught by lost-updates and only by it', opts, async () => {
  const { verdict } = await verdicts(pythonServer('--in-place'), 'int8');
  assert.equal(verdict['lost-updates'], 'fail');
  for (const id of ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'format-applied']) assert.equal(verdict[id], 'pass', id);
});
