/**
 * The formats module: the registry (a table of rows, registry.ts), the codec core (element codec
 * of a row and the codec options, codec.ts) and the tensor codecs (encode, decode, fakeQuant,
 * steMask, …, tensor.ts). This file only re-exports; no module here imports it.
 */
export * from './types.js';
export { BUILTIN_FORMATS, FormatRegistry, defaultRegistry } from './registry.js';
export { elementCodec, type CodecOptions } from './codec.js';
export * from './tensor.js';
