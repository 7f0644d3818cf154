/**
 * Opening an ONNX file safely: every way a file can be wrong (not ONNX, truncated,
 * external data outside the model's folder, an opset onnxruntime cannot run, tensors
 * over the size limit) becomes a UsageError that names the file and says what to do.
 * External data is inlined after its path is checked, so later rewrites (extra outputs,
 * the float twin) can hand onnxruntime one self-contained buffer.
 */
import { closeSync, existsSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { onnx, tensorDims, toNumber, type GraphProto, type ModelProto, type TensorProto } from './proto.js';
import { DEFAULT_LIMITS, elementCountOf, memoryOverLimit } from '../limits.js';

/** The ai.onnx opsets this tool reads and onnxruntime-node 1.30 runs (QuantizeLinear exists from 10; int4 needs 21). */
export const MIN_OPSET = 7;
export const MAX_OPSET = 23;

export interface LoadedModel {
  path: string;
  model: ModelProto;
  /** ai.onnx opset version the model imports. */
  opset: number;
  /** The file's bytes, when they encode `model` as it is (no external data was inlined): rewrites append to them. */
  bytes?: Uint8Array;
  /**
   * `bytes` followed by spare room in the same buffer (read so), where a rewrite may write its appended part instead
   * of copying the whole file (40 MB at 10M parameters) into a new buffer. Only `bytes` is the model.
   */
  room?: Uint8Array;
}

/** Spare room read after a model file's bytes: the audit's appended nodes and outputs fit in it for ~10k-node graphs. */
const ROOM = 4 << 20;

/** The whole file into a buffer with ROOM spare bytes after it. */
function readWithRoom(path: string, size: number): Uint8Array {
  const buf = Buffer.allocUnsafe(size + ROOM);
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) throw new Error(`the file shrank while reading (${off} of ${size} bytes)`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

export interface LoadOptions {
  /** Default DEFAULT_LIMITS.maxTensorElements: a hostile file cannot make us allocate 2^40 elements. */
  maxTensorElements?: number;
  /** The file and all its tensors together (default DEFAULT_LIMITS.maxMemoryMB). */
  maxMemoryMB?: number;
}

export function loadOnnxModel(path: string, opts: LoadOptions = {}): LoadedModel {
  let room: Uint8Array;
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    const tooBig = memoryOverLimit(st.size, `the file (${st.size} bytes)`, opts.maxMemoryMB);
    if (tooBig) throw new UsageError(`onnx: cannot read model '${path}': ${tooBig}. Raise the limit or audit a smaller model.`);
    room = readWithRoom(path, st.size);
    bytes = room.subarray(0, st.size);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`onnx: cannot read model '${path}': ${(e as Error).message}. Give the path of an .onnx file.`);
  }
  const loaded = decodeOnnxModel(bytes, path, opts);
  return loaded.bytes ? { ...loaded, room } : loaded;
}

export function decodeOnnxModel(bytes: Uint8Array, path: string, opts: LoadOptions = {}): LoadedModel {
  const notOnnx = (why: string): UsageError =>
    new UsageError(`onnx: '${path}' is not a valid ONNX model (${why}). Export it again (e.g. torch.onnx.export) or check the path.`);
  if (bytes.length === 0) throw notOnnx('the file is empty');
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw notOnnx(`protobuf decoding failed: ${(e as Error).message}; the file may be truncated`);
  }
  const graph = model.graph;
  if (!graph || toNumber(model.irVersion) <= 0) throw notOnnx('no graph or no IR version');
  if ((graph.output ?? []).length === 0) throw notOnnx('the graph has no outputs');
  const opsets = model.opsetImport ?? [];
  const main = opsets.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!main) throw notOnnx('no ai.onnx opset import');
  const opset = toNumber(main.version);
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UsageError(
      `onnx: '${path}' uses ai.onnx opset ${opset}; quant-audit reads opsets ${MIN_OPSET}–${MAX_OPSET} (what onnxruntime-node runs). ` +
        `Re-export with an opset in that range (e.g. opset_version=13, or 21 for int4).`,
    );
  }
  for (const node of graph.node ?? []) {
    if (!node.opType) throw notOnnx(`a node without an op type (${node.name || 'unnamed'})`);
  }
  // Sizes first: external data is read into memory, so its declared size must be sane before that.
  checkSizes(graph, path, opts.maxTensorElements ?? DEFAULT_LIMITS.maxTensorElements, opts.maxMemoryMB ?? DEFAULT_LIMITS.maxMemoryMB);
  const inlined = inlineExternalData(graph, path);
  return { path, model, opset, bytes: inlined ? undefined : bytes };
}

