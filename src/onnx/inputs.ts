/**
 * The inputs an audit feeds the model: the user's (`--input FILE.json|FILE.npy`) or seeded
 * ones built from the graph's declared input shapes. Dynamic dims (a dim_param such as
 * `batch`, or no dim at all) get DEFAULT_DYNAMIC_DIM. Float inputs are standard normal,
 * integer inputs uniform in [0, 4) (small, so they are valid indices for most Gathers),
 * bool inputs false.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { elementCountOf, memoryOverLimit, tensorOverLimit } from '../limits.js';
import { DT, dataTypeName, elementCount } from './proto.js';
import { declaredDims, type GraphIndex } from './graph.js';
import { ort } from './session.js';

export const DEFAULT_DYNAMIC_DIM = 8;

export interface InputArray {
  dims: number[];
  data: Float64Array | Float32Array;
}

export type Feeds = Record<string, ort.Tensor>;

function toTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number>): ort.Tensor {
  const n = values.length;
  switch (dataType) {
    case DT.FLOAT: return new ort.Tensor('float32', Float32Array.from(values), dims);
    case DT.DOUBLE: return new ort.Tensor('float64', Float64Array.from(values), dims);
    case DT.INT64: {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt(Math.round(values[i]!));
      return new ort.Tensor('int64', a, dims);
    }
    case DT.INT32: return new ort.Tensor('int32', Int32Array.from(values, Math.round), dims);
    case DT.INT8: return new ort.Tensor('int8', Int8Array.from(values, Math.round), dims);
    case DT.UINT8: return new ort.Tensor('uint8', Uint8Array.from(values, Math.round), dims);
    case DT.BOOL: return new ort.Tensor('bool', Uint8Array.from(values, (v) => (v ? 1 : 0)), dims);
    default:
      throw new UsageError(`onnx: model input '${name}' has element type ${dataTypeName(dataType)}; quant-audit feeds float32, float64, int64, int32, int8, uint8 and bool inputs.`);
  }
}

export function seededFeeds(index: GraphIndex, seed: number, maxTensorElements?: number, maxMemoryMB?: number): Feeds {
  const rng = new Rng(seed).fork('onnx-inputs');
  const feeds: Feeds = {};
  // Check every declared shape before allocating any: absurd fixed dims ([2^20, 2^20]) are refused with the numbers.
  const shapes = index.inputs.map((v) => declaredDims(v).map((d) => d ?? DEFAULT_DYNAMIC_DIM));
  let total = 0;
  index.inputs.forEach((v, i) => {
    const dims = shapes[i]!;
    const n = elementCountOf(dims);
    const over = tensorOverLimit(n, `input '${v.name}' (declared dims [${dims.join(', ')}])`, maxTensorElements);
    if (over) throw new UsageError(`onnx: ${over}. Give smaller inputs with --input, or raise the limit.`);
    total += n * 8;
  });
  const overMemory = memoryOverLimit(total, 'the seeded model inputs', maxMemoryMB);
  if (overMemory) throw new UsageError(`onnx: ${overMemory}. Give smaller inputs with --input, or raise the limit.`);
  for (const [i, v] of index.inputs.entries()) {
    const name = v.name!;
    const dims = shapes[i]!;
    const n = elementCount(dims);
    const type = v.type?.tensorType?.elemType ?? DT.FLOAT;
    const values = type === DT.FLOAT || type === DT.DOUBLE ? rng.normalArray(n) : Float64Array.from({ length: n }, () => (type === DT.BOOL ? 0 : rng.int(4)));
    feeds[name] = toTensor(name, type, dims, values);
  }
  return feeds;
}

/** Parse a .npy file (little-endian f4/f8/i4/i8/i1/u1, C order). */
export function parseNpy(bytes: Uint8Array, path: string): InputArray {
  const bad = (why: string): UsageError => new UsageError(`onnx: --input '${path}' is not a readable .npy file (${why}). Save it with numpy.save(path, array.astype('float32')).`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw bad('no NUMPY magic');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad('header lacks descr/fortran_order/shape');
  if (fortran === 'True') throw bad('Fortran order; save a C-contiguous array');
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = elementCountOf(dims);
  if (!Number.isFinite(n)) throw bad(`impossible shape (${shapeText})`);
  const off = start + headerLen;
  const kinds: Record<string, [number, (o: number) => number]> = {
    '<f4': [4, (o) => view.getFloat32(o, true)],
    '<f8': [8, (o) => view.getFloat64(o, true)],
    '<i4': [4, (o) => view.getInt32(o, true)],
    '<i8': [8, (o) => Number(view.getBigInt64(o, true))],
    '|i1': [1, (o) => view.getInt8(o)],
    '|u1': [1, (o) => view.getUint8(o)],
  };
  const kind = kinds[descr];
  if (!kind) throw bad(`dtype ${descr}; use float32, float64, int32, int64, int8 or uint8`);
  const [size, read] = kind;
  if (bytes.length < off + n * size) throw bad(`truncated: ${n} values of ${size} bytes need ${off + n * size} bytes, file has ${bytes.length}`);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = read(off + i * size);
  return { dims, data };
}

function fromNested(value: unknown, where: string): InputArray {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as { dims?: unknown; shape?: unknown; data?: unknown };
    const dims = (o.dims ?? o.shape) as unknown;
    if (!Array.isArray(dims) || !Array.isArray(o.data) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new UsageError(`onnx: ${where} must be a nested array or {"dims": [...], "data": [...]}.`);
    }
    const data = Float64Array.from(o.data as number[]);
    if (data.length !== elementCount(dims as number[])) throw new UsageError(`onnx: ${where} has ${data.length} values for dims [${dims.join(', ')}].`);
    return { dims: dims as number[], data };
  }
  const dims: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    dims.push(level.length);
    level = level[0];
  }
  const flat = (value as unknown[]).flat(Infinity) as unknown[];
  if (flat.length !== elementCount(dims) || !flat.every((v) => typeof v === 'number')) {
    throw new UsageError(`onnx: ${where} must be a rectangular nested array of numbers.`);
  }
  return { dims, data: Float64Array.from(flat as number[]) };
}

