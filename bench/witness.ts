/**
 * Fleet witness throughput: rows/s from CSV (goal ≥ 1M rows/s on 10M rows), JSONL, and PostgreSQL
 * (goal ≥ 300k rows/s), with peak memory, against simple peers in the same run:
 *   CSV peer   node:readline + split(',') + parseFloat into the same aggregates (the obvious code)
 *   PG peer    one plain SELECT of every row (pg's default parsing, whole result in memory)
 * Data is generated under .tmp/ (never in git): 64 lanes interleaved step by step, the order a
 * fleet table has when rows are appended as lanes report.
 *
 *   npx tsc -p . && node dist/bench/witness.js [--rows 10000000] [--pg-rows 2000000] [--no-pg]
 * PostgreSQL: the server from .ci/services.sh (URL in .tmp/pg-url or QA_TEST_PG_URL).
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import pg from 'pg';
import { FleetSamples } from '../src/witness/aggregate.js';
import { readCsv } from '../src/witness/csv.js';
import { readJsonl } from '../src/witness/jsonl.js';
import { readPostgres } from '../src/witness/postgres.js';
import { DEFAULT_COLUMNS } from '../src/witness/source.js';
import { Rng } from '../src/rng.js';
import { benchClock } from './when.js';

const clock = benchClock();

const FORMATS = ['int4', 'int8', 'uint8', 'fp8-e4m3', 'fp8-e5m2', 'nf4', 'posit8', 'posit16', 'fp16', 'bf16', 'gf8', 'gf16', 'mxfp8', 'mxfp4', 'fp4-e2m1', 'fp32'];
const LANES = FORMATS.flatMap((f) => ['adamw', 'muon'].flatMap((o) => [1597, 42].map((seed) => `IGLA-TIER1-${f}-h128-LR0.0001-rng${seed}-${o}`)));

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function generate(path: string, rows: number, kind: 'csv' | 'jsonl'): Promise<void> {
  if (existsSync(path) && existsSync(`${path}.rows`) && readFileSync(`${path}.rows`, 'utf8') === String(rows)) return;
  const t0 = performance.now();
  const out = createWriteStream(path);
  const rng = new Rng(1597);
  let buf = kind === 'csv' ? 'canon_name,step,bpb\n' : '';
  for (let i = 0; i < rows; i++) {
    const lane = LANES[i % LANES.length]!;
    const step = Math.floor(i / LANES.length);
    const bpb = (7 - 4 * (1 - Math.exp(-step / 20000)) * ((i % LANES.length) / LANES.length) + 0.01 * rng.next()).toFixed(4);
    buf += kind === 'csv' ? `${lane},${step},${bpb}\n` : `{"canon_name":"${lane}","step":${step},"bpb":${bpb}}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  writeFileSync(`${path}.rows`, String(rows));
  console.error(`generated ${path}: ${rows} rows, ${(statSync(path).size / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

interface Measure {
  what: string;
  rows: number;
  seconds: number;
  /** CPU seconds of this process (user + system): the machine is shared, wall time is noisy. */
  cpuSeconds: number;
  rowsPerSecond: number;
  heapMB: number;
}

/** Read a file once so every reader starts from the same page-cache state. */
async function warm(path: string): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) void chunk;
}

async function measure(what: string, run: () => Promise<number>, warmPath?: string): Promise<Measure> {
  if (warmPath) await warm(warmPath);
  globalThis.gc?.();
  let peakHeap = 0;
  const timer = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 50);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const rows = await run();
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const m = { what, rows, seconds, cpuSeconds, rowsPerSecond: rows / seconds, heapMB: peakHeap / 1e6 };
  console.error(`${what}: ${rows} rows in ${seconds.toFixed(2)} s (${cpuSeconds.toFixed(2)} s CPU) = ${(m.rowsPerSecond / 1e6).toFixed(2)} M rows/s, ${(rows / cpuSeconds / 1e6).toFixed(2)} M rows per CPU-second, peak heap ${m.heapMB.toFixed(0)} MB`);
  return m;
}

async function csvPeer(path: string): Promise<number> {
  const fleet = new FleetSamples();
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let header = true;
  for await (const line of rl) {
    if (header) {
      header = false;
      continue;
    }
    const [name, step, bpb] = line.split(',');
    fleet.add(fleet.lane(name!), Number(step), parseFloat(bpb!));
  }
  return fleet.rows;
}

