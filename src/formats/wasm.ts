/**
 * A minimal WebAssembly assembler: just the opcodes the SIMD fake-quant kernels use
 * (kernels.ts), named after the WebAssembly 2.0 spec so a kernel reads like its text format.
 * Kernels are generated per format row (constants from the row's fields) and compiled once.
 */

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const memarg = (offset = 0): number[] => [0, ...uleb(offset)];
const f32Bits = new Float32Array(1);
const f32Word = new Uint32Array(f32Bits.buffer);

/** Instructions as byte arrays; `w` accumulates a function body. */
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32Or: [0x72],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  i32Xor: [0x73],
  i32DivU: [0x6e],
  i32RemU: [0x70],
  i32Load8S: (offset = 0) => [0x2c, ...memarg(offset)],
  i32Load8U: (offset = 0) => [0x2d, ...memarg(offset)],
  f64Load: (offset = 0) => [0x2b, ...memarg(offset)],
  f64Store: (offset = 0) => [0x39, ...memarg(offset)],
  f64Const: (v: number) => [0x44, ...new Uint8Array(new Float64Array([v]).buffer)],
  f64Eq: [0x61],
  f64Ne: [0x62],
  f64Lt: [0x63],
  f64Gt: [0x64],
  f64Abs: [0x99],
  f64Nearest: [0x9e],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f64Min: [0xa4],
  f64Max: [0xa5],
  i32TruncF64S: [0xaa],
  f64ConvertI32U: [0xb8],
  f32DemoteF64: [0xb6],
  f64PromoteF32: [0xbb],
  i32And: [0x71],
  i32Clz: [0x67],
  i32LtS: [0x48],
  i32GtS: [0x4a],
  i32Load: (offset = 0) => [0x28, ...memarg(offset)],
  f32Load: (offset = 0) => [0x2a, ...memarg(offset)],
  f32Const: (v: number) => {
    f32Bits[0] = v;
    return [0x43, ...new Uint8Array(f32Bits.buffer)];
  },
  f32Eq: [0x5b],
  f32Div: [0x95],
  f32Mul: [0x94],
  i32ReinterpretF32: [0xbc],
  f32ReinterpretI32: [0xbe],
  if: [0x04, 0x40],
  else: [0x05],
  i32Store: (offset = 0) => [0x36, ...memarg(offset)],
  f32Store: (offset = 0) => [0x38, ...memarg(offset)],
  select: [0x1b],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],

  v128Load: (offset = 0) => [...simd(0x00), ...memarg(offset)],
  v128Load32Splat: (offset = 0) => [...simd(0x09), ...memarg(offset)],
  v128Store: (offset = 0) => [...simd(0x0b), ...memarg(offset)],
  /** v128.const from four 32-bit words. */
  v128ConstI32x4: (a: number, b: number, c: number, d: number) => {
    const bytes = new Uint8Array(new Uint32Array([a >>> 0, b >>> 0, c >>> 0, d >>> 0]).buffer);
    return [...simd(0x0c), ...bytes];
  },
  i8x16Shuffle: (lanes: number[]) => [...simd(0x0d), ...lanes],
  i8x16Swizzle: simd(0x0e),
  i32x4Splat: simd(0x11),
  f32x4Splat: simd(0x13),
  f32x4ExtractLane: (lane: number) => [...simd(0x1f), lane],
  i32x4ExtractLane: (lane: number) => [...simd(0x1b), lane],
  i32x4Eq: simd(0x37),
  i32x4Ne: simd(0x38),
  i32x4Shl: simd(0xab),
  i32x4LtS: simd(0x39),
  i32x4LtU: simd(0x3a),
  i32x4GtS: simd(0x3b),
  f32x4Eq: simd(0x41),
  f32x4Ne: simd(0x42),
  f32x4Lt: simd(0x43),
  f32x4Gt: simd(0x44),
  f32x4Ge: simd(0x46),
  v128And: simd(0x4e),
  v128AndNot: simd(0x4f),
  v128Or: simd(0x50),
  v128Bitselect: simd(0x52),
  v128AnyTrue: simd(0x53),
  f32x4Nearest: simd(0x6a),
  i32x4ShrU: simd(0xad),
  i32x4Add: simd(0xae),
  i32x4Sub: simd(0xb1),
  i32x4Mul: simd(0xb5),
  i32x4MinS: simd(0xb6),
  f32x4Abs: simd(0xe0),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  v128Load64Zero: (offset = 0) => [...simd(0x5d), ...memarg(offset)],
  f64x2Splat: simd(0x14),
  f64x2ExtractLane: (lane: number) => [...simd(0x21), lane],
  i64x2ExtractLane: (lane: number) => [...simd(0x1d), lane],
  f64x2Eq: simd(71),
  f64x2Ne: simd(72),
  f64x2Lt: simd(73),
  f64x2Abs: simd(236),
  f64x2Add: simd(240),
  f64x2Sub: simd(241),
  f64x2Mul: simd(242),
  f64x2Div: simd(243),
  f64x2Pmin: simd(246),
  f64x2Pmax: simd(247),
  f64x2Nearest: simd(148),
  f64x2PromoteLowF32x4: simd(95),
  f32x4DemoteF64x2Zero: simd(94),
  i32x4TruncSatF64x2SZero: simd(252),
  i64x2Sub: simd(209),
  i64Add: [0x7c],
  f64ConvertI64S: [0xb9],
  f32x4Pmin: simd(0xea),
  f32x4Pmax: simd(0xeb),
  i32x4MaxS: simd(0xb8),
  i8x16Add: simd(0x6e),
  i8x16Sub: simd(0x71),
};

/** v128.const with four copies of a 32-bit word. */
export function splatWord(w: number): number[] {
  return op.v128ConstI32x4(w, w, w, w);
}

/** v128.const with four copies of the float32 nearest to v (v must be exactly a float32). */
export function splatF32(v: number): number[] {
  f32Bits[0] = v;
  if (!Object.is(f32Bits[0], v) && !(Number.isNaN(v) && Number.isNaN(f32Bits[0]))) throw new Error(`${v} is not a float32`);
  return splatWord(f32Word[0]!);
}

/** The float32 bit pattern of v (v must be exactly a float32). */
export function wordOf(v: number): number {
  f32Bits[0] = v;
  if (!Object.is(f32Bits[0], v)) throw new Error(`${v} is not a float32`);
  return f32Word[0]!;
}

export const I32 = 0x7f;
export const V128 = 0x7b;
export const F32 = 0x7d;
export const F64 = 0x7c;

export interface WasmFunction {
  name: string;
  params: number[];
  results: number[];
  /** extra locals by type, in order after the params */
  locals: number[];
  body: number[][];
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

/** A module that imports `env.mem` (a memory of at least `pages` pages) and exports the functions. */
export function assemble(functions: WasmFunction[], pages: number): Uint8Array {
  const types = functions.map((f) => [0x60, ...uleb(f.params.length), ...f.params, ...uleb(f.results.length), ...f.results]);
  const imports = [[...name('env'), ...name('mem'), 0x02, 0x00, ...uleb(pages)]];
  const funcs = functions.map((_, i) => uleb(i));
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bodies = functions.map((f) => {
    // locals compressed as runs of one type
    const runs: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      runs.push([...uleb(j - i), f.locals[i]!]);
      i = j;
    }
    const code = [...vec(runs), ...f.body.flat(), 0x0b];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
