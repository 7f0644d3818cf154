import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyLane, laneMargins } from '../src/verdict/lanes.js';
import { DEFAULT_THRESHOLDS } from '../src/thresholds.js';

test('a lane at the uniform baseline is dead, one at the control is clean', () => {
  const m = laneMargins(DEFAULT_THRESHOLDS);
  assert.equal(classifyLane(6.9903, 7, 2.6691, m), 'dead');
  assert.equal(classifyLane(2.6691, 7, 2.6691, m), 'clean');
  assert.equal(classifyLane(3.0, 7, 2.6691, m), 'learns');
  assert.equal(classifyLane(5.5, 7, 2.6691, m), 'partial');
  assert.equal(classifyLane(Number.NaN, 7, 2.6691, m), 'diverged');
});

test('a lane whose last loss is non-finite or above 1.25 × log2(V) diverged, whatever its best bpb', () => {
  const m = laneMargins(DEFAULT_THRESHOLDS);
  assert.equal(classifyLane(6.99, 7, 2.6691, m, 1.3e11), 'diverged');
  assert.equal(classifyLane(3.0, 7, 2.6691, m, Number.POSITIVE_INFINITY), 'diverged');
  assert.equal(classifyLane(6.99, 7, 2.6691, m, 8.76), 'diverged');
  assert.equal(classifyLane(6.99, 7, 2.6691, m, 8.74), 'dead');
  assert.equal(classifyLane(3.0, 7, 2.6691, m, 3.2), 'learns');
});