async function pgLoad(url: string, table: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query('SELECT count(*)::bigint AS n FROM pg_class WHERE relname = $1', [table]);
    if (Number(exists.rows[0].n) > 0) {
      const n = await client.query(`SELECT count(*)::bigint AS n FROM ${pg.escapeIdentifier(table)}`);
      if (Number(n.rows[0].n) === rows) return;
      await client.query(`DROP TABLE ${pg.escapeIdentifier(table)}`);
    }
    const t0 = performance.now();
    await client.query(`CREATE UNLOGGED TABLE ${pg.escapeIdentifier(table)} (canon_name text, step integer, bpb double precision)`);
    const lanes = `ARRAY[${LANES.map((l) => `'${l}'`).join(',')}]`; // constants of this script, not user input
    await client.query(
      `INSERT INTO ${pg.escapeIdentifier(table)}
       SELECT (${lanes})[1 + (i % ${LANES.length})], i / ${LANES.length},
              round((7 - 4 * (1 - exp(-(i / ${LANES.length}) / 20000.0)) * ((i % ${LANES.length})::float8 / ${LANES.length}) + 0.01 * random())::numeric, 4)::float8
       FROM generate_series(0, ${rows - 1}) AS i`,
    );
    console.error(`loaded ${rows} rows into PostgreSQL in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }
}

async function pgPeer(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const fleet = new FleetSamples();
    const res = await client.query<{ canon_name: string; step: number; bpb: number }>(`SELECT canon_name, step, bpb FROM ${pg.escapeIdentifier(table)}`);
    for (const r of res.rows) fleet.add(fleet.lane(r.canon_name), r.step, r.bpb);
    return fleet.rows;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  mkdirSync('.tmp', { recursive: true });
  const rows = arg('rows', 10_000_000);
  const pgRows = arg('pg-rows', 2_000_000);
  const csvPath = `.tmp/witness-bench-${rows}.csv`;
  const jsonlRows = Math.min(rows, 2_000_000);
  const jsonlPath = `.tmp/witness-bench-${jsonlRows}.jsonl`;
  await generate(csvPath, rows, 'csv');
  await generate(jsonlPath, jsonlRows, 'jsonl');
  const results: Measure[] = [];
  results.push(await measure('CSV, quant-audit reader', async () => {
    const fleet = new FleetSamples();
    await readCsv(csvPath, DEFAULT_COLUMNS, fleet);
    return fleet.rows;
  }, csvPath));
  results.push(await measure('CSV, peer: readline + split + parseFloat', () => csvPeer(csvPath), csvPath));
  results.push(await measure('JSONL, quant-audit reader', async () => {
    const fleet = new FleetSamples();
    await readJsonl(jsonlPath, DEFAULT_COLUMNS, fleet);
    return fleet.rows;
  }, jsonlPath));
  let pgNote = '';
  const url = process.env.QA_TEST_PG_URL ?? (existsSync('.tmp/pg-url') ? readFileSync('.tmp/pg-url', 'utf8').trim() : undefined);
  if (process.argv.includes('--no-pg')) pgNote = 'PostgreSQL: skipped (--no-pg)';
  else if (url === undefined) pgNote = 'PostgreSQL: skipped (no .tmp/pg-url; run bash .ci/services.sh)';
  else {
    const table = `witness_bench_${pgRows}`;
    await pgLoad(url, table, pgRows);
    results.push(await measure('PostgreSQL, quant-audit reader (cursor, FETCH 20000)', async () => {
      const fleet = new FleetSamples();
      await readPostgres({ connectionString: url, table, timeoutMs: 600_000 }, DEFAULT_COLUMNS, fleet);
      return fleet.rows;
    }));
    if (pgRows <= 2_000_000) results.push(await measure('PostgreSQL, peer: one SELECT, whole result in memory', () => pgPeer(url, table)));
    else pgNote = `PostgreSQL peer (one SELECT, all rows in memory) not run at ${pgRows} rows: it needs the whole table in the heap`;
  }
  const lines = [
    '## Fleet witness (`quant-audit witness`)',
    '',
    `${clock.line()} · PostgreSQL from .ci/services.sh on 127.0.0.1 (CPU seconds are the fairer number on a shared machine).`,
    `Data: ${LANES.length} lanes interleaved step by step (generated under .tmp/, not in git). Goals: CSV ≥ 1M rows/s on 10M rows, PostgreSQL ≥ 300k rows/s.`,
    '',
    '| source | rows | wall s | rows/s (wall) | CPU s (node) | rows per CPU-second | peak JS heap |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.map((m) => `| ${m.what} | ${m.rows.toLocaleString('en-US')} | ${m.seconds.toFixed(2)} | ${Math.round(m.rowsPerSecond).toLocaleString('en-US')} | ${m.cpuSeconds.toFixed(2)} | ${Math.round(m.rows / m.cpuSeconds).toLocaleString('en-US')} | ${m.heapMB.toFixed(0)} MB |`),
    '',
  ];
  const ours = results.find((m) => m.what.startsWith('CSV, quant'));
  const peer = results.find((m) => m.what.startsWith('CSV, peer'));
  if (ours && peer) lines.push(`CSV reader vs the readline peer: ${(ours.rowsPerSecond / peer.rowsPerSecond).toFixed(2)}× the rows/s (wall), ${(peer.cpuSeconds / ours.cpuSeconds).toFixed(2)}× per CPU-second.`);
  const pgOurs = results.find((m) => m.what.startsWith('PostgreSQL, quant'));
  const pgPeerM = results.find((m) => m.what.startsWith('PostgreSQL, peer'));
  if (pgOurs && pgPeerM) lines.push(`PostgreSQL cursor reader vs one plain SELECT: ${(pgOurs.rowsPerSecond / pgPeerM.rowsPerSecond).toFixed(2)}× the rows/s (wall), ${(pgPeerM.cpuSeconds / pgOurs.cpuSeconds).toFixed(2)}× per CPU-second, in bounded memory.`);
  if (pgNote) lines.push(pgNote);
  lines.push('', 'Command: `npx tsc -p . && bash .ci/services.sh && node --expose-gc dist/bench/witness.js' + (process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : '') + '`', '');
  process.stdout.write(lines.join('\n'));
}

await main();
