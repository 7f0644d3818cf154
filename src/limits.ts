/**
 * Resource limits: how big a tensor, and how much memory in all, a target may make
 * quant-audit allocate. A hostile or broken input (an ONNX initializer declared as
 * [2^40], a model input with absurd fixed dims, an exec server that answers with a
 * gigabyte) is refused with the numbers before anything is allocated, instead of dying
 * with "Invalid typed array length" or running out of memory.
 *
 * Config keys (quant-audit.yaml): `limits.maxTensorElements`, `limits.maxMemoryMB`.
 * Defaults are generous for quantizer audits (one tensor of 2^26 = 67M elements is 256 MB
 * as float32) and keep an exec reply of that size (358 MB of base64) below V8's longest
 * string (512 MB).
 */
export interface Limits {
  /** Largest tensor (elements) a target may ask for: a model initializer, a declared input, a reply. */
  maxTensorElements: number;
  /** Total memory (MB) a target may ask for at once: the sum of an ONNX model's tensors and its seeded inputs. */
  maxMemoryMB: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxTensorElements: 2 ** 26,
  maxMemoryMB: 4096,
});

/** The limits in effect: the config's values (positive integers, checked by the config schema) over the defaults. */
export function resolveLimits(config: Partial<Limits> | undefined): Limits {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(config ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Bytes → MB with one decimal, for messages. */
export function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/**
 * Product of dims as a number, or Infinity when it is not a sane element count (negative,
 * non-integer, or beyond 2^53). Callers compare it with the limit before allocating.
 */
export function elementCountOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) return Number.POSITIVE_INFINITY;
    n *= d;
    if (!Number.isSafeInteger(n)) return Number.POSITIVE_INFINITY;
  }
  return n;
}

/** Why `elements` is too many for one tensor, or undefined when it fits. */
export function tensorOverLimit(elements: number, what: string, maxTensorElements: number | undefined): string | undefined {
  const limit = maxTensorElements ?? DEFAULT_LIMITS.maxTensorElements;
  if (elements <= limit) return undefined;
  const shown = Number.isFinite(elements) ? String(elements) : 'an impossible number of';
  return `${what} has ${shown} elements, over the limit of ${limit} (limits.maxTensorElements in quant-audit.yaml)`;
}

/** Why `bytes` is more memory than allowed, or undefined when it fits. */
export function memoryOverLimit(bytes: number, what: string, maxMemoryMB: number | undefined): string | undefined {
  const limit = maxMemoryMB ?? DEFAULT_LIMITS.maxMemoryMB;
  if (bytes <= limit * 2 ** 20) return undefined;
  const shown = Number.isFinite(bytes) ? megabytes(bytes) : 'an impossible amount of memory';
  return `${what} needs ${shown}, over the limit of ${limit} MB (limits.maxMemoryMB in quant-audit.yaml)`;
}
