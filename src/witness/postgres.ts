/**
 * PostgreSQL reader. Read-only by construction:
 *   - one READ ONLY transaction (a --query that writes fails with 25006, reported as such);
 *   - statement_timeout set inside it with set_config($1, …) (a parameter, not spliced text);
 *   - --table and column names are quoted as identifiers (pg's escapeIdentifier), never spliced raw;
 *   - a --query is the user's own SQL and runs as given, through the extended protocol, which
 *     refuses more than one statement ("SELECT …; DROP …" is an error, not two commands);
 *   - rows stream through a server-side cursor (DECLARE … NO SCROLL CURSOR, FETCH n), so a
 *     10M-row table never sits in memory; every value arrives as text and is parsed by the same
 *     number parser as the files (identical reports from every source).
 * Connection problems (wrong password, unreachable server, missing database or table) become
 * UsageErrors that say which server and what to check; the password is never printed.
 */
import pg from 'pg';
import { UsageError } from '../errors.js';
import type { FleetSamples } from './aggregate.js';
import { parseDecimalString } from './numbers.js';
import type { ColumnNames, SourceInfo } from './source.js';

export interface PostgresOptions {
  connectionString: string;
  table?: string;
  query?: string;
  timeoutMs: number;
  /** Rows per FETCH. */
  fetchRows?: number;
}

const CURSOR = 'quant_audit_witness';
const rawText = { getTypeParser: () => (value: string) => value };

export function redactConnectionString(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString().replace(/^(postgres(?:ql)?:\/\/[^:@/]*):@/, '$1@');
  } catch {
    return 'postgres://(unparseable connection string)';
  }
}

/** `name` or `schema.name`, each part quoted as an identifier. */
export function quoteTableName(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw new UsageError(`--table '${table}' is not NAME or SCHEMA.NAME.`);
  }
  return parts.map((p) => pg.escapeIdentifier(p)).join('.');
}

