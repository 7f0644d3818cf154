/**
 * The hot passes of the ONNX site statistics (site-stats.ts `rangePass`, `fusedPass`, the codes'
 * histogram) as WebAssembly SIMD, for the common case: integer codes, finite inputs, one scale per
 * tensor or per axis (groups as runs of `inner` elements). The range runs four float32 lanes at a
 * time (pmin/pmax keep the scalar `v < l` rule, so the same minima and maxima); the fused pass runs
 * the same float64 operations as the JavaScript on two lanes at a time, with the odd element of a
 * run in scalar code: counts, histograms and witnesses come out identical, sums differ only in the
 * order of additions (1e-9 relative; test/onnx-stats.test.ts compares both paths). JS ≈ 50
 * ns/element, this ≈ 12 for all three passes (bench/results/onnx.md).
 *
 * The tensors are streamed through fixed chunk buffers (CHUNK elements) so the memory stays
 * small and in cache; a scale group's run may span chunks, so the run accumulators live in
 * memory between calls. Group arrays grow the memory on demand. */
import { instantiateWat, newMemory, simdAvailable, type WasmMemory } from '../formats/wat.js';

export const CHUNK = 4096;
/** State slots: f64 at 0… (gSig, gNoise, gRefNoise, sumY2, twinSig, twinNoise, chunkMax), i32 at 64… */
const F_STATE = 0;
const I_STATE = 64;
const S_SIG = 0, S_NOISE = 8, S_REF = 16, S_Y2 = 24, S_TSIG = 32, S_TNOISE = 40, S_MAX = 48;
/** v128 state slots (f64x2 / i64x2 lane accumulators of the pair loop), 16 bytes each from V_STATE. */
const V_STATE = 128;
const V_SLOTS = 14;
/** Slots of V_ACC read by JavaScript: y² (then twin sig, twin noise), the max, negatives (then lost, refLost, nfy). */
const VY2 = 3, VMAX = 6, VNEG = 10;
const S_NZ = 0, S_Z = 4, S_RZ = 8, S_NEG = 12, S_LOST = 16, S_RLOST = 20, S_NFY = 24, S_G = 28, S_END = 32, S_NFX = 36;
/** The reference codes' histograms: four of up to 2^17 + 1 bins (site-stats' inline condition), summed at the end. */
const HIST = 512;
const HIST_BINS = (1 << 17) + 1;
// Chunk buffers, half a page off the 4 KiB grid (see formats/kernels.ts on 4K aliasing).
const X_BUF = HIST + 4 * HIST_BINS * 4 + 2048;
const DQ_BUF = X_BUF + CHUNK * 4 + 2048;
const TW_BUF = DQ_BUF + CHUNK * 4 + 2048;
/** Ten float64 arrays of `groups` each: lo, hi, refScale, refZp, sig, noise, refNoise, nonzero, zeroed, refZeroed. */
const GROUPS = Math.ceil((TW_BUF + CHUNK * 4) / 4096) * 4096;
const ARRAYS = 10;
const PAGE = 65536;

/** The byte address of group array `k`, element $g: GROUPS + (k·cap + g)·8, with the capacity in $cap. */
function groupAddr(k: number): string {
  return `local.get $cap i32.const ${k} i32.mul local.get $g i32.add i32.const 8 i32.mul i32.const ${GROUPS} i32.add`;
}

/**
 * range(i0, i1, inner, channels): per-group min/max into the lo/hi arrays, the non-finite count into the state.
 * Four lanes at a time (each lane starts at l / h and keeps the scalar rule `v < l ? v : l`; folded at the end of
 * the run), the rest one at a time.
 */
