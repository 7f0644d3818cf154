/**
 * A small ONNX model writer: nodes, typed inputs/outputs and initializers in, serialized
 * ModelProto bytes out (for onnxruntime-node). Generic on purpose — conformance tests, fixtures
 * and the ONNX target build their graphs with it. Element types are TensorProto.DataType
 * numbers (ELEM), including the ones newer than onnx-proto's enum (float8, int4).
 */
import onnxProto from 'onnx-proto';

const onnx = onnxProto.onnx;

/** TensorProto.DataType (onnx.proto, IR 10). */
export const ELEM = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11,
  BFLOAT16: 16, FLOAT8E4M3FN: 17, FLOAT8E4M3FNUZ: 18, FLOAT8E5M2: 19, FLOAT8E5M2FNUZ: 20, UINT4: 21, INT4: 22,
} as const;
export type ElemType = (typeof ELEM)[keyof typeof ELEM];

export interface ValueInfo {
  name: string;
  elemType: number;
  /** Dimensions; a string is a symbolic dimension, omitted = unknown rank. */
  shape?: readonly (number | string)[];
}

/**
 * An initializer. `values` are plain numbers for every type: int4/uint4 get packed two per
 * byte (low nibble first); float8 and bfloat16/float16 take the *codes* (bit patterns) as values.
 */
export interface Initializer {
  name: string;
  elemType: number;
  dims: readonly number[];
  values: ArrayLike<number> | ArrayLike<bigint>;
}

/** Attribute values: an integer number → INT, other number → FLOAT; wrap to force a type. `graph`: an If branch, a Loop/Scan body. */
export type AttrValue =
  | number
  | string
  | readonly number[]
  | { float: number }
  | { floats: readonly number[] }
  | { ints: readonly number[] }
  | { tensor: Initializer }
  | { graph: GraphSpec };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

/**
 * A subgraph held by an attribute. Its nodes may read any tensor of the enclosing graphs by name
 * (ONNX outer-scope references); an If branch has no inputs, a Loop body has (iteration, condition, carried…).
 */
export interface GraphSpec {
  name?: string;
  nodes: readonly NodeSpec[];
  inputs?: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers?: readonly Initializer[];
}

export interface ModelSpec {
  opset: number;
  nodes: readonly NodeSpec[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers?: readonly Initializer[];
  /** Extra operator sets, e.g. { 'com.microsoft': 1 }. */
  extraOpsets?: Record<string, number>;
  /** Default: the lowest IR version that allows `opset`. */
  irVersion?: number;
  graphName?: string;
  producer?: string;
}

/** Lowest IR version that ONNX allows with a given default-domain opset. */
export function irVersionFor(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  if (opset >= 13) return 7;
  if (opset >= 9) return 4;
  return 3;
}

const BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1 };

/** Little-endian raw_data for an initializer's values. */
export function rawData(elemType: number, values: ArrayLike<number> | ArrayLike<bigint>): Uint8Array {
  const n = values.length;
  if (elemType === ELEM.INT4 || elemType === ELEM.UINT4) {
    const out = new Uint8Array(Math.ceil(n / 2));
    for (let i = 0; i < n; i++) out[i >> 1]! |= (Number(values[i]) & 0xf) << ((i & 1) * 4);
    return out;
  }
  const size = BYTES[elemType];
  if (size === undefined) throw new Error(`rawData: unsupported element type ${elemType}`);
  const out = new Uint8Array(n * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (elemType) {
      case ELEM.FLOAT: view.setFloat32(i * 4, Number(v), true); break;
      case ELEM.DOUBLE: view.setFloat64(i * 8, Number(v), true); break;
      case ELEM.INT64: view.setBigInt64(i * 8, BigInt(v), true); break;
      case ELEM.INT32: view.setInt32(i * 4, Number(v), true); break;
      case ELEM.INT16: view.setInt16(i * 2, Number(v), true); break;
      case ELEM.UINT16: case ELEM.FLOAT16: case ELEM.BFLOAT16: view.setUint16(i * 2, Number(v), true); break;
      case ELEM.INT8: view.setInt8(i, Number(v)); break;
      default: view.setUint8(i, Number(v) & 0xff); // uint8, bool, float8 codes
    }
  }
  return out;
}

export function tensorProto(init: Initializer): onnxProto.onnx.ITensorProto {
  return { name: init.name, dataType: init.elemType, dims: [...init.dims], rawData: rawData(init.elemType, init.values) };
}

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: v.elemType };
  if (v.shape) tensorType.shape = { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name: v.name, type: { tensorType } };
}

const AT = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return (v as number[]).every(Number.isInteger) ? { name, type: AT.INTS, ints: [...v] } : { name, type: AT.FLOATS, floats: [...v] };
  const o = v as Exclude<AttrValue, number | string | readonly number[]>;
  if ('float' in o) return { name, type: AT.FLOAT, f: o.float };
  if ('floats' in o) return { name, type: AT.FLOATS, floats: [...o.floats] };
  if ('ints' in o) return { name, type: AT.INTS, ints: [...o.ints] };
  if ('graph' in o) return { name, type: AT.GRAPH, g: graphProto(o.graph, `${name}_graph`) };
  return { name, type: AT.TENSOR, t: tensorProto(o.tensor) };
}

function graphProto(g: GraphSpec, defaultName: string): onnxProto.onnx.IGraphProto {
  return {
    name: g.name ?? defaultName,
    node: g.nodes.map((n, i) => ({
      opType: n.op,
      name: n.name ?? `${n.op}_${i}`,
      domain: n.domain ?? '',
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    })),
    input: (g.inputs ?? []).map(valueInfo),
    output: g.outputs.map(valueInfo),
    initializer: (g.initializers ?? []).map(tensorProto),
  };
}

/** The ModelProto object (for callers that edit it further before encoding). */
export function modelProto(spec: ModelSpec): onnxProto.onnx.IModelProto {
  const opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [{ domain: '', version: spec.opset }];
  for (const [domain, version] of Object.entries(spec.extraOpsets ?? {})) opsetImport.push({ domain, version });
  return {
    irVersion: spec.irVersion ?? irVersionFor(spec.opset),
    producerName: spec.producer ?? 'quant-audit',
    opsetImport,
    graph: graphProto({ ...spec, name: spec.graphName }, 'graph'),
  };
}

/** Serialized model bytes, ready for `InferenceSession.create(bytes)`. */
export function makeModel(spec: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(modelProto(spec))).finish();
}
