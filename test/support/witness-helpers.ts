/** Shared by the witness tests: run the witness with defaults, and strip what differs by source. */
import { join } from 'node:path';
import { runWitness, DEFAULT_COLUMNS, type WitnessOptions, type WitnessOutcome } from '../../src/witness/index.js';
import { DEFAULT_THRESHOLDS } from '../../src/thresholds.js';
import { defaultRegistry } from '../../src/formats/registry.js';
import type { Report } from '../../src/report/types.js';
import { FIXTURE_DIR } from '../../fixtures/fleet/generate.js';

export const IGLA_CSV = join(FIXTURE_DIR, 'igla-12-lanes.csv');
export const IGLA_JSONL = join(FIXTURE_DIR, 'igla-12-lanes.jsonl');
export const FLAGS_CSV = join(FIXTURE_DIR, 'fleet-flags.csv');

const FIXED_TIME = new Date('2026-11-26T00:00:00.000Z');

export function witness(from: string | undefined, extra: Partial<WitnessOptions> = {}): Promise<WitnessOutcome> {
  return runWitness({
    ...(from !== undefined ? { from } : {}),
    columns: DEFAULT_COLUMNS,
    vocab: 128,
    minSamples: 3,
    thresholds: DEFAULT_THRESHOLDS,
    registry: defaultRegistry,
    failOn: 'fail',
    runId: 'test',
    command: 'quant-audit witness (test)',
    now: () => FIXED_TIME,
    ...extra,
  });
}

/** The report minus what names the source (path, URL, server version): equal for the same samples. */
export function sourceFree(report: Report): unknown {
  const copy = JSON.parse(JSON.stringify(report)) as Report;
  delete (copy.run as Partial<Report['run']>).target;
  delete copy.run.targetInfo?.source;
  delete copy.run.targetInfo?.['server version'];
  return copy;
}

export function statusOf(report: Report): Record<string, string> {
  return Object.fromEntries(report.lanes.map((l) => [`${l.format} ${l.optimizer}`, l.status]));
}
