/**
 * Activations in QOperator form: every QLinear* op writes integer codes with its own output scale and zero-point
 * (y_scale, y_zero_point), and every QLinear* op reading them declares the scale and zero-point it reads them with.
 * Static checks from the file's constants: the scale and zero-point lint of the QDQ path (zero, negative, NaN/Inf,
 * denormal scales; zero-point outside the code range) and the reader's parameters against the writer's (a mismatch
 * rescales or shifts every value in between). The error they accumulate is measured against the float original with
 * `--float-model` (float-model.ts compares `X_quantized` with the float `X`).
 */
import type { Thresholds } from '../../thresholds.js';
import { constantTensor, type GraphIndex } from '../graph.js';
import { lintSite, type LintFinding } from '../lint.js';
import { CODE_TYPES, tensorValues, type NodeProto } from '../proto.js';
import type { ReaderLintFindings } from '../../../probes/site.js';

/** QLinear* ops: index of (y_scale, y_zero_point) among the inputs, and of each quantized input's (x, scale, zero-point). */
export const QLINEAR_IO: Record<string, { out: [number, number]; ins: [number, number, number][] }> = {
  QLinearConv: { out: [6, 7], ins: [[0, 1, 2]] },
  QLinearMatMul: { out: [6, 7], ins: [[0, 1, 2], [3, 4, 5]] },
  QGemm: { out: [7, 8], ins: [[0, 1, 2], [3, 4, 5]] },
  QLinearAdd: { out: [6, 7], ins: [[0, 1, 2], [3, 4, 5]] },
  QLinearMul: { out: [6, 7], ins: [[0, 1, 2], [3, 4, 5]] },
  QLinearSigmoid: { out: [3, 4], ins: [[0, 1, 2]] },
  QLinearLeakyRelu: { out: [3, 4], ins: [[0, 1, 2]] },
  QLinearAveragePool: { out: [3, 4], ins: [[0, 1, 2]] },
  QLinearGlobalAveragePool: { out: [3, 4], ins: [[0, 1, 2]] },
  QLinearSoftmax: { out: [3, 4], ins: [[0, 1, 2]] },
  QLinearReduceMean: { out: [3, 4], ins: [[0, 1, 2]] },
};

export interface ActivationSite {
  /** The codes tensor (e.g. `h_quantized`). */
  name: string;
  producer: NodeProto;
  producerName: string;
  order: number;
  scale: string;
  zeroPoint: string | undefined;
  /** QLinear* readers and the (scale, zero-point) inputs they read the codes with. */
  readers: { node: string; scale: string; zeroPoint: string | undefined }[];
}

export function discoverActivationSites(index: GraphIndex): ActivationSite[] {
  const out: ActivationSite[] = [];
  index.nodes.forEach((n, order) => {
    const io = QLINEAR_IO[n.opType ?? ''];
    const codes = n.output?.[0];
    const scale = io ? n.input?.[io.out[0]] : undefined;
    if (!io || !codes || !scale) return; // QGemm without y_scale writes floats
    const readers: ActivationSite['readers'] = [];
    for (const r of index.consumers.get(codes) ?? []) {
      const rio = QLINEAR_IO[r.opType ?? ''];
      for (const [x, s, z] of rio?.ins ?? []) {
        if (r.input?.[x] === codes) readers.push({ node: index.nodeName.get(r)!, scale: r.input?.[s] ?? '', zeroPoint: r.input?.[z] || undefined });
      }
      if (r.opType === 'DequantizeLinear') readers.push({ node: index.nodeName.get(r)!, scale: r.input?.[1] ?? '', zeroPoint: r.input?.[2] || undefined });
    }
    out.push({ name: codes, producer: n, producerName: index.nodeName.get(n)!, order, scale, zeroPoint: n.input?.[io.out[1]] || undefined, readers });
  });
  return out;
}

function values(index: GraphIndex, name: string | undefined): Float64Array | undefined {
  const t = name ? constantTensor(index, name) : undefined;
  return t ? tensorValues(t) : undefined;
}

/** Lint of one QOperator activation from the constants: its own parameters, and each reader's against them. */
export function lintActivation(index: GraphIndex, a: ActivationSite, thresholds: Thresholds): ReaderLintFindings {
  const scale = values(index, a.scale);
  const zp = values(index, a.zeroPoint);
  const zpType = a.zeroPoint ? constantTensor(index, a.zeroPoint)?.dataType ?? undefined : undefined;
  const codeType = CODE_TYPES[zpType ?? 2]; // no zero-point: uint8, the ONNX default
  const lint: LintFinding[] = [];
  if (scale) {
    lint.push(...lintSite({ scale, zeroPoint: zp, zeroPointSource: undefined, codeType, inputKind: 'activation', groups: [] }, thresholds));
    for (const r of a.readers) {
      const rs = values(index, r.scale);
      const rz = values(index, r.zeroPoint) ?? new Float64Array([0]);
      lint.push(
        ...lintSite({ scale, zeroPoint: zp ?? new Float64Array([0]), zeroPointSource: undefined, codeType, inputKind: 'activation', groups: [], dequantizeScale: rs, dequantizeZeroPoint: rz }, thresholds)
          .filter((l) => l.rule === 'scale-mismatch')
          .map((l) => ({ ...l, message: `${r.node} reads ${a.name}: ${l.message.replace('DequantizeLinear uses', 'it uses').replace('QuantizeLinear used', `${a.producerName} wrote it with`)}` })),
      );
    }
  }
  return { artifact: 'reader-lint', site: a, format: codeType?.format ?? codeType?.name ?? 'unknown', codeType, scale: scale?.[0] ?? null, zeroPoint: zp?.[0] ?? null, lint };
}
