/**
 * Site discovery: every QuantizeLinear (and every DequantizeLinear that has no Quantize in
 * front of it, as in statically quantized weights), the DequantizeLinear(s) its codes reach,
 * the tensor it quantizes, and every place where codes reach a float-consuming op without
 * a DequantizeLinear — directly, or through a Cast to a float type (the integer domain
 * leaking into float maths: hypothesis H1, `missing-dequant`). Sites are found in the main graph;
 * a subgraph (If branch, Loop/Scan body) that reads their codes or outputs by name counts as a reader.
 * An int32 DequantizeLinear on stored codes is a bias site. Order-only readers of codes (ArgMax,
 * ArgMin, TopK's indices) are recorded apart: whether they leak is decided by running them on the
 * dequantized codes too (audit.ts), not by their op type.
 */
import { CODE_TYPES, DT, attrInt, tensorValues, type CodeType, type GraphProto, type NodeProto } from './proto.js';
import { constantTensor, elemType, isFloatType, subgraphsOf, type GraphIndex } from './graph.js';

/** Ops that move codes around without doing arithmetic on them (torch puts Clip between Q and DQ for reduced ranges). */
const CODE_PASSTHROUGH = new Set([
  'Clip', 'Identity', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Slice', 'Gather', 'Concat', 'Split',
  'Expand', 'Pad', 'Tile', 'MaxPool', 'DepthToSpace', 'SpaceToDepth', 'Resize',
]);

/** Ops that legitimately take codes (integer kernels): reaching them is not a leak. */
const INTEGER_CONSUMERS = /^(QLinear\w+|MatMulInteger|ConvInteger|DynamicQuantize\w*|MatMulNBits|DequantizeLinear|QuantizeLinear)$/;

/**
 * Ops whose integer result depends only on the order of their input's values: on codes they give the same answer as
 * on the dequantized values when (c − z)·s is increasing and the same map across the compared elements. Which output
 * holds the indices (TopK's values, output 0, are codes again and are followed).
 */
const ORDER_READERS: Record<string, number> = { ArgMax: 0, ArgMin: 0, TopK: 1 };

/** An order-only reader of codes (ArgMax on logits codes, as onnxruntime's QOperator ArgMax reads them). */
export interface OrderReader {
  node: NodeProto;
  name: string;
  opType: string;
  /** The codes tensor it reads (the site's codes, or codes moved by passthrough ops). */
  tensor: string;
  /** Its integer result (indices). */
  indices: string;
}

export interface Leak {
  /** The node where codes enter float maths: the Cast to float, or the consuming op itself. */
  node: string;
  opType: string;
  /** The tensor carrying codes into float maths (Cast output, or the codes themselves). */
  tensor: string;
  /** Ops that read that tensor, as `OpType name`. */
  consumers: string[];
  reachesGraphOutput: boolean;
}

export interface QdqSite {
  /** Node name of the QuantizeLinear (or of the lone DequantizeLinear). */
  name: string;
  kind: 'qdq' | 'dq-only';
  quantize: NodeProto | undefined;
  dequantize: NodeProto[];
  /** The float tensor quantized (Q input); for dq-only sites, the stored codes. */
  input: string;
  /** weight: computed only from initializers/constants; activation: depends on graph inputs. */
  inputKind: 'weight' | 'activation';
  /** An int32 DequantizeLinear of stored codes (a quantized bias: scale = input scale × weight scale, zero-point 0). */
  bias?: boolean;
  /**
   * An activation whose zero-point is the code minimum (uint8 0, int8 −128, or no zero-point: uint8 0): the quantizer
   * clamps at 0 — the form in which onnxruntime's quantizer folds a Relu into the QuantizeLinear. Its float function
   * is max(x, 0): the float twin keeps that clamp and the site is judged against it.
   */
  foldedClamp?: boolean;
  /** A weight's output-channel axis as its consumer reads it (Conv: 0, Gemm: transB ? 0 : 1, MatMul: −1 = last); undefined when unknown. */
  channelAxis?: number;
  /** ArgMax / ArgMin / TopK reading the codes: judged by running them on the dequantized codes too. */
  orderReaders?: OrderReader[];
  scale: string;
  zeroPoint: string | undefined;
  /** Codes tensor: the Q output (dq-only: the DQ input). */
  codes: string;
  /** The first DequantizeLinear's output: what the float maths downstream sees. */
  output: string | undefined;
  codeType: CodeType | undefined;
  codeDataType: number | undefined;
  axis: number;
  blockSize: number;
  leaks: Leak[];
  /** Ops that read the dequantized tensor, as `OpType name`. */
  consumers: string[];
  /** Position in the graph's topological order (of the Q node, or DQ for dq-only). */
  order: number;
}

