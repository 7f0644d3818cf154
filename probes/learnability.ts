/**
 * learnability — can the format train at all? A tiny char-level LM (vocab 128) trains with
 * fake-quantized weights, one lane per format × optimizer × seed × lr; its best validation
 * bits per byte is compared with the uniform baseline log2(128) = 7 and with an fp32 control
 * lane of the same optimizer, seed and lr. A lane that stays at the baseline is dead.
 *
 * Here: the probe's metadata and its pure judge (functions of measured bpb: no tensors, no
 * targets, tested with plain numbers). Planning and training the lanes is the run's job
 * (src/run/learnability.ts, src/train/). Status rule: src/verdict/lanes.ts (shared with the
 * fleet witness); on top of it, a control that did not drop controlMinDrop below the baseline
 * makes every lane judged against it inconclusive — the infrastructure, not the format, failed.
 */
import type { Lane, LaneStatus, ProbeResult } from '../src/report/types.js';
import { classifyLane, diverged, laneMargins, uniformBaselineBits, LANE_STATUS_ICON, NOT_LEARNING } from '../src/verdict/lanes.js';
import { numberThreshold, type Thresholds } from '../src/thresholds.js';
import { VOCAB } from '../src/corpus/index.js';
import { LEARNABILITY_ID } from './ids.js';
import type { Capability } from '../src/targets/types.js';

/** The probe's metadata: it trains lanes, so `quant-audit run` runs it (src/run/learnability.ts), not runProbesOnFormat. */
export const learnability = {
  id: LEARNABILITY_ID,
  hypothesis: 'learnability',
  title: 'The format trains: bits per byte of a char-level LM vs the uniform baseline and an fp32 control',
  claim: 'the format cannot train at all',
  fix: 'Read the other witnesses first: a dead lane usually has one of H1–H5 behind it. If none is supported, try per-block scaling or keep the sensitive layers (embeddings, output head) in a wider format.',
  requires: ['forward'] as readonly Capability[],
} as const;




export interface JudgeContext {
  thresholds: Thresholds;
  vocab?: number;
}

/** Whether a control lane learned enough for its lanes to be judged. */
export function controlLearned(controlBest: number, t: Thresholds, vocab = VOCAB): boolean {
  return Number.isFinite(controlBest) && controlBest <= uniformBaselineBits(vocab) - numberThreshold(t, 'learnability.controlMinDrop');
}

/** Assign statuses: controls by the no-control rule, lanes against their control (same optimizer, seed, lr). */
export function judgeLanes(lanes: Omit<Lane, 'status'>[], ctx: JudgeContext): Lane[] {
  const baseline = uniformBaselineBits(ctx.vocab ?? VOCAB);
  const margins = laneMargins(ctx.thresholds);
  const key = (l: Pick<Lane, 'optimizer' | 'seed' | 'lr'>): string => `${l.optimizer}/${l.seed}/${l.lr}`;
  const controls = new Map(lanes.filter((l) => l.control).map((l) => [key(l), l]));
  return lanes.map((l): Lane => {
    // A target that crashed says nothing about the format: inconclusive, never dead.
    if (l.targetError !== undefined) return { ...l, status: 'inconclusive' };
    if (l.control) return { ...l, status: classifyLane(l.bestBpb, baseline, undefined, margins, l.bpb) };
    const c = controls.get(key(l));
    if (!c || !controlLearned(c.bestBpb, ctx.thresholds, ctx.vocab) || diverged(c.bpb, baseline, margins)) return { ...l, status: 'inconclusive' };
    return { ...l, status: classifyLane(l.bestBpb, baseline, c.bestBpb, margins, l.bpb) };
  });
}

export interface ResultContext extends JudgeContext {
  reproCommand(format: string, optimizer: string, targetUpdate?: boolean): string;
  /** Several seeds or lrs: the result names them (one result per lane). */
  perLane: boolean;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : String(x));

