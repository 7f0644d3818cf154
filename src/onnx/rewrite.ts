/**
 * Model rewrites, done on the ModelProto and handed to onnxruntime (no ONNX op is
 * re-implemented): expose intermediate tensors as extra graph outputs (cast to float where
 * JavaScript cannot hold the type: int4, float8, float16), and build the float twin — the same
 * model with every Quantize/Dequantize pair bypassed — to localise quantization error.
 * Copies are shallow: initializers (the bulk of a model) are shared, never duplicated.
 */
import { attrInt, DT, onnx, type IModelProto, type ModelProto, type NodeProto } from './proto.js';
import { elemType, isFloatType, type GraphIndex } from './graph.js';
import type { QdqSite } from './sites.js';

export const EXPOSE_PREFIX = 'quant_audit/';

export interface Exposed {
  /** Serialized model to hand to onnxruntime. */
  bytes: Uint8Array;
  /** Requested tensor name → the graph output that carries it (float32, or the integer types JavaScript holds exactly). */
  outputFor: Map<string, string>;
  /** Whether `bytes` is the original file with the additions appended (no re-encoding). */
  appended: boolean;
}

/**
 * Element types exposed as they are (onnxruntime-node returns them as Int8Array, Uint8Array, …; every value is
 * also exact in float32, so nothing downstream changes); every other type is cast to float32.
 */
const EXPOSED_AS_IS = new Set<number>([DT.FLOAT, DT.INT8, DT.UINT8, DT.INT16, DT.UINT16]);

/**
 * The element type of `name` when the file states it (graph input, value_info, output) or the spec fixes it (a
 * QuantizeLinear's output: its zero-point initializer's type, output_dtype, else uint8; a DequantizeLinear's output:
 * its scale initializer's type); undefined otherwise.
 */
function certainType(index: GraphIndex, name: string): number | undefined {
  const declared = [...(index.graph.input ?? []), ...(index.graph.valueInfo ?? []), ...(index.graph.output ?? [])].find((v) => v.name === name);
  const t = declared?.type?.tensorType?.elemType;
  if (t) return t;
  const n = index.producer.get(name);
  if (n?.opType === 'DequantizeLinear' && n.output?.[0] === name) {
    const scale = n.input?.[1];
    return scale ? index.initializers.get(scale)?.dataType ?? undefined : undefined;
  }
  if (n?.opType !== 'QuantizeLinear' || n.output?.[0] !== name) return undefined;
  const zp = n.input?.[2];
  if (zp) return index.initializers.get(zp)?.dataType ?? undefined;
  return attrInt(n, 'output_dtype', 0) || DT.UINT8;
}

/**
 * The original file with a second `graph` field appended that holds only extra nodes and outputs. Protobuf parsers
 * merge a repeated occurrence of an embedded message field into the first (repeated fields are concatenated), so
 * onnxruntime reads the model with the nodes and outputs appended — without re-encoding the weights. The encoding
 * of field 7 (ModelProto.graph) comes from protobufjs itself.
 */
export function appendToModel(original: Uint8Array, nodes: NodeProto[], outputs: string[], types: number[], room?: Uint8Array): Uint8Array {
  const tail = onnx.ModelProto.encode({
    graph: { node: nodes, output: outputs.map((name, i) => ({ name, type: { tensorType: { elemType: types[i] ?? DT.FLOAT } } })) },
  }).finish();
  // Written into the spare room after the file's bytes when it fits (LoadedModel.room): no copy of the weights.
  if (room && room.buffer === original.buffer && room.byteOffset === original.byteOffset && room.length >= original.length + tail.length) {
    room.set(tail, original.length);
    return room.subarray(0, original.length + tail.length);
  }
  const out = new Uint8Array(original.length + tail.length);
  out.set(original, 0);
  out.set(tail, original.length);
  return out;
}

