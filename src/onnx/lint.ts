/**
 * Static lint of a site's resolved scale and zero-point: values no correct quantizer has
 * (zero, negative, NaN/Inf, denormal, absurd next to the data), zero-points outside the
 * code range (also before the Cast that made them, as PyTorch exports them), float8
 * zero-points other than 0, and unsigned codes whose range cannot hold the negative values
 * of signed data, a DequantizeLinear whose scale differs from its Quantize's at the precision the
 * two are stored in, and int32 bias codes clipped at the int32 limits. Each finding is evidence for
 * `scale-collapse` at that node.
 */
import { rangeThreshold, type Thresholds } from '../thresholds.js';
import { DT, roundToType, type CodeType } from './proto.js';
import type { GroupStats } from './site-stats.js';

export type LintRule =
  | 'zero-scale'
  | 'negative-scale'
  | 'nonfinite-scale'
  | 'denormal-scale'
  | 'absurd-scale'
  | 'zero-point-range'
  | 'float8-zero-point'
  | 'unsigned-on-signed'
  | 'scale-mismatch'
  | 'bias-saturated';

export interface LintFinding {
  rule: LintRule;
  /** Scale group (channel/block) or null for the whole tensor. */
  group: number | null;
  value: number;
  message: string;
}

/** float32's smallest normal number: a smaller nonzero scale is denormal (flushed to zero on many kernels). */
const FLT_MIN_NORMAL = 1.1754943508222875e-38;

export interface LintInput {
  scale: Float64Array;
  zeroPoint: Float64Array | undefined;
  /** The zero-point before a Cast produced it (out-of-range values wrap or saturate in the Cast). */
  zeroPointSource: Float64Array | undefined;
  codeType: CodeType | undefined;
  inputKind: 'weight' | 'activation';
  /** Per-group data statistics, when the site's input was observed. */
  groups: readonly GroupStats[];
  /** The DequantizeLinear's own scale and zero-point, when they are other tensors than the Quantize's. */
  dequantizeScale?: Float64Array;
  dequantizeZeroPoint?: Float64Array;
  /** Element types of the two scales (TensorProto.DataType): they are compared at the coarser one's precision. */
  scaleType?: number;
  dequantizeScaleType?: number;
  /** A bias site's int32 codes (exact), and what its scale is made of (input scale × weight scale), for the message. */
  biasCodes?: ArrayLike<number>;
  biasScaleNote?: (channel: number) => string;
  /** How messages name scale group g (a block also by its index in the scale tensor); default: the number. */
  groupName?: (g: number) => string;
}

