/**
 * The codec core: the options every tensor codec takes and the element codec of a registry row
 * (integer, minifloat/GoldenFloat, posit, codebook; an mx row uses its element's). The tensor
 * codecs (tensor.ts), the scale rules (groups.ts) and the SIMD path (fast.ts) build on it; the
 * index only re-exports.
 */
import type { FormatSpec } from './types.js';
import type { ElementCodec } from './element.js';
import { integerCodec } from './integer.js';
import { minifloatCodec } from './minifloat.js';
import { positCodec } from './posit.js';
import { codebookCodec } from './codebook.js';

export interface CodecOptions {
  /** Tensor shape; per-channel scaling uses axis 0. Default [x.length]. */
  shape?: readonly number[];
  /** Replace the computed scale (every group). */
  scale?: number;
  /** Replace the zero-point (integer rows: the computed one of min/max rows, 0 of absmax rows, the row's `zeroPoint`). */
  zeroPoint?: number;
}

const codecs = new WeakMap<FormatSpec, ElementCodec>();

/** The element codec of a row (for mx rows: of its element format). */
export function elementCodec(spec: FormatSpec): ElementCodec {
  let c = codecs.get(spec);
  if (c) return c;
  switch (spec.family) {
    case 'integer':
      c = integerCodec(spec);
      break;
    case 'minifloat':
    case 'goldenfloat':
      c = minifloatCodec(spec);
      break;
    case 'posit':
      c = positCodec(spec);
      break;
    case 'codebook':
      c = codebookCodec(spec);
      break;
    case 'mx': {
      const el = spec.elementSpec;
      if (!el) throw new Error(`mx format '${spec.name}' has no resolved element format`);
      // MXINT8 saturates symmetrically (OCP reference); float elements use their own codec.
      c = el.family === 'integer' ? integerCodec(el, true) : elementCodec(el);
      break;
    }
    case 'identity':
      c = identityCodec;
      break;
  }
  codecs.set(spec, c);
  return c;
}

const identityBits = new Float32Array(1);
const identityCode = new Uint32Array(identityBits.buffer);
const identityCodec: ElementCodec = {
  bits: 32,
  maxFinite: 3.4028234663852886e38,
  minFinite: -3.4028234663852886e38,
  minPositive: 2 ** -149,
  codeCount: 2 * (255 * 2 ** 23 - 1) + 1,
  encode(t) {
    identityBits[0] = t;
    return identityCode[0]!;
  },
  decode(c) {
    identityCode[0] = c;
    return identityBits[0]!;
  },
  values: () => undefined,
  fakeQuantRange(x, out, lo, hi) {
    if (out !== x) out.set(x.subarray(lo, hi), lo);
  },
};