function shallowModel(model: ModelProto, nodes: NodeProto[], extraOutputs: string[], types: number[]): IModelProto {
  const graph = model.graph!;
  return {
    ...model,
    graph: {
      ...graph,
      node: nodes,
      output: [
        ...(graph.output ?? []),
        ...extraOutputs.map((name, i) => ({ name, type: { tensorType: { elemType: types[i] ?? DT.FLOAT } } })),
      ],
    },
  };
}

/**
 * The model with `tensors` exposed as graph outputs (float32, or int8/uint8/int16/uint16 as they are).
 * `nodes` replaces the graph's nodes; `added` are appended after them. With `original` (the file's bytes, when
 * they encode `model` exactly) and no replacement of nodes, the additions are appended to those bytes instead of
 * re-encoding the whole model — in `room` (LoadedModel.room) when it has space, so the file is not copied either.
 */
export function exposeTensors(
  model: ModelProto, index: GraphIndex, tensors: Iterable<string>, nodes: NodeProto[] = index.nodes,
  added: NodeProto[] = [], original?: Uint8Array, room?: Uint8Array,
): Exposed {
  const outputFor = new Map<string, string>();
  const extraNodes: NodeProto[] = [];
  const extraOutputs: string[] = [];
  const types: number[] = [];
  for (const name of new Set(tensors)) {
    if (!name) continue;
    const type = elemType(index, name);
    if (index.outputs.has(name) && type === DT.FLOAT) {
      outputFor.set(name, name);
      continue;
    }
    const asIs = certainType(index, name);
    const to = asIs !== undefined && EXPOSED_AS_IS.has(asIs) ? asIs : DT.FLOAT;
    if (asIs === to && index.producer.has(name) && !index.outputs.has(name)) {
      // A node's output of a known, exposable type becomes a graph output itself: no copy through a Cast.
      // (Had the type been wrong, onnxruntime would refuse the declared output type.)
      extraOutputs.push(name);
      types.push(to);
      outputFor.set(name, name);
      continue;
    }
    const out = EXPOSE_PREFIX + name;
    // As-is through Identity: had the type been wrong, onnxruntime would refuse the declared output type (a Cast
    // would silently convert the values).
    extraNodes.push(to === DT.FLOAT
      ? { opType: 'Cast', name: `${EXPOSE_PREFIX}cast/${name}`, input: [name], output: [out], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }] }
      : { opType: 'Identity', name: `${EXPOSE_PREFIX}id/${name}`, input: [name], output: [out] });
    extraOutputs.push(out);
    types.push(to);
    outputFor.set(name, out);
  }
  if (original && nodes === index.nodes) {
    return { bytes: appendToModel(original, [...added, ...extraNodes], extraOutputs, types, room), outputFor, appended: true };
  }
  const m = shallowModel(model, [...nodes, ...added, ...extraNodes], extraOutputs, types);
  return { bytes: onnx.ModelProto.encode(m).finish(), outputFor, appended: false };
}

/**
 * The float function of a site's DequantizeLinear `d`: x itself, or max(x, 0) for a folded clamp (an activation whose
 * zero-point is the code minimum: the clamp is the intended activation), in the DequantizeLinear's output type (its
 * scale's: a float16 scale gives a float16 output).
 */
function bypassNodes(index: GraphIndex, s: QdqSite, d: NodeProto): NodeProto[] {
  const out = d.output?.[0] ?? '';
  const name = `${d.name ?? ''}${EXPOSE_PREFIX}twin`;
  const scale = d.input?.[1];
  const outType = scale ? elemType(index, scale) : DT.FLOAT;
  const nodes: NodeProto[] = [];
  let x = s.input;
  const inType = elemType(index, s.input);
  if (s.foldedClamp) {
    const cast = outType !== undefined && inType !== undefined && outType !== inType;
    nodes.push({ opType: 'Relu', name: `${name}/relu`, input: [x], output: [cast ? `${out}${EXPOSE_PREFIX}relu` : out] });
    if (!cast) return nodes;
    x = `${out}${EXPOSE_PREFIX}relu`;
  }
  if (outType !== undefined && inType !== undefined && outType !== inType) {
    nodes.push({ opType: 'Cast', name, input: [x], output: [out], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: outType }] });
  } else {
    nodes.push({ opType: 'Identity', name, input: [x], output: [out] });
  }
  return nodes;
}

