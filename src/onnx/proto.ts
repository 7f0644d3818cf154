/**
 * The ONNX protobuf as onnx-proto decodes it, plus what the audit needs to read from it:
 * element types (including the ones newer than onnx-proto's enum: float8, int4), and
 * tensor values decoded to plain numbers. Decoding only — no ONNX operator is evaluated here.
 */
import onnxProto from 'onnx-proto';
import { BUILTIN_FORMATS, FNUZ_FORMATS } from '../formats/registry.js';
import { elementCodec } from '../formats/codec.js';
import { castCode } from '../formats/minifloat.js';
import type { FormatSpec } from '../formats/types.js';

export const onnx = onnxProto.onnx;
export type ModelProto = InstanceType<typeof onnxProto.onnx.ModelProto>;
export type IModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

/** TensorProto.DataType numbers (onnx.proto, IR 10); onnx-proto's enum stops at BFLOAT16. */
export const DT = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
} as const;

export const DT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DT).map(([k, v]) => [v, k.toLowerCase()]));

export function dataTypeName(t: number | undefined): string {
  return t === undefined ? 'unknown' : DT_NAMES[t] ?? `type ${t}`;
}

/** The code range of each quantized element type (QuantizeLinear output types, ONNX opsets 10–21). */
export interface CodeType {
  dataType: number;
  name: string;
  bits: number;
  signed: boolean;
  /** Integer types: the code range. Float8: ± the largest finite value. */
  qmin: number;
  qmax: number;
  kind: 'integer' | 'float8';
  /** The registry format the type implies (per-tensor/per-channel scaling is the model's own). */
  format: string | undefined;
  /** Float8: the registry row whose element codec rounds onto this type's grid (the site reference quantizer's). */
  element?: FormatSpec;
}

const row = (name: string): FormatSpec => [...BUILTIN_FORMATS, ...FNUZ_FORMATS].find((f) => f.name === name)!;

/**
 * The registry rows of ONNX's float element types narrower than float32: a stored code's value and a value's code
 * (ONNX Cast) are these rows' codecs (src/formats/minifloat.ts), not written again here.
 */
const FLOAT_ROWS: Readonly<Record<number, FormatSpec>> = {
  [DT.FLOAT16]: row('fp16'),
  [DT.BFLOAT16]: row('bf16'),
  [DT.FLOAT8E4M3FN]: row('fp8-e4m3'),
  [DT.FLOAT8E4M3FNUZ]: row('fp8-e4m3fnuz'),
  [DT.FLOAT8E5M2]: row('fp8-e5m2'),
  [DT.FLOAT8E5M2FNUZ]: row('fp8-e5m2fnuz'),
};

export const CODE_TYPES: Record<number, CodeType> = {
  [DT.INT8]: { dataType: DT.INT8, name: 'int8', bits: 8, signed: true, qmin: -128, qmax: 127, kind: 'integer', format: 'int8' },
  [DT.UINT8]: { dataType: DT.UINT8, name: 'uint8', bits: 8, signed: false, qmin: 0, qmax: 255, kind: 'integer', format: 'uint8' },
  [DT.INT16]: { dataType: DT.INT16, name: 'int16', bits: 16, signed: true, qmin: -32768, qmax: 32767, kind: 'integer', format: undefined },
  [DT.UINT16]: { dataType: DT.UINT16, name: 'uint16', bits: 16, signed: false, qmin: 0, qmax: 65535, kind: 'integer', format: undefined },
  [DT.INT32]: { dataType: DT.INT32, name: 'int32', bits: 32, signed: true, qmin: -2147483648, qmax: 2147483647, kind: 'integer', format: undefined },
  [DT.INT4]: { dataType: DT.INT4, name: 'int4', bits: 4, signed: true, qmin: -8, qmax: 7, kind: 'integer', format: 'int4' },
  [DT.UINT4]: { dataType: DT.UINT4, name: 'uint4', bits: 4, signed: false, qmin: 0, qmax: 15, kind: 'integer', format: 'uint4' },
  [DT.FLOAT8E4M3FN]: { dataType: DT.FLOAT8E4M3FN, name: 'float8e4m3fn', bits: 8, signed: true, qmin: -448, qmax: 448, kind: 'float8', format: 'fp8-e4m3', element: FLOAT_ROWS[DT.FLOAT8E4M3FN] },
  [DT.FLOAT8E4M3FNUZ]: { dataType: DT.FLOAT8E4M3FNUZ, name: 'float8e4m3fnuz', bits: 8, signed: true, qmin: -240, qmax: 240, kind: 'float8', format: undefined, element: FLOAT_ROWS[DT.FLOAT8E4M3FNUZ] },
  [DT.FLOAT8E5M2]: { dataType: DT.FLOAT8E5M2, name: 'float8e5m2', bits: 8, signed: true, qmin: -57344, qmax: 57344, kind: 'float8', format: 'fp8-e5m2', element: FLOAT_ROWS[DT.FLOAT8E5M2] },
  [DT.FLOAT8E5M2FNUZ]: { dataType: DT.FLOAT8E5M2FNUZ, name: 'float8e5m2fnuz', bits: 8, signed: true, qmin: -57344, qmax: 57344, kind: 'float8', format: undefined, element: FLOAT_ROWS[DT.FLOAT8E5M2FNUZ] },
};

export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => toNumber(d));
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? toNumber(a.i) : fallback;
}

const codeTables = new Map<number, Float64Array>();

/** The value of every code of a narrow float type (float16, bfloat16, float8): 2^bits entries, from its row's codec. */
function codeValues(dataType: number): Float64Array {
  let table = codeTables.get(dataType);
  if (!table) {
    const codec = elementCodec(FLOAT_ROWS[dataType]!);
    table = Float64Array.from({ length: 2 ** codec.bits }, (_, c) => codec.decode(c));
    codeTables.set(dataType, table);
  }
  return table;
}

