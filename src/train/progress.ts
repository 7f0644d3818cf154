/**
 * Progress while lanes train. On a terminal: one bar (lanes done / total, the fp32 controls not
 * counted, as in the summary) with the lane being reported and its latest bpb. In CI or into a
 * file or pipe: no animation, one line each time another tenth of the lanes has finished, so a
 * long run is never silent. --quiet gets neither (the caller decides).
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

/** One line per finished group of lanes (about a tenth of them): for CI logs and pipes. */
export function createLaneLines(stream: NodeJS.WritableStream): LaneProgress {
  let printed = 0;
  return {
    update(p) {
      if (p.total === 0 || p.done <= printed) return;
      const step = Math.max(1, Math.ceil(p.total / 10));
      if (p.done < p.total && p.done - printed < step) return;
      printed = p.done;
      const bpb = Number.isFinite(p.bpb) ? p.bpb.toFixed(3) : String(p.bpb);
      stream.write(`lanes ${p.done}/${p.total} done (last: ${p.lane}, bpb ${bpb})\n`);
    },
    stop() {},
  };
}

/** The bar only on an interactive terminal outside CI; lines otherwise. */
export function laneProgressFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): LaneProgress {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  return stream.isTTY && !ci ? createLaneProgress(stream) : createLaneLines(stream);
}
