/**
 * Progress while lanes train: one bar (lanes done / total) with the lane being reported and
 * its latest bpb. Only for a TTY; the caller decides (CI and --quiet get nothing).
 */
import cliProgress from 'cli-progress';

export interface LaneProgressEvent {
  done: number;
  total: number;
  lane: string;
  bpb: number;
}

export interface LaneProgress {
  update(p: LaneProgressEvent): void;
  stop(): void;
}

export function createLaneProgress(stream: NodeJS.WriteStream): LaneProgress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'lanes {bar} {value}/{total} | {lane} bpb {bpb}',
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = { lane: p.lane, bpb: Number.isFinite(p.bpb) ? p.bpb.toFixed(3) : String(p.bpb) };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else {
        bar.setTotal(p.total);
        bar.update(p.done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
