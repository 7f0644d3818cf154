/**
 * WebAssembly SIMD fake-quant kernels, written as WebAssembly text (WAT) templates filled in from a
 * row's fields (no format names) and assembled by WABT (wat.ts): four float32 lanes at a time,
 * bit-identical to the scalar reference (tensor.ts `fakeQuantScalar`), which
 * test/formats-fastpath.test.ts checks over strided float32 patterns and every code boundary.
 *
 * Every fq kernel has the shape fq(x, out, nBytes, rec, blockBytes): element i uses the 16-byte
 * record [scale, p1, p2, –] of its block (i·4 / blockBytes) and computes t = x / scale (float32
 * division = fround of the float64 quotient), the element value v, and y = v · scale (float32
 * product = fround of the exact float64 product). A block's last vector may write up to 3 lanes
 * past the block end; the next block (processed after it) overwrites them, and the buffers are
 * padded, so out and x must not overlap.
 *
 * An element body is a WAT fragment that reads the locals $t (= x / scale), $s (scale), $p1, $p2
 * (the element range) and may use $a, $b as scratch; it leaves the output vector on the stack.
 */
import { instantiateWat, newMemory, simdAvailable, splatF32, splatWord, i32x4, wordOf, floatText, type WasmMemory } from './wat.js';
import type { MinifloatLayout } from './minifloat.js';

/** The element computation as WAT instructions (see the file comment for the locals it reads). */
export type ElementBody = string;

/** The fq kernel's function: the block loop around an element body. */
function fqModule(element: ElementBody): string {
  return `(module
  (import "env" "mem" (memory ${PAGES}))
  (func (export "fq") (param $x i32) (param $out i32) (param $n i32) (param $rec i32) (param $blk i32)
    (local $i i32) (local $end i32)
    (local $s v128) (local $p1 v128) (local $p2 v128) (local $t v128) (local $a v128) (local $b v128)
    block $done
      loop $blocks
        local.get $i local.get $n i32.ge_u br_if $done
        ;; end = min(i + blk, n)
        local.get $i local.get $blk i32.add local.tee $end local.get $n
        local.get $end local.get $n i32.lt_u select local.set $end
        ;; this block's record [scale, p1, p2, -], each splatted to four lanes
        local.get $rec v128.load32_splat local.set $s
        local.get $rec v128.load32_splat offset=4 local.set $p1
        local.get $rec v128.load32_splat offset=8 local.set $p2
        loop $vectors
          local.get $out local.get $i i32.add
          local.get $x local.get $i i32.add v128.load local.get $s f32x4.div local.set $t
          ${element}
          v128.store
          local.get $i i32.const 16 i32.add local.tee $i local.get $end i32.lt_u br_if $vectors
        end
        local.get $end local.set $i
        local.get $rec i32.const 16 i32.add local.set $rec
        br $blocks
      end
    end))`;
}

/**
 * Integer (ONNX QuantizeLinear then DequantizeLinear): p1 = qmin − zp, p2 = qmax − zp;
 * y = RNE(clamp(t, p1, p2)) · scale + 0 (the + 0 turns −0 into the reference's +0); NaN → +0.
 */
export function integerElement(): ElementBody {
  return `
          local.get $t local.get $p1 f32x4.pmax  ;; c = t < p1 ? p1 : t
          local.get $p2 f32x4.pmin               ;; p2 < c ? p2 : c
          f32x4.nearest local.get $s f32x4.mul ${splatWord(0)} f32x4.add
          local.get $t local.get $t f32x4.eq v128.and  ;; NaN lanes → +0`;
}

/** Whether the minifloat bit-level kernel is exact for this layout (its values and rounding fit float32). */
export function minifloatKernelFits(L: MinifloatLayout): boolean {
  return L.M >= 0 && L.M <= 23 && L.emin >= -126 && L.emin - L.M >= -149 && L.emax <= 127 && L.emax >= L.emin && L.maxFinite <= 3.4028234663852886e38;
}

const INF = 0x7f800000;