/** Every tensor held by the graph (initializers and Constant node values), subgraphs included. */
function* graphTensors(graph: GraphProto): Generator<TensorProto> {
  yield* graph.initializer ?? [];
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      if (a.g) yield* graphTensors(a.g);
      for (const g of a.graphs ?? []) yield* graphTensors(g);
    }
  }
}

/** Reads every external tensor into its raw_data; returns how many there were. */
function inlineExternalData(graph: GraphProto, path: string): number {
  const folder = dirname(resolve(path));
  let inlined = 0;
  for (const t of graphTensors(graph)) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    inlined++;
    const entry = (key: string): string | undefined => (t.externalData ?? []).find((e) => e.key === key)?.value ?? undefined;
    const location = entry('location');
    if (!location) throw new UsageError(`onnx: tensor '${t.name}' in '${path}' says its data is external but names no location.`);
    const file = resolve(folder, location);
    const rel = relative(folder, file);
    if (isAbsolute(location) || rel.startsWith('..') || isAbsolute(rel)) {
      throw new UsageError(
        `onnx: tensor '${t.name}' in '${path}' points its external data at '${location}', outside the model's folder ${folder}. ` +
          `Refusing to read it; keep external data files next to the model.`,
      );
    }
    // A symlink inside the folder may point anywhere: compare real paths too.
    if (existsSync(file)) {
      const realRel = relative(realpathSync(folder), realpathSync(file));
      if (realRel.startsWith('..') || isAbsolute(realRel)) {
        throw new UsageError(
          `onnx: tensor '${t.name}' in '${path}' points its external data at '${location}', a link that leads outside the model's folder ${folder}. ` +
            `Refusing to read it; keep external data files next to the model.`,
        );
      }
    }
    const offset = Number(entry('offset') ?? 0);
    let size: number;
    try {
      size = entry('length') !== undefined ? Number(entry('length')) : statSync(file).size - offset;
    } catch {
      throw new UsageError(`onnx: external data file '${location}' for tensor '${t.name}' (model '${path}') is missing.`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0) {
      throw new UsageError(`onnx: tensor '${t.name}' in '${path}' has a bad external data offset/length (${offset}/${size}).`);
    }
    // Check what is asked for against the file before allocating it (a length of 10^11 is not a buffer to make).
    let available: number;
    try {
      available = statSync(file).size;
    } catch {
      throw new UsageError(`onnx: external data file '${location}' for tensor '${t.name}' (model '${path}') is missing.`);
    }
    if (offset + size > available) {
      throw new UsageError(`onnx: tensor '${t.name}' in '${path}' asks for ${size} bytes of external data at offset ${offset}, but '${location}' has ${available} bytes. The model and its data file do not match.`);
    }
    const buf = new Uint8Array(size);
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const got = readSync(fd, buf, 0, size, offset);
      if (got !== size) throw new Error(`read ${got} of ${size} bytes at offset ${offset}`);
    } catch (e) {
      throw new UsageError(`onnx: cannot read external data '${location}' for tensor '${t.name}' (model '${path}'): ${(e as Error).message}.`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    t.rawData = buf;
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    t.externalData = [];
  }
  return inlined;
}

/** Bytes per element of the tensor's type, as it will sit in memory once decoded (float64 for the audit's reads: 8). */
const DECODED_BYTES = 8;

function checkSizes(graph: GraphProto, path: string, limit: number, maxMemoryMB: number): void {
  let bytes = 0;
  for (const t of graphTensors(graph)) {
    const dims = tensorDims(t);
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new UsageError(`onnx: tensor '${t.name}' in '${path}' has impossible dims [${dims.join(', ')}] (negative or not an integer). The file is corrupt; export it again.`);
    }
    const n = elementCountOf(dims);
    if (n > limit) {
      throw new UsageError(
        `onnx: tensor '${t.name}' in '${path}' has ${n} elements (dims [${dims.join(', ')}]), over the limit of ${limit} (limits.maxTensorElements in quant-audit.yaml). Raise the limit or audit a smaller model.`,
      );
    }
    bytes += n * DECODED_BYTES;
  }
  const over = memoryOverLimit(bytes, `decoding the tensors of '${path}'`, maxMemoryMB);
  if (over) throw new UsageError(`onnx: ${over}. Raise the limit or audit a smaller model.`);
}
