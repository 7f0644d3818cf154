/**
 * When and where a benchmark ran, for the first line of its results: the real date and time
 * (UTC), the machine (cores, CPU model, Node) and the load average at the start and at the end —
 * the machine is shared with other builds and tests, so a figure is only as good as its load.
 * Call `benchClock()` before measuring and `.line()` when writing the results.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';

export interface BenchClock {
  readonly started: Date;
  /** "Ran 2026-12-05 16:31 UTC · machine: 2 cores (…), node v20.20.2 · load average 1-min at start 3.1, at end 5.2 (shared machine)". */
  line(): string;
}

const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' / ');

export function benchClock(): BenchClock {
  const started = new Date();
  const loadAtStart = loadavg();
  return {
    started,
    line() {
      const when = `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
      const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), node ${process.version}`;
      return `Ran ${when} · machine: ${machine} · load average (1 / 5 / 15 min) at start ${fmtLoad(loadAtStart)}, at end ${fmtLoad(loadavg())} (a shared machine: other builds and tests ran meanwhile)`;
    },
  };
}