/**
 * Minifloat / GoldenFloat, on the float32 pattern of |t| ($a):
 *  - normal range (a ≥ min normal): round the mantissa to M bits, ties to even, by adding
 *    2^(22−M) − 1 + (the bit that stays last) and clearing the low 23 − M bits;
 *  - below: subnormals → RNE to multiples of 2^(emin−M) by adding and subtracting
 *    1.5·2^(23+emin−M) in float32; no subnormals → min normal when a > min normal / 2, else 0;
 *  - finite overflow saturates to max finite; ±Inf → Inf or max finite; the sign is or-ed back;
 *  - NaN → the float32 quiet NaN, or +0 where the format has no NaN.
 * Layouts with subnormals take `minifloatMagicElement`, the same rounding in fewer instructions.
 */
export function minifloatElement(L: MinifloatLayout): ElementBody {
  const magic = minifloatMagicElement(L);
  if (magic) return magic;
  const sh = 23 - L.M;
  const half = sh > 0 ? 2 ** (sh - 1) - 1 : 0;
  const lsb = sh > 0 ? 1 : 0;
  const keep = sh > 0 ? ~(2 ** sh - 1) >>> 0 : 0xffffffff;
  const minNormal = wordOf(L.minNormal);
  const maxBits = wordOf(L.maxFinite);
  const infOut = L.specials === 'ieee' && !L.saturateInfinity ? INF : maxBits;
  const nanOut = L.specials === 'none' ? 0 : 0x7fc00000;
  const subMagic = splatF32(1.5 * 2 ** (23 + L.emin - L.M));
  const below = L.subnormals
    ? `local.get $a ${subMagic} f32x4.add ${subMagic} f32x4.sub  ;; subnormals: RNE to multiples of 2^(emin − M)`
    : `${splatWord(minNormal)} local.get $a ${splatWord(wordOf(L.minNormal / 2))} i32x4.gt_s v128.and  ;; no subnormals: min normal above its half, else 0`;
  return `
          local.get $t ${splatWord(0x7fffffff)} v128.and local.set $a
          ${below}
          ;; normal range: add 2^(22 − M) − 1 + the last kept bit, clear the low 23 − M bits
          local.get $a ${splatWord(half)} i32x4.add
          local.get $a i32.const ${sh} i32x4.shr_u ${splatWord(lsb)} v128.and i32x4.add
          ${splatWord(keep)} v128.and
          local.get $a ${splatWord(minNormal)} i32x4.lt_s v128.bitselect  ;; a < min normal ? below : normal
          ${splatWord(maxBits)} i32x4.min_s  ;; saturate to max finite
          ${infOut === maxBits ? ';; ±Inf: the min above already gave max finite' : `local.set $b ${splatWord(infOut)} local.get $b local.get $a ${splatWord(INF)} i32x4.eq v128.bitselect  ;; ±Inf stays Inf`}
          local.get $t ${splatWord(0x80000000)} v128.and v128.or  ;; the sign back
          local.get $s f32x4.mul
          ${nanOut === 0
    ? `local.get $a ${splatWord(INF)} i32x4.gt_s v128.andnot  ;; NaN → +0`
    : `local.set $b ${splatWord(nanOut)} local.get $b local.get $a ${splatWord(INF)} i32x4.gt_s v128.bitselect  ;; NaN → quiet NaN`}`;
}

/**
 * Minifloats with subnormals and 23 − M ≥ 1, emax + 23 − M ≤ 127: one rounding for every range.
 * a = min(|t| pattern, max finite) (Inf and NaN patterns too: rounding is monotone and keeps
 * max finite, so saturating first gives the same as saturating after). With
 * e = max(exponent of a, emin), a + 2^(e+23−M) lies in the binade of 2^(e+23−M), whose
 * spacing is 2^(e−M), so the float32 add rounds a to that grid, ties to even (2^(e+23−M) is
 * even and on the grid), and subtracting 2^(e+23−M) again is exact: RNE to M mantissa bits
 * above min normal, to multiples of 2^(emin−M) below it, as in `minifloatElement`.
 */
