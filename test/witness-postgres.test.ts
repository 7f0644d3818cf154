/**
 * Fleet witness from a real PostgreSQL server (started by .ci/services.sh on 127.0.0.1; the URL is
 * in .tmp/pg-url or QA_TEST_PG_URL). The same 12 lanes loaded into a table give the identical
 * report as the CSV; bad credentials, unreachable servers, empty tables, NULL/NaN values, writes
 * and injection attempts are clear errors or listed rows. When no server can be reached the
 * tests are skipped locally, with the reason printed, and fail in CI (test/requirements.ts).
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { UsageError } from '../src/errors.js';
import { igSamples } from '../fixtures/fleet/generate.js';
import { IGLA_CSV, sourceFree, witness } from './support/witness-helpers.js';
import { testWith, type Requirement } from './support/requirements.js';

const url = process.env.QA_TEST_PG_URL ?? readUrlFile();
const table = `witness_igla_${process.pid}`;
const emptyTable = `witness_empty_${process.pid}`;
const oddTable = `witness "odd" name ${process.pid}`;

function readUrlFile(): string | undefined {
  try {
    return readFileSync(new URL('../../.tmp/pg-url', import.meta.url), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function setUp(): Promise<string | undefined> {
  if (url === undefined) return 'no PostgreSQL test server: .tmp/pg-url is missing (run bash .ci/services.sh) and QA_TEST_PG_URL is not set';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (e) {
    return `PostgreSQL test server at ${url.replace(/:[^:@/]*@/, '@')} is not reachable: ${(e as Error).message} (run bash .ci/services.sh)`;
  }
  try {
    const id = pg.escapeIdentifier;
    for (const t of [table, emptyTable, oddTable]) await client.query(`DROP TABLE IF EXISTS ${id(t)}`);
    await client.query(`CREATE TABLE ${id(table)} (id serial PRIMARY KEY, canon_name text, step integer, bpb double precision, run_note text)`);
    await client.query(`CREATE TABLE ${id(emptyTable)} (canon_name text, step integer, bpb double precision)`);
    await client.query(`CREATE TABLE ${id(oddTable)} (canon_name text, step integer, bpb double precision)`);
    // rows in reverse order: the report must not depend on row order
    const samples = igSamples().reverse();
    const values: unknown[] = [];
    const tuples = samples.map((s, i) => {
      values.push(s.name, s.step, s.bpb);
      return `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3}::double precision)`;
    });
    await client.query(`INSERT INTO ${id(table)} (canon_name, step, bpb) VALUES ${tuples.join(', ')}`, values);
    await client.query(`INSERT INTO ${id(oddTable)} VALUES ('QA-int8-h128-LR0.003-rng1-adamw', 0, 'NaN'), ('QA-int8-h128-LR0.003-rng1-adamw', 1, NULL), (NULL, 2, 6.5), ('QA-int8-h128-LR0.003-rng1-adamw', 2, 6.95), ('QA-int8-h128-LR0.003-rng1-adamw', 3, 'Infinity')`);
    await client.query('DROP SEQUENCE IF EXISTS witness_seq; CREATE SEQUENCE witness_seq');
  } finally {
    await client.end();
  }
  return undefined;
}

const skip = await setUp();
const PG: Requirement = { what: 'a PostgreSQL test server (bash .ci/services.sh)', missing: skip };

after(async () => {
  if (skip !== undefined || url === undefined) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const t of [table, emptyTable, oddTable]) await client.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(t)}`);
  await client.end();
});

const is = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
const withPassword = (password: string): string => {
  const u = new URL(url!);
  u.password = password;
  return u.toString();
};

testWith(PG, 'the 12 lanes from a PostgreSQL table give the identical report as the CSV (--table and --query)', async () => {
  const csv = await witness(IGLA_CSV);
  const byTable = await witness(url, { table: table });
  assert.equal(byTable.source.kind, 'postgres');
  assert.equal(byTable.fleet.rows, 132);
  assert.deepEqual(sourceFree(byTable.report), sourceFree(csv.report));
  assert.equal(byTable.report.run.target.includes('qa_test@'), true);
  assert.equal(JSON.stringify(byTable.report).includes(':qa_test@'), false, 'no password in the report');
  // the original report's query shape, streamed in batches of 7 rows
  const byQuery = await witness(url, { query: `SELECT canon_name, bpb, step FROM "${table}" WHERE bpb IS NOT NULL;`, fetchRows: 7 });
  assert.deepEqual(sourceFree(byQuery.report), sourceFree(csv.report));
  // DATABASE_URL when --from is absent
  const byEnv = await witness(undefined, { table, env: { DATABASE_URL: url } });
  assert.deepEqual(sourceFree(byEnv.report), sourceFree(csv.report));
});

testWith(PG, 'a wrong password, an unreachable server and a missing database are clear errors', async () => {
  await assert.rejects(witness(withPassword('wrong-password'), { table }), (e: unknown) => is(/rejected the login: .*password authentication failed.*\(28P01\)/)(e) && !(e as Error).message.includes('wrong-password'));
  const u = new URL(url!);
  u.port = '1';
  await assert.rejects(witness(u.toString(), { table }), is(/cannot reach PostgreSQL at postgres:\/\/qa_test@127\.0\.0\.1:1\/.*ECONNREFUSED/));
  const db = new URL(url!);
  db.pathname = '/no_such_db';
  await assert.rejects(witness(db.toString(), { table }), is(/no_such_db.*\(3D000\)/));
});

testWith(PG, 'an empty table, a missing table and a missing column are clear errors', async () => {
  await assert.rejects(witness(url, { table: emptyTable }), is(/no samples in .*: the table or query returned no rows/));
  await assert.rejects(witness(url, { table: 'no_such_table' }), is(/relation "no_such_table" does not exist \(42P01\)/));
  await assert.rejects(witness(url, { table, columns: { name: 'lane', bpb: 'bpb', step: 'step', stepRequired: false } }), is(/table .* has no column 'lane' \(columns: id, canon_name, step, bpb, run_note\)/));
  await assert.rejects(witness(url, { query: `SELECT canon_name AS name, bpb FROM "${table}"` }), is(/the query returns no column 'canon_name' \(columns: name, bpb\)/));
});

testWith(PG, 'NULL and NaN values: NaN/Inf are samples, NULLs are listed rows', async () => {
  const { fleet, report } = await witness(url, { table: oddTable, minSamples: 1 });
  assert.equal(fleet.rows, 5);
  assert.equal(fleet.rejectedCount, 2);
  assert.deepEqual(fleet.rejected.map((r) => `${r.where}: ${r.reason}`).sort(), ['row 2: bpb is NULL, not a number (lane QA-int8-h128-LR0.003-rng1-adamw)', 'row 3: canon_name is NULL']);
  const lane = report.lanes[0]!;
  assert.equal(lane.bestBpb, 6.95);
  assert.equal(lane.bpb, Number.POSITIVE_INFINITY);
  assert.equal(lane.status, 'diverged'); // its last sample is not a number: a dead lane whose bpb is not a measurement (as in witness-fleet's CSV case)
  assert.match(lane.note!, /2 NaN\/Inf samples \(first at step 0\)/);
});

testWith(PG, 'read-only: writes, second statements and injected table names fail and change nothing', async () => {
  await assert.rejects(witness(url, { query: "SELECT 'QA-int8-h128-LR0.003-rng1-adamw' AS canon_name, nextval('witness_seq')::float8 AS bpb" }), is(/read-only transaction \(25006\)/));
  await assert.rejects(witness(url, { query: `SELECT canon_name, bpb FROM "${table}"; DROP TABLE "${table}"` }), (e: unknown) => e instanceof UsageError);
  await assert.rejects(witness(url, { table: `${table}"; DROP TABLE "${table}"; --` }), is(/does not exist \(42P01\)/));
  await assert.rejects(witness(url, { query: `SELECT canon_name, bpb, pg_sleep(1) FROM "${table}"`, timeoutMs: 100 }), is(/statement timeout \(57014\)/));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const n = await client.query(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(table)}`);
    assert.equal(n.rows[0].n, 132, 'the table is intact');
    const seq = await client.query('SELECT last_value, is_called FROM witness_seq');
    assert.equal(seq.rows[0].is_called, false, 'nextval never ran');
  } finally {
    await client.end();
  }
});
