/**
 * The ONNX protobuf as onnx-proto decodes it, plus what the audit needs to read from it:
 * element types (including the ones newer than onnx-proto's enum: float8, int4), and
 * tensor values decoded to plain numbers. Decoding only — no ONNX operator is evaluated here.
 */
import onnxProto from 'onnx-proto';
import { BUILTIN_FORMATS, FNUZ_FORMATS } from '../formats/registry.js';
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

export const CODE_TYPES: Record<number, CodeType> = {
  [DT.INT8]: { dataType: DT.INT8, name: 'int8', bits: 8, signed: true, qmin: -128, qmax: 127, kind: 'integer', format: 'int8' },
  [DT.UINT8]: { dataType: DT.UINT8, name: 'uint8', bits: 8, signed: false, qmin: 0, qmax: 255, kind: 'integer', format: 'uint8' },
  [DT.INT16]: { dataType: DT.INT16, name: 'int16', bits: 16, signed: true, qmin: -32768, qmax: 32767, kind: 'integer', format: undefined },
  [DT.UINT16]: { dataType: DT.UINT16, name: 'uint16', bits: 16, signed: false, qmin: 0, qmax: 65535, kind: 'integer', format: undefined },
  [DT.INT32]: { dataType: DT.INT32, name: 'int32', bits: 32, signed: true, qmin: -2147483648, qmax: 2147483647, kind: 'integer', format: undefined },
  [DT.INT4]: { dataType: DT.INT4, name: 'int4', bits: 4, signed: true, qmin: -8, qmax: 7, kind: 'integer', format: 'int4' },
  [DT.UINT4]: { dataType: DT.UINT4, name: 'uint4', bits: 4, signed: false, qmin: 0, qmax: 15, kind: 'integer', format: 'uint4' },
  [DT.FLOAT8E4M3FN]: { dataType: DT.FLOAT8E4M3FN, name: 'float8e4m3fn', bits: 8, signed: true, qmin: -448, qmax: 448, kind: 'float8', format: 'fp8-e4m3', element: row('fp8-e4m3') },
  [DT.FLOAT8E4M3FNUZ]: { dataType: DT.FLOAT8E4M3FNUZ, name: 'float8e4m3fnuz', bits: 8, signed: true, qmin: -240, qmax: 240, kind: 'float8', format: undefined, element: row('fp8-e4m3fnuz') },
  [DT.FLOAT8E5M2]: { dataType: DT.FLOAT8E5M2, name: 'float8e5m2', bits: 8, signed: true, qmin: -57344, qmax: 57344, kind: 'float8', format: 'fp8-e5m2', element: row('fp8-e5m2') },
  [DT.FLOAT8E5M2FNUZ]: { dataType: DT.FLOAT8E5M2FNUZ, name: 'float8e5m2fnuz', bits: 8, signed: true, qmin: -57344, qmax: 57344, kind: 'float8', format: undefined, element: row('fp8-e5m2fnuz') },
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

/** Value of an IEEE binary16 bit pattern. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round half to even (Math.round rounds halves up). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The IEEE binary16 bit pattern nearest to v (round half to even; overflow → ±Inf, NaN → quiet NaN). */
export function floatToHalfBits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // halfway between 65504 (max) and 2^16 rounds to Inf
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (1024 carries into the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (a / 2 ** e < 1) e--;
  else if (a / 2 ** e >= 2) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return e > 15 ? sign | 0x7c00 : sign | ((e + 15) << 10) | m;
}

/**
 * v rounded to the precision of a stored float type (float32, float16, bfloat16; double as is): two scales are
 * "the same" when they agree at the precision of the coarser stored type.
 */
export function roundToType(v: number, dataType: number | undefined): number {
  switch (dataType) {
    case DT.FLOAT16: return halfToFloat(floatToHalfBits(v));
    case DT.BFLOAT16: {
      if (!Number.isFinite(v)) return Math.fround(v);
      const f = new DataView(new ArrayBuffer(4));
      f.setFloat32(0, v);
      const bits = f.getUint32(0);
      // round the float32 bits half to even at bit 16
      const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
      f.setUint32(0, rounded >>> 0);
      return f.getFloat32(0);
    }
    case DT.DOUBLE: return v;
    default: return Math.fround(v);
  }
}

/** Value of an 8-bit float code (OCP FP8: E4M3FN has no Inf and NaN only at S.1111.111; E5M2 is IEEE-like). */
export function float8ToFloat(code: number, dataType: number): number {
  const s = code & 0x80 ? -1 : 1;
  if (dataType === DT.FLOAT8E4M3FN || dataType === DT.FLOAT8E4M3FNUZ) {
    const fnuz = dataType === DT.FLOAT8E4M3FNUZ;
    if (fnuz && code === 0x80) return Number.NaN;
    const e = (code >> 3) & 0xf;
    const m = code & 0x7;
    if (!fnuz && e === 15 && m === 7) return Number.NaN;
    const bias = fnuz ? 8 : 7;
    if (e === 0) return s * (m / 8) * 2 ** (1 - bias);
    return s * (1 + m / 8) * 2 ** (e - bias);
  }
  const fnuz = dataType === DT.FLOAT8E5M2FNUZ;
  if (fnuz && code === 0x80) return Number.NaN;
  const e = (code >> 2) & 0x1f;
  const m = code & 0x3;
  const bias = fnuz ? 16 : 15;
  if (!fnuz && e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  if (e === 0) return s * (m / 4) * 2 ** (1 - bias);
  return s * (1 + m / 4) * 2 ** (e - bias);
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
      case DT.FLOAT16: need(2 * n); for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true)); break;
      case DT.BFLOAT16: {
        need(2 * n);
        const f = new DataView(new ArrayBuffer(4));
        for (let i = 0; i < n; i++) { f.setUint32(0, view.getUint16(2 * i, true) << 16); out[i] = f.getFloat32(0); }
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
      case DT.FLOAT8E4M3FN: case DT.FLOAT8E4M3FNUZ: case DT.FLOAT8E5M2: case DT.FLOAT8E5M2FNUZ:
        need(n); for (let i = 0; i < n; i++) out[i] = float8ToFloat(view.getUint8(i), dt); break;
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
    case DT.FLOAT16: copy(ints.map(halfToFloat), out); break;
    case DT.BFLOAT16: {
      const f = new DataView(new ArrayBuffer(4));
      copy(ints.map((b) => { f.setUint32(0, b << 16); return f.getFloat32(0); }), out);
      break;
    }
    case DT.INT4: case DT.UINT4:
      for (let i = 0; i < n; i++) {
        const byte = ints[i >> 1] ?? 0;
        const nib = i & 1 ? (byte >> 4) & 0xf : byte & 0xf;
        out[i] = dt === DT.INT4 && nib >= 8 ? nib - 16 : nib;
      }
      break;
    case DT.FLOAT8E4M3FN: case DT.FLOAT8E4M3FNUZ: case DT.FLOAT8E5M2: case DT.FLOAT8E5M2FNUZ:
      copy(ints.map((c) => float8ToFloat(c & 0xff, dt)), out); break;
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