function minifloatMagicElement(L: MinifloatLayout): ElementBody | undefined {
  const sh = 23 - L.M;
  if (!L.subnormals || sh < 1 || L.emax + sh > 127) return undefined;
  const maxBits = wordOf(L.maxFinite);
  const infOut = L.specials === 'ieee' && !L.saturateInfinity ? INF : maxBits;
  const nanOut = L.specials === 'none' ? 0 : 0x7fc00000;
  return `
          local.get $t ${splatWord(0x7fffffff)} v128.and ${splatWord(maxBits)} i32x4.min_s local.tee $a  ;; a = min(|t|, max finite)
          ;; b = 2^(max(e, emin) + 23 − M) as a pattern: the exponent field of a, at least min normal's, + (23 − M) << 23
          ${splatWord(INF)} v128.and ${splatWord(wordOf(L.minNormal))} i32x4.max_s ${splatWord(sh << 23)} i32x4.add local.set $b
          local.get $a local.get $b f32x4.add local.get $b f32x4.sub  ;; round to the grid, ties to even
          ${infOut === maxBits ? ';; ±Inf: saturated above' : `local.set $b ${splatWord(infOut)} local.get $b local.get $t f32x4.abs ${splatF32(Infinity)} f32x4.eq v128.bitselect  ;; ±Inf stays Inf`}
          local.get $t ${splatWord(0x80000000)} v128.and v128.or  ;; the sign back
          local.get $s f32x4.mul
          ${nanOut === 0
    ? 'local.get $t local.get $t f32x4.eq v128.and  ;; NaN → +0'
    : `local.set $b ${splatWord(nanOut)} local.get $b local.get $t local.get $t f32x4.ne v128.bitselect  ;; NaN → quiet NaN`}`;
}

/**
 * Codebook: the output is book[k], k = the number of midpoints below t, a tie at midpoint j
 * going up when j is odd (to the even index). The float64 midpoints become float32 tests:
 * t > m when m is a float32, else t ≥ (the next float32 above m). NaN → book[nanIndex].
 */
export function codebookElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody {
  return codebookBucketElement(book, mids, nanIndex) ?? codebookChainElement(book, mids, nanIndex);
}

/** The float32 test for midpoint j: t > f (strict) or t ≥ f, as in `codebookChainElement`. */
function midpointTest(mids: Float64Array, j: number): { f: number; strict: boolean } {
  const m = mids[j]!;
  const f = Math.fround(m);
  if (f === m) return { f, strict: j % 2 === 0 };
  return { f: f > m ? f : nextUp(f), strict: false };
}

/**
 * Codebooks of ≤ 16 entries whose tests are monotone (test j passes from the float32 lowest[j]
 * on, lowest never decreasing, so the passing tests are a prefix and k = their number), padded
 * to 16 entries with the last one (the padding's tests pass only at +Inf and add nothing).
 * Two levels of four, 6 tests instead of 15: tests 3, 7, 11 give the bucket b = ⌊k / 4⌋; the
 * bucket's tests 4b, 4b + 1, 4b + 2 (thresholds fetched by i8x16.swizzle) give c = k − 4b; the
 * output pattern is bits(book[4b]) + Σ over passing c of bits(book[4b + c + 1]) − bits(book[4b + c])
 * (wrapping int32, so the sum telescopes to bits(book[k]) exactly).
 * A swizzled table holds one float32 per bucket, byte-planar (byte p of bucket b's value at
 * 4p + b), so its index is 4p + b: the bucket count added to 0x0c080400.
 * NaN fails every t ≥ l test; a test written ¬(t < l) is the same test for every other t but
 * passes NaN, so writing the tests below nanIndex that way walks NaN to book[nanIndex].
 */
function codebookBucketElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody | undefined {
  if (book.length > 16) return undefined;
  const lowest: number[] = [];
  for (let j = 0; j < mids.length; j++) {
    const { f, strict } = midpointTest(mids, j);
    const l = strict ? nextUp(f) : f;
    if (!(l >= (lowest[j - 1] ?? -Infinity))) return undefined;
    lowest.push(l);
  }
  const last = book.length - 1;
  const threshold = (j: number): number => (j < last ? lowest[j]! : Infinity);
  const bits = new Uint32Array(Float32Array.from({ length: 16 }, (_, k) => book[Math.min(k, last)]!).buffer);
  const words = new Uint32Array(4);
  const f32 = new Float32Array(words.buffer);
  /** the byte-planar table of four 32-bit values, one per bucket */
  const table = (value: (b: number) => void): string => {
    for (let b = 0; b < 4; b++) value(b);
    const bytes = new Uint8Array(16);
    for (let b = 0; b < 4; b++) for (let p = 0; p < 4; p++) bytes[4 * p + b] = (words[b]! >>> (8 * p)) & 0xff;
    const w = new Uint32Array(bytes.buffer);
    return i32x4(w[0]!, w[1]!, w[2]!, w[3]!);
  };
  const nanBucket = nanIndex >> 2;
  const coarse = [3, 7, 11];
  // a coarse test written ¬(t < l) steps the index by 1 + (−1 where t < l): the 1s go in the start
  const written = coarse.filter((j) => j < nanIndex).length;
  const lines = [`${splatWord((0x0c080400 + 0x01010101 * written) >>> 0)}  ;; the swizzle index of bucket 0`];
  for (const j of coarse) {
    lines.push(`local.get $t ${splatF32(threshold(j))} ${j < nanIndex ? 'f32x4.lt i8x16.add' : 'f32x4.ge i8x16.sub'}  ;; coarse test ${j}`);
  }
  lines.push(`local.set $b ${table((b) => (words[b] = bits[4 * b]!))} local.get $b i8x16.swizzle  ;; bits(book[4b])`);
  for (let c = 0; c < 3; c++) {
    const passesNaN = 4 * nanBucket + c < nanIndex; // NaN only ever reaches nanBucket's tests
    lines.push(
      `${table((b) => (words[b] = (bits[4 * b + c + 1]! - bits[4 * b + c]!) >>> 0))} local.get $b i8x16.swizzle  ;; step ${c} of the bucket`,
      `local.get $t ${table((b) => (f32[b] = threshold(4 * b + c)))} local.get $b i8x16.swizzle`,
      `${passesNaN ? 'f32x4.lt v128.andnot' : 'f32x4.ge v128.and'} i32x4.add`,
    );
  }
  lines.push('local.get $s f32x4.mul');
  return lines.map((l) => `\n          ${l}`).join('');
}

/** Any ascending codebook: a chain of compare-and-select, one per midpoint. */
function codebookChainElement(book: Float32Array, mids: Float64Array, nanIndex: number): ElementBody {
  const lines = [splatF32(book[0]!)];
  for (let j = 0; j < mids.length; j++) {
    const m = mids[j]!;
    const f = Math.fround(m);
    const test = f === m ? `local.get $t ${splatF32(f)} ${j % 2 === 1 ? 'f32x4.ge' : 'f32x4.gt'}` : `local.get $t ${splatF32(f > m ? f : nextUp(f))} f32x4.ge`;
    lines.push(`local.set $b ${splatF32(book[j + 1]!)} local.get $b ${test} v128.bitselect  ;; midpoint ${j}`);
  }
  lines.push(`local.set $b ${splatF32(book[nanIndex]!)} local.get $b local.get $t local.get $t f32x4.ne v128.bitselect  ;; NaN → book[${nanIndex}]`);
  lines.push('local.get $s f32x4.mul');
  return lines.map((l) => `\n          ${l}`).join('');
}

const up = new Float32Array(1);
const upBits = new Int32Array(up.buffer);
function nextUp(f: number): number {
  if (f === 0) return 2 ** -149;
  up[0] = f;
  upBits[0] = upBits[0]! + (f > 0 ? 1 : -1);
  return up[0]!;
}

