/**
 * Fleet lanes → the witness table. Pure: aggregates in, lanes out.
 *
 * Controls. A lane is control-eligible when its format has ≥ 16 bits: the registry's bit count
 * for a known format (fp32, fp16, bf16, posit16, posit16-es1, gf16, gf24, gf32), otherwise the
 * first number in the format's name (so `gf256`, unknown to the registry, counts: 256 ≥ 16; the
 * motivating report called it its 16-bit lane). `--controls a,b` replaces the rule with a list.
 * Per optimizer, the eligible lane with the lowest best bpb (and enough samples) is the control:
 * the yardstick every lane with that optimizer is judged against (classifyLane, shared with the
 * learnability probe). Other 16-bit lanes are judged like any lane: a dead fp16 lane is a finding.
 * If the control did not learn (best bpb above log2(V) − controlMinDrop), the lanes of that
 * optimizer are `inconclusive`; with no eligible lane for an optimizer they are judged against
 * the uniform baseline alone, and say so.
 *
 * Flags. `too few samples` (fewer than --min-samples: status inconclusive); `bit-identical`
 * (the same multiset of (step, bpb) as another lane: the format was not applied); `NaN`
 * samples (counted; the lane diverged); `unparsed` (the name does not match --name-pattern:
 * format and optimizer unknown, status inconclusive; never given a default format).
 */
import type { Lane } from '../report/types.js';
import type { FormatRegistry } from '../formats/registry.js';
import { classifyLane, laneMargins, uniformBaselineBits } from '../verdict/lanes.js';
import { numberThreshold, type Thresholds } from '../thresholds.js';
import type { FleetSamples, LaneSamples } from './aggregate.js';
import type { LaneNameFields, NamePattern } from './names.js';

const CONTROL_MIN_BITS = 16;
const UNPARSED = '?';

export interface ClassifyOptions {
  vocab: number;
  thresholds: Thresholds;
  minSamples: number;
  pattern: NamePattern;
  registry: Pick<FormatRegistry, 'has' | 'get'>;
  /** Explicit control formats (replaces the ≥ 16-bit rule). */
  controls?: readonly string[];
}

export interface FleetLane extends Lane {
  samples: number;
  nanSamples: number;
  /** Short machine-readable flags: 'too-few-samples', 'bit-identical', 'nan', 'unparsed', 'unknown-format'. */
  flags: string[];
  /** Lanes whose curves are bit-identical to this one. */
  identicalTo: string[];
  fields: LaneNameFields | null;
  /** Bits of the format (registry or name), null when unknown. */
  formatBits: number | null;
}

export interface ControlChoice {
  optimizer: string;
  lane: string;
  format: string;
  bestBpb: number;
  learned: boolean;
}

export interface FleetClassification {
  baseline: number;
  lanes: FleetLane[];
  controls: ControlChoice[];
  /** Optimizers with lanes but no control-eligible lane. */
  uncontrolled: string[];
  identicalGroups: string[][];
  unparsed: string[];
}

/** Bits of a format: the registry's, else the first number in its name, else null. */
export function formatBits(format: string, registry: Pick<FormatRegistry, 'has' | 'get'>): { bits: number | null; known: boolean } {
  if (registry.has(format)) return { bits: registry.get(format).bits, known: true };
  const m = /[0-9]+/.exec(format);
  return { bits: m ? Number(m[0]) : null, known: false };
}

