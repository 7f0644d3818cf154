/**
 * A number format is data: one row of the registry. The generic codecs (integer,
 * minifloat, posit, codebook, block-scaled wrapper) read these fields; nothing outside
 * the registry switches on a format's name.
 */
export type FormatFamily = 'identity' | 'integer' | 'minifloat' | 'goldenfloat' | 'posit' | 'codebook' | 'mx';

/** How real values are mapped onto the element grid before encoding. */
export type Scaling =
  | 'none' // raw values, no scale (fp16, bf16, posits, plain minifloats)
  | 'per-tensor-absmax' // one scale = absmax / qmax (signed integer)
  | 'per-tensor-minmax' // asymmetric scale + zero-point (unsigned integer)
  | 'per-channel-absmax' // one absmax scale per row (axis 0)
  | 'per-block-absmax' // one absmax scale per block of `blockSize` consecutive values
  | 'mx-e8m0'; // OCP MX: shared power-of-two scale per block of 32

/** What a minifloat does with its top exponent / special patterns. */
export type Specials =
  | 'ieee' // top exponent: Inf when mantissa = 0, NaN otherwise
  | 'nan-only-at-all-ones' // OCP E4M3FN: no Inf, NaN only at S.1111.111
  | 'nan-at-negative-zero' // fnuz float8 (ONNX FLOAT8E4M3FNUZ/E5M2FNUZ): no Inf, no −0, NaN is 1.0000.000
  | 'none'; // every pattern is a finite number (fp6, fp4, gf4)

export interface FormatSpec {
  name: string;
  family: FormatFamily;
  /** Bits per element code (not counting shared scales). */
  bits: number;
  scaling: Scaling;
  /** Block size for per-block and MX scaling. */
  blockSize?: number;

  // integer
  signed?: boolean;
  /**
   * Integer rows: a fixed zero-point for every scale group (ONNX QuantizeLinear's y_zero_point),
   * in [qmin, qmax]. Replaces the computed one (0 for absmax rows, RNE(qmin − min/scale) for
   * min/max rows); the row's scale rule is unchanged.
   */
  zeroPoint?: number;

  // minifloat / goldenfloat (sign bit implied)
  exponentBits?: number;
  mantissaBits?: number;
  bias?: number;
  subnormals?: boolean;
  specials?: Specials;
  /** ±Inf input → ±max finite instead of ±Inf (ONNX float8 `saturate=1`, which fp8-e5m2 follows). */
  saturateInfinity?: boolean;

  // posit
  es?: number;

  // codebook: the values, ascending, in [-1, 1] (scaled by the block absmax)
  codebook?: readonly number[];

  // mx: the element format's name (a registry row) and its emax (OCP MX v1.0 table)
  element?: string;
  elementEmax?: number;
  /** mx: implicit scale of the element code (MXINT8: 2^-6); default 1. */
  elementScale?: number;
  /** mx: the resolved element row (filled in by the registry). */
  elementSpec?: FormatSpec;

  /** Where the tool had to choose (gf4, legacy posits) or a user override: shown by `formats`. */
  note?: string;
  /** 'builtin' or 'config' (declared or overridden in quant-audit.yaml). */
  source?: 'builtin' | 'config';
}

/** Result of encoding a tensor: one code per element plus the scale metadata needed to decode. */
export interface Encoded {
  format: string;
  shape: number[];
  /** Element codes as unsigned bit patterns (integer formats: the stored integer, two's complement masked to `bits`). */
  codes: Uint32Array;
  /** One scale per scale group (per tensor: length 1; per block / channel: one each). Empty for scaling 'none'. */
  scales: Float32Array;
  /** Zero-points per scale group (integer rows with a zero-point: min/max scaling, or one given by the row or the call). */
  zeroPoints?: Int32Array;
  /** E8M0 shared exponents for MX (the stored byte, bias 127). */
  sharedExponents?: Uint8Array;
}

/** Summary shown by `quant-audit formats`. */
export interface FormatInfo {
  name: string;
  family: FormatFamily;
  bits: number;
  layout: string;
  scaling: Scaling;
  blockSize?: number;
  codes: number;
  maxFinite: number;
  minPositive: number;
  note?: string;
  source: 'builtin' | 'config';
}