/**
 * How a fused block kernel computes the scale of a block from its absmax (the rules of
 * groups.ts `scaleFromStats`, generated as wasm):
 *  - absmax: scale = amax / divisor in float32 (= fround of the float64 quotient); scale 0 →
 *    outputs 0 (NaN inputs → zeroNanOut), an infinite scale → NaN;
 *  - e8m0: NaN in the block → NaN; amax 0 → 2^−127; else 2^(clamp(floor(log2 amax) − emax,
 *    −127, 127) + elementScaleExp), which must stay a float32 (elementScaleExp in [−22, 0]).
 */
export type BlockScaleRule =
  | { kind: 'absmax'; divisor: number; zeroNanOut: number }
  | { kind: 'e8m0'; emax: number; elementScaleExp: number };

/** Both halves of a v128 local folded with `pick` twice: every lane ends up with the reduction of all four. */
function horizontal(acc: string, pick: string): string {
  return `
        local.get ${acc} local.get ${acc} local.get ${acc} i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${pick} local.set ${acc}
        local.get ${acc} local.get ${acc} local.get ${acc} i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 ${pick} local.set ${acc}`;
}

/**
 * One pass per block of blockBytes (a multiple of 16; the chunk is zero-padded to a whole
 * vector): the absmax / NaN statistics, the block's scale by `rule`, then the element body
 * with $s = scale, $p1/$p2 = the element range. Replaces the stats kernel + per-group JS scale
 * + fq kernel for per-block and MX rows. x and out may be the same (no lane crosses a block).
 */
