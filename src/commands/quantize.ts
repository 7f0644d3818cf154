/**
 * `quant-audit quantize --format NAME [--scale S] [--zero-point Z] [--json] VALUE…` — what a
 * format does to given values: code (hex), dequantized value, error. The values form one
 * tensor, so scaled formats take their scale from them (absmax, min/max, MX blocks of 32)
 * unless --scale is given. Negative values work as plain arguments (`quantize --format int8 -1.5 2`).
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { Chalk } from 'chalk';
import { UsageError } from '../errors.js';
import { useColor } from '../color.js';
import { encode, decode, type Encoded, type FormatSpec } from '../formats/index.js';
import { integerRange } from '../formats/integer.js';
import { registryFromConfig, formatNumber } from './formats.js';

export interface QuantizedValue {
  input: number;
  /** The stored bit pattern (integer rows: two's complement masked to `bits`). */
  code: number;
  hex: string;
  /** Integer rows: the code as ONNX QuantizeLinear outputs it (signed for int rows, e.g. −8 for int4 0x8). */
  q?: number;
  dequantized: number;
  error: number;
}

export interface QuantizeResult {
  format: string;
  scaling: string;
  scales: number[];
  zeroPoints?: number[];
  sharedExponents?: number[];
  values: QuantizedValue[];
}

const SPECIAL: Record<string, number> = { inf: Infinity, '+inf': Infinity, '-inf': -Infinity, infinity: Infinity, '-infinity': -Infinity, '+infinity': Infinity, nan: NaN };

function parseValue(text: string, what = 'value'): number {
  const t = text.trim().toLowerCase();
  if (t in SPECIAL) return SPECIAL[t]!;
  const v = t === '' ? NaN : Number(t);
  if (Number.isNaN(v)) {
    throw new UsageError(
      text.startsWith('--')
        ? `unknown option '${text}' for quantize. Options: --format NAME, --scale S, --zero-point Z, --json, --config FILE.`
        : `${what} '${text}' is not a number (examples: 1.5, -0.25, 3e-4, inf, nan).`,
    );
  }
  return v;
}

function quantizeValues(spec: FormatSpec, values: number[], scale?: number, zeroPoint?: number): QuantizeResult {
  const x = Float32Array.from(values);
  const opts: { scale?: number; zeroPoint?: number } = {};
  if (scale !== undefined) opts.scale = scale;
  if (zeroPoint !== undefined) opts.zeroPoint = zeroPoint;
  const enc: Encoded = encode(spec, x, opts);
  const y = decode(spec, enc);
  const digits = Math.ceil(spec.bits / 4);
  const size = 2 ** spec.bits;
  const integer = (code: number): number | undefined =>
    spec.family !== 'integer' ? undefined : spec.signed && code >= size / 2 ? code - size : code;
  const result: QuantizeResult = {
    format: spec.name,
    scaling: spec.scaling,
    scales: [...enc.scales],
    values: [...x].map((input, i) => {
      const q = integer(enc.codes[i]!);
      return {
        input,
        code: enc.codes[i]!,
        hex: `0x${enc.codes[i]!.toString(16).toUpperCase().padStart(digits, '0')}`,
        ...(q === undefined ? {} : { q }),
        dequantized: y[i]!,
        error: y[i]! - input,
      };
    }),
  };
  if (enc.zeroPoints) result.zeroPoints = [...enc.zeroPoints];
  if (enc.sharedExponents) result.sharedExponents = [...enc.sharedExponents];
  return result;
}

function jsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

/** Shortest decimal that reads back as the same float32 (0.3, not 0.30000001192092896). */
function float32String(v: number): string {
  if (!Number.isFinite(v) || v === 0) return Object.is(v, -0) ? '-0' : String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

function quantizeTable(r: QuantizeResult, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  // integer rows: the code as a (signed) integer beside its bit pattern
  const integer = r.values.some((v) => v.q !== undefined);
  const head = integer ? ['value', 'code', 'q', 'dequantized', 'error'] : ['value', 'code', 'dequantized', 'error'];
  const table = new Table({ head: head.map((h) => c.bold(h)), style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const v of r.values) {
    const err = Number.isNaN(v.error) ? 'NaN' : formatNumber(v.error);
    table.push([float32String(v.input), c.cyan(v.hex), ...(integer ? [String(v.q)] : []), float32String(v.dequantized), v.error === 0 ? c.green('0') : c.yellow(err)]);
  }
  const meta: string[] = [`${c.bold(r.format)} (scaling ${r.scaling})`];
  if (r.scales.length) meta.push(`scale${r.scales.length > 1 ? 's' : ''} ${r.scales.map((s) => formatNumber(s)).join(', ')}`);
  if (r.zeroPoints) meta.push(`zero-point ${r.zeroPoints.join(', ')}`);
  if (r.sharedExponents) meta.push(`E8M0 ${r.sharedExponents.map((e) => `0x${e.toString(16).toUpperCase().padStart(2, '0')}`).join(', ')}`);
  return `${meta.join(' · ')}\n${table.toString()}\n`;
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('show code (hex), dequantized value and error of a format for given values')
    .argument('<values...>', 'numbers; negative values need no quoting (-1.5)')
    .requiredOption('--format <name>', 'format name (see `quant-audit formats`)')
    .option('--scale <s>', 'use this scale instead of the one computed from the values')
    .option('--zero-point <z>', 'integer formats: use this zero-point (a code of the format, e.g. -8..7 for int4)')
    .option('--json', 'print JSON')
    .option('--config <file>', 'config file with customFormats (default: ./quant-audit.yaml when present)')
    // values such as -1.5 look like options to the parser: let them through and check them below
    .allowUnknownOption(true)
    .action((rawValues: string[], opts: { format: string; scale?: string; zeroPoint?: string; json?: boolean; config?: string }) => {
      const spec = registryFromConfig(opts.config).get(opts.format);
      const values = rawValues.map((v) => parseValue(v));
      let scale: number | undefined;
      if (opts.scale !== undefined) {
        scale = parseValue(opts.scale, '--scale');
        if (!(scale > 0 && Number.isFinite(scale))) throw new UsageError(`--scale must be a positive finite number, got '${opts.scale}'.`);
      }
      let zeroPoint: number | undefined;
      if (opts.zeroPoint !== undefined) {
        zeroPoint = parseValue(opts.zeroPoint, '--zero-point');
        if (spec.family !== 'integer') throw new UsageError(`--zero-point only applies to integer formats (int2…int8, uint4, uint8); '${spec.name}' is ${spec.family}.`);
        const { qmin, qmax } = integerRange(spec);
        if (!Number.isInteger(zeroPoint) || zeroPoint < qmin || zeroPoint > qmax) throw new UsageError(`--zero-point must be an integer code of ${spec.name}, in [${qmin}, ${qmax}], got '${opts.zeroPoint}'.`);
      }
      const result = quantizeValues(spec, values, scale, zeroPoint);
      if (opts.json) {
        const json = { ...result, values: result.values.map((v) => ({ ...v, input: jsonNumber(v.input), dequantized: jsonNumber(v.dequantized), error: jsonNumber(v.error) })) };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      } else process.stdout.write(quantizeTable(result, useColor(process.stdout)));
    });
}
