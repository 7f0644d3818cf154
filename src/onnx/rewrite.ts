/**
 * Model rewrites, done on the ModelProto and handed to onnxruntime (no ONNX op is
 * re-implemented): expose intermediate tensors as extra graph outputs (cast to float where
 * JavaScript cannot hold the type: int4, float8, float16), and build the float twin — the same
 * model with every Quantize/Dequantize pair bypassed — to localise quantization error.
 * Copies are shallow: initializers (the bulk of a model) are shared, never duplicated.
 */
import { DT, onnx, type IModelProto, type ModelProto, type NodeProto } from './proto.js';
import { elemType, type GraphIndex } from './graph.js';
import type { QdqSite } from './sites.js';

export const EXPOSE_PREFIX = 'quant_audit/';

export interface Exposed {
  /** Serialized model to hand to onnxruntime. */
  bytes: Uint8Array;
  /** Requested tensor name → the graph output that carries it (as float32). */
  outputFor: Map<string, string>;
}

function shallowModel(model: ModelProto, nodes: NodeProto[], extraOutputs: string[]): IModelProto {
  const graph = model.graph!;
  return {
    ...model,
    graph: {
      ...graph,
      node: nodes,
      output: [
        ...(graph.output ?? []),
        ...extraOutputs.map((name) => ({ name, type: { tensorType: { elemType: DT.FLOAT } } })),
      ],
    },
  };
}

/** The model with `tensors` exposed as float32 graph outputs. */
export function exposeTensors(model: ModelProto, index: GraphIndex, tensors: Iterable<string>, nodes: NodeProto[] = index.nodes): Exposed {
  const outputFor = new Map<string, string>();
  const extraNodes: NodeProto[] = [];
  const extraOutputs: string[] = [];
  for (const name of new Set(tensors)) {
    if (!name) continue;
    const type = elemType(index, name);
    if (index.outputs.has(name) && type === DT.FLOAT) {
      outputFor.set(name, name);
      continue;
    }
    const out = EXPOSE_PREFIX + name;
    extraNodes.push({ opType: 'Cast', name: `${EXPOSE_PREFIX}cast/${name}`, input: [name], output: [out], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT }] });
    extraOutputs.push(out);
    outputFor.set(name, out);
  }
  const m = shallowModel(model, [...nodes, ...extraNodes], extraOutputs);
  return { bytes: onnx.ModelProto.encode(m).finish(), outputFor };
}

/**
 * Float twin nodes: each DequantizeLinear becomes Identity(x) of its site's float input, and each
 * Cast that turns codes into floats becomes Cast(x); the Quantize nodes are left dead.
 * Tensor names are unchanged, so a site's output in the twin is the float value at the same point.
 */
export function floatTwinNodes(index: GraphIndex, sites: readonly QdqSite[]): NodeProto[] {
  const replace = new Map<NodeProto, NodeProto>();
  for (const s of sites) {
    if (s.kind !== 'qdq') continue;
    for (const d of s.dequantize) {
      replace.set(d, { opType: 'Identity', name: `${d.name ?? ''}${EXPOSE_PREFIX}twin`, input: [s.input], output: [d.output?.[0] ?? ''] });
    }
    for (const leak of s.leaks) {
      if (leak.opType !== 'Cast') continue;
      const cast = index.producer.get(leak.tensor);
      if (cast) replace.set(cast, { ...cast, input: [s.input] });
    }
  }
  return index.nodes.map((n) => replace.get(n) ?? n);
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
export function twinCopy(index: GraphIndex, sites: readonly QdqSite[], wanted: Iterable<string>): { nodes: NodeProto[]; rename(name: string): string } {
  const twin = floatTwinNodes(index, sites);
  const produced = new Set<string>();
  for (const n of twin) for (const o of n.output ?? []) if (o) produced.add(o);
  const rename = (name: string): string => (name && produced.has(name) ? TWIN_PREFIX + name : name);
  const needed = new Set(wanted);
  const keep: NodeProto[] = [];
  for (let i = twin.length - 1; i >= 0; i--) {
    const n = twin[i]!;
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const inp of n.input ?? []) if (inp) needed.add(inp);
  }
  keep.reverse();
  const nodes = keep.map((n) => ({ ...n, name: TWIN_PREFIX + (n.name ?? ''), input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) }));
  return { nodes, rename };
}