/** Nodes inside `n`'s subgraphs, at any depth, that read `tensor`: subgraphs read outer tensors by name, not through `n`'s inputs. */
function subgraphReaders(n: NodeProto, tensor: string): NodeProto[] {
  const out: NodeProto[] = [];
  const visit = (g: GraphProto): void => {
    for (const m of g.node ?? []) {
      if ((m.input ?? []).includes(tensor)) out.push(m);
      subgraphsOf(m).forEach(visit);
    }
  };
  subgraphsOf(n).forEach(visit);
  return out;
}

export function discoverSites(index: GraphIndex): QdqSite[] {
  const sites: QdqSite[] = [];
  const coveredDq = new Set<NodeProto>();
  const describe = (n: NodeProto): string => `${n.opType} ${index.nodeName.get(n)}`;
  const holders = index.nodes.filter((n) => subgraphsOf(n).length > 0);
  const readersOf = (tensor: string): string[] => [
    ...(index.consumers.get(tensor) ?? []).map(describe),
    ...(index.outputs.has(tensor) ? ['graph output'] : []),
    ...holders.filter((h) => subgraphReaders(h, tensor).length > 0).map((h) => `${describe(h)} (in its subgraph)`),
  ];
  index.nodes.forEach((q, order) => {
    if (q.opType !== 'QuantizeLinear') return;
    const codes = q.output?.[0] ?? '';
    const dequantize: NodeProto[] = [];
    const leaks: Leak[] = [];
    const orderReaders: OrderReader[] = [];
    walkCodes(codes, new Set());
    for (const d of dequantize) coveredDq.add(d);
    const zeroPoint = q.input?.[2] || undefined;
    const codeDataType = zeroPoint ? elemType(index, zeroPoint) : attrInt(q, 'output_dtype', 0) || DT.UINT8;
    const output = dequantize[0]?.output?.[0];
    const inputKind = index.constant.has(q.input?.[0] ?? '') ? 'weight' : 'activation';
    const codeType = codeDataType === undefined ? undefined : CODE_TYPES[codeDataType];
    sites.push({
      name: index.nodeName.get(q)!,
      kind: 'qdq',
      quantize: q,
      dequantize,
      input: q.input?.[0] ?? '',
      inputKind,
      bias: false,
      foldedClamp: inputKind === 'activation' && clampsAtZero(index, zeroPoint, codeType),
      channelAxis: inputKind === 'weight' ? channelAxisOf(index, output) : undefined,
      orderReaders,
      scale: q.input?.[1] ?? '',
      zeroPoint,
      codes,
      output,
      codeType,
      codeDataType,
      axis: attrInt(q, 'axis', 1),
      blockSize: attrInt(q, 'block_size', 0),
      leaks,
      consumers: output ? readersOf(output) : [],
      order,
    });

    function walkCodes(tensor: string, seen: Set<string>): void {
      if (seen.has(tensor)) return;
      seen.add(tensor);
      const readers = index.consumers.get(tensor) ?? [];
      if (index.outputs.has(tensor)) {
        leaks.push({ node: index.nodeName.get(index.producer.get(tensor)!) ?? tensor, opType: 'graph output', tensor, consumers: ['graph output'], reachesGraphOutput: true });
      }
      for (const r of readers) {
        const op = r.opType ?? '';
        if (op === 'DequantizeLinear' && r.input?.[0] === tensor) {
          dequantize.push(r);
        } else if (op === 'Cast') {
          const out = r.output?.[0] ?? '';
          if (isFloatType(attrInt(r, 'to', 0))) {
            leaks.push({
              node: index.nodeName.get(r)!,
              opType: 'Cast',
              tensor: out,
              consumers: [...(index.consumers.get(out) ?? []).map(describe), ...(index.outputs.has(out) ? ['graph output'] : [])],
              reachesGraphOutput: index.outputs.has(out),
            });
          } else {
            walkCodes(out, seen);
          }
        } else if (CODE_PASSTHROUGH.has(op) && r.input?.[0] === tensor) {
          for (const o of r.output ?? []) if (o) walkCodes(o, seen);
        } else if (op in ORDER_READERS && r.input?.[0] === tensor) {
          orderReaders.push({ node: r, name: index.nodeName.get(r)!, opType: op, tensor, indices: r.output?.[ORDER_READERS[op]!] ?? '' });
          // TopK's values are codes again
          if (op === 'TopK' && r.output?.[0]) walkCodes(r.output[0], seen);
        } else if (!INTEGER_CONSUMERS.test(op) && !CODE_PASSTHROUGH.has(op)) {
          leaks.push({ node: index.nodeName.get(r)!, opType: op, tensor, consumers: [describe(r)], reachesGraphOutput: false });
        }
      }
      // Inside a subgraph the codes are not followed further: moved or integer-cast codes there are not leaks (nor seen
      // again); a float op or float Cast reading them is, named by the node that holds the subgraph (its tensors cannot be exposed).
      for (const h of holders) {
        for (const r of subgraphReaders(h, tensor)) {
          const op = r.opType ?? '';
          if (INTEGER_CONSUMERS.test(op) || CODE_PASSTHROUGH.has(op) || (op === 'Cast' && !isFloatType(attrInt(r, 'to', 0)))) continue;
          leaks.push({ node: index.nodeName.get(h)!, opType: h.opType ?? '', tensor, consumers: [`${op} ${r.name || '(unnamed)'} in a subgraph of ${describe(h)}`], reachesGraphOutput: false });
        }
      }
    }
  });
  index.nodes.forEach((d, order) => {
    if (d.opType !== 'DequantizeLinear' || coveredDq.has(d)) return;
    const codes = d.input?.[0] ?? '';
    // Codes produced by a Q through passthrough ops are covered above; a lone DQ reads stored codes.
    const zeroPoint = d.input?.[2] || undefined;
    const codeDataType = elemType(index, codes) ?? (zeroPoint ? elemType(index, zeroPoint) : undefined);
    const output = d.output?.[0];
    const inputKind = index.constant.has(codes) ? 'weight' : 'activation';
    sites.push({
      name: index.nodeName.get(d)!,
      kind: 'dq-only',
      quantize: undefined,
      dequantize: [d],
      input: codes,
      inputKind,
      // int32 codes of a stored tensor: a quantized bias (onnxruntime's quantizer writes every bias this way)
      bias: codeDataType === DT.INT32 && inputKind === 'weight',
      foldedClamp: false,
      channelAxis: inputKind === 'weight' && codeDataType !== DT.INT32 ? channelAxisOf(index, output) : undefined,
      orderReaders: [],
      scale: d.input?.[1] ?? '',
      zeroPoint,
      codes,
      output,
      codeType: codeDataType === undefined ? undefined : CODE_TYPES[codeDataType],
      codeDataType,
      axis: attrInt(d, 'axis', 1),
      blockSize: attrInt(d, 'block_size', 0),
      leaks: [],
      consumers: output ? readersOf(output) : [],
      order,
    });
  });
  return sites.sort((a, b) => a.order - b.order);
}