export function lintSite(input: LintInput, thresholds: Thresholds): LintFinding[] {
  const out: LintFinding[] = [];
  const { scale, zeroPoint, zeroPointSource, codeType } = input;
  const first = (predicate: (v: number) => boolean, arr: Float64Array): number => arr.findIndex(predicate);
  const groupOf = (i: number, arr: ArrayLike<number>): number | null => (arr.length > 1 ? i : null);
  const name = input.groupName ?? String;
  const count = (predicate: (v: number) => boolean, arr: Float64Array): number => arr.reduce((n, v) => n + (predicate(v) ? 1 : 0), 0);
  const where = (n: number, arr: ArrayLike<number>): string => (arr.length > 1 ? `${n} of ${arr.length} scales` : 'the scale');

  const rules: [LintRule, (v: number) => boolean, string][] = [
    ['nonfinite-scale', (v) => !Number.isFinite(v), 'is NaN or Inf: every code is garbage'],
    ['zero-scale', (v) => v === 0, 'is 0: x / scale overflows and every value saturates or becomes NaN'],
    ['negative-scale', (v) => v < 0, 'is negative: codes flip the sign of every value'],
    ['denormal-scale', (v) => v !== 0 && Math.abs(v) < FLT_MIN_NORMAL, `is denormal (< ${FLT_MIN_NORMAL.toExponential(3)}): kernels that flush denormals see 0`],
  ];
  for (const [rule, bad, why] of rules) {
    const i = first(bad, scale);
    if (i >= 0) out.push({ rule, group: groupOf(i, scale), value: scale[i]!, message: `${where(count(bad, scale), scale)} ${why} (first: ${scale[i]}${scale.length > 1 ? ` at group ${name(i)}` : ''})` });
  }

  if (codeType && input.groups.length > 0) {
    const key = codeType.kind === 'float8' ? 'onnx.float8ScaleCoverage' : input.inputKind === 'weight' ? 'onnx.weightScaleCoverage' : 'onnx.activationScaleCoverage';
    const [lo, hi] = rangeThreshold(thresholds, key);
    const bad = input.groups.filter((g) => g.coverage !== null && Number.isFinite(g.scale) && g.scale > 0 && (g.coverage < lo || g.coverage > hi));
    if (bad.length > 0) {
      const worst = bad.reduce((a, b) => (Math.abs(Math.log(b.coverage!)) > Math.abs(Math.log(a.coverage!)) ? b : a));
      out.push({
        rule: 'absurd-scale',
        group: input.groups.length > 1 ? worst.group : null,
        value: worst.coverage!,
        message:
          `${bad.length} of ${input.groups.length} scale group(s) do not fit the ${input.inputKind} they quantize: representable range / observed range = ` +
          `${fmt(worst.coverage!)} (scale ${fmt(worst.scale)}, |x| max ${fmt(worst.absmax)}${input.groups.length > 1 ? `, group ${name(worst.group)}` : ''}; allowed [${lo}, ${hi}], key ${key})`,
      });
    }
  }

  if (codeType && zeroPoint) {
    if (codeType.kind === 'float8') {
      const i = first((v) => v !== 0, zeroPoint);
      if (i >= 0) out.push({ rule: 'float8-zero-point', group: groupOf(i, zeroPoint), value: zeroPoint[i]!, message: `float8 zero-point is ${zeroPoint[i]}, the ONNX spec expects 0` });
    } else {
      const src = zeroPointSource ?? zeroPoint;
      const outside = (v: number): boolean => !(v >= codeType.qmin && v <= codeType.qmax) || !Number.isInteger(v);
      const i = first(outside, src);
      if (i >= 0) {
        out.push({
          rule: 'zero-point-range',
          group: groupOf(i, src),
          value: src[i]!,
          message: `zero-point ${src[i]}${zeroPointSource ? ' (before the Cast that makes it)' : ''} is outside the ${codeType.name} code range [${codeType.qmin}, ${codeType.qmax}]`,
        });
      }
    }
  }

  if (codeType && !codeType.signed && codeType.kind === 'integer' && input.groups.length > 0) {
    // Unsigned codes hold x >= (qmin - zp) * scale; with zp at qmin nothing negative survives.
    const lost = input.groups.filter((g) => (codeType.qmin - g.zeroPoint) * g.scale >= 0 && g.min < 0 && -g.min >= 0.1 * g.absmax);
    if (lost.length > 0) {
      const g = lost[0]!;
      out.push({
        rule: 'unsigned-on-signed',
        group: input.groups.length > 1 ? g.group : null,
        value: g.zeroPoint,
        message: `${codeType.name} codes with zero-point ${g.zeroPoint} cannot hold negative values, but the ${input.inputKind} reaches ${fmt(g.min)} (${lost.length} of ${input.groups.length} group(s)); signed data needs int codes or a zero-point near the middle`,
      });
    }
  }
  const mismatch = (a: Float64Array | undefined, b: Float64Array | undefined, same: (x: number, y: number) => boolean): number => {
    if (!a || !b) return -1;
    if (a.length !== b.length) return 0;
    return a.findIndex((v, i) => !same(v, b[i]!));
  };
  // The same scale stored in two types (float32 in the Quantize, float16 in the DequantizeLinear) is equal once both are
  // rounded to the coarser type; within one type, equal to 1e-6.
  const coarse = coarserType(input.scaleType, input.dequantizeScaleType);
  const sameScale = (x: number, y: number): boolean => Math.abs(x - y) <= 1e-6 * Math.max(Math.abs(x), Math.abs(y)) || roundToType(x, coarse) === roundToType(y, coarse);
  const si = mismatch(scale, input.dequantizeScale, sameScale);
  if (si >= 0) {
    const stored = coarse !== undefined && coarse !== DT.FLOAT ? ` (compared at ${coarse === DT.FLOAT16 ? 'float16' : coarse === DT.BFLOAT16 ? 'bfloat16' : 'double'} precision: ${roundToType(scale[si] ?? Number.NaN, coarse)})` : '';
    out.push({
      rule: 'scale-mismatch', group: groupOf(si, scale), value: input.dequantizeScale![si] ?? Number.NaN,
      message: `DequantizeLinear uses scale ${input.dequantizeScale![si]} where QuantizeLinear used ${scale[si]}${stored}${scale.length > 1 ? ` (group ${name(si)})` : ''}: every value comes back rescaled`,
    });
  }
  const zi = mismatch(zeroPoint ?? new Float64Array(scale.length > 0 ? 1 : 0), input.dequantizeZeroPoint, (x, y) => x === y);
  if (input.dequantizeZeroPoint && zi >= 0) {
    out.push({
      rule: 'scale-mismatch', group: groupOf(zi, input.dequantizeZeroPoint), value: input.dequantizeZeroPoint[zi] ?? Number.NaN,
      message: `DequantizeLinear uses zero-point ${input.dequantizeZeroPoint[zi]} where QuantizeLinear used ${zeroPoint?.[zi] ?? 0}: every value comes back shifted`,
    });
  }
  if (input.biasCodes) {
    // Codes at the int32 limits: the bias did not fit its scale and was clipped (onnxruntime ≥ 1.19 clips and warns; a
    // tiny weight scale makes the bias scale input scale × weight scale tiny — onnxruntime issue #21000).
    const codes = input.biasCodes;
    const at: number[] = [];
    for (let i = 0; i < codes.length; i++) if (codes[i]! >= INT32_MAX || codes[i]! <= INT32_MIN) at.push(i);
    if (at.length > 0) {
      const perChannel = scale.length > 1;
      const c = at[0]!;
      out.push({
        rule: 'bias-saturated', group: perChannel ? c : null, value: codes[c]!,
        message:
          `${at.length} of ${codes.length} int32 bias codes sit at the int32 limit (first: element ${c} = ${codes[c]}, bias scale ${fmt(scale[perChannel ? c : 0] ?? Number.NaN)}` +
          `${input.biasScaleNote ? `, ${input.biasScaleNote(c)}` : ''}): the bias was clipped, so the dequantized bias is ${fmt((codes[c]! - (zeroPoint?.[perChannel ? c : 0] ?? 0)) * (scale[perChannel ? c : 0] ?? Number.NaN))} whatever it should be`,
      });
    }
  }
  return out;
}

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/** Bits of precision of a stored float type (higher = finer). */
const PRECISION: Record<number, number> = { [DT.DOUBLE]: 53, [DT.FLOAT]: 24, [DT.FLOAT16]: 11, [DT.BFLOAT16]: 8 };

/** The coarser of two stored float types (unknown = float32). */
function coarserType(a: number | undefined, b: number | undefined): number | undefined {
  const pa = PRECISION[a ?? DT.FLOAT] ?? 24;
  const pb = PRECISION[b ?? DT.FLOAT] ?? 24;
  return pa <= pb ? a ?? DT.FLOAT : b ?? DT.FLOAT;
}

export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'n/a';
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}