function rangeFunction(): string {
  /** acc = lane < acc ? lane : acc (or >) for each lane of a f32x4 local: the scalar rule, so the same result. */
  const fold = (acc: string, vec: string, cmp: string): string => [0, 1, 2, 3].map((k) => `
        local.get ${vec} f32x4.extract_lane ${k} f64.promote_f32 local.get ${acc}
        local.get ${vec} f32x4.extract_lane ${k} f64.promote_f32 local.get ${acc} ${cmp} select local.set ${acc}`).join('');
  return `
  (func (export "range") (param $i0 i32) (param $i1 i32) (param $inner i32) (param $channels i32)
    (local $i i32) (local $g i32) (local $end i32) (local $p i32) (local $nf i32) (local $q i32)
    (local $l f64) (local $h f64) (local $v f64) (local $cap i32)
    (local $l4 v128) (local $h4 v128) (local $nf4 v128) (local $x4 v128) (local $zero4 v128)
    f32.const 0 f32x4.splat local.set $zero4
    i32.const ${I_STATE} i32.load offset=40 local.set $cap  ;; the group capacity
    i32.const ${I_STATE} i32.load offset=${S_NFX} local.set $nf
    local.get $i0 local.set $i
    block $done
      loop $runs
        local.get $i local.get $i1 i32.ge_u br_if $done
        ;; q = i / inner; g = q % channels; end = min((q + 1) · inner, i1)
        local.get $i local.get $inner i32.div_u local.tee $q local.get $channels i32.rem_u local.set $g
        local.get $q i32.const 1 i32.add local.get $inner i32.mul local.tee $end
        local.get $i1 local.get $end local.get $i1 i32.lt_u select local.set $end
        ${groupAddr(0)} f64.load local.set $l
        ${groupAddr(1)} f64.load local.set $h
        local.get $i local.get $i0 i32.sub i32.const 4 i32.mul i32.const ${X_BUF} i32.add local.set $p
        ;; four lanes at a time: pmin(l, v) = v < l ? v : l
        local.get $l f32.demote_f64 f32x4.splat local.set $l4
        local.get $h f32.demote_f64 f32x4.splat local.set $h4
        local.get $zero4 local.set $nf4
        block $tail
          loop $vectors
            local.get $i i32.const 3 i32.add local.get $end i32.ge_u br_if $tail
            local.get $p v128.load local.set $x4
            local.get $l4 local.get $x4 f32x4.pmin local.set $l4
            local.get $h4 local.get $x4 f32x4.pmax local.set $h4
            ;; nf4 −= (x − x ≠ 0): all-ones lanes count 1
            local.get $nf4 local.get $x4 local.get $x4 f32x4.sub local.get $zero4 f32x4.ne i32x4.sub local.set $nf4
            local.get $p i32.const 16 i32.add local.set $p
            local.get $i i32.const 4 i32.add local.set $i
            br $vectors
          end
        end${fold('$l', '$l4', 'f64.lt')}${fold('$h', '$h4', 'f64.gt')}${[0, 1, 2, 3].map((k) => `
        local.get $nf local.get $nf4 i32x4.extract_lane ${k} i32.add local.set $nf`).join('')}
        local.get $i local.get $end i32.lt_u
        if
          loop $elements
            local.get $p f32.load f64.promote_f32 local.set $v
            ;; l = v < l ? v : l; h = v > h ? v : h
            local.get $v local.get $l local.get $v local.get $l f64.lt select local.set $l
            local.get $v local.get $h local.get $v local.get $h f64.gt select local.set $h
            ;; nf += (v − v) ≠ 0
            local.get $nf local.get $v local.get $v f64.sub f64.const 0 f64.ne i32.add local.set $nf
            local.get $p i32.const 4 i32.add local.set $p
            local.get $i i32.const 1 i32.add local.tee $i local.get $end i32.lt_u br_if $elements
          end
        end
        ${groupAddr(0)} local.get $l f64.store
        ${groupAddr(1)} local.get $h f64.store
        br $runs
      end
    end
    i32.const ${I_STATE} local.get $nf i32.store offset=${S_NFX})`;
}

/** The v128 accumulators of the pair loop, in V_STATE slot order: the scalar loop's accumulators with a `v` prefix. */
const V_ACC = ['$vsig', '$vnoise', '$vref', '$vy2', '$vtsig', '$vtnoise', '$vmax', '$vnz', '$vzd', '$vrz', '$vneg', '$vlost', '$vrlost', '$vnfy'];

/** Sum of the two lanes of a v128 local, as f64 (f64x2 sums) or as f64 of the i64 sum (i64x2 counts). */
const lanesF64 = (v: string): string => `local.get ${v} f64x2.extract_lane 0 local.get ${v} f64x2.extract_lane 1 f64.add`;
const lanesI64 = (v: string): string => `local.get ${v} i64x2.extract_lane 0 local.get ${v} i64x2.extract_lane 1 i64.add f64.convert_i64_s`;