function fqBlocksModule(element: ElementBody, rule: BlockScaleRule, p1: number, p2: number): string {
  /** a loop over the block's vectors: $j from $i to $end; `body` leaves nothing on the stack */
  const eachVector = (body: string): string => `
        local.get $i local.set $j
        loop $vectors${body}
          local.get $j i32.const 16 i32.add local.tee $j local.get $end i32.lt_u br_if $vectors
        end`;
  /** the float32 pattern of 2^$e, $e in [−149, 127]: normal (e + 127) << 23, subnormal 1 << (e + 149) */
  const pow2 = `
        local.get $e i32.const 127 i32.add i32.const 23 i32.shl
        i32.const 1 local.get $e i32.const 149 i32.add i32.shl
        local.get $e i32.const -127 i32.gt_s select`;
  // with elementScaleExp 0 every E8M0 scale is 2^E, E in [−127, 127], whose reciprocal 2^−E is a
  // float32: x · 2^−E and x / 2^E are the same real number rounded once, so t = x · r, a multiply
  // instead of a divide (measured 6–13 % of the kernel)
  const reciprocal = rule.kind === 'e8m0' && rule.elementScaleExp === 0;
  // $mode: 0 = element body, 1 = NaN, 2 = zeros (NaN inputs → zeroNanOut)
  let scaleRule: string;
  let zeroNanOut = 0;
  if (rule.kind === 'absmax') {
    zeroNanOut = rule.zeroNanOut;
    scaleRule = `
        local.get $sc f32.const ${floatText(rule.divisor)} f32.div local.tee $sc i32.reinterpret_f32 local.set $e
        ;; e = bits of the scale: 0 → zeros, 0x7f800000 (Inf) → NaN
        i32.const 0 i32.const 2 local.get $e select
        i32.const 1 local.get $e i32.const 0x7f800000 i32.ne select
        local.set $mode`;
  } else {
    scaleRule = `
        local.get $sc i32.reinterpret_f32 local.tee $e
        if
          ;; floor(log2 amax) from the bit pattern (normal: field − 127; subnormal: from the leading one)
          local.get $e i32.const 23 i32.shr_u i32.const 127 i32.sub
          i32.const ${31 - 149} local.get $e i32.clz i32.sub
          local.get $e i32.const 23 i32.shr_u
          select
          i32.const ${rule.emax} i32.sub local.tee $e
          ;; clamp to [-127, 127], then the element's scale
          i32.const -127 local.get $e i32.const -127 i32.gt_s select local.tee $e
          i32.const 127 local.get $e i32.const 127 i32.lt_s select
          i32.const ${rule.elementScaleExp} i32.add local.set $e
        else
          i32.const -127 local.set $e
        end${pow2}
        f32.reinterpret_i32 local.set $sc${reciprocal ? `
        i32.const 0 local.get $e i32.sub local.set $e${pow2}
        f32.reinterpret_i32 local.set $rc` : ''}
        i32.const 0 local.set $mode
        local.get $nan v128.any_true if i32.const 1 local.set $mode end`;
  }
  return `(module
  (import "env" "mem" (memory ${PAGES}))
  (func (export "fqBlocks") (param $x i32) (param $out i32) (param $n i32) (param $unused i32) (param $blk i32)
    (local $i i32) (local $end i32)
    (local $s v128) (local $p1 v128) (local $p2 v128) (local $t v128) (local $a v128) (local $b v128)
    (local $amax v128) (local $nan v128) (local $v v128) (local $sc f32) (local $j i32) (local $e i32) (local $mode i32)
    (local $rc f32) (local $r v128)
    ${splatF32(p1)} local.set $p1 ${splatF32(p2)} local.set $p2
    block $done
      loop $blocks
        local.get $i local.get $n i32.ge_u br_if $done
        local.get $i local.get $blk i32.add local.tee $end local.get $n
        local.get $end local.get $n i32.lt_u select local.set $end
        ;; statistics: the largest |x| pattern as an integer (3 instructions a vector; patterns order
        ;; like |x|, and one ≥ Inf's means an Inf or a NaN) ...
        ${splatWord(0)} local.set $amax ${splatWord(0)} local.set $nan${eachVector(`
          local.get $amax local.get $x local.get $j i32.add v128.load ${splatWord(0x7fffffff)} v128.and i32x4.max_s local.set $amax`)}${horizontal('$amax', 'i32x4.max_s')}
        ;; ... and only in a block holding Inf or NaN, absmax over the finite lanes and the NaN flag
        local.get $amax i32x4.extract_lane 0 i32.const 0x7f800000 i32.ge_u
        if
          ${splatWord(0)} local.set $amax${eachVector(`
          local.get $x local.get $j i32.add v128.load local.set $v
          local.get $nan local.get $v local.get $v f32x4.ne v128.or local.set $nan
          local.get $amax local.get $v f32x4.abs local.tee $v local.get $v ${splatF32(Infinity)} f32x4.lt v128.and f32x4.pmax local.set $amax`)}${horizontal('$amax', 'f32x4.pmax')}
        end
        local.get $amax f32x4.extract_lane 0 local.set $sc${scaleRule}
        local.get $sc f32x4.splat local.set $s${reciprocal ? `
        local.get $rc f32x4.splat local.set $r` : ''}
        local.get $mode i32.eqz
        if${eachVector(`
          local.get $out local.get $j i32.add
          local.get $x local.get $j i32.add v128.load ${reciprocal ? 'local.get $r f32x4.mul' : 'local.get $s f32x4.div'} local.set $t${element}
          v128.store`)}
        else
          local.get $mode i32.const 1 i32.eq
          if${eachVector(`
          local.get $out local.get $j i32.add ${splatWord(0x7fc00000)} v128.store  ;; a NaN block`)}
          else${eachVector(`
          ;; a zero block: zeros, NaN inputs → the format's NaN output
          local.get $out local.get $j i32.add
          ${splatWord(floatWord(zeroNanOut))} ${splatWord(0)}
          local.get $x local.get $j i32.add v128.load local.tee $v local.get $v f32x4.ne v128.bitselect
          v128.store`)}
          end
        end
        local.get $end local.set $i
        br $blocks
      end
    end))`;
}

const wordScratch = new Float32Array(1);
/** The float32 bit pattern of fround(v) (NaN → the canonical quiet NaN). */
function floatWord(v: number): number {
  wordScratch[0] = v;
  return new Uint32Array(wordScratch.buffer)[0]!;
}

export type FqBlocksKernel = (xPtr: number, outPtr: number, nBytes: number, unused: number, blockBytes: number) => void;

