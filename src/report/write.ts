/**
 * Run directories: reports/<run-id>/report.json and the views beside it (report.md, report.xml,
 * report.html: every row of src/report/renderers.ts with a file), and reports/latest, a one-line
 * text file holding the newest run id.
 *
 * - Atomic: every file is written to a temporary name in the same directory and renamed
 *   into place, so a reader (or a CI artifact upload) never sees half a report.json;
 *   report.json is renamed last, so when it exists the views exist too.
 * - Never overwrites: the run directory is created exclusively; if the id is taken (two runs
 *   in the same second), `-2`, `-3`, … is appended and run.id updated to match.
 * - `latest` is a plain file, not a symlink: symlinks need privileges on Windows and are
 *   dropped or followed by artifact uploaders; a file works everywhere. `resolveReportPath`
 *   accepts it (and a run directory) wherever a report.json path is expected.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { parseReportJson, roundTrip } from './json.js';
import { fileKey, rendererOf, WRITTEN_VIEWS, type ReportFileKey } from './renderers.js';
import { validate, validateJson } from './schema.js';
import { SCHEMA_VERSION, type Report } from './types.js';

const LATEST_FILE = 'latest';
/** The run's record; written last, so that when it exists every view beside it does too. */
const REPORT_FILE = 'report.json';

/** `20261126-103105-mutant-in-place`: UTC time to the second, then the label in kebab-case. Sorts by time. */
export function newRunId(startedAt: Date, label: string): string {
  const iso = startedAt.toISOString(); // 2026-11-26T10:31:05.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/g, '');
  return slug ? `${stamp}-${slug}` : stamp;
}

let tmpCounter = 0;

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
  await writeFile(tmp, text, { encoding: 'utf8', flag: 'wx' });
  await rename(tmp, path);
}

export interface WrittenRun {
  id: string;
  dir: string;
  /** Each written file by its extension: json, md, xml, html. */
  files: Record<ReportFileKey, string>;
}

/**
 * Write report.json and its views into a new directory `outDir/<run.id>` and point `latest` at it.
 * If the id was taken, `report.run.id` is updated (in place) to the suffixed id actually used.
 * A report that fails the schema is still written (nothing is lost), then this throws: it is
 * a bug in quant-audit, not in the user's input.
 */
export async function writeRunReport(report: Report, outDir: string): Promise<WrittenRun> {
  if (!report.run.id) throw new Error('writeRunReport: report.run.id is empty; set it with newRunId() first');
  await mkdir(outDir, { recursive: true });
  const base = report.run.id;
  let id = base;
  let dir = join(outDir, id);
  for (let n = 2; ; n++) {
    try {
      await mkdir(dir); // not recursive: fails with EEXIST instead of reusing a run directory
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (n > 1000) throw new UsageError(`cannot create a run directory under ${outDir}: ${base} and its suffixes up to -1000 all exist.`);
      id = `${base}-${n}`;
      dir = join(outDir, id);
    }
  }
  report.run.id = id;
  // Render from exactly what report.json will hold, so `quant-audit report` re-renders byte-identically.
  const stored = roundTrip(report);
  const files = Object.fromEntries(WRITTEN_VIEWS.map((v) => [fileKey(v.file), join(dir, v.file)])) as Record<ReportFileKey, string>;
  const inOrder = [...WRITTEN_VIEWS.filter((v) => v.file !== REPORT_FILE), ...WRITTEN_VIEWS.filter((v) => v.file === REPORT_FILE)];
  for (const v of inOrder) await writeAtomic(join(dir, v.file), (await rendererOf(v.view))(stored, {}));
  await writeAtomic(join(outDir, LATEST_FILE), `${id}\n`);
  const check = validate(report);
  if (!check.valid) throw new Error(`quant-audit wrote ${files.json} but it does not match schema/report.schema.json (a bug, please report):\n  ${check.errors.slice(0, 10).join('\n  ')}`);
  return { id, dir, files };
}