/**
 * The loops of `fused` in one of its two widths: `scalar` (one element: f64 values, i32 conditions and counts) or
 * `pair` (two elements on f64x2 lanes: conditions are lane masks, all ones = true, counted into i64x2 lanes by
 * subtracting the mask). The element's statistics are written once (`elementStatistics`) for both.
 */
interface Lane {
  /** the local holding value v, y, r, d, e, w or condition nz, neg: scalar `$v`, `$isNz`; pair `$V`, `$NZ` */
  val(name: 'v' | 'y' | 'r' | 'd' | 'e' | 'w' | 'nz' | 'neg'): string;
  /** float instructions' prefix */
  f: 'f64' | 'f64x2';
  /** pushes 0 of the float type */
  zero: string;
  /** pushes the element(s) of a chunk buffer at $px, as f64 */
  load(buf: number): string;
  /** rounds the f64 value(s) on the stack to float32 and back */
  fround: string;
  /** a ∧ b and a ∧ ¬b of the two conditions on the stack */
  and: string;
  andNot: string;
  /** accumulator `name` (scalar `$sig`, pair `$vsig`) += the condition on the stack */
  count(name: string, cond: string): string;
  /** accumulator `name` += (the value pushed by `val`)² */
  addSq(name: string, val: string): string;
}

const scalar: Lane = {
  val: (n) => (n === 'nz' ? '$isNz' : n === 'neg' ? '$isNeg' : `$${n}`),
  f: 'f64',
  zero: 'f64.const 0',
  load: (buf) => `local.get $px f32.load offset=${buf - X_BUF} f64.promote_f32`,
  fround: 'f32.demote_f64 f64.promote_f32',
  and: 'i32.and',
  andNot: 'i32.const 1 i32.xor i32.and',
  count: (n, cond) => `local.get $${n} ${cond} i32.add local.set $${n}`,
  addSq: (n, val) => `local.get $${n} ${val} local.tee $a local.get $a f64.mul f64.add local.set $${n}`,
};

const pair: Lane = {
  val: (n) => `$${n.toUpperCase()}`,
  f: 'f64x2',
  zero: 'local.get $ZERO2',
  load: (buf) => `local.get $px v128.load64_zero offset=${buf - X_BUF} f64x2.promote_low_f32x4`,
  fround: 'f32x4.demote_f64x2_zero f64x2.promote_low_f32x4',
  and: 'v128.and',
  andNot: 'v128.andnot',
  count: (n, mask) => `local.get $v${n} ${mask} i64x2.sub local.set $v${n}`,
  addSq: (n, val) => `local.get $v${n} ${val} local.tee $k local.get $k f64x2.mul f64x2.add local.set $v${n}`,
};

/**
 * What fusedPass (site-stats.ts) sums for an element x = v, dq = y, reference r: Σv², Σ(v − y)², Σ(v − r)², Σy²;
 * nonzero inputs, those y and r send to 0; negatives, those y and r do not keep negative; non-finite y; the twin's
 * sums. Branch-free.
 */
function elementStatistics(l: Lane): string {
  const get = (n: Parameters<Lane['val']>[0]): string => `local.get ${l.val(n)}`;
  const cmp0 = (n: Parameters<Lane['val']>[0], op: 'eq' | 'ne' | 'lt'): string => `${get(n)} ${l.zero} ${l.f}.${op}`;
  return `
            ${get('v')} ${get('y')} ${l.f}.sub local.set ${l.val('d')}
            ${get('v')} ${get('r')} ${l.f}.sub local.set ${l.val('e')}
            ${l.addSq('sig', get('v'))}
            ${l.addSq('noise', get('d'))}
            ${l.addSq('ref', get('e'))}
            ${l.addSq('y2', get('y'))}
            ${cmp0('v', 'ne')} local.set ${l.val('nz')}
            ${cmp0('v', 'lt')} local.set ${l.val('neg')}
            ${l.count('nz', get('nz'))}
            ${l.count('zd', `${get('nz')} ${cmp0('y', 'eq')} ${l.and}`)}
            ${l.count('rz', `${get('nz')} ${cmp0('r', 'eq')} ${l.and}`)}
            ${l.count('neg', get('neg'))}
            ;; lost: negative in, not negative out
            ${l.count('lost', `${get('neg')} ${cmp0('y', 'lt')} ${l.andNot}`)}
            ${l.count('rlost', `${get('neg')} ${cmp0('r', 'lt')} ${l.andNot}`)}
            ${l.count('nfy', `${get('y')} ${get('y')} ${l.f}.sub ${l.zero} ${l.f}.ne`)}
            local.get $hasTwin
            if
              ${l.load(TW_BUF)} local.set ${l.val('w')}
              ${l.addSq('tsig', get('w'))}
              ${l.addSq('tnoise', `${get('w')} ${get('y')} ${l.f}.sub`)}
            end`;
}

