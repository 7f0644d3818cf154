/**
 * One owner per rule (#16): the probe list is PROBE_IDS (probes/ids.ts); the probe objects,
 * the report's canonical order and the claim/fix text the views show all derive from it, and
 * a probe's text lives on its module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEARNABILITY_ID, PROBE_IDS, PROBES, probeById } from '../probes/index.js';
import { PROBE_ORDER } from '../src/report/order.js';
import { PROBE_INFO, probeClaim } from '../src/report/probe-info.js';

test('PROBES are the modules of PROBE_IDS but learnability, in that order, each under its own id', () => {
  assert.deepEqual(
    PROBES.map((p) => p.id),
    ['roundtrip', 'missing-dequant', 'scale-collapse', 'broken-ste', 'lost-updates', 'format-applied'],
  );
  assert.deepEqual(PROBES.map((p) => p.id), PROBE_IDS.filter((id) => id !== LEARNABILITY_ID));
  for (const id of PROBES.map((p) => p.id)) assert.equal(probeById(id).id, id);
});

test('the report orders results by PROBE_IDS, learnability last', () => {
  assert.deepEqual([...PROBE_ORDER], [...PROBE_IDS]);
  assert.equal(PROBE_ORDER.at(-1), 'learnability');
});

test("the views' claim and fix for a probe are the ones on its module", () => {
  for (const p of PROBES) {
    assert.ok(p.claim.length > 10 && p.fix.length > 20, `${p.id} has claim and fix text`);
    assert.deepEqual(PROBE_INFO[p.id], { claim: p.claim, fix: p.fix });
    assert.equal(probeClaim(p.id, p.hypothesis), p.claim);
  }
  assert.equal(probeClaim('missing-dequant', 'H1'), 'the output stays in the integer/code domain (never dequantized)');
  assert.equal(probeClaim('no-such-probe', 'H9'), 'H9');
  for (const id of PROBE_IDS) assert.ok(PROBE_INFO[id], `${id} has text for the views`);
});
