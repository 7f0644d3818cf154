/**
 * A read-only index over an ONNX graph: who produces and who consumes each tensor, which
 * tensors are constants (initializers, Constant nodes, and anything computed only from
 * them, like PyTorch's in-graph weight scales), and the element type of a tensor where the
 * graph states it. The audit reads the graph through this; it never evaluates an operator.
 */
import { DT, attr, attrInt, toNumber, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

export interface GraphIndex {
  graph: GraphProto;
  nodes: NodeProto[];
  /** Node names, unique: the node's own name, else `${opType}_${index}`. */
  nodeName: Map<NodeProto, string>;
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
  initializers: Map<string, TensorProto>;
  /** Graph inputs that are not initializers (what a caller must feed). */
  inputs: ValueInfoProto[];
  outputs: Set<string>;
  /** Tensors computed only from initializers and Constant nodes (weights and their scales). */
  constant: Set<string>;
}

export function indexGraph(graph: GraphProto): GraphIndex {
  const nodes = graph.node ?? [];
  const nodeName = new Map<NodeProto, string>();
  const used = new Set<string>();
  nodes.forEach((n, i) => {
    let name = n.name || `${n.opType}_${i}`;
    if (used.has(name)) name = `${name}#${i}`;
    used.add(name);
    nodeName.set(n, name);
  });
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) if (o) producer.set(o, n);
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) if (t.name) initializers.set(t.name, t);
  const inputs = (graph.input ?? []).filter((v) => v.name && !initializers.has(v.name));
  const outputs = new Set((graph.output ?? []).map((v) => v.name ?? ''));
  const constant = new Set<string>(initializers.keys());
  // Nodes are in topological order (ONNX requires it), so one pass settles constness.
  for (const n of nodes) {
    const ins = (n.input ?? []).filter((i) => i);
    const isConst = n.opType === 'Constant' || (ins.length > 0 && ins.every((i) => constant.has(i)) && !isRandom(n));
    if (isConst) for (const o of n.output ?? []) if (o) constant.add(o);
  }
  return { graph, nodes, nodeName, producer, consumers, initializers, inputs, outputs, constant };
}

/** The subgraphs a node holds (If branches, Loop and Scan bodies). */
export function subgraphsOf(n: NodeProto): GraphProto[] {
  return (n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}

function isRandom(n: NodeProto): boolean {
  return /^Random|Multinomial|Bernoulli|Dropout/.test(n.opType ?? '');
}

/** The tensor a Constant node holds (value, value_float(s), value_int(s)), or undefined. */
export function constantTensor(index: GraphIndex, name: string): TensorProto | undefined {
  const init = index.initializers.get(name);
  if (init) return init;
  const n = index.producer.get(name);
  if (!n || n.opType !== 'Constant') return undefined;
  const value = attr(n, 'value');
  if (value?.t) return value.t;
  const vf = attr(n, 'value_float');
  if (vf) return { name, dataType: DT.FLOAT, dims: [], floatData: [vf.f ?? 0] };
  const vfs = attr(n, 'value_floats');
  if (vfs) return { name, dataType: DT.FLOAT, dims: [vfs.floats?.length ?? 0], floatData: vfs.floats ?? [] };
  const vi = attr(n, 'value_int');
  if (vi) return { name, dataType: DT.INT64, dims: [], int64Data: [vi.i ?? 0] };
  const vis = attr(n, 'value_ints');
  if (vis) return { name, dataType: DT.INT64, dims: [vis.ints?.length ?? 0], int64Data: vis.ints ?? [] };
  return undefined;
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([DT.FLOAT, DT.DOUBLE, DT.FLOAT16, DT.BFLOAT16]);

export function isFloatType(t: number | undefined): boolean {
  return t !== undefined && FLOAT_TYPES.has(t);
}

/** Element type of a tensor where the graph says it; undefined when only shape inference would know. */
export function elemType(index: GraphIndex, name: string, depth = 0): number | undefined {
  if (depth > 64) return undefined;
  const c = constantTensor(index, name);
  if (c) return c.dataType ?? undefined;
  const declared = [...(index.graph.input ?? []), ...(index.graph.valueInfo ?? []), ...(index.graph.output ?? [])].find((v) => v.name === name);
  const t = declared?.type?.tensorType?.elemType;
  if (t) return t;
  const n = index.producer.get(name);
  if (!n) return undefined;
  switch (n.opType) {
    case 'Cast':
      return attrInt(n, 'to', 0) || undefined;
    case 'QuantizeLinear': {
      const zp = n.input?.[2];
      if (zp) return elemType(index, zp, depth + 1);
      const od = attrInt(n, 'output_dtype', 0);
      return od || DT.UINT8;
    }
    case 'DequantizeLinear':
      return n.input?.[1] ? elemType(index, n.input[1], depth + 1) : DT.FLOAT;
    case 'Shape': case 'Size': case 'ArgMax': case 'ArgMin': case 'NonZero':
      return DT.INT64;
    case 'Equal': case 'Less': case 'Greater': case 'Not': case 'And': case 'Or': case 'IsNaN': case 'IsInf':
      return DT.BOOL;
    default: {
      // Most ops keep the type of their first input (Clip, Reshape, Relu, Div, Abs, ReduceMax, …).
      const first = n.input?.[0];
      return first ? elemType(index, first, depth + 1) : undefined;
    }
  }
}

/** Declared dims of a graph input; dynamic dims (dim_param or missing) are null. */
export function declaredDims(v: ValueInfoProto): (number | null)[] {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => (d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : null));
}