/**
 * fused(i0, i1, inner, channels, qmin, qmax, hasTwin): per run of one scale group, the reference quantizer as the
 * registry's quantizeInteger (formats/integer.ts) defines it — k = RNE(clamp(v / s, qmin − z, qmax − z)), code k + z,
 * r = fround(k · s) — its codes counted into the histograms, and the sums of site-stats' fusedPass: pairs of elements
 * on f64x2 lanes, the odd one in scalar code. Run sums go to the group arrays when the run ends; everything else stays
 * in the state between chunks.
 */
function fusedFunction(): string {
  const f64State = [['$sig', S_SIG], ['$noise', S_NOISE], ['$ref', S_REF], ['$y2', S_Y2], ['$tsig', S_TSIG], ['$tnoise', S_TNOISE]] as const;
  const i32State = [['$nz', S_NZ], ['$zd', S_Z], ['$rz', S_RZ], ['$neg', S_NEG], ['$lost', S_LOST], ['$rlost', S_RLOST], ['$nfy', S_NFY], ['$g', S_G], ['$runEnd', S_END]] as const;
  /** group[g] += (lane 0 + lane 1) + scalar */
  const flush = (k: number, vector: string, local: string, count: boolean): string => `
        ${groupAddr(k)} ${groupAddr(k)} f64.load
        ${count ? lanesI64(vector) : lanesF64(vector)} local.get ${local}${count ? ' f64.convert_i32_u' : ''} f64.add
        f64.add f64.store`;
  /** hist[(bank)][k − qmin]++ for the bin index (i32) on the stack: four banks so equal neighbours do not wait */
  const count = (bank: string): string => `${bank} local.get $bins i32.mul`;
  return `
  (func (export "fused") (param $i0 i32) (param $i1 i32) (param $inner i32) (param $channels i32)
    (param $qmin f64) (param $qmax f64) (param $hasTwin i32)
    (local $i i32) (local $g i32) (local $runEnd i32) (local $stop i32) (local $q i32) (local $px i32) (local $cap i32)
    (local $nz i32) (local $zd i32) (local $rz i32) (local $neg i32) (local $lost i32) (local $rlost i32) (local $nfy i32)
    (local $isNz i32) (local $isNeg i32) (local $idx i32)
    (local $sig f64) (local $noise f64) (local $ref f64) (local $y2 f64) (local $tsig f64) (local $tnoise f64) (local $max f64)
    (local $s f64) (local $z f64) (local $lo f64) (local $hi f64) (local $v f64) (local $y f64) (local $c f64) (local $r f64)
    (local $d f64) (local $e f64) (local $w f64) (local $a f64)
    (local $bins i32)
    ${V_ACC.map((n) => `(local ${n} v128)`).join(' ')}
    (local $V v128) (local $Y v128) (local $C v128) (local $R v128) (local $D v128) (local $E v128) (local $W v128)
    (local $NZ v128) (local $NEG v128) (local $S2 v128) (local $LO2 v128) (local $HI2 v128)
    (local $ZERO2 v128) (local $INF2 v128) (local $k v128)
    i32.const ${I_STATE} i32.load offset=40 local.set $cap
    local.get $qmax local.get $qmin f64.sub i32.trunc_f64_s i32.const 1 i32.add local.set $bins
    ;; the state left by the previous chunk
${f64State.map(([l, o]) => `    i32.const ${F_STATE} f64.load offset=${o} local.set ${l}`).join('\n')}
${i32State.map(([l, o]) => `    i32.const ${I_STATE} i32.load offset=${o} local.set ${l}`).join('\n')}
${V_ACC.map((l, k) => `    i32.const ${V_STATE + 16 * k} v128.load local.set ${l}`).join('\n')}
    f64.const 0 f64x2.splat local.set $ZERO2
    f64.const inf f64x2.splat local.set $INF2
    local.get $i0 local.set $i
    block $done
      loop $runs
        local.get $i local.get $i1 i32.ge_u br_if $done
        ;; a new run: its group and end
        local.get $i local.get $runEnd i32.eq
        if
          local.get $i local.get $inner i32.div_u local.tee $q local.get $channels i32.rem_u local.set $g
          local.get $q i32.const 1 i32.add local.get $inner i32.mul local.set $runEnd
        end
        ${groupAddr(2)} f64.load local.set $s
        ${groupAddr(3)} f64.load local.set $z
        ;; the bounds of k = code − z: [qmin − z, qmax − z]
        local.get $qmin local.get $z f64.sub local.set $lo
        local.get $qmax local.get $z f64.sub local.set $hi
        local.get $runEnd local.get $i1 local.get $runEnd local.get $i1 i32.lt_u select local.set $stop
        local.get $i local.get $i0 i32.sub i32.const 4 i32.mul i32.const ${X_BUF} i32.add local.set $px
        local.get $s f64x2.splat local.set $S2
        local.get $lo f64x2.splat local.set $LO2
        local.get $hi f64x2.splat local.set $HI2
        ;; pairs: the same operations on two f64 lanes (the sums' order differs from the scalar loop, not the values)
        block $odd
          loop $pairs
            local.get $i i32.const 1 i32.add local.get $stop i32.ge_u br_if $odd
            ${pair.load(X_BUF)} local.set $V
            ${pair.load(DQ_BUF)} local.set $Y
            ;; k = nearest(pmax(pmin(v / s, hi), lo)): pmin(t, hi) = hi < t ? hi : t, as quantizeInteger's clamp
            local.get $V local.get $S2 f64x2.div local.get $HI2 f64x2.pmin local.get $LO2 f64x2.pmax
            f64x2.nearest local.tee $C
            ;; hist[(i & 2) + lane][code − qmin = k − lo]++
            local.get $LO2 f64x2.sub i32x4.trunc_sat_f64x2_s_zero local.set $k
            local.get $i i32.const 2 i32.and ${count('')} local.get $k i32x4.extract_lane 0 i32.add
            i32.const 4 i32.mul i32.const ${HIST} i32.add local.tee $idx
            local.get $idx i32.load i32.const 1 i32.add i32.store
            local.get $i i32.const 2 i32.and i32.const 1 i32.add ${count('')} local.get $k i32x4.extract_lane 1 i32.add
            i32.const 4 i32.mul i32.const ${HIST} i32.add local.tee $idx
            local.get $idx i32.load i32.const 1 i32.add i32.store
            ;; r = fround(k · s)
            local.get $C local.get $S2 f64x2.mul ${pair.fround} local.set $R${elementStatistics(pair)}
            ;; max |d| (NaN as +∞): pmax(max, err) = max < err ? err : max
            local.get $vmax
            local.get $D f64x2.abs local.get $INF2 local.get $D local.get $D f64x2.eq v128.bitselect
            f64x2.pmax local.set $vmax
            local.get $px i32.const 8 i32.add local.set $px
            local.get $i i32.const 2 i32.add local.set $i
            br $pairs
          end
        end
        ;; the odd element left, one at a time
        local.get $i local.get $stop i32.lt_u
        if
          loop $elements
            ${scalar.load(X_BUF)} local.set $v
            ${scalar.load(DQ_BUF)} local.set $y
            ;; k = nearest(t < lo ? lo : t > hi ? hi : t) with t = v / s (selects, as quantizeInteger: f64.min/max
            ;; are NaN-and-signed-zero-aware sequences in V8, several times slower)
            local.get $v local.get $s f64.div local.set $c
            local.get $lo
            local.get $hi local.get $c local.get $c local.get $hi f64.gt select
            local.get $c local.get $lo f64.lt select
            f64.nearest local.tee $c
            ;; hist[i & 3][code − qmin = k − lo]++: four histograms, so equal neighbouring codes do not wait on each
            ;; other's stores
            local.get $lo f64.sub i32.trunc_f64_s
            local.get $i i32.const 3 i32.and ${count('')} i32.add
            i32.const 4 i32.mul i32.const ${HIST} i32.add local.tee $idx
            local.get $idx i32.load i32.const 1 i32.add i32.store
            ;; r = fround(k · s)
            local.get $c local.get $s f64.mul ${scalar.fround} local.set $r${elementStatistics(scalar)}
            ;; max |d| of the chunk (NaN counts as +∞)
            local.get $d f64.abs f64.const inf local.get $d local.get $d f64.eq select local.tee $a
            local.get $max local.get $a local.get $max f64.gt select local.set $max
            local.get $px i32.const 4 i32.add local.set $px
            local.get $i i32.const 1 i32.add local.tee $i local.get $stop i32.lt_u br_if $elements
          end
        end
        ;; the run ended: add its sums to its group, start afresh
        local.get $i local.get $runEnd i32.eq
        if${flush(4, '$vsig', '$sig', false)}${flush(5, '$vnoise', '$noise', false)}${flush(6, '$vref', '$ref', false)}${flush(7, '$vnz', '$nz', true)}${flush(8, '$vzd', '$zd', true)}${flush(9, '$vrz', '$rz', true)}
          f64.const 0 local.set $sig f64.const 0 local.set $noise f64.const 0 local.set $ref
          i32.const 0 local.set $nz i32.const 0 local.set $zd i32.const 0 local.set $rz
          ${['$vsig', '$vnoise', '$vref', '$vnz', '$vzd', '$vrz'].map((l) => `local.get $ZERO2 local.set ${l}`).join(' ')}
        end
        br $runs
      end
    end
    ;; the state for the next chunk
${f64State.map(([l, o]) => `    i32.const ${F_STATE} local.get ${l} f64.store offset=${o}`).join('\n')}
${i32State.map(([l, o]) => `    i32.const ${I_STATE} local.get ${l} i32.store offset=${o}`).join('\n')}
    i32.const ${F_STATE} local.get $max f64.store offset=${S_MAX}
${V_ACC.map((l, k) => `    i32.const ${V_STATE + 16 * k} local.get ${l} v128.store`).join('\n')})`;
}

