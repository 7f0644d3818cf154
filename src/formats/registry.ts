/**
 * The format registry: every built-in number format is one data row (DESIGN.md "Formats").
 * Generic codecs in this folder read the fields; nothing outside this table switches on a
 * format's name. Users add or override rows in quant-audit.yaml under `customFormats:`;
 * every row is validated here so a bad field is a UsageError naming the format and field.
 *
 * Scaling choices (the spec lets each row declare its policy; see docs/formats.md):
 * - sub-16-bit minifloats and gf4/gf8 scale per tensor by absmax → max finite, so weight-like
 *   tensors (std 0.02) do not underflow (fp4 has no value below 0.5, gf8 none below 2^-6);
 * - fp16, bf16, gf12+, posits and fp32 take raw values (`none`): their range covers weights.
 */
import type { FormatFamily, FormatSpec, Scaling, Specials } from './types.js';
import { ConfigValueError, UsageError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { FAMILIES, FORMAT_FIELDS as FIELDS, FORMAT_NAME_PATTERN, SCALINGS, SPECIALS } from './row-schema.js';

const GF_NOTE_FTZ = 'GoldenFloat: no subnormals (exponent field 0 encodes ±0 only, other mantissas decode to 0), top exponent = Inf/NaN.';

export const BUILTIN_FORMATS: readonly FormatSpec[] = Object.freeze([
  // integer: signed = symmetric absmax, zero-point 0; unsigned = asymmetric min/max (range includes 0).
  // A custom row may fix a zero-point (`zeroPoint`) or make a signed row asymmetric (scaling per-tensor-minmax).
  { name: 'int2', family: 'integer', bits: 2, signed: true, scaling: 'per-tensor-absmax' },
  { name: 'int3', family: 'integer', bits: 3, signed: true, scaling: 'per-tensor-absmax' },
  { name: 'int4', family: 'integer', bits: 4, signed: true, scaling: 'per-tensor-absmax' },
  { name: 'int8', family: 'integer', bits: 8, signed: true, scaling: 'per-tensor-absmax' },
  { name: 'uint4', family: 'integer', bits: 4, signed: false, scaling: 'per-tensor-minmax' },
  { name: 'uint8', family: 'integer', bits: 8, signed: false, scaling: 'per-tensor-minmax' },

  // minifloat (IEEE-style sign/exponent/mantissa; OCP 8-bit and MX element formats)
  { name: 'fp16', family: 'minifloat', bits: 16, exponentBits: 5, mantissaBits: 10, bias: 15, subnormals: true, specials: 'ieee', scaling: 'none' },
  { name: 'bf16', family: 'minifloat', bits: 16, exponentBits: 8, mantissaBits: 7, bias: 127, subnormals: true, specials: 'ieee', scaling: 'none' },
  { name: 'fp8-e4m3', family: 'minifloat', bits: 8, exponentBits: 4, mantissaBits: 3, bias: 7, subnormals: true, specials: 'nan-only-at-all-ones', scaling: 'per-tensor-absmax' },
  { name: 'fp8-e5m2', family: 'minifloat', bits: 8, exponentBits: 5, mantissaBits: 2, bias: 15, subnormals: true, specials: 'ieee', saturateInfinity: true, scaling: 'per-tensor-absmax' },
  { name: 'fp6-e3m2', family: 'minifloat', bits: 6, exponentBits: 3, mantissaBits: 2, bias: 3, subnormals: true, specials: 'none', scaling: 'per-tensor-absmax' },
  { name: 'fp6-e2m3', family: 'minifloat', bits: 6, exponentBits: 2, mantissaBits: 3, bias: 1, subnormals: true, specials: 'none', scaling: 'per-tensor-absmax' },
  { name: 'fp4-e2m1', family: 'minifloat', bits: 4, exponentBits: 2, mantissaBits: 1, bias: 1, subnormals: true, specials: 'none', scaling: 'per-tensor-absmax' },

  // GoldenFloat (published family table) + gf4, which the tool defines.
  {
    name: 'gf4', family: 'goldenfloat', bits: 4, exponentBits: 1, mantissaBits: 2, bias: 0, subnormals: false, specials: 'none', scaling: 'per-tensor-absmax',
    note: 'Not in the published GoldenFloat table: defined by quant-audit as 1/1/2, bias 0, no subnormals (exponent 0 = ±0), no Inf/NaN, so its values are 0, ±2, ±2.5, ±3, ±3.5. Scaled per tensor (absmax → 3.5).',
  },
  { name: 'gf8', family: 'goldenfloat', bits: 8, exponentBits: 4, mantissaBits: 3, bias: 7, subnormals: false, specials: 'ieee', scaling: 'per-tensor-absmax', note: `${GF_NOTE_FTZ} Scaled per tensor (absmax → 240): raw weights would flush to 0 below 2^-6; set scaling: none to apply it to raw values.` },
  { name: 'gf12', family: 'goldenfloat', bits: 12, exponentBits: 5, mantissaBits: 6, bias: 15, subnormals: false, specials: 'ieee', scaling: 'none', note: GF_NOTE_FTZ },
  { name: 'gf16', family: 'goldenfloat', bits: 16, exponentBits: 6, mantissaBits: 9, bias: 31, subnormals: false, specials: 'ieee', scaling: 'none', note: GF_NOTE_FTZ },
  { name: 'gf24', family: 'goldenfloat', bits: 24, exponentBits: 7, mantissaBits: 16, bias: 63, subnormals: false, specials: 'ieee', scaling: 'none', note: GF_NOTE_FTZ },
  { name: 'gf32', family: 'goldenfloat', bits: 32, exponentBits: 8, mantissaBits: 23, bias: 127, subnormals: false, specials: 'ieee', scaling: 'none', note: `${GF_NOTE_FTZ} Equals float32 with subnormals flushed.` },

  // posit (2022 Posit Standard: es = 2 at every size) and the legacy SoftPosit conventions.
  { name: 'posit8', family: 'posit', bits: 8, es: 2, scaling: 'none' },
  { name: 'posit16', family: 'posit', bits: 16, es: 2, scaling: 'none' },
  { name: 'posit8-es0', family: 'posit', bits: 8, es: 0, scaling: 'none', note: 'Legacy (pre-2022, SoftPosit) convention es = 0: maxpos 64, minpos 1/64.' },
  { name: 'posit16-es1', family: 'posit', bits: 16, es: 1, scaling: 'none', note: 'Legacy (pre-2022, SoftPosit) convention es = 1: maxpos 2^28, minpos 2^-28.' },

  // codebook: QLoRA NormalFloat-4 (bitsandbytes constants), per-block absmax of 64.
  {
    name: 'nf4', family: 'codebook', bits: 4, scaling: 'per-block-absmax', blockSize: 64,
    codebook: [
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
      -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ],
  },

  // microscaling (OCP MX v1.0): blocks of 32 share one E8M0 scale; emax per element format (table 1).
  { name: 'mxfp8', family: 'mx', bits: 8, scaling: 'mx-e8m0', blockSize: 32, element: 'fp8-e4m3', elementEmax: 8 },
  { name: 'mxfp8-e5m2', family: 'mx', bits: 8, scaling: 'mx-e8m0', blockSize: 32, element: 'fp8-e5m2', elementEmax: 15 },
  { name: 'mxfp6-e3m2', family: 'mx', bits: 6, scaling: 'mx-e8m0', blockSize: 32, element: 'fp6-e3m2', elementEmax: 4 },
  { name: 'mxfp6-e2m3', family: 'mx', bits: 6, scaling: 'mx-e8m0', blockSize: 32, element: 'fp6-e2m3', elementEmax: 2 },
  { name: 'mxfp4', family: 'mx', bits: 4, scaling: 'mx-e8m0', blockSize: 32, element: 'fp4-e2m1', elementEmax: 2 },
  {
    name: 'mxint8', family: 'mx', bits: 8, scaling: 'mx-e8m0', blockSize: 32, element: 'int8', elementEmax: 0, elementScale: 2 ** -6,
    note: 'MXINT8 elements are int8 codes with an implicit scale 2^-6 (values k/64), saturated symmetrically to ±127/64 as in the OCP reference (microxcaling).',
  },

  { name: 'fp32', family: 'identity', bits: 32, scaling: 'none', note: 'Identity: the control lane.' },
].map((row) => ({ ...row, source: 'builtin' }) as FormatSpec)).map((row, _, rows) =>
  Object.freeze(row.family === 'mx' ? { ...row, elementSpec: Object.freeze(rows.find((r) => r.name === row.element)!) } : row),
);

/**
 * Rows the generic codecs serve but no run enumerates (not in `formats`, not in the default matrix): the fnuz float8
 * element types (Graphcore/AMD; ONNX FLOAT8E4M3FNUZ and FLOAT8E5M2FNUZ) an ONNX site may quantize to, for its
 * reference quantizer (src/onnx/site-stats.ts) and for decoding stored codes (src/onnx/proto.ts). Every exponent field
 * is finite, the −0 pattern 0x80 is the one NaN (`specials: nan-at-negative-zero`): bias 8 → max 240, smallest
 * subnormal 2^-10; bias 16 → max 57344, 2^-17.
 */
export const FNUZ_FORMATS: readonly FormatSpec[] = Object.freeze([
  { name: 'fp8-e4m3fnuz', family: 'minifloat', bits: 8, exponentBits: 4, mantissaBits: 3, bias: 8, subnormals: true, specials: 'nan-at-negative-zero', scaling: 'per-tensor-absmax' },
  { name: 'fp8-e5m2fnuz', family: 'minifloat', bits: 8, exponentBits: 5, mantissaBits: 2, bias: 16, subnormals: true, specials: 'nan-at-negative-zero', scaling: 'per-tensor-absmax' },
].map((row) => Object.freeze({ ...row, source: 'builtin' }) as FormatSpec));

// ---------------------------------------------------------------- validation of custom rows
// Field names and types: FormatRowSchema (row-schema.ts). Here: what each family requires of the merged row.

function intIn(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** Check one row; `bad(field, expected)` throws the UsageError. Returns the frozen spec. */
function validateRow(name: string, row: Record<string, unknown>, known: (n: string) => FormatSpec | undefined): FormatSpec {
  const bad = (field: string, expected: string): never => {
    throw new ConfigValueError(['customFormats', name, field], `customFormats.${name}.${field}: ${expected}, got ${JSON.stringify(row[field])}. See docs/formats.md for the fields of each family.`);
  };
  if (!new RegExp(FORMAT_NAME_PATTERN).test(name)) throw new ConfigValueError(['customFormats', name], `customFormats: format name '${name}' must be kebab-case (lower-case letters, digits, '-', '.').`);
  for (const key of Object.keys(row)) {
    if (key === 'name' || key === 'source' || key === 'elementSpec') continue;
    if (!(FIELDS as readonly string[]).includes(key)) throw new ConfigValueError(['customFormats', name, key], `customFormats.${name}: unknown field '${key}'. Valid fields: ${FIELDS.join(', ')}.`);
  }
  const family = row.family as FormatFamily;
  if (!FAMILIES.includes(family)) bad('family', `must be one of ${FAMILIES.join(', ')}`);
  if (row.zeroPoint !== undefined && family !== 'integer') bad('zeroPoint', 'is a field of integer rows only');
  if (!SCALINGS.includes(row.scaling as Scaling)) bad('scaling', `must be one of ${SCALINGS.join(', ')}`);
  if (row.note !== undefined && typeof row.note !== 'string') bad('note', 'must be a string');
  const scaling = row.scaling as Scaling;
  if (scaling === 'per-block-absmax' || scaling === 'mx-e8m0') {
    if (!intIn(row.blockSize, 1, 1 << 20)) bad('blockSize', `must be a positive integer for scaling ${scaling}`);
  } else if (row.blockSize !== undefined && !intIn(row.blockSize, 1, 1 << 20)) bad('blockSize', 'must be a positive integer');
  switch (family) {
    case 'identity':
      if (row.bits !== 32) bad('bits', 'must be 32 for the identity family');
      if (scaling !== 'none') bad('scaling', "must be 'none' for the identity family");
      break;
    case 'integer':
      if (!intIn(row.bits, 2, 16)) bad('bits', 'must be an integer in [2, 16]');
      if (typeof row.signed !== 'boolean') bad('signed', 'must be true or false');
      if (scaling === 'mx-e8m0') bad('scaling', "cannot be 'mx-e8m0' for an integer row (use family mx with element int8)");
      if (row.zeroPoint !== undefined) {
        const b = row.bits as number;
        const [qmin, qmax] = row.signed ? [-(2 ** (b - 1)), 2 ** (b - 1) - 1] : [0, 2 ** b - 1];
        if (!intIn(row.zeroPoint, qmin, qmax)) bad('zeroPoint', `must be an integer code of the row, in [${qmin}, ${qmax}]`);
      }
      break;
    case 'minifloat':
    case 'goldenfloat': {
      if (!intIn(row.exponentBits, 1, 8)) bad('exponentBits', 'must be an integer in [1, 8]');
      if (!intIn(row.mantissaBits, 0, 23)) bad('mantissaBits', 'must be an integer in [0, 23]');
      const total = 1 + (row.exponentBits as number) + (row.mantissaBits as number);
      if (row.bits !== total) bad('bits', `must equal 1 + exponentBits + mantissaBits = ${total}`);
      if (!intIn(row.bias, -126, 254)) bad('bias', 'must be an integer');
      if (typeof row.subnormals !== 'boolean') bad('subnormals', 'must be true or false');
      if (!SPECIALS.includes(row.specials as Specials)) bad('specials', `must be one of ${SPECIALS.join(', ')}`);
      if (row.saturateInfinity !== undefined && typeof row.saturateInfinity !== 'boolean') bad('saturateInfinity', 'must be true or false');
      if (row.specials === 'nan-only-at-all-ones' && (row.mantissaBits as number) === 0) bad('specials', "'nan-only-at-all-ones' needs at least one mantissa bit");
      if (row.specials === 'ieee' && (row.exponentBits as number) < 2) bad('specials', "'ieee' needs at least two exponent bits");
      const emaxUnbiased = (1 << (row.exponentBits as number)) - 1 - (row.bias as number);
      const eminUnbiased = 1 - (row.bias as number);
      if (emaxUnbiased > 127 || eminUnbiased < -126) bad('bias', 'must keep every normal value inside the float32 range (exponents -126..127)');
      break;
    }
    case 'posit':
      if (!intIn(row.bits, 3, 16)) bad('bits', 'must be an integer in [3, 16] (posit tables are exhaustive)');
      if (!intIn(row.es, 0, 4)) bad('es', 'must be an integer in [0, 4]');
      break;
    case 'codebook': {
      if (!intIn(row.bits, 1, 8)) bad('bits', 'must be an integer in [1, 8]');
      const cb = row.codebook;
      if (!Array.isArray(cb) || cb.length < 2 || cb.length > 2 ** (row.bits as number)) bad('codebook', `must be a list of 2..${2 ** (row.bits as number)} numbers`);
      const values = cb as unknown[];
      if (!values.every((v) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 1)) bad('codebook', 'must hold finite numbers in [-1, 1]');
      for (let i = 1; i < values.length; i++) if ((values[i] as number) <= (values[i - 1] as number)) bad('codebook', 'must be strictly ascending');
      break;
    }
    case 'mx': {
      if (scaling !== 'mx-e8m0') bad('scaling', "must be 'mx-e8m0' for the mx family");
      const el = typeof row.element === 'string' ? known(row.element) : undefined;
      if (!el) bad('element', 'must name a registered minifloat or integer format');
      if (el!.family !== 'minifloat' && el!.family !== 'goldenfloat' && el!.family !== 'integer') bad('element', 'must be a minifloat or integer format');
      if (!intIn(row.elementEmax, -126, 127)) bad('elementEmax', 'must be an integer (the element format\'s largest exponent, OCP MX table 1)');
      if (row.elementScale !== undefined && !(typeof row.elementScale === 'number' && row.elementScale > 0 && Number.isFinite(row.elementScale))) bad('elementScale', 'must be a positive number');
      if (row.bits !== el!.bits) bad('bits', `must equal the element's bits (${el!.bits})`);
      if (el!.zeroPoint !== undefined) bad('element', 'must name an integer row without a zeroPoint (MX elements are symmetric)');
      break;
    }
  }
  const spec: Record<string, unknown> = { name };
  for (const key of FIELDS) if (row[key] !== undefined) spec[key] = key === 'codebook' ? Object.freeze([...(row[key] as number[])]) : row[key];
  spec.source = 'config';
  if (family === 'mx') spec.elementSpec = known(row.element as string);
  return Object.freeze(spec as unknown as FormatSpec);
}

export class FormatRegistry {
  private readonly byName = new Map<string, FormatSpec>();

  /** `custom`: the `customFormats:` map of quant-audit.yaml (new rows, or fields overriding a built-in row). */
  constructor(custom?: Record<string, Record<string, unknown>>) {
    for (const f of BUILTIN_FORMATS) this.byName.set(f.name, f);
    if (!custom) return;
    // Non-mx rows first so that an mx row may name a custom element format.
    const entries = Object.entries(custom).sort(([, a], [, b]) => Number(a?.family === 'mx') - Number(b?.family === 'mx'));
    for (const [name, fields] of entries) {
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
        throw new ConfigValueError(['customFormats', name], `customFormats.${name}: must be a mapping of fields (family, bits, scaling, …).`);
      }
      const base = this.byName.get(name);
      const merged: Record<string, unknown> = base ? { ...base, note: undefined, ...fields } : { ...fields };
      if (base && fields.note === undefined) merged.note = `Overrides the built-in row (${Object.keys(fields).join(', ')}) from the config file.`;
      this.byName.set(name, validateRow(name, merged, (n) => this.byName.get(n)));
    }
  }

  get(name: string): FormatSpec {
    const f = this.byName.get(name);
    if (!f) throw new UsageError(`unknown format '${name}'.${didYouMean(name, this.names())} Known formats: ${this.names().join(', ')}.`);
    return f;
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  names(): string[] {
    return [...this.byName.keys()];
  }
  all(): FormatSpec[] {
    return [...this.byName.values()];
  }
}

export const defaultRegistry = new FormatRegistry();
