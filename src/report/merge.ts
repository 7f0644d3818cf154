/**
 * `merge`: join the reports of `run --shard I/N` jobs into the report an unsharded run would
 * have written. Identical to it apart from timing fields (run.id, startedAt, finishedAt,
 * durationMs, per-result and per-lane durationMs): same results and lanes, in canonical
 * order, with the verdict recomputed. Shards of different experiments (target, seeds,
 * formats, probes, corpus, backend, thresholds, tool version, the command line apart from
 * --shard/--out/--workers/--fail-on/--quiet/--json) are refused, as are
 * incomplete or repeated shard sets. A lane present in several shards (control lanes are run
 * by every shard that needs them) is kept once; if the copies disagree, the lowest shard's
 * copy wins and a warning says so (the backend was not deterministic). Results are kept
 * unless they are exact duplicates.
 */
import { UsageError } from '../errors.js';
import { judgeRun, measuredOnly, withJudgement } from '../verdict/gate.js';
import { DEFAULTS } from '../run/defaults.js';
import { canonicalOrder, laneKey } from './order.js';
import { formatShard } from './shard.js';
import { stableJson } from './json.js';

export { stableJson } from './json.js';
import type { FailOn, Lane, ProbeResult, Report } from './types.js';

export { canonicalOrder, compareLanes, compareResults, PROBE_ORDER } from './order.js';

export interface MergeOptions {
  /** File names, for messages (same order as the reports). */
  names?: string[];
  /** Gate the merged report at this level instead of the shards' common --fail-on. */
  failOn?: FailOn;
  /** The `quant-audit merge …` command line, recorded as run.mergeCommand. */
  command?: string;
  onWarning?: (message: string) => void;
}

/** Run fields that must agree between shards: they define the experiment. */
const SAME_EXPERIMENT: readonly (keyof Report['run'])[] = ['target', 'backend', 'ep', 'corpus', 'seeds', 'formats', 'probes', 'targetInfo', 'corpusInfo', 'uniformBaselineBits'];

/** Strip `--shard I/N` / `--shard=I/N` from a recorded command line. */
export function unshardedCommand(command: string): string {
  return command.replace(/\s+--shard(?:=|\s+)\S+/g, '');
}

/** `command` gated at `failOn`: its --fail-on replaced, or added when it had none and `failOn` is not the default. */
export function withFailOn(command: string, failOn: FailOn): string {
  if (/\s--fail-on(=|\s)/.test(command)) return command.replace(/(\s--fail-on(?:=|\s+))\S+/, `$1${failOn}`);
  return failOn === DEFAULTS.failOn ? command : `${command} --fail-on ${failOn}`;
}

/** Flags that change where and how a run reports or how fast it goes, never what it measures. */
const PRESENTATION_FLAGS = new Set(['--out', '--workers', '--shard', '--fail-on']);
const PRESENTATION_SWITCHES = new Set(['--quiet', '--json']);

/**
 * The part of a recorded command line that defines the experiment: without --shard, --out,
 * --workers, --fail-on, --quiet, --json. Shards whose commands differ beyond that (another
 * --steps, --lr, --no-master-weights…) are not parts of one run.
 */
export function experimentCommand(command: string): string {
  const tokens = command.split(/\s+/).filter((t) => t !== '');
  const kept: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const flag = t.split('=')[0]!;
    if (PRESENTATION_SWITCHES.has(t)) continue;
    if (PRESENTATION_FLAGS.has(flag)) {
      if (!t.includes('=')) i++; // skip its value too
      continue;
    }
    kept.push(t);
  }
  return kept.join(' ');
}