/** hist8(n, signed): codes (bytes at X_BUF) counted into four histograms of 256 bins at HIST. */
function hist8Function(): string {
  /** hist[k][byte]++ for the byte on the stack (xor $x turns int8 into its bin: code + 128) */
  const count = (k: number): string => `local.get $x i32.xor i32.const 4 i32.mul i32.const ${HIST + k * 1024} i32.add local.tee $p
            local.get $p i32.load i32.const 1 i32.add i32.store`;
  return `
  (func (export "hist8") (param $n i32) (param $signed i32)
    (local $i i32) (local $p i32) (local $w i32) (local $x i32)
    local.get $signed i32.const 7 i32.shl local.set $x
    ;; four bytes a word, each into its own histogram (neighbouring equal codes do not wait on each other's stores)
    block $tail
      loop $words
        local.get $i i32.const 3 i32.add local.get $n i32.ge_u br_if $tail
        local.get $i i32.const ${X_BUF} i32.add i32.load local.set $w
${[0, 1, 2, 3].map((k) => `            local.get $w i32.const ${8 * k} i32.shr_u i32.const 255 i32.and ${count(k)}`).join('\n')}
        local.get $i i32.const 4 i32.add local.set $i
        br $words
      end
    end
    block $done
      loop $bytes
        local.get $i local.get $n i32.ge_u br_if $done
        local.get $i i32.const ${X_BUF} i32.add i32.load8_u ${count(0)}
        local.get $i i32.const 1 i32.add local.set $i
        br $bytes
      end
    end)`;
}

