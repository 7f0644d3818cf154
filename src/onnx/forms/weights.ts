/**
 * Weight sites in every stored-code form onnxruntime's tools and exporters write: a quantized weight is an integer
 * initializer read by an integer kernel, with its scale and zero-point beside it.
 * - QOperator (quantize_static, QOperator format): QLinearConv, QLinearMatMul, com.microsoft QGemm and the element-wise
 *   QLinear* ops with a constant input; scale/zero-point are the op's own inputs.
 * - Dynamic (quantize_dynamic): MatMulInteger / ConvInteger read int8/uint8 weights and their zero-point; the weight's
 *   scale is the constant multiplied in after (Cast → Mul by Mul(activation scale, weight scale)); also com.microsoft
 *   DynamicQuantizeMatMul and MatMulIntegerToFloat.
 * - Weight-only: com.microsoft MatMulNBits and GatherBlockQuantized (packed 2/4/8-bit blocks), and DequantizeLinear on an
 *   initializer (QDQ format's stored weights).
 * A site is described by where its numbers are (tensor names, layout); `readWeight` decodes them. Discovery only.
 */
import { CODE_TYPES, DT, attrInt, tensorDims, type CodeType, type NodeProto, type TensorProto } from '../proto.js';
import { constantTensor, type GraphIndex } from '../graph.js';
import {
  gatherBlockQuantizedCodes, gatherBlockQuantizedZeroPoints, initializerCodes, initializerFloats, matMulNBitsZeroPoints,
  unpackMatMulNBits, type Codes,
} from './packed.js';

export type WeightForm = 'qoperator' | 'dynamic' | 'matmulnbits' | 'gather-block-quantized' | 'dq-weight';

export interface WeightSite {
  /** The consuming node's name (for a DequantizeLinear weight: the DequantizeLinear's), `:input` added when a node has two. */
  name: string;
  form: WeightForm;
  node: NodeProto;
  opType: string;
  /** Position of the node in the graph's topological order. */
  order: number;
  /** Initializer holding the codes (packed for MatMulNBits / GatherBlockQuantized). */
  codes: string;
  /** Scale and zero-point tensors (constants); undefined scale = not found (a dynamic weight whose Mul is not there). */
  scale: string | undefined;
  zeroPoint: string | undefined;
  /** The codes' element type: int8, uint8, int4, uint4, … (MatMulNBits: an unsigned type of `bits` bits). */
  codeType: CodeType;
  /** Logical dims of the codes, in storage order (MatMulNBits: [N, K]). */
  dims: number[];
  /** Scale groups: one per tensor, per index of `axis`, or per block of `blockSize` along `axis`. */
  axis: number;
  blockSize: number;
  /** The weight in the float model this replaced: the op type(s), which input, and whether storage is its transpose. */
  float: { opTypes: readonly string[]; input: number; transposed: boolean };
  /** Extra facts for the report (bits, K, N, block size, accuracy level, …). */
  attrs: Record<string, number | string>;
}

/** 2- and 8-bit unsigned code types for MatMulNBits / GatherBlockQuantized (uint4 and uint8 come from CODE_TYPES). */
function unsignedBits(bits: number): CodeType {
  if (bits === 8) return CODE_TYPES[DT.UINT8]!;
  if (bits === 4) return CODE_TYPES[DT.UINT4]!;
  return { dataType: 0, name: `uint${bits}`, bits, signed: false, qmin: 0, qmax: 2 ** bits - 1, kind: 'integer', format: undefined };
}

interface Role {
  codes: number;
  scale: number | 'downstream';
  zeroPoint: number;
  /** Axis of per-channel scales in the stored tensor (negative: from the end). */
  axis: (n: NodeProto, dims: number[]) => number;
  float: { opTypes: readonly string[]; input: number; transposed?: (n: NodeProto) => boolean };
}

const last = (_: NodeProto, dims: number[]): number => dims.length - 1;
const first = (): number => 0;