/** Compile a fused block kernel (stats + scale rule + element body) on the shared memory. */
export function fqBlocksKernel(element: ElementBody, rule: BlockScaleRule, p1: number, p2: number): FqBlocksKernel | undefined {
  const k = kernels();
  if (!k) return undefined;
  return instantiateWat('fqBlocks', fqBlocksModule(element, rule, p1, p2), k.memory)['fqBlocks'] as FqBlocksKernel;
}

/**
 * Key-table lookup (element.ts `KeyTable` without slow keys, at TABLE_PTR): out = pair[2k + (low
 * 16 bits ≠ 0)], k = the top 16 bits of x's pattern. Scalar wasm loads (SIMD has no gather).
 */
function keyTableModule(): string {
  return `(module
  (import "env" "mem" (memory ${PAGES}))
  (func (export "keyTable") (param $x i32) (param $out i32) (param $n i32) (param $table i32)
    (local $i i32) (local $v v128)
    block $done
      local.get $i local.get $n i32.ge_u br_if $done
      loop $vectors
        ;; the byte offset of each lane's pair entry: table + 8k + 4·(low bits ≠ 0)
        local.get $x local.get $i i32.add v128.load local.tee $v
        i32.const 16 i32x4.shr_u i32.const 3 i32x4.shl
        local.get $v ${splatWord(0xffff)} v128.and ${splatWord(0)} i32x4.ne ${splatWord(4)} v128.and v128.or
        local.get $table i32x4.splat i32x4.add local.set $v
${[0, 1, 2, 3].map((l) => `        local.get $out local.get $i i32.add local.get $v i32x4.extract_lane ${l} f32.load f32.store offset=${4 * l}`).join('\n')}
        local.get $i i32.const 16 i32.add local.tee $i local.get $n i32.lt_u br_if $vectors
      end
    end))`;
}

/**
 * Group statistics: for each block of blockBytes, the record [absmax over finite values,
 * any NaN (i32), min over finite values and 0, max over finite values and 0] — what the scale
 * rules of groups.ts read. Lanes past the block end are masked out. A first loop takes the
 * largest |x| pattern as an integer and min / max as they come; only a block whose largest
 * pattern is Inf's or above (an Inf or NaN in it) runs the second loop, which leaves those out.
 */
function statsModule(): string {
  /** load the vector at x + i into $v; masked: $fin = lanes inside the block (i + 4·lane < end) */
  const load = (masked: boolean): string => `
            local.get $x local.get $i i32.add v128.load local.set $v${masked ? `
            local.get $i i32x4.splat ${i32x4(0, 4, 8, 12)} i32x4.add local.get $end i32x4.splat i32x4.lt_u local.set $fin` : ''}`;
  const patterns = (masked: boolean): string => `${load(masked)}${masked ? `
            local.get $v local.get $fin v128.and local.set $v` : ''}
            local.get $amax local.get $v ${splatWord(0x7fffffff)} v128.and i32x4.max_s local.set $amax
            local.get $mn local.get $v f32x4.pmin local.set $mn  ;; v < mn ? v : mn
            local.get $mx local.get $v f32x4.pmax local.set $mx`;
  const finite = (masked: boolean): string => `${load(masked)}
            local.get $nan local.get $v local.get $v f32x4.ne${masked ? ' local.get $fin v128.and' : ''} v128.or local.set $nan
            local.get $v f32x4.abs ${splatF32(Infinity)} f32x4.lt${masked ? ' local.get $fin v128.and' : ''} local.get $v v128.and local.set $v
            local.get $amax local.get $v f32x4.abs f32x4.pmax local.set $amax  ;; amax < |v| ? |v| : amax
            local.get $mn local.get $v f32x4.pmin local.set $mn
            local.get $mx local.get $v f32x4.pmax local.set $mx`;
  /** whole vectors (i + 16 ≤ end) unmasked, then at most one vector with the lanes past the end masked out */
  const block = (accumulate: (masked: boolean) => string): string => `
        local.get $start local.set $i
        ${splatWord(0)} local.set $amax ${splatWord(0)} local.set $mn ${splatWord(0)} local.set $mx ${splatWord(0)} local.set $nan
        block $whole
          loop $vectors
            local.get $end local.get $i i32.const 16 i32.add i32.lt_u br_if $whole${accumulate(false)}
            local.get $i i32.const 16 i32.add local.set $i
            br $vectors
          end
        end
        local.get $i local.get $end i32.lt_u
        if${accumulate(true)}
        end`;
  return `(module
  (import "env" "mem" (memory ${PAGES}))
  (func (export "stats") (param $x i32) (param $n i32) (param $blk i32) (param $out i32)
    (local $i i32) (local $end i32)
    (local $amax v128) (local $mn v128) (local $mx v128) (local $nan v128) (local $v v128) (local $fin v128)
    (local $start i32)
    block $done
      loop $blocks
        local.get $i local.get $n i32.ge_u br_if $done
        local.get $i local.set $start
        local.get $i local.get $blk i32.add local.tee $end local.get $n
        local.get $end local.get $n i32.lt_u select local.set $end${block(patterns)}${horizontal('$amax', 'i32x4.max_s')}
        local.get $amax i32x4.extract_lane 0 i32.const 0x7f800000 i32.ge_u
        if${block(finite)}${horizontal('$amax', 'f32x4.pmax')}
        end
        local.get $end local.set $i${horizontal('$mn', 'f32x4.pmin')}${horizontal('$mx', 'f32x4.pmax')}
        local.get $out local.get $amax f32x4.extract_lane 0 f32.store
        local.get $out local.get $nan v128.any_true i32.store offset=4
        local.get $out local.get $mn f32x4.extract_lane 0 f32.store offset=8
        local.get $out local.get $mx f32x4.extract_lane 0 f32.store offset=12
        local.get $out i32.const 16 i32.add local.set $out
        br $blocks
      end
    end))`;
}

