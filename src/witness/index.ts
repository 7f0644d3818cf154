/**
 * `quant-audit witness`: read a fleet's bpb samples (CSV, JSONL or PostgreSQL), classify its lanes
 * and build the witness Report. Reading (csv/jsonl/postgres) → aggregates → classification →
 * report are separate steps; this module only wires them and turns an empty or unreadable
 * fleet into a UsageError that says what was read.
 */
import { extname } from 'node:path';
import { UsageError } from '../errors.js';
import type { FormatRegistry } from '../formats/registry.js';
import type { FailOn, Report } from '../report/types.js';
import type { Thresholds } from '../thresholds.js';
import { FleetSamples } from './aggregate.js';
import { classifyFleet, type FleetClassification } from './classify.js';
import { readCsv } from './csv.js';
import { readJsonl } from './jsonl.js';
import { compileNamePattern, DEFAULT_NAME_PATTERN } from './names.js';
import { readPostgres, redactConnectionString } from './postgres.js';
import { buildWitnessReport } from './report.js';
import type { ColumnNames, SourceInfo } from './source.js';

export { DEFAULT_NAME_PATTERN } from './names.js';
export { DEFAULT_COLUMNS } from './source.js';

export const DEFAULT_VOCAB = 128;
export const DEFAULT_MIN_SAMPLES = 3;
export const DEFAULT_TIMEOUT_MS = 600_000;

export interface WitnessOptions {
  /** A .csv / .jsonl path or a postgres:// URL; undefined → DATABASE_URL. */
  from?: string;
  table?: string;
  query?: string;
  columns: ColumnNames;
  namePattern?: string;
  vocab: number;
  minSamples: number;
  controls?: string[];
  thresholds: Thresholds;
  registry: Pick<FormatRegistry, 'has' | 'get'>;
  failOn: FailOn;
  timeoutMs?: number;
  fetchRows?: number;
  runId: string;
  command: string;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export interface WitnessOutcome {
  report: Report;
  source: SourceInfo;
  fleet: FleetSamples;
  classification: FleetClassification;
}

export type SourceKind = 'csv' | 'jsonl' | 'postgres';

export function sourceKind(from: string): SourceKind {
  if (/^postgres(ql)?:\/\//i.test(from)) return 'postgres';
  const ext = extname(from).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new UsageError(`--from ${from}: cannot tell the source kind. Use a .csv or .jsonl (.ndjson) file or a postgres://user:password@host:port/db URL.`);
}

export async function runWitness(o: WitnessOptions): Promise<WitnessOutcome> {
  const now = o.now ?? (() => new Date());
  const startedAt = now();
  const env = o.env ?? process.env;
  const from = o.from ?? env.DATABASE_URL;
  if (from === undefined || from === '') {
    throw new UsageError('witness needs --from FILE.csv|FILE.jsonl|postgres://… (or DATABASE_URL set to a postgres:// URL).');
  }
  if (!Number.isInteger(o.vocab) || o.vocab < 2) throw new UsageError(`--vocab must be an integer ≥ 2, got ${o.vocab}.`);
  if (!Number.isInteger(o.minSamples) || o.minSamples < 1) throw new UsageError(`--min-samples must be an integer ≥ 1, got ${o.minSamples}.`);
  const pattern = compileNamePattern(o.namePattern ?? DEFAULT_NAME_PATTERN);
  const kind = sourceKind(from);
  if (kind !== 'postgres' && (o.table !== undefined || o.query !== undefined)) {
    throw new UsageError('--table and --query apply to a postgres:// source only; a file is read whole.');
  }

  const fleet = new FleetSamples();
  let source: SourceInfo;
  if (kind === 'csv') source = await readCsv(from, o.columns, fleet);
  else if (kind === 'jsonl') source = await readJsonl(from, o.columns, fleet);
  else {
    source = await readPostgres(
      { connectionString: from, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...(o.table !== undefined ? { table: o.table } : {}), ...(o.query !== undefined ? { query: o.query } : {}), ...(o.fetchRows ? { fetchRows: o.fetchRows } : {}) },
      o.columns,
      fleet,
    );
  }
  const where = kind === 'postgres' ? redactConnectionString(from) : from;

  if (fleet.usableLanes().length === 0) {
    const rejected = fleet.rejected.slice(0, 5).map((r) => `\n  ${r.where}: ${r.reason}`).join('');
    throw new UsageError(
      fleet.rejectedCount > 0
        ? `no usable samples in ${where}: all ${fleet.rejectedCount} rows were rejected, e.g.:${rejected}`
        : `no samples in ${where}: the ${kind === 'postgres' ? 'table or query returned no rows' : 'file has a header but no rows'}.`,
    );
  }

  const classification = classifyFleet(fleet, {
    vocab: o.vocab,
    thresholds: o.thresholds,
    minSamples: o.minSamples,
    pattern,
    registry: o.registry,
    ...(o.controls ? { controls: o.controls } : {}),
  });
  if (classification.unparsed.length === classification.lanes.length) {
    const examples = classification.unparsed.slice(0, 5).map((n) => `\n  ${JSON.stringify(n)}`).join('');
    throw new UsageError(
      `none of the ${classification.lanes.length} lane names in ${where} matches the name pattern, e.g.:${examples}\n` +
        `Pattern: ${pattern.source}\nPass --name-pattern with named groups (?<format>…) and (?<optimizer>…) (optional: prefix, hidden, lr, seed).`,
    );
  }

  const report = buildWitnessReport({
    runId: o.runId,
    command: o.command,
    source,
    fleet,
    classification,
    thresholds: o.thresholds,
    vocab: o.vocab,
    minSamples: o.minSamples,
    namePattern: pattern.source,
    failOn: o.failOn,
    startedAt,
    finishedAt: now(),
  });
  return { report, source, fleet, classification };
}
