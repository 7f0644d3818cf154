/**
 * builtin:markov — a synthetic order-1 Markov source over 27 printable symbols (a–z and space).
 * Each symbol has 5 successors with random weights (one of them the next letter, which keeps
 * the chain irreducible). Its entropy rate H = Σᵢ πᵢ·H(Pᵢ) is computed exactly from the
 * transition matrix and its stationary distribution π, so a model's bpb on this corpus has a
 * known floor: no model can beat H in expectation, a perfect one reaches it.
 */
import { Rng } from '../rng.js';

const MARKOV_SEED = 20261126;
const MARKOV_ALPHABET = 'abcdefghijklmnopqrstuvwxyz ';
const MARKOV_SUCCESSORS = 5;
const MARKOV_LENGTH = 200_000;

export interface MarkovSource {
  /** transition[i][j] = P(next = j | current = i). */
  transition: number[][];
  stationary: number[];
  entropyRateBits: number;
  bytes: Uint8Array;
  description: string;
}

export function markovTransition(seed = MARKOV_SEED, n = MARKOV_ALPHABET.length, successors = MARKOV_SUCCESSORS): number[][] {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(n).fill(0);
    const chosen = new Set<number>([(i + 1) % n]);
    while (chosen.size < successors) chosen.add(rng.int(n));
    for (const j of chosen) row[j] = Math.exp(2 * rng.normal());
    const total = row.reduce((a, b) => a + b, 0);
    rows.push(row.map((p) => p / total));
  }
  return rows;
}

/** π with π = πP, by power iteration on the lazy chain (P + I)/2, which has the same π and always converges. */
export function stationaryDistribution(p: number[][]): number[] {
  const n = p.length;
  let pi = new Array<number>(n).fill(1 / n);
  for (let iter = 0; iter < 100_000; iter++) {
    const next = pi.map((v) => v / 2);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) next[j]! += (pi[i]! * p[i]![j]!) / 2;
    let diff = 0;
    for (let j = 0; j < n; j++) diff = Math.max(diff, Math.abs(next[j]! - pi[j]!));
    pi = next;
    if (diff < 1e-16) break;
  }
  return pi;
}

export function entropyRateBits(p: number[][], pi: number[]): number {
  let h = 0;
  p.forEach((row, i) => {
    for (const q of row) if (q > 0) h -= pi[i]! * q * Math.log2(q);
  });
  return h;
}

export function markovCorpus(seed = MARKOV_SEED, length = MARKOV_LENGTH): MarkovSource {
  const transition = markovTransition(seed);
  const stationary = stationaryDistribution(transition);
  const rng = new Rng(seed).fork('emit');
  const bytes = new Uint8Array(length);
  let state = 0;
  for (let t = 0; t < length; t++) {
    const row = transition[state]!;
    let u = rng.next();
    let next = row.length - 1;
    for (let j = 0; j < row.length; j++) {
      u -= row[j]!;
      if (u < 0) {
        next = j;
        break;
      }
    }
    state = next;
    bytes[t] = MARKOV_ALPHABET.charCodeAt(state);
  }
  return {
    transition,
    stationary,
    entropyRateBits: entropyRateBits(transition, stationary),
    bytes,
    description: `order-1 Markov source, ${MARKOV_ALPHABET.length} symbols, ${MARKOV_SUCCESSORS} successors each, seed ${seed}`,
  };
}