export function mergeReports(reports: Report[], options: MergeOptions = {}): Report {
  const names = reports.map((_, i) => options.names?.[i] ?? `report #${i + 1}`);
  const warn = options.onWarning ?? (() => undefined);
  if (reports.length === 0) throw new UsageError('merge needs at least one report.json (the reports of `run --shard I/N`, one per shard).');

  // Order shards by index so "the lowest shard wins" and messages are stable.
  const order = reports.map((r, i) => i).sort((a, b) => (reports[a]!.run.shard?.index ?? 0) - (reports[b]!.run.shard?.index ?? 0));
  const first = reports[order[0]!]!;
  const firstName = names[order[0]!]!;

  for (const i of order) {
    const r = reports[i]!;
    const differs = (what: string, a: unknown, b: unknown): never => {
      throw new UsageError(`cannot merge ${names[i]} with ${firstName}: they are not shards of the same run (${what}: ${JSON.stringify(b)} vs ${JSON.stringify(a)}). Merge only the reports of one \`run --shard I/N\` matrix.`);
    };
    if (r.kind !== first.kind) differs('kind', first.kind, r.kind);
    if (r.schemaVersion !== first.schemaVersion) differs('schemaVersion', first.schemaVersion, r.schemaVersion);
    if (r.tool.version !== first.tool.version) differs('quant-audit version', first.tool.version, r.tool.version);
    for (const field of SAME_EXPERIMENT) {
      if (stableJson(r.run[field] ?? null) !== stableJson(first.run[field] ?? null)) differs(`run.${field}`, first.run[field], r.run[field]);
    }
    if (stableJson(r.thresholds) !== stableJson(first.thresholds)) differs('thresholds', '(see report)', '(differ)');
    if (experimentCommand(r.run.command) !== experimentCommand(first.run.command)) differs('command', experimentCommand(first.run.command), experimentCommand(r.run.command));
  }

  const sharded = reports.filter((r) => r.run.shard !== undefined);
  if (sharded.length > 0) {
    if (sharded.length !== reports.length) {
      const plain = names[reports.findIndex((r) => r.run.shard === undefined)];
      throw new UsageError(`cannot merge: ${plain} is not a shard (it was run without --shard) but the others are.`);
    }
    const count = first.run.shard!.count;
    const seen = new Map<number, string>();
    reports.forEach((r, i) => {
      const s = r.run.shard!;
      if (s.count !== count) throw new UsageError(`cannot merge: ${names[i]} is shard ${formatShard(s)} but ${firstName} is shard ${formatShard(first.run.shard!)}; all shards must split the run into the same N.`);
      const dup = seen.get(s.index);
      if (dup !== undefined) throw new UsageError(`cannot merge: shard ${formatShard(s)} is given twice (${dup} and ${names[i]}).`);
      seen.set(s.index, names[i]!);
    });
    const missing = Array.from({ length: count }, (_, k) => k + 1).filter((k) => !seen.has(k));
    if (missing.length > 0) throw new UsageError(`cannot merge: missing shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${count}`).join(', ')}; a merged report must cover the whole matrix (got ${[...seen.keys()].sort((a, b) => a - b).map((k) => `${k}/${count}`).join(', ')}).`);
  } else if (reports.length > 1) {
    throw new UsageError(`cannot merge ${reports.length} reports that are not shards (none was run with --shard I/N): they would repeat the same jobs.`);
  }

  const failOns = [...new Set(reports.map((r) => r.run.failOn))];
  if (options.failOn === undefined && failOns.length > 1) {
    throw new UsageError(`the shards were gated at different --fail-on levels (${failOns.join(', ')}); pass --fail-on to merge to say which one the merged report uses.`);
  }
  const failOn = options.failOn ?? failOns[0]!;

  // Results: only exact duplicates are dropped (ProbeResult has no lr, so two results may share
  // probe/format/optimizer/seed and differ legitimately). Lanes are named uniquely.
  // What each shard measured, without the judgement derived from it: the merged report is judged again as a whole.
  const results = dedupe<ProbeResult>(order, reports, names, (r) => r.results.map(measuredOnly), (x) => stableJson(x), 'result', warn);
  const lanes = dedupe<Lane>(order, reports, names, (r) => r.lanes.map(measuredOnly), laneKey, 'lane', warn);

  const starts = reports.map((r) => r.run.startedAt).sort();
  const ends = reports.map((r) => r.run.finishedAt).filter((x): x is string => x !== undefined).sort();
  // The recorded command is the unsharded run at the merged gate: what would have produced this report in one job.
  const run: Report['run'] = { ...first.run, command: withFailOn(unshardedCommand(first.run.command), failOn), failOn, startedAt: starts[0]! };
  if (options.command !== undefined) run.mergeCommand = options.command;
  delete run.shard;
  if (ends.length > 0) run.finishedAt = ends[ends.length - 1]!;
  else delete run.finishedAt;
  const durations = reports.map((r) => r.run.durationMs);
  if (durations.every((d): d is number => d !== undefined)) run.durationMs = durations.reduce((a, b) => a + b, 0);
  else delete run.durationMs;

  // Lanes of one format may come from different shards: the asymmetries are judged again with the rest.
  const merged = withJudgement({ ...first, run }, judgeRun(results, lanes, failOn, run.formats));
  return canonicalOrder(merged);
}

function dedupe<T>(
  order: number[],
  reports: Report[],
  names: string[],
  items: (r: Report) => T[],
  key: (x: T) => string,
  what: string,
  warn: (m: string) => void,
): T[] {
  const kept = new Map<string, { item: T; from: string }>();
  for (const i of order) {
    for (const item of items(reports[i]!)) {
      const k = key(item);
      const prev = kept.get(k);
      if (prev === undefined) {
        kept.set(k, { item, from: names[i]! });
      } else if (stableJson(prev.item) !== stableJson(item)) {
        warn(`${what} ${k} differs between ${prev.from} and ${names[i]} (same seed, different numbers: the backend is not deterministic); kept the copy from ${prev.from}.`);
      }
    }
  }
  return [...kept.values()].map((v) => v.item);
}