type Range = (i0: number, i1: number, inner: number, channels: number) => void;
type Fused = (i0: number, i1: number, inner: number, channels: number, qmin: number, qmax: number, hasTwin: number) => void;
type Hist8 = (n: number, signed: number) => void;

interface Engine {
  memory: WasmMemory;
  range: Range;
  fused: Fused;
  hist8: Hist8;
}

let engine: Engine | null | undefined;

/** The kernels on their memory, or null where WebAssembly SIMD is unavailable (a kernel that does not compile throws). */
function getEngine(): Engine | null {
  if (engine !== undefined) return engine;
  if (!simdAvailable()) return (engine = null); // no WebAssembly SIMD here: the JavaScript passes run instead
  const pages = Math.ceil(GROUPS / PAGE) + 1;
  const memory = newMemory(pages, 32768);
  const text = `(module\n  (import "env" "mem" (memory ${pages}))${rangeFunction()}${fusedFunction()}${hist8Function()})`;
  const exports = instantiateWat('site-stats', text, memory);
  engine = { memory, range: exports['range'] as Range, fused: exports['fused'] as Fused, hist8: exports['hist8'] as Hist8 };
  return engine;
}

/** Room for `groups` scale groups (the memory only grows); false when it cannot grow that far (the JS passes run). */
function reserve(e: Engine, groups: number): boolean {
  const need = GROUPS + ARRAYS * groups * 8;
  if (e.memory.buffer.byteLength >= need) return true;
  try {
    e.memory.grow(Math.ceil((need - e.memory.buffer.byteLength) / PAGE));
    return true;
  } catch {
    return false;
  }
}