/** One ProbeResult per non-control lane: fail for dead, pass for partial/learns/clean, inconclusive when the control or the target failed. */
export function laneResults(lanes: Lane[], ctx: ResultContext): ProbeResult[] {
  const baseline = uniformBaselineBits(ctx.vocab ?? VOCAB);
  const margins = laneMargins(ctx.thresholds);
  const deadLine = baseline - margins.deadMargin;
  const key = (l: Lane): string => `${l.optimizer}/${l.seed}/${l.lr}`;
  const controls = new Map(lanes.filter((l) => l.control).map((l) => [key(l), l]));
  return lanes
    .filter((l) => !l.control)
    .map((l): ProbeResult => {
      const c = controls.get(key(l));
      const verdict = verdictOf(l.status);
      const curveRows = [...l.curve.slice(0, 2), ...(l.curve.length > 4 ? l.curve.slice(-2) : l.curve.slice(2))].map((p) => {
        const cp = c?.curve.find((q) => q.step === p.step);
        return [p.step, round(p.bpb), cp ? round(cp.bpb) : null];
      });
      const result: ProbeResult = {
        probe: LEARNABILITY_ID,
        hypothesis: LEARNABILITY_ID,
        format: l.format,
        optimizer: l.optimizer,
        ...(ctx.perLane ? { seed: l.seed } : {}),
        verdict,
        statistic: { name: 'bpb', value: finite(l.bestBpb), threshold: deadLine, comparator: '>=', unit: 'bits/byte' },
        evidence: {
          measurements: {
            lane: l.name,
            status: l.status,
            bestBpb: finite(l.bestBpb),
            finalBpb: finite(l.bpb),
            controlBestBpb: c ? finite(c.bestBpb) : null,
            baseline,
            deadLine,
            lr: l.lr,
            seed: l.seed,
            hidden: l.hidden,
            steps: l.steps,
            stepsRun: l.stepsRun ?? l.steps,
            masterWeights: l.masterWeights ?? true,
            ...(l.weightUpdate ? { weightUpdate: l.weightUpdate } : {}),
            ...(l.updateToStep ? { updateToStepMedian: l.updateToStep.median, updateSurvives: l.updateToStep.survives } : {}),
          },
          tables: [{ title: `${l.name}: validation bpb (head and tail of the curve) vs the fp32 control`, headings: ['step', 'bpb', 'control bpb'], rows: curveRows }],
          ...(l.note ? { notes: [l.note] } : {}),
        },
      };
      if (verdict === 'fail') {
        const cText = c ? `the fp32 control lane ${c.name} reached ${fmt(c.bestBpb)}` : 'no control lane';
        const what =
          l.status === 'diverged'
            ? `its loss diverged (last bpb ${Number.isFinite(l.bpb) ? `${fmt(l.bpb)}, above ${(baseline * margins.divergedRatio).toFixed(2)}` : fmt(l.bpb)}) after ${l.stepsRun ?? l.steps} steps`
            : `best bpb ${fmt(l.bestBpb)} after ${l.stepsRun ?? l.steps} steps (uniform baseline ${baseline.toFixed(2)}, dead at ≥ ${deadLine.toFixed(2)})`;
        result.witness = {
          summary: `${LANE_STATUS_ICON[l.status]} ${l.name} is ${l.status}: ${what}; ${cText}${ratioText(l)}.`,
          samples: l.curve.slice(0, 1).concat(l.curve.slice(-1)).map((p) => ({
            x: p.step,
            y: round(p.bpb),
            ...(c?.curve.find((q) => q.step === p.step) ? { expected: round(c.curve.find((q) => q.step === p.step)!.bpb) } : {}),
            note: 'step → bpb (expected: control)',
          })),
          repro: ctx.reproCommand(l.format, l.optimizer, l.weightUpdate === 'target-update'),
        };
      }
      if (verdict === 'inconclusive') {
        result.reason =
          l.targetError !== undefined
            ? `target error while training: ${l.targetError}`
            : c
              ? `the fp32 control lane ${c.name} did not learn (best bpb ${fmt(c.bestBpb)}), so the format cannot be judged`
              : 'no control lane was run';
      }
      return result;
    });
}

/**
 * The learnability hypothesis is "the format cannot train at all": only a dead lane is its
 * witness. A partial lane learned (below the dead line) but trails the control; it shows in the
 * lane table and gates only at --fail-on partial (src/verdict/gate.ts).
 */
function verdictOf(s: LaneStatus): ProbeResult['verdict'] {
  if (NOT_LEARNING.includes(s)) return 'fail';
  if (s === 'inconclusive') return 'inconclusive';
  return 'pass';
}

/** The proposed update in quantization steps: what rounding in place would keep of it. */
function ratioText(l: Lane): string {
  const r = l.updateToStep;
  if (!r) return '';
  const mode = l.weightUpdate === 'master' || l.weightUpdate === undefined ? 'with fp32 master weights' : 'rounded in place';
  return `; the optimizer proposed updates of median ${Number(r.median.toPrecision(2))} quantization steps (${Math.round(r.survives * 100)} % at or above ½ step), ${mode}`;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? round(x) : null;
}

/** bpb as printed and stored: 4 decimals (the determinism promise is to this digit). */
export function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
