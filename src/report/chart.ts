/**
 * bpb curves as mermaid `xychart-beta` blocks, which GitHub renders in issues and comments.
 * xychart has no legend, so each chart is followed by the plot order of its lines; one
 * chart per optimizer keeps the line count readable. The uniform baseline is drawn as the
 * first line. Lanes are sampled at the union of their eval steps (at most MAX_POINTS, evenly
 * thinned, the last step always kept); a lane holds its last value after it stopped. The y
 * axis ends at the diverged line (1.25 × the baseline by default), so one lane whose loss blew
 * up to 1e11 does not flatten every other curve: such values and non-finite ones are drawn at
 * the top of the axis and the lane is listed as clipped.
 */
import type { Lane } from './types.js';

const MAX_POINTS = 40;
const MAX_LINES = 12;

export interface Chart {
  title: string;
  /** Line labels in plot order (index 0 = the baseline). */
  lines: string[];
  mermaid: string;
  /** Lanes left out because the chart already had MAX_LINES lines. */
  omitted: string[];
  /** Lanes with a value above the axis or non-finite, drawn at its top. */
  clipped: string[];
  yMax: number;
  /** Why the axis ends where it does. */
  clipNote: string;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function sampleSteps(lanes: Lane[]): number[] {
  const all = [...new Set(lanes.flatMap((l) => l.curve.map((p) => p.step)))].sort((a, b) => a - b);
  if (all.length <= MAX_POINTS) return all;
  const picked: number[] = [];
  for (let i = 0; i < MAX_POINTS; i++) picked.push(all[Math.round((i * (all.length - 1)) / (MAX_POINTS - 1))]!);
  return [...new Set(picked)];
}

/** The lane's bpb at `step`: the last eval at or before it (the first eval before the lane's first one). */
function valueAt(lane: Lane, step: number): number | null {
  let v: number | null = lane.curve.length > 0 ? lane.curve[0]!.bpb : null;
  for (const p of lane.curve) {
    if (p.step > step) break;
    v = p.bpb;
  }
  return v;
}

function quote(text: string): string {
  return `"${text.replace(/["\\\n\r]/g, ' ')}"`;
}

/** `cap`: the highest bpb worth an axis (the diverged line); higher values are clipped to the top. */
export function buildCharts(lanes: Lane[], baseline: number, cap = baseline * 1.25): Chart[] {
  const withCurves = lanes.filter((l) => l.curve.length > 0);
  const optimizers = [...new Set(withCurves.map((l) => l.optimizer))];
  return optimizers.map((optimizer) => {
    const group = withCurves.filter((l) => l.optimizer === optimizer);
    const shown = group.slice(0, MAX_LINES);
    const steps = sampleSteps(shown);
    const finite = shown.flatMap((l) => l.curve.map((p) => p.bpb)).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const top = Math.ceil(Math.max(baseline + 0.5, ...finite.filter((v) => v <= cap)));
    const yMax = Math.min(top, Math.ceil(cap));
    const yMin = Math.max(0, Math.floor(Math.min(baseline, ...finite) - 0.5));
    const clip = (v: number | null): number => (v === null || !Number.isFinite(v) ? yMax : round3(Math.min(yMax, Math.max(yMin, v))));
    const clipped = shown.filter((l) => l.curve.some((p) => p.bpb === null || !Number.isFinite(p.bpb) || p.bpb > yMax)).map((l) => l.name);
    const title = `Validation bits per byte — ${optimizer}`;
    const out = [
      'xychart-beta',
      `  title ${quote(title)}`,
      `  x-axis "step" [${steps.map((s) => quote(String(s))).join(', ')}]`,
      `  y-axis "bits per byte" ${yMin} --> ${yMax}`,
      `  line [${steps.map(() => round3(baseline)).join(', ')}]`,
      ...shown.map((l) => `  line [${steps.map((s) => clip(valueAt(l, s))).join(', ')}]`),
    ];
    return {
      title,
      lines: [`uniform baseline (${round3(baseline)})`, ...shown.map((l) => (l.control ? `${l.name} (control)` : l.name))],
      mermaid: `${out.join('\n')}\n`,
      omitted: group.slice(MAX_LINES).map((l) => l.name),
      clipped,
      yMax,
      clipNote: `the diverged line is ${round3(cap)} bits; higher and non-finite values are drawn at the top`,
    };
  });
}
