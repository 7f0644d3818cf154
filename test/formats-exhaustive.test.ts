/**
 * Exhaustive checks over every bit pattern of fp16, bf16, posit8, posit16, gf8, gf16:
 * decode → encode returns the pattern (except NaN/NaR canonicalisation and GoldenFloat's
 * flushed exponent-0 patterns), values are strictly increasing in pattern order, the tie
 * between neighbours goes to the even pattern, and the fast fakeQuant path agrees with
 * decode∘encode on every tie and on the float32 values either side of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRegistry, elementCodec, fakeQuant, type FormatSpec } from '../src/formats/index.js';
import { positDecode } from '../src/formats/posit.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function nextFloat(v: number, dir: 1 | -1): number {
  f32[0] = v;
  if (v === 0) {
    u32[0] = 1;
    return dir * f32[0]!;
  }
  u32[0] = u32[0]! + (v > 0 ? dir : -dir);
  return f32[0]!;
}

/** Positive finite patterns in increasing value order (canonical ones only). */
function positivePatterns(spec: FormatSpec): number[] {
  const codec = elementCodec(spec);
  const out: number[] = [];
  const half = 2 ** (spec.bits - 1);
  for (let c = 1; c < half; c++) {
    const v = codec.decode(c);
    if (!Number.isFinite(v) || v === 0) continue; // Inf/NaN, GoldenFloat flushed zeros
    out.push(c);
  }
  return out;
}

function negate(spec: FormatSpec, c: number): number {
  const size = 2 ** spec.bits;
  return spec.family === 'posit' ? (size - c) % size : c + size / 2;
}

/** The value that lies exactly between codes a < b in the rounding's own sense. */
function tieBetween(spec: FormatSpec, a: number, b: number): number {
  const codec = elementCodec(spec);
  if (spec.family === 'posit') return positDecode(2 * a + 1, spec.bits + 1, spec.es ?? 2); // pattern midpoint
  return (codec.decode(a) + codec.decode(b)) / 2;
}

for (const name of ['fp16', 'bf16', 'posit8', 'posit16', 'gf8', 'gf16']) {
  test(`${name}: every pattern round-trips, values are strictly monotonic, ties go to the even pattern`, () => {
    const spec = defaultRegistry.get(name);
    const codec = elementCodec(spec);
    const size = 2 ** spec.bits;
    let roundTrips = 0;
    let nans = 0;
    let flushed = 0;
    for (let c = 0; c < size; c++) {
      const v = codec.decode(c);
      const back = codec.encode(v);
      if (Number.isNaN(v)) {
        assert.ok(Number.isNaN(codec.decode(back)), `${name} 0x${c.toString(16)}: NaN must encode to a NaN pattern`);
        nans++;
        continue;
      }
      if (v === 0 && back !== c) {
        // only GoldenFloat's exponent-0 patterns (and posits/IEEE never) may decode to a non-canonical zero
        assert.equal(spec.family, 'goldenfloat', `${name} 0x${c.toString(16)} decodes to 0 but encodes to 0x${back.toString(16)}`);
        flushed++;
        continue;
      }
      assert.equal(back, c, `${name}: encode(decode(0x${c.toString(16)}) = ${v}) = 0x${back.toString(16)}`);
      roundTrips++;
    }
    // exceptions are exactly: IEEE NaNs (2·(2^M − 1)), posit NaR (1), GoldenFloat exponent-0 mantissas (2·(2^M − 1))
    const M = spec.mantissaBits ?? 0;
    assert.equal(nans, spec.family === 'posit' ? 1 : 2 * (2 ** M - 1), `${name}: NaN patterns`);
    assert.equal(flushed, spec.family === 'goldenfloat' ? 2 * (2 ** M - 1) : 0, `${name}: flushed zero patterns`);
    assert.equal(roundTrips + nans + flushed, size);

    const pos = positivePatterns(spec);
    const values = pos.map((c) => codec.decode(c));
    for (let i = 1; i < values.length; i++) {
      assert.ok(values[i]! > values[i - 1]!, `${name}: 0x${pos[i]!.toString(16)} (${values[i]}) is not above 0x${pos[i - 1]!.toString(16)} (${values[i - 1]})`);
    }
    // negatives mirror positives (sign bit or two's complement)
    for (const c of pos) assert.equal(codec.decode(negate(spec, c)), -codec.decode(c));

    // ties and their float32 neighbours
    const probe: number[] = [];
    for (let i = 0; i + 1 < pos.length; i++) {
      const a = pos[i]!;
      const b = pos[i + 1]!;
      const tie = tieBetween(spec, a, b);
      assert.equal(Math.fround(tie), tie, `${name}: tie ${tie} is not a float32`);
      const even = a % 2 === 0 ? a : b;
      assert.equal(codec.encode(tie), even, `${name}: tie ${tie} between 0x${a.toString(16)} and 0x${b.toString(16)}`);
      assert.equal(codec.encode(-tie), negate(spec, even), `${name}: tie ${-tie}`);
      assert.equal(codec.encode(nextFloat(tie, -1)), a, `${name}: just below the tie ${tie}`);
      assert.equal(codec.encode(nextFloat(tie, 1)), b, `${name}: just above the tie ${tie}`);
      probe.push(tie, nextFloat(tie, -1), nextFloat(tie, 1), -tie);
    }
    const x = Float32Array.from(probe);
    const fast = fakeQuant(spec, x, { scale: 1 }); // the element grid itself (gf8 scales per tensor by default)
    for (let i = 0; i < x.length; i++) {
      const slow = Math.fround(codec.decode(codec.encode(x[i]!)));
      if (!Object.is(fast[i], slow)) assert.fail(`${name}: fakeQuant(${x[i]}) = ${fast[i]} but decode(encode()) = ${slow}`);
    }
  });
}