/** Which inputs of each integer op can be a stored weight (codes, scale, zero-point). */
const ROLES: Record<string, { form: WeightForm; roles: Role[] }> = {
  QLinearConv: { form: 'qoperator', roles: [{ codes: 3, scale: 4, zeroPoint: 5, axis: first, float: { opTypes: ['Conv'], input: 1 } }] },
  QLinearMatMul: {
    form: 'qoperator',
    roles: [
      { codes: 3, scale: 4, zeroPoint: 5, axis: last, float: { opTypes: ['MatMul', 'Gemm'], input: 1 } },
      { codes: 0, scale: 1, zeroPoint: 2, axis: first, float: { opTypes: ['MatMul', 'Gemm'], input: 0 } },
    ],
  },
  QGemm: {
    form: 'qoperator',
    roles: [
      { codes: 3, scale: 4, zeroPoint: 5, axis: (n) => (attrInt(n, 'transB', 0) ? 0 : 1), float: { opTypes: ['Gemm', 'MatMul'], input: 1 } },
      { codes: 0, scale: 1, zeroPoint: 2, axis: first, float: { opTypes: ['Gemm', 'MatMul'], input: 0 } },
    ],
  },
  QLinearAdd: { form: 'qoperator', roles: [{ codes: 3, scale: 4, zeroPoint: 5, axis: last, float: { opTypes: ['Add'], input: 1 } }, { codes: 0, scale: 1, zeroPoint: 2, axis: last, float: { opTypes: ['Add'], input: 0 } }] },
  QLinearMul: { form: 'qoperator', roles: [{ codes: 3, scale: 4, zeroPoint: 5, axis: last, float: { opTypes: ['Mul'], input: 1 } }, { codes: 0, scale: 1, zeroPoint: 2, axis: last, float: { opTypes: ['Mul'], input: 0 } }] },
  MatMulInteger: {
    form: 'dynamic',
    roles: [
      { codes: 1, scale: 'downstream', zeroPoint: 3, axis: last, float: { opTypes: ['MatMul', 'Gemm'], input: 1 } },
      { codes: 0, scale: 'downstream', zeroPoint: 2, axis: first, float: { opTypes: ['MatMul', 'Gemm'], input: 0 } },
    ],
  },
  ConvInteger: { form: 'dynamic', roles: [{ codes: 1, scale: 'downstream', zeroPoint: 3, axis: first, float: { opTypes: ['Conv'], input: 1 } }] },
  DynamicQuantizeMatMul: { form: 'dynamic', roles: [{ codes: 1, scale: 2, zeroPoint: 3, axis: last, float: { opTypes: ['MatMul', 'Gemm'], input: 1 } }] },
  MatMulIntegerToFloat: { form: 'dynamic', roles: [{ codes: 1, scale: 3, zeroPoint: 5, axis: last, float: { opTypes: ['MatMul', 'Gemm'], input: 1 } }] },
};

/** The float op types an op of the quantized model stands for (QLinearMatMul, MatMulNBits → MatMul/Gemm; QLinearConv → Conv; GatherBlockQuantized → Gather); any other op stands for itself. */
export function floatOpsOf(opType: string): readonly string[] {
  if (opType === 'MatMulNBits') return ['MatMul', 'Gemm'];
  if (opType === 'GatherBlockQuantized') return ['Gather'];
  return ROLES[opType]?.roles[0]?.float.opTypes ?? [opType];
}