/**
 * Float twin nodes: each DequantizeLinear becomes its site's float function of the site's input (x, or max(x, 0) for a
 * folded clamp; bypassNodes), and each Cast that turns codes into floats becomes Cast(x); the Quantize nodes are left
 * dead. Tensor names are unchanged, so a site's output in the twin is the float value at the same point. `only`:
 * bypass these sites and keep every other Q/DQ (a repair experiment: "this site without its quantization error").
 */
export function floatTwinNodes(index: GraphIndex, sites: readonly QdqSite[], only?: ReadonlySet<QdqSite>): NodeProto[] {
  const replace = new Map<NodeProto, NodeProto[]>();
  for (const s of sites) {
    if (s.kind !== 'qdq' || (only && !only.has(s))) continue;
    if (s.quantize && codesOnlyLeak(index, s)) {
      // No DequantizeLinear, and everything that reads the codes treats them as floats (a Cast to float, here or in
      // a subgraph): the float tensor itself takes the codes' place.
      replace.set(s.quantize, [{ opType: 'Identity', name: `${s.quantize.name ?? ''}${EXPOSE_PREFIX}twin`, input: [s.input], output: [s.codes] }]);
      continue;
    }
    for (const d of s.dequantize) replace.set(d, bypassNodes(index, s, d));
    for (const leak of s.leaks) {
      if (leak.opType !== 'Cast') continue;
      const cast = index.producer.get(leak.tensor);
      if (cast) replace.set(cast, [{ ...cast, input: [s.input] }]);
    }
  }
  return index.nodes.flatMap((n) => replace.get(n) ?? [n]);
}

/** A site whose codes reach float maths only (leaks) and no DequantizeLinear or integer op: its codes can be floats. */
function codesOnlyLeak(index: GraphIndex, s: QdqSite): boolean {
  if (s.dequantize.length > 0 || s.leaks.length === 0 || (s.orderReaders ?? []).length > 0) return false;
  return (index.consumers.get(s.codes) ?? []).every((n) => n.opType === 'Cast' ? isFloatType(attrInt(n, 'to', 0)) : !/^(QLinear\w+|\w*Integer|DequantizeLinear|QuantizeLinear|Clip)$/.test(n.opType ?? ''));
}

export const TWIN_PREFIX = 'quant_audit_twin/';

/** Whether any node carries a subgraph (If, Loop, Scan): renaming tensors would not reach into it. */
export function hasSubgraphs(index: GraphIndex): boolean {
  return index.nodes.some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0));
}

/**
 * The float twin as a renamed copy that can live in the same graph as the model: every tensor the
 * twin computes gets TWIN_PREFIX, graph inputs and initializers are shared (not duplicated), and only
 * the nodes needed for `wanted` are kept. One session then computes both paths in one run.
 */
export function twinCopy(
  index: GraphIndex, sites: readonly QdqSite[], wanted: Iterable<string>, opts: { only?: ReadonlySet<QdqSite>; prefix?: string } = {},
): { nodes: NodeProto[]; rename(name: string): string } {
  const prefix = opts.prefix ?? TWIN_PREFIX;
  const twin = floatTwinNodes(index, sites, opts.only);
  const produced = new Set<string>();
  for (const n of twin) for (const o of n.output ?? []) if (o) produced.add(o);
  const rename = (name: string): string => (name && produced.has(name) ? prefix + name : name);
  const needed = new Set(wanted);
  const keep: NodeProto[] = [];
  for (let i = twin.length - 1; i >= 0; i--) {
    const n = twin[i]!;
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const inp of n.input ?? []) if (inp) needed.add(inp);
  }
  keep.reverse();
  const nodes = keep.map((n) => ({ ...n, name: prefix + (n.name ?? ''), input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) }));
  return { nodes, rename };
}