export function classifyFleet(fleet: FleetSamples, opts: ClassifyOptions): FleetClassification {
  const baseline = uniformBaselineBits(opts.vocab);
  const margins = laneMargins(opts.thresholds);
  const controlMinDrop = numberThreshold(opts.thresholds, 'learnability.controlMinDrop');
  const explicitControls = opts.controls ? new Set(opts.controls.map((c) => c.toLowerCase())) : null;

  const lanes: FleetLane[] = [];
  for (const samples of fleet.usableLanes().sort((a, b) => compareText(a.name, b.name))) {
    lanes.push(baseLane(samples, opts, explicitControls));
  }

  // Bit-identical curves: same sample count and multiset hash (≥ 2 samples; one equal number is no evidence).
  const byCurve = new Map<string, FleetLane[]>();
  for (const lane of lanes) {
    if (lane.samples < 2) continue;
    const key = fleet.lanes.get(lane.name)!.curveKey();
    const group = byCurve.get(key);
    if (group) group.push(lane);
    else byCurve.set(key, [lane]);
  }
  const identicalGroups: string[][] = [];
  for (const group of byCurve.values()) {
    if (group.length < 2) continue;
    const names = group.map((l) => l.name);
    identicalGroups.push(names);
    for (const lane of group) {
      lane.identicalTo = names.filter((n) => n !== lane.name);
      lane.flags.push('bit-identical');
    }
  }
  identicalGroups.sort((a, b) => compareText(a[0]!, b[0]!));

  // One control per optimizer: the best eligible lane with enough samples.
  const controls: ControlChoice[] = [];
  const controlByOptimizer = new Map<string, FleetLane>();
  for (const lane of lanes) {
    if (!lane.control || lane.samples < opts.minSamples) continue;
    const current = controlByOptimizer.get(lane.optimizer);
    if (current === undefined || betterControl(lane, current)) controlByOptimizer.set(lane.optimizer, lane);
  }
  for (const lane of lanes) lane.control = false;
  for (const [optimizer, lane] of [...controlByOptimizer.entries()].sort((a, b) => compareText(a[0], b[0]))) {
    lane.control = true;
    const learned = Number.isFinite(lane.bestBpb) && lane.bestBpb <= baseline - controlMinDrop;
    controls.push({ optimizer, lane: lane.name, format: lane.format, bestBpb: lane.bestBpb, learned });
  }

  const uncontrolled = new Set<string>();
  const notes = new Map<FleetLane, string[]>();
  const note = (lane: FleetLane, text: string): void => {
    const list = notes.get(lane) ?? [];
    list.push(text);
    notes.set(lane, list);
  };
  for (const lane of lanes) {
    if (lane.fields === null) {
      lane.status = 'inconclusive';
      lane.flags.push('unparsed');
      note(lane, `name does not match --name-pattern: format and optimizer unknown, not judged (best bpb ${fmt(lane.bestBpb)})`);
    } else if (lane.samples < opts.minSamples) {
      lane.status = 'inconclusive';
      lane.flags.push('too-few-samples');
      note(lane, `only ${lane.samples} sample${lane.samples === 1 ? '' : 's'} (--min-samples ${opts.minSamples}): too few to judge`);
    } else {
      const control = controlByOptimizer.get(lane.optimizer);
      if (control === undefined) {
        uncontrolled.add(lane.optimizer);
        lane.status = classifyLane(lane.bestBpb, baseline, undefined, margins, lane.bpb);
        note(lane, `no ≥16-bit control lane with optimizer ${lane.optimizer}: judged against log2(V) only`);
      } else if (control === lane) {
        // the yardstick is clean against itself, unless it did not learn (then the gate says inconclusive)
        const alone = classifyLane(lane.bestBpb, baseline, undefined, margins, lane.bpb);
        if (alone === 'diverged') lane.status = 'diverged';
        else if (lane.bestBpb <= baseline - controlMinDrop) lane.status = 'clean';
        else lane.status = alone === 'dead' ? 'dead' : 'partial';
        note(lane, `the ${lane.format} control lane for ${lane.optimizer}`);
      } else if (!(control.bestBpb <= baseline - controlMinDrop)) {
        lane.status = 'inconclusive';
        note(lane, `the ${control.format} control lane ${control.name} did not learn (best bpb ${fmt(control.bestBpb)}), so the format cannot be judged`);
      } else {
        lane.status = classifyLane(lane.bestBpb, baseline, control.bestBpb, margins, lane.bpb);
      }
    }
    if (lane.flags.includes('unknown-format')) note(lane, `format '${lane.format}' is not in quant-audit's registry`);
    if (lane.identicalTo.length > 0) {
      note(lane, `curve bit-identical to ${lane.identicalTo.join(', ')}: ${lane.format === 'fp32' ? 'they trained as fp32 (their format was not applied)' : 'the format was not applied'}`);
    }
    if (lane.nanSamples > 0) {
      lane.flags.push('nan');
      note(lane, `${lane.nanSamples} NaN/Inf sample${lane.nanSamples === 1 ? '' : 's'} (first at step ${fleet.lanes.get(lane.name)!.firstNanStep})`);
    }
  }
  for (const [lane, list] of notes) lane.note = list.join('; ');
  for (const lane of lanes) if (lane.note === '') delete lane.note;

  return {
    baseline,
    lanes,
    controls,
    uncontrolled: [...uncontrolled].sort(compareText),
    identicalGroups,
    unparsed: lanes.filter((l) => l.fields === null).map((l) => l.name),
  };
}

function baseLane(samples: LaneSamples, opts: ClassifyOptions, explicitControls: Set<string> | null): FleetLane {
  const fields = opts.pattern.parse(samples.name);
  const format = fields?.format ?? UNPARSED;
  const flags: string[] = [];
  let bits: number | null = null;
  let eligible = false;
  if (fields !== null) {
    const info = formatBits(format, opts.registry);
    bits = info.bits;
    if (!info.known) flags.push('unknown-format');
    eligible = explicitControls ? explicitControls.has(format) : bits !== null && bits >= CONTROL_MIN_BITS;
  }
  const stepsRun = samples.count;
  const lastStep = Number.isFinite(samples.lastStep) ? samples.lastStep : 0;
  return {
    name: samples.name,
    format,
    optimizer: fields?.optimizer ?? UNPARSED,
    seed: fields?.seed ?? -1,
    lr: fields?.lr ?? Number.NaN,
    hidden: fields?.hidden ?? -1,
    steps: Math.max(0, Math.round(lastStep)),
    stepsRun,
    bpb: samples.last,
    bestBpb: samples.best,
    curve: samples.curve(),
    status: 'inconclusive',
    control: eligible,
    note: '',
    samples: samples.count,
    nanSamples: samples.nanCount,
    flags,
    identicalTo: [],
    fields,
    formatBits: bits,
  };
}

/** Lower best bpb wins; ties by name, so the choice does not depend on row order. */
function betterControl(a: FleetLane, b: FleetLane): boolean {
  const av = Number.isFinite(a.bestBpb) ? a.bestBpb : Number.POSITIVE_INFINITY;
  const bv = Number.isFinite(b.bestBpb) ? b.bestBpb : Number.POSITIVE_INFINITY;
  return av < bv || (av === bv && compareText(a.name, b.name) < 0);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : String(v);
}
