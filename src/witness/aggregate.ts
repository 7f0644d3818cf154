/**
 * Per-lane running aggregates over a stream of (name, step, bpb) samples: O(1) memory per lane
 * whatever the number of rows, and independent of row order, so a CSV and a PostgreSQL table
 * holding the same samples in a different order give the same lanes.
 *   best      min finite bpb (and its step)
 *   last      bpb at the highest step (two rows at that step: NaN, else the higher bpb)
 *   curveHash a multiset hash of the (step, bpb-bits) pairs: two lanes with equal hashes and counts
 *             logged bit-identical curves (a format that was not applied)
 *   curve     a bounded, order-independent sample of points for the report chart (bottom-k by a
 *             hash of the step), plus the best and last points
 */

const CURVE_POINTS = 64;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A well-mixed 32-bit hash of a step value (also used to pick chart points). */
function stepHash(step: number): number {
  f64[0] = step;
  return mix32(u32[0]! ^ mix32(u32[1]! ^ 0x9e3779b9));
}

export class LaneSamples {
  count = 0;
  nanCount = 0;
  firstNanStep = Number.NaN;
  best = Number.NaN;
  bestStep = Number.NaN;
  last = Number.NaN;
  lastStep = Number.NEGATIVE_INFINITY;
  /** Two independent 32-bit sums (mod 2^32) of per-sample hashes: 64 bits of multiset hash. */
  hashA = 0;
  hashB = 0;
  private points: { step: number; bpb: number; key: number }[] = [];
  private keyLimit = 0x1_0000_0000; // admit every point until the first thinning

  constructor(readonly name: string) {}

  add(step: number, bpb: number): void {
    this.count++;
    if (bpb === bpb && bpb !== Number.POSITIVE_INFINITY && bpb !== Number.NEGATIVE_INFINITY) {
      // the smallest step wins a tie, so the result does not depend on row order
      if (this.best !== this.best || bpb < this.best || (bpb === this.best && step < this.bestStep)) {
        this.best = bpb;
        this.bestStep = step;
      }
    } else {
      if (this.nanCount === 0 || step < this.firstNanStep) this.firstNanStep = step;
      this.nanCount++;
    }
    // two samples at the highest step: the worse one (NaN, else the higher bpb) is "last", whatever the row order
    if (step > this.lastStep || (step === this.lastStep && (bpb !== bpb || bpb > this.last))) {
      this.lastStep = step;
      this.last = bpb;
    }
    const key = stepHash(step);
    f64[0] = bpb;
    const b = mix32(u32[0]! ^ mix32(u32[1]! ^ key));
    this.hashA = (this.hashA + b) >>> 0;
    this.hashB = (this.hashB + mix32(b ^ 0x85ebca6b ^ key)) >>> 0;
    if (key < this.keyLimit) {
      this.points.push({ step, bpb, key });
      if (this.points.length >= 2 * CURVE_POINTS) this.thin();
    }
  }

  /** Keep the CURVE_POINTS points with the smallest step hash: the same set whatever the row order. */
  private thin(): void {
    this.points.sort((a, b) => a.key - b.key || a.step - b.step || a.bpb - b.bpb);
    this.keyLimit = this.points[CURVE_POINTS]!.key;
    this.points = this.points.filter((p) => p.key < this.keyLimit);
  }

  /** The chart points in step order (best and last always included). */
  curve(): { step: number; bpb: number }[] {
    if (this.points.length > CURVE_POINTS) this.thin();
    const byStep = new Map<number, number>();
    for (const p of this.points) if (!byStep.has(p.step) || p.bpb < byStep.get(p.step)!) byStep.set(p.step, p.bpb);
    if (Number.isFinite(this.bestStep)) byStep.set(this.bestStep, this.best);
    if (this.count > 0) byStep.set(this.lastStep, this.last);
    return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, bpb]) => ({ step, bpb }));
  }

  /** Identity of the whole curve: equal for two lanes iff (with 2^-64 odds of a false match) they logged the same samples. */
  curveKey(): string {
    return `${this.count}:${this.hashA.toString(16)}:${this.hashB.toString(16)}`;
  }
}

/** A row that could not be used: where it was, and why. Shown in the report, never dropped silently. */
export interface RejectedRow {
  where: string;
  reason: string;
}

const REJECTED_SHOWN = 20;

export class FleetSamples {
  readonly lanes = new Map<string, LaneSamples>();
  rows = 0;
  rejectedCount = 0;
  readonly rejected: RejectedRow[] = [];

  lane(name: string): LaneSamples {
    let lane = this.lanes.get(name);
    if (lane === undefined) {
      lane = new LaneSamples(name);
      this.lanes.set(name, lane);
    }
    return lane;
  }

  /** One sample. Without a step column the step is the sample's ordinal in its lane (1, 2, …). */
  add(lane: LaneSamples, step: number | undefined, bpb: number): void {
    this.rows++;
    lane.add(step ?? lane.count + 1, bpb);
  }

  /** Lanes with at least one sample (a lane whose every row was rejected has none: its rows are listed instead). */
  usableLanes(): LaneSamples[] {
    return [...this.lanes.values()].filter((l) => l.count > 0);
  }

  reject(where: string, reason: string): void {
    this.rows++;
    this.rejectedCount++;
    if (this.rejected.length < REJECTED_SHOWN) this.rejected.push({ where, reason });
  }
}