/** The lines `run` and `witness` print after writing: report.json, then the md and xml views beside it. */
export function writtenFilesNote(written: WrittenRun): string {
  return `\nreport: ${written.files.json}\n        ${written.files.md}\n        ${written.files.xml}\n`;
}

/** The run directory `latest` points at, or a UsageError saying there is none. */
export function latestRunDir(outDir: string): string {
  const pointer = join(outDir, LATEST_FILE);
  let id: string;
  try {
    id = readFileSync(pointer, 'utf8').trim();
  } catch {
    throw new UsageError(`no ${pointer}: there is no run under ${outDir} yet. Run \`quant-audit run\` first, or name a report file.`);
  }
  if (!id || /[\\/]|^\.\.?$/.test(id)) throw new UsageError(`${pointer} does not hold a run id (got ${JSON.stringify(id.slice(0, 80))}).`);
  return join(outDir, id);
}

/**
 * Where the report file is: a path to the file itself, a run directory, or a `latest`
 * pointer file (or the reports directory holding one). `file` picks the view (report.json).
 */
export function resolveReportPath(path: string, file = REPORT_FILE): string {
  if (!existsSync(path)) {
    if (basename(path) === LATEST_FILE) return join(latestRunDir(dirname(path)), file); // throws: no run yet
    return path; // the reader reports "no such file" with the path given
  }
  const st = statSync(path);
  if (st.isDirectory()) {
    if (existsSync(join(path, file))) return join(path, file);
    if (existsSync(join(path, LATEST_FILE))) return join(latestRunDir(path), file);
    return join(path, file);
  }
  if (basename(path) === LATEST_FILE) return join(latestRunDir(dirname(path)), file);
  return path;
}

/** Read and check a report.json: missing, empty, truncated, non-JSON or other-version files are UsageErrors. */
export function readReport(path: string): Report {
  const file = resolveReportPath(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`cannot read report ${file}: no such file. Pass the report.json of a run (reports/<run-id>/report.json), a run directory, or reports/latest.`);
    if (code === 'EISDIR') throw new UsageError(`cannot read report ${file}: it is a directory without a report.json.`);
    throw new UsageError(`cannot read report ${file}: ${code ?? String(e)}.`);
  }
  if (text.trim() === '') throw new UsageError(`report ${file} is empty (the run was interrupted before it wrote its report?).`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const looksTruncated = text.trimStart().startsWith('{') && !text.trimEnd().endsWith('}');
    throw new UsageError(
      looksTruncated
        ? `report ${file} is truncated (${text.length} bytes, no closing brace); it was not written completely. Re-run, or use another run's report.json.`
        : `report ${file} is not JSON (${(e as Error).message}); pass the report.json of a run, not report.md or report.xml.`,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`report ${file} is JSON but not a quant-audit report (expected an object with schemaVersion, run, results, lanes).`);
  const version = (raw as { schemaVersion?: unknown }).schemaVersion;
  if (version === undefined) throw new UsageError(`report ${file} has no schemaVersion: it is not a quant-audit report.json.`);
  if (version !== SCHEMA_VERSION) {
    throw new UsageError(`report ${file} has schemaVersion ${JSON.stringify(version)}; this quant-audit reads schemaVersion ${SCHEMA_VERSION}. Re-render it with the quant-audit version that wrote it (tool.version in the file).`);
  }
  const check = validateJson(raw);
  if (!check.valid) throw new UsageError(`report ${file} does not match the report schema (schema/report.schema.json):\n  ${check.errors.slice(0, 8).join('\n  ')}${check.errors.length > 8 ? `\n  … and ${check.errors.length - 8} more` : ''}`);
  return parseReportJson(text) as Report;
}

/** Directories under `outDir` that are not in `before` (what a report write created). */
export function dirsCreatedSince(outDir: string, before: ReadonlySet<string>): string[] {
  try {
    return readdirSync(outDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !before.has(d.name))
      .map((d) => join(outDir, d.name));
  } catch {
    return [];
  }
}

/** The names under `outDir` now (empty when it does not exist yet). */
export function listDir(outDir: string): Set<string> {
  try {
    return new Set(readdirSync(outDir));
  } catch {
    return new Set();
  }
}