/** The value a narrow float type (float16, bfloat16, float8) stores as `code` (its low 16 or 8 bits). */
export function floatCodeValue(dataType: number, code: number): number {
  const table = codeValues(dataType);
  return table[code & (table.length - 1)]!;
}

/**
 * The code ONNX Cast gives v in a narrow float type: round half to even; float16/bfloat16 overflow → ±Inf,
 * float8 saturates (Cast's default saturate=1).
 */
export function floatCode(dataType: number, v: number): number {
  return castCode(FLOAT_ROWS[dataType]!, v);
}

/**
 * v rounded to the precision of a stored float type (float32, float16, bfloat16; double as is): two scales are
 * "the same" when they agree at the precision of the coarser stored type.
 */
export function roundToType(v: number, dataType: number | undefined): number {
  if (dataType === DT.DOUBLE) return v;
  if (dataType === DT.FLOAT16 || dataType === DT.BFLOAT16) return floatCodeValue(dataType, floatCode(dataType, v));
  return Math.fround(v);
}

/**
 * The values of a tensor stored inside the model (raw_data or the typed fields), as float64.
 * Throws on external data (callers inline it first) and on types that carry no numbers.
 */
export function tensorValues(t: TensorProto): Float64Array {
  const dt = t.dataType ?? 0;
  const n = elementCount(tensorDims(t));
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const out = new Float64Array(n);
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const need = (bytes: number): void => {
      if (raw.byteLength < bytes) {
        throw new RangeError(`tensor '${t.name}' has ${raw.byteLength} bytes of raw data, ${bytes} needed for ${n} ${dataTypeName(dt)} values`);
      }
    };
    switch (dt) {
      case DT.FLOAT: need(4 * n); for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true); break;
      case DT.DOUBLE: need(8 * n); for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true); break;
      case DT.FLOAT16: case DT.BFLOAT16: {
        need(2 * n);
        const table = codeValues(dt);
        for (let i = 0; i < n; i++) out[i] = table[view.getUint16(2 * i, true)]!;
        break;
      }
      case DT.INT8: need(n); for (let i = 0; i < n; i++) out[i] = view.getInt8(i); break;
      case DT.UINT8: case DT.BOOL: need(n); for (let i = 0; i < n; i++) out[i] = view.getUint8(i); break;
      case DT.INT16: need(2 * n); for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true); break;
      case DT.UINT16: need(2 * n); for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true); break;
      case DT.INT32: need(4 * n); for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true); break;
      case DT.UINT32: need(4 * n); for (let i = 0; i < n; i++) out[i] = view.getUint32(4 * i, true); break;
      case DT.INT64: need(8 * n); for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true)); break;
      case DT.UINT64: need(8 * n); for (let i = 0; i < n; i++) out[i] = Number(view.getBigUint64(8 * i, true)); break;
      case DT.INT4: case DT.UINT4: {
        need(Math.ceil(n / 2));
        for (let i = 0; i < n; i++) {
          const byte = view.getUint8(i >> 1);
          const nib = i & 1 ? byte >> 4 : byte & 0xf;
          out[i] = dt === DT.INT4 && nib >= 8 ? nib - 16 : nib;
        }
        break;
      }
      case DT.FLOAT8E4M3FN: case DT.FLOAT8E4M3FNUZ: case DT.FLOAT8E5M2: case DT.FLOAT8E5M2FNUZ: {
        need(n);
        const table = codeValues(dt);
        for (let i = 0; i < n; i++) out[i] = table[view.getUint8(i)]!;
        break;
      }
      default:
        throw new RangeError(`tensor '${t.name}' has element type ${dataTypeName(dt)}, which carries no numbers the audit can read`);
    }
    return out;
  }
  // Typed fields: float_data, double_data, int32_data (also int8/16, uint8/16, bool, fp16 bits, int4 packed, fp8 codes), int64_data, uint64_data.
  const ints = (t.int32Data ?? []) as number[];
  switch (dt) {
    case DT.FLOAT: copy(t.floatData ?? [], out); break;
    case DT.DOUBLE: copy(t.doubleData ?? [], out); break;
    case DT.INT64: copy((t.int64Data ?? []).map((v) => toNumber(v)), out); break;
    case DT.UINT32: case DT.UINT64: copy((t.uint64Data ?? []).map((v) => toNumber(v)), out); break;
    case DT.FLOAT16: case DT.BFLOAT16: case DT.FLOAT8E4M3FN: case DT.FLOAT8E4M3FNUZ: case DT.FLOAT8E5M2: case DT.FLOAT8E5M2FNUZ:
      copy(ints.map((c) => floatCodeValue(dt, c)), out); break;
    case DT.INT4: case DT.UINT4:
      for (let i = 0; i < n; i++) {
        const byte = ints[i >> 1] ?? 0;
        const nib = i & 1 ? (byte >> 4) & 0xf : byte & 0xf;
        out[i] = dt === DT.INT4 && nib >= 8 ? nib - 16 : nib;
      }
      break;
    case DT.INT8: case DT.UINT8: case DT.INT16: case DT.UINT16: case DT.INT32: case DT.BOOL: copy(ints, out); break;
    default:
      throw new RangeError(`tensor '${t.name}' has element type ${dataTypeName(dt)}, which carries no numbers the audit can read`);
  }
  return out;

  function copy(src: ArrayLike<number>, dst: Float64Array): void {
    if (src.length < n) throw new RangeError(`tensor '${t.name}' declares ${n} values but stores ${src.length}`);
    for (let i = 0; i < n; i++) dst[i] = src[i]!;
  }
}