export async function readPostgres(opts: PostgresOptions, columns: ColumnNames, fleet: FleetSamples): Promise<SourceInfo> {
  if ((opts.table === undefined) === (opts.query === undefined)) {
    throw new UsageError('reading from PostgreSQL needs exactly one of --table NAME or --query SQL.');
  }
  const server = redactConnectionString(opts.connectionString);
  const client = new pg.Client({
    connectionString: opts.connectionString,
    connectionTimeoutMillis: Math.min(opts.timeoutMs, 30_000),
    application_name: 'quant-audit witness',
    types: rawText,
  });
  // A server that goes away mid-stream emits 'error' on the client; the pending query rejects too.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw connectionError(e, server);
  }
  let described = server;
  try {
    await client.query('BEGIN READ ONLY');
    await client.query({ text: "SELECT set_config('statement_timeout', $1, true)", values: [String(Math.max(1, Math.round(opts.timeoutMs)))] });
    let select: string;
    if (opts.table !== undefined) {
      const table = quoteTableName(opts.table);
      described = `${server} table ${opts.table}`;
      const probe = await client.query({ text: `SELECT * FROM ${table} LIMIT 0`, rowMode: 'array' });
      const names = probe.fields.map((f) => f.name);
      const need = (col: string, flag: string): void => {
        if (!names.includes(col)) throw new UsageError(`table ${opts.table} has no column '${col}' (columns: ${names.join(', ')}). Name it with ${flag}.`);
      };
      need(columns.name, '--name-column');
      need(columns.bpb, '--bpb-column');
      if (columns.stepRequired) need(columns.step, '--step-column');
      const cols = [columns.name, columns.bpb, ...(names.includes(columns.step) ? [columns.step] : [])];
      select = `SELECT ${cols.map((c) => pg.escapeIdentifier(c)).join(', ')} FROM ${table}`;
    } else {
      select = opts.query!.trim().replace(/;\s*$/, '');
      if (select === '') throw new UsageError('--query is empty.');
      described = `${server} query ${oneLine(select)}`;
    }
    await client.query({ text: `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${select}`, queryMode: 'extended' } as pg.QueryConfig);
    const fetch = { text: `FETCH FORWARD ${Math.max(1, Math.floor(opts.fetchRows ?? 20_000))} FROM ${CURSOR}`, rowMode: 'array' as const };
    let nameIdx = -1;
    let bpbIdx = -1;
    let stepIdx = -1;
    let rowNumber = 0;
    for (let first = true; ; first = false) {
      const res = await client.query<unknown[]>(fetch);
      if (first) {
        const names = res.fields.map((f) => f.name);
        const find = (col: string, flag: string, required: boolean): number => {
          const i = names.indexOf(col);
          if (i < 0 && required) throw new UsageError(`the query returns no column '${col}' (columns: ${names.join(', ')}). Alias it (AS ${col}) or name it with ${flag}.`);
          return i;
        };
        nameIdx = find(columns.name, '--name-column', true);
        bpbIdx = find(columns.bpb, '--bpb-column', true);
        stepIdx = find(columns.step, '--step-column', columns.stepRequired);
        described = `${described} columns ${columns.name}, ${columns.bpb}${stepIdx >= 0 ? `, ${columns.step}` : ''}`;
      }
      const rows = res.rows;
      for (let r = 0; r < rows.length; r++) {
        rowNumber++;
        const row = rows[r]!;
        const name = row[nameIdx] as string | null;
        const bpbText = row[bpbIdx] as string | null;
        if (name === null || name.trim() === '') {
          fleet.reject(`row ${rowNumber}`, `${columns.name} is ${name === null ? 'NULL' : 'empty'}`);
          continue;
        }
        const bpb = bpbText === null ? null : parseDecimalString(bpbText);
        if (bpb === null) {
          fleet.reject(`row ${rowNumber}`, `${columns.bpb} is ${bpbText === null ? 'NULL' : JSON.stringify(bpbText)}, not a number (lane ${name.trim()})`);
          continue;
        }
        let step: number | undefined;
        if (stepIdx >= 0) {
          const stepText = row[stepIdx] as string | null;
          const s = stepText === null ? null : parseDecimalString(stepText);
          if (s === null || !Number.isFinite(s)) {
            fleet.reject(`row ${rowNumber}`, `${columns.step} is ${stepText === null ? 'NULL' : JSON.stringify(stepText)}, not a finite number (lane ${name.trim()})`);
            continue;
          }
          step = s;
        }
        fleet.add(fleet.lane(name.trim()), step, bpb);
      }
      if (rows.length === 0) break;
    }
    await client.query('COMMIT');
    const version = await client.query<unknown[]>({ text: 'SHOW server_version', rowMode: 'array' });
    return {
      kind: 'postgres',
      description: described,
      columns: { name: columns.name, bpb: columns.bpb, step: stepIdx >= 0 ? columns.step : null },
      serverVersion: String(version.rows[0]?.[0] ?? ''),
    };
  } catch (e) {
    throw e instanceof UsageError ? e : queryError(e, described);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ');
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

interface PgLikeError {
  code?: string;
  message?: string;
}

function connectionError(e: unknown, server: string): Error {
  const err = e as PgLikeError;
  const code = err.code ?? '';
  const msg = err.message ?? String(e);
  switch (code) {
    case '28P01':
    case '28000':
      return new UsageError(`PostgreSQL at ${server} rejected the login: ${msg} (${code}). Check the user and password in the connection string (or PGPASSWORD).`);
    case '3D000':
      return new UsageError(`PostgreSQL at ${server}: ${msg} (${code}). Check the database name in the connection string.`);
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
      return new UsageError(`cannot reach PostgreSQL at ${server}: ${code}. Is the server running and the host/port right?`);
  }
  if (/timeout/i.test(msg)) return new UsageError(`cannot reach PostgreSQL at ${server}: ${msg}. Is the server running and the host/port right?`);
  if (code !== '' || /password|SASL|SCRAM/i.test(msg)) return new UsageError(`PostgreSQL at ${server}: ${msg}${code ? ` (${code})` : ''}.`);
  return e as Error;
}

function queryError(e: unknown, described: string): Error {
  const err = e as PgLikeError;
  const code = err.code ?? '';
  const msg = err.message ?? String(e);
  const hint: Record<string, string> = {
    '42P01': 'Check --table (SCHEMA.NAME) or the FROM clause of --query.',
    '42703': 'Check the column names (--name-column, --bpb-column, --step-column).',
    '42601': 'Check the SQL of --query (one SELECT statement).',
    '42501': 'The role needs SELECT on the table.',
    '25006': 'witness only reads: --query must be a SELECT.',
    '57014': 'The query ran past the statement timeout (--timeout).',
    '42P14': 'Pass a single SELECT to --query.',
  };
  if (/^[0-9A-Z]{5}$/.test(code)) return new UsageError(`PostgreSQL (${described}): ${msg} (${code}). ${hint[code] ?? ''}`.trimEnd());
  if (/cannot insert multiple commands/i.test(msg)) return new UsageError(`--query must be a single SELECT statement: ${msg}.`);
  if (/Connection terminated|ECONNRESET/i.test(msg)) return new UsageError(`PostgreSQL (${described}): the connection was lost while reading: ${msg}.`);
  return e as Error;
}
