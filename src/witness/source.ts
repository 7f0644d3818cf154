/**
 * Where a fleet's samples come from: a CSV file, a JSONL file or PostgreSQL. Every reader feeds
 * the same FleetSamples aggregates and describes itself with a SourceInfo (never a password).
 */
export interface ColumnNames {
  /** Lane name column (default canon_name, as in the original query). */
  name: string;
  /** Bits-per-byte column (default bpb). */
  bpb: string;
  /** Step column (default step); used when present. */
  step: string;
  /** true when the user named the step column: then it must exist. */
  stepRequired: boolean;
}

export const DEFAULT_COLUMNS: ColumnNames = { name: 'canon_name', bpb: 'bpb', step: 'step', stepRequired: false };

export interface SourceInfo {
  kind: 'csv' | 'jsonl' | 'postgres';
  /** File path, or the connection string with the password removed (+ table or query). */
  description: string;
  /** The columns actually read; step null when the source has none (steps are then sample ordinals). */
  columns: { name: string; bpb: string; step: string | null };
  serverVersion?: string;
}