export interface KernelInput {
  x: Float32Array;
  dq: Float32Array;
  twin: Float32Array | undefined;
  /** Elements per run of one scale group, and the number of groups the runs cycle through. */
  inner: number;
  channels: number;
  groups: number;
  qmin: number;
  qmax: number;
}

export interface KernelOutput {
  lo: Float64Array;
  hi: Float64Array;
  nonFiniteX: number;
}

/** Per scale group: Σx², Σ(x − dq)², Σ(x − ref)², nonzero inputs, those dq sends to 0, those the reference sends to 0. */
export interface GroupSums {
  sig: Float64Array;
  noise: Float64Array;
  refNoise: Float64Array;
  nonzero: Float64Array;
  zeroed: Float64Array;
  refZeroed: Float64Array;
}

export interface FusedOutput extends GroupSums {
  refCounts: Int32Array;
  /** negatives, lost, refLost, nonFiniteY, sumY2, twinSig, twinNoise (site-stats' TOTALS order). */
  totals: Float64Array;
  /** Per chunk of CHUNK elements: the largest |x − dq| (NaN as +∞), to find the witness positions. */
  chunkMax: Float64Array;
}

/** Whether the kernels can run here (WebAssembly available) for this many groups and histogram bins. */
export function kernelAvailable(groups: number, bins: number): boolean {
  return bins <= HIST_BINS && groups < 1 << 24 && getEngine() !== null;
}

function sumHistograms(h: Int32Array, bins: number): Int32Array {
  const out = h.slice(0, bins);
  for (let k = 1; k < 4; k++) for (let b = 0; b < bins; b++) out[b] += h[k * bins + b]!;
  return out;
}

/** Pass 1 (range) over runs; returns null where WebAssembly is unavailable. */
export function rangeKernel(inp: KernelInput): KernelOutput | null {
  const e = getEngine();
  if (!e || !reserve(e, inp.groups)) return null;
  const { x, inner, channels, groups } = inp;
  const words = new Int32Array(e.memory.buffer, I_STATE, 16);
  words.fill(0);
  words[10] = groups;
  new Float64Array(e.memory.buffer, GROUPS, 2 * groups).fill(0);
  const xs = new Float32Array(e.memory.buffer, X_BUF, CHUNK);
  for (let i0 = 0; i0 < x.length; i0 += CHUNK) {
    const i1 = Math.min(x.length, i0 + CHUNK);
    xs.set(x.subarray(i0, i1));
    e.range(i0, i1, inner, channels);
  }
  const g = new Float64Array(e.memory.buffer, GROUPS, 2 * groups);
  return { lo: g.slice(0, groups), hi: g.slice(groups, 2 * groups), nonFiniteX: words[S_NFX / 4]! };
}

