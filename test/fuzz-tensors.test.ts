/**
 * Hostile tensors (NaN, ±Inf, denormals, ±0, float32 extremes, empty, single values) through
 * every reference codec, and garbage-returning targets through every forward probe. Codecs
 * must keep the length and never turn a finite input into NaN (except MX blocks that hold a
 * NaN/Inf: OCP MX v1.0 §6.3 makes the whole block's shared scale NaN); probes must return the
 * verdict each garbage target calls for (MUST below), or a TargetError the run reports as inconclusive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, fakeQuant, steMask } from '../src/formats/index.js';
import { Rng } from '../src/rng.js';
import { initTf, tf } from '../src/tf.js';
import { tfjsTarget } from '../src/targets/tfjs/index.js';
import { PROBES } from '../probes/index.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';
import { TargetError } from '../src/errors.js';
import type { Tensor } from '@tensorflow/tfjs';
import { hostileTensors } from './support/fuzz-support.js';

test('every reference codec on hostile tensors: same length, no NaN from a finite input', () => {
  const problems: string[] = [];
  let cases = 0;
  for (const name of defaultRegistry.names()) {
    const spec = defaultRegistry.get(name);
    for (const { name: what, x } of hostileTensors(new Rng(7))) {
      cases++;
      let y: Float32Array;
      try {
        y = fakeQuant(spec, x);
        const mask = steMask(spec, x);
        if (mask.length !== x.length) problems.push(`${name} ${what}: steMask length ${mask.length}`);
      } catch (e) {
        problems.push(`${name} ${what}: threw ${(e as Error).message}`);
        continue;
      }
      if (y.length !== x.length) problems.push(`${name} ${what}: length ${y.length} for ${x.length}`);
      const block = spec.scaling === 'mx-e8m0' ? spec.blockSize ?? 32 : 0;
      for (let i = 0; i < x.length; i++) {
        if (!Number.isFinite(x[i]!) || !Number.isNaN(y[i]!)) continue;
        if (block > 0) {
          const start = i - (i % block);
          const blockValues = x.subarray(start, start + block);
          if (blockValues.some((v) => !Number.isFinite(v))) continue; // OCP MX: NaN shared scale
        }
        problems.push(`${name} ${what}: NaN at ${i} for finite ${x[i]}`);
        break;
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(cases >= 8 * 30, `${cases} codec cases`);
});

/** What a probe run on a garbage target may end in: a verdict, or the TargetError the run reports as inconclusive. */
type Outcome = 'pass' | 'fail' | 'inconclusive' | 'skipped' | 'target-error';

/** A constant output says nothing about x: the codec fails, the values collapse to one level, no gradient; no update step to judge. */
const CONSTANT: Record<string, Outcome[]> = { roundtrip: ['fail'], 'scale-collapse': ['fail'], 'broken-ste': ['fail'], 'lost-updates': ['skipped'] };

/**
 * The outcomes that must hold per garbage target and probe (`*`: every probe). Probes not listed may pass or fail
 * (e.g. format-applied on all-zero outputs: zeros are representable, H5 is not the point).
 */
/**
 * NaN/Inf outputs: the codec fails (non-finite from finite input); the other forward probes
 * cannot judge outputs that are not numbers (inconclusive, never pass or fail); a constant has
 * no gradient; there is no update step.
 */
const NON_FINITE: Record<string, Outcome[]> = { roundtrip: ['fail'], 'missing-dequant': ['inconclusive'], 'scale-collapse': ['inconclusive'], 'format-applied': ['inconclusive'], 'broken-ste': ['fail'], 'lost-updates': ['skipped'] };

const MUST: Record<string, Record<string, Outcome[]>> = {
  inf: NON_FINITE,
  ninf: NON_FINITE,
  denormal: CONSTANT,
  zeros: CONSTANT,
  max: CONSTANT,
  // NaN for a finite input is data, as over the exec protocol: the codec's failure, nothing else's
  nan: NON_FINITE,
  // wrong shape / not a tensor: the target misbehaves, no probe judges it
  flat: { '*': ['target-error'] },
  nothing: { '*': ['target-error'] },
  // int32 truncation zeroes every weight-like value
  int: { roundtrip: ['fail'], 'scale-collapse': ['fail'], 'lost-updates': ['skipped'] },
};

test('forward probes on targets that return ±Inf, NaN, denormals, zeros or wrong shapes: the verdicts that must hold', async () => {
  await initTf('cpu');
  const garbage: Record<string, (x: Tensor) => unknown> = {
    inf: (x) => tf.fill(x.shape, Infinity),
    ninf: (x) => tf.fill(x.shape, -Infinity),
    nan: (x) => tf.fill(x.shape, Number.NaN),
    denormal: (x) => tf.fill(x.shape, 1e-45),
    zeros: (x) => tf.zerosLike(x),
    max: (x) => tf.fill(x.shape, 3.4e38),
    flat: (x) => x.reshape([-1]).slice(0, Math.max(0, x.size - 1)),
    int: (x) => tf.cast(x, 'int32'),
    nothing: () => undefined,
  };
  const problems: string[] = [];
  const ctx = {
    seed: 5,
    thresholds: DEFAULT_THRESHOLDS,
    lrs: [1e-3],
    resolveFormat: (n: string) => defaultRegistry.get(n),
    reproCommand: () => 'npx quant-audit run',
    log: () => undefined,
  };
  let runs = 0;
  let checked = 0;
  for (const [kind, f] of Object.entries(garbage)) {
    const target = tfjsTarget(`tfjs:${kind}`, 'tfjs', `tfjs:${kind}`, { fakeQuant: (x) => f(x) as Tensor }, {});
    for (const probe of PROBES.filter((p) => p.requires.every((c) => target.capabilities.has(c)))) {
      for (const format of ['int8', 'nf4', 'fp8-e4m3']) {
        runs++;
        let outcome: Outcome;
        try {
          const o = await probe.run(target, defaultRegistry.get(format), ctx);
          outcome = o.verdict;
          if (!['pass', 'fail', 'inconclusive', 'skipped'].includes(o.verdict)) problems.push(`${kind} ${probe.id} ${format}: verdict ${o.verdict}`);
          JSON.stringify(o); // evidence must be serialisable
        } catch (e) {
          if (!(e instanceof TargetError)) {
            problems.push(`${kind} ${probe.id} ${format}: ${(e as Error)?.stack ?? String(e)}`);
            continue;
          }
          outcome = 'target-error';
        }
        const must = MUST[kind]![probe.id] ?? MUST[kind]!['*'];
        if (!must) continue;
        checked++;
        if (!must.includes(outcome)) problems.push(`${kind} ${probe.id} ${format}: ${outcome}, must be ${must.join(' or ')}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(runs >= 9 * 4 * 3, `${runs} probe runs`);
  assert.ok(checked >= 80, `${checked} outcomes checked against MUST`);
});