/** The constant factor multiplied into an integer kernel's output after its Cast to float: the weight's scale (quantize_dynamic). */
function downstreamScale(index: GraphIndex, n: NodeProto): string | undefined {
  const isConst = (t: string): boolean => index.constant.has(t);
  let t = n.output?.[0] ?? '';
  const cast = (index.consumers.get(t) ?? []).find((c) => c.opType === 'Cast');
  if (!cast) return undefined;
  t = cast.output?.[0] ?? '';
  for (let hop = 0; hop < 3; hop++) {
    const mul = (index.consumers.get(t) ?? []).find((c) => c.opType === 'Mul');
    if (!mul) return undefined;
    const other = (mul.input ?? []).find((i) => i && i !== t) ?? '';
    if (isConst(other)) return other;
    const p = index.producer.get(other);
    if (p?.opType === 'Mul') {
      const c = (p.input ?? []).find((i) => i && isConst(i));
      if (c) return c;
    }
    t = mul.output?.[0] ?? '';
  }
  return undefined;
}

function codeTypeOf(t: TensorProto): CodeType | undefined {
  return CODE_TYPES[t.dataType ?? 0];
}

export function discoverWeightSites(index: GraphIndex): WeightSite[] {
  const sites: WeightSite[] = [];
  index.nodes.forEach((n, order) => {
    const op = n.opType ?? '';
    const nodeName = index.nodeName.get(n)!;
    const input = (i: number): string | undefined => n.input?.[i] || undefined;
    if (op === 'MatMulNBits') {
      const b = input(1);
      const t = b ? constantTensor(index, b) : undefined;
      if (!t) return;
      const bits = attrInt(n, 'bits', 4);
      const k = attrInt(n, 'K', 0);
      const nn = attrInt(n, 'N', 0);
      const blockSize = attrInt(n, 'block_size', 0);
      sites.push({
        name: nodeName, form: 'matmulnbits', node: n, opType: op, order, codes: b!, scale: input(2), zeroPoint: input(3),
        codeType: unsignedBits(bits), dims: [nn, k], axis: 1, blockSize,
        float: { opTypes: ['MatMul', 'Gemm'], input: 1, transposed: true },
        attrs: { bits, K: k, N: nn, block_size: blockSize, accuracy_level: attrInt(n, 'accuracy_level', 0) },
      });
      return;
    }
    if (op === 'GatherBlockQuantized') {
      const d = input(0);
      const t = d ? constantTensor(index, d) : undefined;
      if (!t) return;
      const bits = attrInt(n, 'bits', 4);
      const dims = t.dataType === DT.UINT8 && bits < 8 ? [...tensorDims(t).slice(0, -1), (tensorDims(t).at(-1) ?? 1) * (8 / bits)] : tensorDims(t);
      const qaxis = attrInt(n, 'quantize_axis', 1);
      const codeType = t.dataType === DT.UINT8 ? unsignedBits(bits) : codeTypeOf(t);
      if (!codeType) return;
      sites.push({
        name: nodeName, form: 'gather-block-quantized', node: n, opType: op, order, codes: d!, scale: input(2), zeroPoint: input(3),
        codeType, dims, axis: qaxis < 0 ? qaxis + dims.length : qaxis, blockSize: attrInt(n, 'block_size', 128),
        float: { opTypes: ['Gather'], input: 0, transposed: false },
        attrs: { bits, block_size: attrInt(n, 'block_size', 128), gather_axis: attrInt(n, 'gather_axis', 0), quantize_axis: qaxis },
      });
      return;
    }
    if (op === 'DequantizeLinear') {
      const c = input(0);
      const t = c ? index.initializers.get(c) : undefined;
      const type = t ? codeTypeOf(t) : undefined;
      if (!t || !type || type.kind !== 'integer' || t.dataType === DT.INT32) return;
      const dims = tensorDims(t);
      const axis = attrInt(n, 'axis', 1);
      sites.push({
        name: nodeName, form: 'dq-weight', node: n, opType: op, order, codes: c!, scale: input(1), zeroPoint: input(2),
        codeType: type, dims, axis: axis < 0 ? axis + dims.length : axis, blockSize: attrInt(n, 'block_size', 0),
        float: { opTypes: [], input: -1, transposed: false },
        attrs: {},
      });
      return;
    }
    const spec = ROLES[op];
    if (!spec) return;
    const found = spec.roles.filter((r) => {
      const c = input(r.codes);
      const t = c ? constantTensor(index, c) : undefined;
      return t !== undefined && codeTypeOf(t)?.kind === 'integer';
    });
    for (const r of found) {
      const c = input(r.codes)!;
      const t = constantTensor(index, c)!;
      const dims = tensorDims(t);
      sites.push({
        name: found.length > 1 ? `${nodeName}:${c}` : nodeName,
        form: spec.form, node: n, opType: op, order, codes: c,
        scale: r.scale === 'downstream' ? downstreamScale(index, n) : input(r.scale),
        zeroPoint: input(r.zeroPoint),
        codeType: codeTypeOf(t)!, dims, axis: r.axis(n, dims), blockSize: 0,
        float: { opTypes: r.float.opTypes, input: r.float.input, transposed: r.float.transposed?.(n) ?? (op === 'QGemm' && r.codes === 3 && attrInt(n, 'transB', 0) === 1) },
        attrs: {},
      });
    }
  });
  return sites;
}