/** The values of a constant tensor, also behind a Cast or Identity of one (PyTorch's zero-points); undefined otherwise. */
function constantValues(index: GraphIndex, name: string): Float64Array | undefined {
  const t = constantTensor(index, name);
  if (t) {
    try {
      return tensorValues(t);
    } catch {
      return undefined;
    }
  }
  const p = index.producer.get(name);
  if ((p?.opType === 'Cast' || p?.opType === 'Identity') && p.input?.[0]) return constantValues(index, p.input[0]);
  return undefined;
}

/** Whether every zero-point is the code minimum (no zero-point: uint8 0), so the quantizer clamps at 0. */
function clampsAtZero(index: GraphIndex, zeroPoint: string | undefined, type: CodeType | undefined): boolean {
  if (!type || type.kind !== 'integer') return false;
  if (!zeroPoint) return type.qmin === 0;
  const z = constantValues(index, zeroPoint);
  return z !== undefined && z.length > 0 && z.every((v) => v === type.qmin);
}

/**
 * The output-channel axis of a dequantized weight, from the ops that read it: Conv's weight [M, C/g, …] → 0,
 * ConvTranspose's [C, M/g, …] → 1, Gemm's B → 0 with transB else 1, MatMul's B [.., K, N] → −1 (the last).
 * Undefined when a reader is anything else or the readers disagree.
 */
function channelAxisOf(index: GraphIndex, output: string | undefined): number | undefined {
  if (!output) return undefined;
  const axes = new Set<number>();
  for (const n of index.consumers.get(output) ?? []) {
    const at = (n.input ?? []).indexOf(output);
    const op = n.opType;
    if (at === 1 && op === 'Conv') axes.add(0);
    else if (at === 1 && op === 'ConvTranspose') axes.add(1);
    else if (at === 1 && op === 'Gemm') axes.add(attrInt(n, 'transB', 0) ? 0 : 1);
    else if (at === 1 && op === 'MatMul') axes.add(-1);
    else return undefined;
  }
  return axes.size === 1 ? [...axes][0] : undefined;
}
