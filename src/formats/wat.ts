/**
 * WebAssembly text (WAT) → module, by WABT's own assembler (the `wabt` package: the WebAssembly
 * Binary Toolkit compiled to WebAssembly). The SIMD kernels (kernels.ts, src/onnx/stats-kernel.ts)
 * are WAT templates filled in from a row's fields; this file turns them into modules that share
 * one memory. A kernel that does not assemble or validate is a bug here and throws, naming the
 * kernel and WABT's message; only a host without WebAssembly SIMD gets `simdAvailable() === false`
 * (then the callers run their scalar JavaScript paths).
 */
import wabtInit from 'wabt';

/** The slice of the WebAssembly JS API used here (lib ES2022 and @types/node do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
export const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

// WABT itself is a WebAssembly module: loaded once per process (~50 ms), where WebAssembly exists.
const wabt = wasm ? await wabtInit() : undefined;

/** Assemble a module's text to its binary; throws (naming `name` and the WAT line) when it is not valid. */
export function assembleWat(name: string, text: string): Uint8Array {
  if (!wabt) throw new Error(`cannot assemble kernel '${name}': this JavaScript engine has no WebAssembly`);
  let module: ReturnType<typeof wabt.parseWat> | undefined;
  try {
    module = wabt.parseWat(`${name}.wat`, text, { simd: true });
    module.validate();
    return module.toBinary({ log: false, write_debug_names: false }).buffer;
  } catch (e) {
    throw new Error(`kernel '${name}' does not assemble: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    module?.destroy();
  }
}

let simd: boolean | undefined;

/** Whether this host runs WebAssembly SIMD (a module using v128 validates). */
export function simdAvailable(): boolean {
  if (simd === undefined) {
    simd = wasm !== undefined && wasm.validate(assembleWat('simd-probe', '(module (func (result v128) v128.const i32x4 0 0 0 0))'));
  }
  return simd;
}

/** A fresh memory of `pages` 64 KiB pages (fixed size unless `maximum` is larger). */
export function newMemory(pages: number, maximum = pages): WasmMemory {
  if (!wasm) throw new Error('no WebAssembly');
  return new wasm.Memory({ initial: pages, maximum });
}

/**
 * Instantiate a module whose text imports the memory as `(import "env" "mem" (memory N))`; returns its exports.
 * Modules are cached by text, so a row's kernel is assembled and compiled once per process.
 */
const compiled = new Map<string, object>();
export function instantiateWat(name: string, text: string, memory: WasmMemory): Record<string, unknown> {
  if (!wasm) throw new Error('no WebAssembly');
  let module = compiled.get(text);
  if (!module) {
    module = new wasm.Module(assembleWat(name, text));
    compiled.set(text, module);
  }
  return new wasm.Instance(module, { env: { mem: memory } }).exports;
}

// ---------------------------------------------------------------- literals

const f32 = new Float32Array(1);
const f32Word = new Uint32Array(f32.buffer);

/** A float as a WAT literal (decimal round-trips: `String(v)` of a float32 value parses back to it). */
export function floatText(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

/** The float32 bit pattern of v (v must be exactly a float32). */
export function wordOf(v: number): number {
  f32[0] = v;
  if (!Object.is(f32[0], v) && !(Number.isNaN(v) && Number.isNaN(f32[0]))) throw new Error(`${v} is not a float32`);
  return f32Word[0]!;
}

const hex = (w: number): string => `0x${(w >>> 0).toString(16)}`;

/** `v128.const` from four 32-bit words. */
export function i32x4(a: number, b: number, c: number, d: number): string {
  return `v128.const i32x4 ${hex(a)} ${hex(b)} ${hex(c)} ${hex(d)}`;
}

/** `v128.const` with four copies of a 32-bit word. */
export function splatWord(w: number): string {
  return i32x4(w, w, w, w);
}

/** `v128.const` with four copies of the float32 v (v must be exactly a float32). */
export function splatF32(v: number): string {
  wordOf(v);
  const t = floatText(v);
  return `v128.const f32x4 ${t} ${t} ${t} ${t}`;
}