// ---------------------------------------------------------------- memory and instances

/**
 * Elements per chunk; buffers: x chunk, out chunk, records (one per element at most). The chunk
 * buffers start half a page off the 4 KiB grid: copying out of a buffer at the same offset modulo
 * 4096 as a page-aligned destination (any large Float32Array) runs into 4K aliasing, measured 5×
 * slower than with the half-page gap.
 */
export const CHUNK = 65536;
export const X_PTR = 2048;
export const OUT_PTR = X_PTR + CHUNK * 4 + 4096;
export const REC_PTR = OUT_PTR + CHUNK * 4 + 2048;
/** A key table (2 float32 per 16-bit key) for the keyTable kernel. */
export const TABLE_PTR = REC_PTR + CHUNK * 16 + 64;
const PAGES = Math.ceil((TABLE_PTR + 131072 * 4) / 65536);

export interface Kernels {
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  stats: (xPtr: number, nBytes: number, blockBytes: number, outPtr: number) => void;
  keyTable: (xPtr: number, outPtr: number, nBytes: number, tablePtr: number) => void;
}

let shared: Kernels | null | undefined;

/**
 * The shared memory and the stats kernels, or null where WebAssembly SIMD is unavailable (then the
 * scalar path runs). A kernel that fails to assemble or compile throws: that is a bug, not a host limit.
 */
export function kernels(): Kernels | null {
  if (shared !== undefined) return shared;
  if (!simdAvailable()) return (shared = null);
  const memory = newMemory(PAGES);
  const stats = instantiateWat('stats', statsModule(), memory)['stats'] as Kernels['stats'];
  const keyTable = instantiateWat('keyTable', keyTableModule(), memory)['keyTable'] as Kernels['keyTable'];
  shared = { memory, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer), stats, keyTable };
  return shared;
}

export type FqKernel = (xPtr: number, outPtr: number, nBytes: number, recPtr: number, blockBytes: number) => void;

/** Compile one element body into an fq kernel on the shared memory. */
export function fqKernel(element: ElementBody): FqKernel | undefined {
  const k = kernels();
  if (!k) return undefined;
  return instantiateWat('fq', fqModule(element), k.memory)['fq'] as FqKernel;
}