/** Feeds from a user file: `.npy` (one array, for a model with one input) or `.json` ({input name: array} or one array). */
export function fileFeeds(index: GraphIndex, path: string, maxTensorElements?: number): Feeds {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`onnx: cannot read --input '${path}': ${(e as Error).message}.`);
  }
  const names = index.inputs.map((v) => v.name!);
  const arrays = new Map<string, InputArray>();
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    if (names.length !== 1) throw new UsageError(`onnx: --input '${path}' is one .npy array but the model has ${names.length} inputs (${names.join(', ')}); use a .json file {name: array}.`);
    arrays.set(names[0]!, parseNpy(bytes, path));
  } else if (ext === '.json') {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new UsageError(`onnx: --input '${path}' is not valid JSON: ${(e as Error).message}.`);
    }
    if (Array.isArray(json)) {
      if (names.length !== 1) throw new UsageError(`onnx: --input '${path}' holds one array but the model has inputs ${names.join(', ')}; use {name: array}.`);
      arrays.set(names[0]!, fromNested(json, `--input '${path}'`));
    } else if (json && typeof json === 'object') {
      for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
        if (!names.includes(k)) throw new UsageError(`onnx: --input '${path}' names '${k}', which is not a model input (inputs: ${names.join(', ')}).`);
        arrays.set(k, fromNested(v, `--input '${path}' entry '${k}'`));
      }
    } else {
      throw new UsageError(`onnx: --input '${path}' must hold an array or an object {input name: array}.`);
    }
  } else {
    throw new UsageError(`onnx: --input '${path}' must be a .json or .npy file.`);
  }
  const feeds: Feeds = {};
  for (const v of index.inputs) {
    const name = v.name!;
    const a = arrays.get(name);
    if (!a) throw new UsageError(`onnx: --input '${path}' gives no value for model input '${name}'.`);
    const declared = declaredDims(v);
    const mismatch = declared.length !== a.dims.length || declared.some((d, i) => d !== null && d !== a.dims[i]);
    if (mismatch) {
      throw new UsageError(`onnx: --input '${path}': input '${name}' has dims [${a.dims.join(', ')}], the model declares [${declared.map((d) => d ?? '?').join(', ')}].`);
    }
    const over = tensorOverLimit(a.data.length, `input '${name}'`, maxTensorElements);
    if (over) throw new UsageError(`onnx: --input '${path}': ${over}.`);
    feeds[name] = toTensor(name, v.type?.tensorType?.elemType ?? DT.FLOAT, a.dims, a.data);
  }
  return feeds;
}
