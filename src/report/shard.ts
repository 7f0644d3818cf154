/**
 * Sharding: `run --shard I/N` runs a deterministic 1/N of the job matrix so a CI matrix of
 * N jobs covers it exactly once. A job belongs to shard (hash(key) mod N) + 1, where the key
 * names the job (`probes|format` for the probe jobs of one format, the lane name for learnability lanes) and
 * the hash is FNV-1a 32-bit over the key's UTF-8 bytes: stable across machines, Node
 * versions and job order, so the union of shards 1..N is the full set and no two overlap.
 */
import { UsageError } from '../errors.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parse `I/N` (1 <= I <= N, both integers). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard '${text}' is not of the form I/N (for example 2/4: the second of four shards).`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 10_000) throw new UsageError(`--shard '${text}': the shard count N must be between 1 and 10000.`);
  if (index < 1 || index > count) throw new UsageError(`--shard '${text}': the shard index I must be between 1 and ${count} (shards are numbered from 1).`);
  return { index, count };
}

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/** FNV-1a, 32 bits, over UTF-8 bytes. */
export function stableHash(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The 1-based shard a job key belongs to among `count` shards. */
export function shardOf(key: string, count: number): number {
  return (stableHash(key) % count) + 1;
}

export function inShard(key: string, shard: Shard): boolean {
  return shardOf(key, shard.count) === shard.index;
}

/**
 * The job key of a format's probe jobs: every probe of one format runs in the same shard, so
 * the causal experiments between them (probes/causes.ts) see all of that format's failures.
 */
export function probeJobKey(format: string): string {
  return `probes|${format}`;
}
