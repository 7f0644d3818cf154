/**
 * Seeded case generators and a classifier for the fuzz suite: the short form runs in
 * test/fuzz-*.test.ts, the long form in bench/fuzz.ts (≥ 1000 ONNX cases). Every case is
 * a function of (seed, index), so a failure names the exact case to reproduce.
 *
 * Outcomes: `ok` (ran to a report), `usage` (exit 2: a clear UsageError), `inconclusive`
 * (exit 3), `internal` (anything else — a bug in quant-audit), `hang` (over the time bound).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/rng.js';
import { onnx, type ModelProto } from '../../src/onnx/proto.js';
import { InconclusiveError, UsageError } from '../../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/test/support). */
export const ROOT = join(here, '..', '..', '..');
export const ONNX_FIXTURES = join(ROOT, 'fixtures', 'onnx');
export const FUZZ_SEEDS = join(ROOT, 'fixtures', 'fuzz');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export type OutcomeKind = 'ok' | 'usage' | 'inconclusive' | 'internal' | 'hang';

export interface Outcome {
  kind: OutcomeKind;
  ms: number;
  message: string;
}

export interface FuzzCase {
  /** `category/mutation#index`, enough to regenerate it. */
  name: string;
  category: string;
  bytes: Uint8Array;
}

/** Classify what `fn` did: a UsageError is a clear user-facing failure; anything else unexpected is internal. */
export async function classify(fn: () => Promise<unknown>, timeoutMs: number): Promise<Outcome> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hang', ms: Date.now() - started, message: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const run = fn().then(
    (): Outcome => ({ kind: 'ok', ms: Date.now() - started, message: '' }),
    (e: unknown): Outcome => ({
      kind: e instanceof UsageError ? 'usage' : e instanceof InconclusiveError ? 'inconclusive' : 'internal',
      ms: Date.now() - started,
      message: e instanceof UsageError || e instanceof InconclusiveError ? e.message : String((e as Error)?.stack ?? e),
    }),
  );
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- ONNX

export function onnxFixtures(): { name: string; bytes: Uint8Array }[] {
  return readdirSync(ONNX_FIXTURES)
    .filter((f) => f.endsWith('.onnx'))
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(ONNX_FIXTURES, name))) }));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

/** Text a report may carry (witness summaries, reasons, repro commands built from user input) that every view must escape. */
export const HOSTILE_TEXT = ['a | b', '<b>x</b> & "y"', 'line 1\nline 2', '`code` **bold** _x_', 'é 漢字 ✓', '', ']]> <!--', '</failure></testcase><testcase name="injected">', '| x | y |'];