export interface StoredWeight {
  /** The codes in the site's dims (MatMulNBits: unpacked on first read). */
  readonly codes: Codes;
  /** MatMulNBits' packed B bytes, for statistics read in place. */
  packed: Uint8Array | undefined;
  dims: number[];
  /** One per scale group, row-major in the scale tensor's layout (input dims with dims[axis] in blocks). */
  scale: Float64Array;
  zeroPoint: Float64Array;
  /** Why a number is missing (scale not found), for the report. */
  notes: string[];
}

/** Decodes a weight site's codes, scales and zero-points from the model's constants. */
export function readWeight(index: GraphIndex, s: WeightSite): StoredWeight {
  const notes: string[] = [];
  const tensor = (name: string | undefined): TensorProto | undefined => (name ? constantTensor(index, name) : undefined);
  const codesT = tensor(s.codes)!;
  const scaleT = tensor(s.scale);
  const zpT = tensor(s.zeroPoint);
  let unpack: () => Codes;
  let packed: Uint8Array | undefined;
  let zeroPoint: Float64Array | undefined;
  let defaultZp = 0;
  if (s.form === 'matmulnbits') {
    const l = { n: s.dims[0]!, k: s.dims[1]!, bits: s.codeType.bits, blockSize: s.blockSize };
    const raw = codesT.rawData && codesT.rawData.length > 0 ? codesT.rawData : Uint8Array.from(initializerCodes(codesT));
    packed = raw;
    unpack = () => unpackMatMulNBits(raw, l);
    zeroPoint = matMulNBitsZeroPoints(zpT, l);
  } else if (s.form === 'gather-block-quantized') {
    const g = gatherBlockQuantizedCodes(codesT, s.codeType.bits);
    unpack = () => g.codes;
    defaultZp = g.defaultZeroPoint;
  } else {
    const c = initializerCodes(codesT);
    unpack = () => c;
  }
  let scale: Float64Array;
  if (scaleT) {
    scale = initializerFloats(scaleT);
  } else {
    scale = new Float64Array([Number.NaN]);
    notes.push(s.scale ? `scale '${s.scale}' is computed at run time` : `no constant weight scale found after ${s.opType} ${s.name} (expected Cast → Mul by the weight scale, as quantize_dynamic writes it)`);
  }
  if (!zeroPoint) {
    if (zpT) zeroPoint = s.form === 'gather-block-quantized' ? gatherBlockQuantizedZeroPoints(zpT, scale.length, s.codeType.bits) : Float64Array.from(initializerCodes(zpT));
    else zeroPoint = new Float64Array(Math.max(1, scale.length)).fill(defaultZp);
  }
  let codes: Codes | undefined;
  return {
    get codes(): Codes {
      codes ??= unpack();
      return codes;
    },
    packed, dims: s.dims, scale, zeroPoint, notes,
  };
}