/** Pass 2 (fused) over runs with the reference quantizer's scale and zero-point per group. */
export function fusedKernel(inp: KernelInput, refScale: Float64Array, refZp: Float64Array): FusedOutput | null {
  const e = getEngine();
  if (!e || !reserve(e, inp.groups)) return null;
  const { x, dq, twin, inner, channels, groups, qmin, qmax } = inp;
  const buf = e.memory.buffer;
  new Float64Array(buf, F_STATE, 8).fill(0);
  new Float64Array(buf, V_STATE, 2 * V_SLOTS).fill(0);
  const words = new Int32Array(buf, I_STATE, 16);
  words.fill(0);
  words[10] = groups;
  const bins = qmax - qmin + 1;
  new Int32Array(buf, HIST, 4 * bins).fill(0);
  const arrays = new Float64Array(buf, GROUPS, ARRAYS * groups);
  arrays.fill(0, 2 * groups);
  arrays.set(refScale, 2 * groups);
  arrays.set(refZp, 3 * groups);
  const xs = new Float32Array(buf, X_BUF, CHUNK);
  const ds = new Float32Array(buf, DQ_BUF, CHUNK);
  const ts = new Float32Array(buf, TW_BUF, CHUNK);
  const state = new Float64Array(buf, F_STATE, 8);
  const lanes = new Float64Array(buf, V_STATE, 2 * V_SLOTS);
  const counts = new BigInt64Array(buf, V_STATE, 2 * V_SLOTS);
  const chunkMax = new Float64Array(Math.ceil(x.length / CHUNK));
  for (let i0 = 0, k = 0; i0 < x.length; i0 += CHUNK, k++) {
    const i1 = Math.min(x.length, i0 + CHUNK);
    xs.set(x.subarray(i0, i1));
    ds.set(dq.subarray(i0, i1));
    if (twin) ts.set(twin.subarray(i0, i1));
    state[S_MAX / 8] = 0;
    lanes[2 * VMAX] = 0;
    lanes[2 * VMAX + 1] = 0;
    e.fused(i0, i1, inner, channels, qmin, qmax, twin ? 1 : 0);
    chunkMax[k] = Math.max(state[S_MAX / 8]!, lanes[2 * VMAX]!, lanes[2 * VMAX + 1]!);
  }
  // totals = (lane 0 + lane 1) + scalar, as the kernel's flush
  const f = (slot: number, scalar: number): number => lanes[2 * slot]! + lanes[2 * slot + 1]! + scalar;
  const c = (slot: number, scalar: number): number => Number(counts[2 * slot]! + counts[2 * slot + 1]!) + scalar;
  const group = (k: number): Float64Array => arrays.slice(k * groups, (k + 1) * groups);
  return {
    sig: group(4), noise: group(5), refNoise: group(6), nonzero: group(7), zeroed: group(8), refZeroed: group(9),
    refCounts: sumHistograms(new Int32Array(buf, HIST, 4 * bins), bins),
    totals: Float64Array.of(
      c(VNEG, words[S_NEG / 4]!), c(VNEG + 1, words[S_LOST / 4]!), c(VNEG + 2, words[S_RLOST / 4]!), c(VNEG + 3, words[S_NFY / 4]!),
      f(VY2, state[S_Y2 / 8]!), f(VY2 + 1, state[S_TSIG / 8]!), f(VY2 + 2, state[S_TNOISE / 8]!),
    ),
    chunkMax,
  };
}

/**
 * Histogram of byte codes (int8: bin = code + 128; uint8: bin = code), 256 bins; null where WebAssembly is
 * unavailable.
 */
export function byteHistogram(codes: Int8Array | Uint8Array): Int32Array | null {
  const e = getEngine();
  if (!e) return null;
  const buf = e.memory.buffer;
  new Int32Array(buf, HIST, 4 * 256).fill(0);
  const bytes = new Uint8Array(codes.buffer, codes.byteOffset, codes.length);
  const xs = new Uint8Array(buf, X_BUF, CHUNK * 4);
  const signed = codes instanceof Int8Array ? 1 : 0;
  for (let i0 = 0; i0 < bytes.length; i0 += xs.length) {
    const part = bytes.subarray(i0, i0 + xs.length);
    xs.set(part);
    e.hist8(part.length, signed);
  }
  return sumHistograms(new Int32Array(buf, HIST, 4 * 256), 256);
}
