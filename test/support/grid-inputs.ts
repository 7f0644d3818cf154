/**
 * Inputs that probe every rounding boundary of a grid of values: each value, each midpoint between neighbours, and
 * the float32 values one and two steps either side of them; past the largest value (×1.0625 … ×4, 1e30, 3.4e38, Inf),
 * NaN, tiny values and ±0 — each with its negation. For conformance tests against onnxruntime.
 */
export function boundaryInputs(values: ArrayLike<number>): Float32Array {
  const xs: number[] = [];
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const around = (m: number): void => {
    f[0] = m;
    const base = u[0]!;
    for (const d of [-2, -1, 0, 1, 2]) {
      u[0] = base + d;
      xs.push(f[0]!);
    }
  };
  for (let i = 0; i < values.length; i++) {
    around(values[i]!);
    if (i + 1 < values.length) around((values[i]! + values[i + 1]!) / 2);
  }
  const max = values[values.length - 1]!;
  xs.push(max * 1.0625, max * 1.125, max * 1.5, max * 4, 1e30, 3.4e38, Infinity, NaN, 1e-30, 1e-45, -0, 0);
  return Float32Array.from(xs.flatMap((a) => [a, -a]));
}
