/**
 * The fields of one registry row, as a schema: a `customFormats:` entry in quant-audit.yaml is
 * checked against it (field names and types, with the file:line:col of a wrong one), and the
 * registry's list of fields is its keys. Every field is optional here because an entry may
 * override a few fields of a built-in row; what each family requires of the merged row, and
 * the ranges that depend on other fields (bits = 1 + exponentBits + mantissaBits), are
 * checked by the registry (validateRow in registry.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FormatFamily, Scaling, Specials } from './types.js';

export const FAMILIES: readonly FormatFamily[] = ['identity', 'integer', 'minifloat', 'goldenfloat', 'posit', 'codebook', 'mx'];
export const SCALINGS: readonly Scaling[] = ['none', 'per-tensor-absmax', 'per-tensor-minmax', 'per-channel-absmax', 'per-block-absmax', 'mx-e8m0'];
export const SPECIALS: readonly Specials[] = ['ieee', 'nan-only-at-all-ones', 'nan-at-negative-zero', 'none'];

/** A string restricted to `values` (a plain JSON Schema enum, so a wrong value gets one clear message). */
export function StringEnum<T extends string>(values: readonly T[], description: string) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], description });
}

const int = (description: string) => Type.Integer({ description });

export const FormatRowSchema = Type.Object(
  {
    family: Type.Optional(StringEnum(FAMILIES, 'which generic codec reads the row')),
    bits: Type.Optional(int('bits per element code (not counting shared scales)')),
    scaling: Type.Optional(StringEnum(SCALINGS, 'how real values are mapped onto the element grid')),
    blockSize: Type.Optional(int('block size for per-block and MX scaling')),
    signed: Type.Optional(Type.Boolean({ description: 'integer: signed or unsigned codes' })),
    zeroPoint: Type.Optional(int('integer: a fixed zero-point code (asymmetric rows)')),
    exponentBits: Type.Optional(int('minifloat/goldenfloat: exponent bits')),
    mantissaBits: Type.Optional(int('minifloat/goldenfloat: mantissa bits')),
    bias: Type.Optional(int('minifloat/goldenfloat: exponent bias')),
    subnormals: Type.Optional(Type.Boolean({ description: 'minifloat/goldenfloat: exponent field 0 encodes subnormals (false: ±0 only)' })),
    specials: Type.Optional(StringEnum(SPECIALS, 'minifloat/goldenfloat: what the top exponent encodes')),
    saturateInfinity: Type.Optional(Type.Boolean({ description: '±Inf input → ±max finite (ONNX float8 saturate=1)' })),
    es: Type.Optional(int('posit: exponent size')),
    codebook: Type.Optional(Type.Array(Type.Number(), { description: 'codebook: the values, ascending, in [-1, 1]' })),
    element: Type.Optional(Type.String({ description: "mx: the element format's name (a registry row)" })),
    elementEmax: Type.Optional(int("mx: the element format's largest exponent (OCP MX v1.0 table 1)")),
    elementScale: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'mx: implicit scale of the element code (MXINT8: 2^-6); default 1' })),
    note: Type.Optional(Type.String({ description: 'shown by `quant-audit formats`' })),
  },
  { additionalProperties: false },
);

export type FormatRowFields = Static<typeof FormatRowSchema>;

/** The field names a row may carry, in the order `formats` documents them. */
export const FORMAT_FIELDS: readonly (keyof FormatRowFields)[] = Object.keys(FormatRowSchema.properties) as (keyof FormatRowFields)[];

/** A format name: kebab-case (lower-case letters, digits, '-', '.'). */
export const FORMAT_NAME_PATTERN = '^[a-z0-9][a-z0-9.-]*$';
