/**
 * Corpora of the learnability lanes: tokens, split, the Brown text, the Markov floor, bad files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryShare, loadCorpus, splitPoint, stripBrownTags, tokenize, VOCAB } from '../src/corpus/index.js';
import { entropyRateBits, markovCorpus, markovTransition, stationaryDistribution } from '../src/corpus/markov.js';
import { UsageError } from '../src/errors.js';

test('tokens are byte % 128: "A" → 65, 0xC3 (UTF-8 lead of é) → 67, 0xFF → 127', () => {
  assert.deepEqual([...tokenize(Uint8Array.from([65, 0xc3, 0xa9, 0xff, 0x80]))], [65, 67, 41, 127, 0]);
  assert.equal(VOCAB, 128);
  assert.equal(Math.log2(VOCAB), 7);
});

test('the last 10 % is validation: 1000 tokens → train [0, 900), validation [900, 1000)', () => {
  assert.equal(splitPoint(1000), 900);
  assert.equal(splitPoint(2049), 1844);
});

test('Brown tags are stripped to running text, quotes and punctuation re-attached', () => {
  const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc it/pps (/( 1/2/cd )/) didn't/dod* ./.\n\n\tNext/ap para/nn ./.";
  assert.equal(stripBrownTags(tagged), 'The jury said "no evidence", and it (1/2) didn\'t.\nNext para.');
});

test('builtin:english is the Brown corpus as text: starts with "The Fulton County Grand Jury said Friday"', () => {
  const c = loadCorpus('builtin:english');
  const head = Buffer.from(c.tokens.subarray(0, 40)).toString('latin1');
  assert.equal(head, 'The Fulton County Grand Jury said Friday');
  assert.equal(c.trainEnd, splitPoint(c.tokens.length));
  assert.ok(c.tokens.length > 1_500_000 && c.tokens.length < 2_500_000, `${c.tokens.length} bytes (every 3rd text)`);
  assert.ok(!/\/(at|nn|vbd)\b/.test(Buffer.from(c.tokens.subarray(0, 100_000)).toString('latin1')), 'no POS tags left');
});

test('builtin:markov: π is stationary, the entropy rate is the floor (1.410991 bits for seed 20261126)', () => {
  const p = markovTransition();
  const pi = stationaryDistribution(p);
  const piP = pi.map((_, j) => pi.reduce((acc, pii, i) => acc + pii * p[i]![j]!, 0));
  for (let j = 0; j < pi.length; j++) assert.ok(Math.abs(piP[j]! - pi[j]!) < 1e-12);
  assert.ok(Math.abs(pi.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const h = entropyRateBits(p, pi);
  assert.ok(Math.abs(h - 1.410991) < 1e-6, `H = ${h}`);
  const c = loadCorpus('builtin:markov');
  assert.equal(c.floorBits, h);
  assert.equal(c.info.entropyRateBits, 1.410991);
  assert.equal(c.tokens.length, 200_000);
  // same seed, same text
  assert.deepEqual(markovCorpus().bytes.subarray(0, 64), c.tokens.subarray(0, 64));
});

test('a two-state chain has the textbook entropy rate', () => {
  // P = [[0.9, 0.1], [0.5, 0.5]]: π = (5/6, 1/6), H = 5/6·H(0.1) + 1/6·1
  const p = [
    [0.9, 0.1],
    [0.5, 0.5],
  ];
  const pi = stationaryDistribution(p);
  assert.ok(Math.abs(pi[0]! - 5 / 6) < 1e-12);
  const h01 = -(0.9 * Math.log2(0.9) + 0.1 * Math.log2(0.1));
  assert.ok(Math.abs(entropyRateBits(p, pi) - ((5 / 6) * h01 + 1 / 6)) < 1e-12);
});

test('file corpora: missing, empty, binary and too-short files are usage errors that say what to do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qa-corpus-'));
  try {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    const binary = join(dir, 'blob.bin');
    writeFileSync(binary, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 32)));
    const short = join(dir, 'short.txt');
    writeFileSync(short, 'hello world\n');
    const good = join(dir, 'good.txt');
    writeFileSync(good, 'the quick brown fox jumps over the lazy dog.\n'.repeat(100));
    const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
    assert.throws(() => loadCorpus(join(dir, 'missing.txt')), usage(/cannot read corpus file .*ENOENT/));
    assert.throws(() => loadCorpus(empty), usage(/is empty/));
    assert.throws(() => loadCorpus(binary), usage(/does not look like text/));
    assert.throws(() => loadCorpus(short), usage(/has 12 bytes/));
    assert.throws(() => loadCorpus(dir), usage(/is a directory/));
    assert.throws(() => loadCorpus('builtin:klingon'), usage(/builtin:english, builtin:markov/));
    const c = loadCorpus(good);
    assert.equal(c.tokens.length, 4500);
    assert.equal(c.trainEnd, 4050);
    assert.equal(binaryShare(Buffer.from('tab\tnewline\n')), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