/** Byte-level damage: flips, truncation, splices of two fixtures. */
const BYTE_MUTATIONS: Record<string, (b: Uint8Array, rng: Rng, other: Uint8Array) => Uint8Array> = {
  bitflip(b, rng) {
    const out = Uint8Array.from(b);
    const k = 1 + rng.int(8);
    for (let i = 0; i < k; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
    return out;
  },
  truncate(b, rng) {
    return b.slice(0, rng.int(b.length));
  },
  splice(b, rng, other) {
    const at = rng.int(b.length);
    const from = rng.int(other.length);
    const piece = other.subarray(from, from + 1 + rng.int(256));
    const out = new Uint8Array(at + piece.length);
    out.set(b.subarray(0, at));
    out.set(piece, at);
    return out;
  },
  garbage(_b, rng) {
    return Uint8Array.from({ length: rng.int(512) }, () => rng.int(256));
  },
};

type ProtoMutation = (m: ModelProto, rng: Rng) => void;

/** Structural damage through onnx-proto: a decodable file that lies about itself. */
const PROTO_MUTATIONS: Record<string, ProtoMutation> = {
  absurdDims(m, rng) {
    const ts = m.graph?.initializer ?? [];
    if (ts.length) pick(rng, ts).dims = [pick(rng, [2 ** 40, -1, 2 ** 31, 1e15, 0])];
  },
  wrongDtype(m, rng) {
    const ts = m.graph?.initializer ?? [];
    if (ts.length) pick(rng, ts).dataType = pick(rng, [0, 7, 8, 9, 11, 14, 15, 23, 99]);
  },
  inputDtype(m, rng) {
    const ins = m.graph?.input ?? [];
    if (!ins.length) return;
    const v = pick(rng, ins);
    v.type = { tensorType: { elemType: pick(rng, [0, 7, 8, 99]), shape: v.type?.tensorType?.shape ?? null } };
  },
  hugeInputDims(m, rng) {
    const ins = m.graph?.input ?? [];
    if (!ins.length) return;
    const v = pick(rng, ins);
    v.type = { tensorType: { elemType: 1, shape: { dim: [{ dimValue: pick(rng, [2 ** 40, 2 ** 30, 1e12]) }, { dimValue: pick(rng, [2 ** 20, 16]) }] } } };
  },
  cycle(m, rng) {
    const ns = m.graph?.node ?? [];
    if (ns.length < 2) return;
    const a = pick(rng, ns);
    const b = pick(rng, ns);
    if (a.output?.length && b.input?.length) b.input[0] = a.output[0]!;
    if (b.output?.length && a.input?.length) a.input[0] = b.output[0]!;
  },
  selfLoop(m, rng) {
    const n = pick(rng, m.graph?.node ?? [{}]);
    if (n.output?.length && n.input?.length) n.input[0] = n.output[0]!;
  },
  missingInputs(m) {
    if (m.graph) m.graph.input = [];
  },
  dropInitializer(m, rng) {
    const ts = m.graph?.initializer ?? [];
    if (ts.length) ts.splice(rng.int(ts.length), 1);
  },
  externalData(m, rng) {
    const ts = m.graph?.initializer ?? [];
    if (!ts.length) return;
    const t = pick(rng, ts);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    t.externalData = [
      { key: 'location', value: pick(rng, ['../../etc/passwd', '/etc/passwd', 'missing.bin', '', 'sub/../../x', '.', '..']) },
      ...(rng.int(2) ? [{ key: 'offset', value: pick(rng, ['-1', 'abc', '1e30', '0']) }, { key: 'length', value: pick(rng, ['99999999999', '-4', 'NaN', '4']) }] : []),
    ];
  },
  opType(m, rng) {
    const ns = m.graph?.node ?? [];
    if (ns.length) pick(rng, ns).opType = pick(rng, ['', 'NoSuchOp', 'QuantizeLinear', 'DequantizeLinear', 'Loop', 'If']);
  },
  opset(m, rng) {
    m.opsetImport = [{ domain: '', version: pick(rng, [0, 1, 6, 24, 1000, -1]) }];
  },
  shortRawData(m, rng) {
    const ts = m.graph?.initializer ?? [];
    if (!ts.length) return;
    const t = pick(rng, ts);
    if (t.rawData?.length) t.rawData = t.rawData.slice(0, rng.int(t.rawData.length));
    else t.floatData = [];
  },
  badScale(m, rng) {
    const ts = (m.graph?.initializer ?? []).filter((t) => /scale/i.test(t.name ?? ''));
    if (!ts.length) return;
    const t = pick(rng, ts);
    // An earlier mutation in the same case may have set absurd dims (1e15, -1, 2^40): write one value then.
    const fromDims = (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    const n = Number.isSafeInteger(fromDims) && fromDims > 0 && fromDims <= 2 ** 20 ? fromDims : 1;
    t.rawData = new Uint8Array(new Float32Array(n).fill(pick(rng, [Number.NaN, Infinity, -Infinity, 0, -1, 1e-45, 3e38])).buffer);
    t.floatData = [];
    t.dataType = 1;
  },
  junkAttribute(m, rng) {
    const ns = m.graph?.node ?? [];
    if (ns.length) pick(rng, ns).attribute = [{ name: pick(rng, ['axis', 'block_size', 'to', 'saturate']), type: 2, i: pick(rng, [99, -99, 2 ** 40]) }];
  },
  outputs(m, rng) {
    if (m.graph) m.graph.output = pick(rng, [[], [...(m.graph.output ?? []), ...(m.graph.output ?? [])], [{ name: 'nonexistent' }]]);
  },
  duplicateNames(m) {
    for (const n of m.graph?.node ?? []) n.output = (n.output ?? []).map(() => 'same');
  },
  irVersion(m, rng) {
    m.irVersion = pick(rng, [0, -1, 100]);
  },
};

export const ONNX_MUTATIONS = [...Object.keys(BYTE_MUTATIONS), ...Object.keys(PROTO_MUTATIONS)];

/** Case `index` of the ONNX fuzz for `seed`: a fixture damaged by one or two mutations. */
export function onnxCase(seed: number, index: number, fixtures = onnxFixtures()): FuzzCase {
  const rng = new Rng(seed).fork(`onnx-${index}`);
  const base = pick(rng, fixtures);
  const names = ONNX_MUTATIONS;
  const first = pick(rng, names);
  if (first in BYTE_MUTATIONS) {
    const other = pick(rng, fixtures).bytes;
    return { name: `onnx/${first}#${index} (${base.name})`, category: `onnx-${first}`, bytes: BYTE_MUTATIONS[first]!(base.bytes, rng, other) };
  }
  const model = onnx.ModelProto.decode(base.bytes);
  const applied = [first];
  PROTO_MUTATIONS[first]!(model, rng);
  if (rng.int(3) === 0) {
    const second = pick(rng, Object.keys(PROTO_MUTATIONS));
    PROTO_MUTATIONS[second]!(model, rng);
    applied.push(second);
  }
  return { name: `onnx/${applied.join('+')}#${index} (${base.name})`, category: `onnx-${first}`, bytes: onnx.ModelProto.encode(model).finish() };
}

// ---------------------------------------------------------------- quant-audit.yaml

const CONFIG_KEYS = ['target', 'probes', 'formats', 'optimizers', 'seeds', 'lrs', 'steps', 'corpus', 'backend', 'ep', 'failOn', 'out', 'thresholds', 'customFormats', 'learnability', 'exec', 'limits', 'witness', 'bogus', '__proto__', 'constructor', 'toString'];
const CONFIG_VALUES = [
  '1', '-1', '1e999', '.nan', '.inf', 'null', '~', 'true', '"x"', '[]', '{}', '[1, "a"]', '[.nan]', '{a: 1}', '&a [1]', '*nope',
  '!!binary aGVsbG8=', '!!js/function "f(){}"', '2026-11-26', '0x10', '"int8"', '[int8, nf4]', '[int8, nosuch]',
  '{int9: {family: integer, bits: 9}}', '{mine: {family: minifloat, exponentBits: 99, mantissaBits: -1}}', '{mine: {}}',
  '{roundtrip.sqnrMarginDb: [1, 2, 3]}', '{hidden: -5, workers: 0}', '{maxTensorElements: -1, maxMemoryMB: 1e308}', '{maxTensorElements: 0.5}',
  '{timeoutMs: 0}', '[1597, 1.5]', '[-0.001]', '"exec:"', '"onnx:/dev/null"', '"mutant:nosuch"', '"tfjs:/nonexistent.mjs"',
];

export const CONFIG_GENERATORS: Record<string, (rng: Rng) => string | Uint8Array> = {
  wrongTypes: (rng) => Array.from({ length: 1 + rng.int(4) }, () => `${pick(rng, CONFIG_KEYS)}: ${pick(rng, CONFIG_VALUES)}`).join('\n'),
  aliasBomb: () =>
    'a: &a [x, x, x, x, x, x, x, x, x, x]\n' +
    Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n') +
    '\nformats: *i\n',
  deepFlow: (rng) => `formats: ${'['.repeat(1 + rng.int(5000))}${']'.repeat(rng.int(5000))}`,
  deepMapping: (rng) => `learnability: ${'{a: '.repeat(1 + rng.int(3000))}1${'}'.repeat(rng.int(3000))}`,
  deepBlock: (rng) => Array.from({ length: 70 + rng.int(500) }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'),
  deepSequence: (rng) => `formats:\n${'- '.repeat(70 + rng.int(2000))}int8\n`,
  binary: (rng) => Uint8Array.from({ length: rng.int(300) }, () => rng.int(256)),
  notUtf8: (rng) => Uint8Array.from([0xff, 0xfe, 0x00, ...new TextEncoder().encode(`formats: [int8]\nsteps: ${rng.int(100)}\n`)]),
  huge: (rng) => `target: reference\n# ${'x'.repeat(rng.int(2) ? 1_100_000 : 100)}\n`,
  duplicateKeys: () => 'formats: [int8]\nformats: [nf4]\n',
  multiDocument: () => '---\nformats: [int8]\n---\nformats: [nf4]\n',
  topLevelList: () => '- a\n- b\n',
  badSteps: (rng) => `steps: ${pick(rng, ['0', '-1', '1.5', '1e9', '"100"', '0x7fffffff'])}`,
  badThresholds: (rng) => `thresholds:\n  ${pick(rng, ['nosuch: 1', 'roundtrip.sqnrMarginDb: "x"', 'learnability.deadMargin: [1]', 'learnability.deadMargin: .nan'])}`,
  badCustomFormats: (rng) =>
    `customFormats:\n  ${pick(rng, [
      'int8: {family: integer, bits: 0}',
      'x: {family: posit, bits: 99}',
      'y: {family: codebook, values: []}',
      'z: {family: codebook, values: [.nan, 1]}',
      'w: {family: minifloat, bits: 8, exponentBits: 4, mantissaBits: 3, bias: 1e308}',
      'v: {family: nosuch}',
      'u: {family: integer, bits: 4, scaling: nosuch}',
      'q: {family: integer, bits: 4, blockSize: 0, scaling: per-block-absmax}',
    ])}`,
};

export function configCase(seed: number, index: number): FuzzCase {
  const rng = new Rng(seed).fork(`config-${index}`);
  const kind = pick(rng, Object.keys(CONFIG_GENERATORS));
  const made = CONFIG_GENERATORS[kind]!(rng);
  return { name: `config/${kind}#${index}`, category: `config-${kind}`, bytes: typeof made === 'string' ? new TextEncoder().encode(made) : made };
}

// ---------------------------------------------------------------- report.json

export const REPORT_MUTATIONS: Record<string, (text: string, rng: Rng) => string> = {
  truncated: (t, rng) => t.slice(0, rng.int(t.length)),
  otherSchemaVersion: (t, rng) => t.replace(/"schemaVersion": [^,]+,/, `"schemaVersion": ${pick(rng, ['0', '2', '99', '"1"', 'null', '[]'])},`),
  noSchemaVersion: (t) => t.replace(/"schemaVersion": [^,]+,/, ''),
  empty: (_t, rng) => pick(rng, ['', '   \n']),
  notAnObject: (_t, rng) => pick(rng, ['[]', '42', '"report"', 'null', 'true']),
  markdown: () => '# quant-audit report\n\n| a | b |\n',
  wrongTypes: (t, rng) => {
    const json = JSON.parse(t) as Record<string, unknown>;
    const key = pick(rng, ['results', 'lanes', 'run', 'verdict', 'thresholds', 'tool']);
    json[key] = pick(rng, [null, 42, 'x', [], {}, [{}]]);
    return JSON.stringify(json);
  },
  byteFlip: (t, rng) => {
    const chars = [...t];
    for (let i = 0; i < 1 + rng.int(4); i++) chars[rng.int(chars.length)] = pick(rng, ['{', '}', '"', ',', '\u0000', 'é', '9']);
    return chars.join('');
  },
  deep: (_t, rng) => `${'['.repeat(10000 + rng.int(100000))}`,
  /** Still a valid report, with other content: verdicts, extreme statistics, text that markdown and XML must escape. */
  validEdits: (t, rng) => {
    const json = JSON.parse(t) as { results: Record<string, unknown>[]; lanes: unknown[] };
    for (let k = 0; k < 1 + rng.int(3); k++) {
      const r = json.results[rng.int(json.results.length)];
      if (!r) break;
      switch (rng.int(5)) {
        case 0:
          r.verdict = pick(rng, ['pass', 'fail', 'inconclusive', 'skipped']);
          break;
        case 1:
          (r.statistic as Record<string, unknown>).value = pick(rng, [0, -0, 1e308, -1e-308, 123456789.123, null]);
          break;
        case 2:
          r.reason = pick(rng, HOSTILE_TEXT);
          break;
        case 3:
          r.witness = { summary: pick(rng, HOSTILE_TEXT), samples: [{ x: 1, y: pick(rng, [2, -0, 1e-45]) }], repro: pick(rng, HOSTILE_TEXT) };
          break;
        default:
          json.results.push({ ...r });
      }
    }
    return JSON.stringify(json, null, 2);
  },
};

export function reportCase(seed: number, index: number, valid: string): FuzzCase {
  const rng = new Rng(seed).fork(`report-${index}`);
  const kind = pick(rng, Object.keys(REPORT_MUTATIONS));
  return { name: `report/${kind}#${index}`, category: `report-${kind}`, bytes: new TextEncoder().encode(REPORT_MUTATIONS[kind]!(valid, rng)) };
}

// ---------------------------------------------------------------- tensors

/** Hostile float32 inputs: NaN, ±Inf, denormals, ±0, extremes, empty. */
export function hostileTensors(rng: Rng): { name: string; x: Float32Array }[] {
  const specials = [Number.NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1.17e-38, 3.4e38, -3.4e38, 1, -1, 65504, 1e-8];
  return [
    { name: 'specials', x: Float32Array.from(specials) },
    { name: 'empty', x: new Float32Array(0) },
    { name: 'one', x: Float32Array.of(0.5) },
    { name: 'all-denormal', x: new Float32Array(65).fill(1e-45) },
    { name: 'all-max', x: new Float32Array(33).fill(3.4e38) },
    { name: 'all-nan', x: new Float32Array(40).fill(Number.NaN) },
    { name: 'all-zero', x: new Float32Array(64) },
    { name: 'mixed-random', x: Float32Array.from({ length: 257 }, () => (rng.int(5) === 0 ? pick(rng, specials) : rng.normal() * 10 ** (rng.int(20) - 10))) },
  ];
}

// ---------------------------------------------------------------- files

export function writeCase(dir: string, c: FuzzCase, ext: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${c.category}-${c.name.replace(/[^a-z0-9]+/gi, '_').slice(0, 60)}${ext}`);
  writeFileSync(file, c.bytes);
  return file;
}

/** Tally of outcomes per category, and the slowest case. */
export class Tally {
  readonly byCategory = new Map<string, Record<OutcomeKind, number>>();
  slowest: { name: string; ms: number } = { name: '', ms: 0 };
  readonly bad: { name: string; outcome: Outcome }[] = [];

  add(c: Pick<FuzzCase, 'name' | 'category'>, o: Outcome, good: readonly OutcomeKind[] = ['ok', 'usage', 'inconclusive']): void {
    const group = c.category.replace(/-.*/, '');
    const row = this.byCategory.get(group) ?? { ok: 0, usage: 0, inconclusive: 0, internal: 0, hang: 0 };
    row[o.kind]++;
    this.byCategory.set(group, row);
    if (o.ms > this.slowest.ms) this.slowest = { name: c.name, ms: o.ms };
    if (!good.includes(o.kind)) this.bad.push({ name: c.name, outcome: o });
  }

  total(): number {
    let n = 0;
    for (const row of this.byCategory.values()) n += Object.values(row).reduce((a, b) => a + b, 0);
    return n;
  }
}
