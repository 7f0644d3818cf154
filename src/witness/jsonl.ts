/**
 * Streaming JSON Lines reader: one object per line, e.g. {"canon_name": "…", "step": 100, "bpb": 6.99}.
 * Lines are split from the byte stream (only the current chunk is held). bpb may be a number or a
 * numeric string ("NaN" is a sample: JSON has no NaN literal); null, a missing key or text that is
 * not a number is a rejected row, listed with its line. The step key is used when the first sample
 * has it (then every row needs it), or always when --step-column was given.
 */
import { createReadStream } from 'node:fs';
import { UsageError } from '../errors.js';
import type { FleetSamples } from './aggregate.js';
import { parseDecimalString } from './numbers.js';
import type { ColumnNames, SourceInfo } from './source.js';

const MAX_LINE_BYTES = 1 << 20;

export async function readJsonl(path: string, columns: ColumnNames, fleet: FleetSamples): Promise<SourceInfo> {
  let leftover: Buffer | null = null;
  let line = 0;
  let sawBytes = false;
  let useStep: boolean | null = columns.stepRequired ? true : null;

  const handle = (text: string): void => {
    line++;
    if (text.trim() === '') return;
    const where = `${path}:${line}`;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (e) {
      fleet.reject(where, `not valid JSON (${(e as Error).message})`);
      return;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      fleet.reject(where, 'not a JSON object');
      return;
    }
    const obj = row as Record<string, unknown>;
    const name = obj[columns.name];
    if (typeof name !== 'string' || name.trim() === '') {
      fleet.reject(where, `'${columns.name}' is ${name === undefined ? 'missing' : `${JSON.stringify(name)}, not a lane name`}`);
      return;
    }
    const bpb = jsonNumber(obj[columns.bpb]);
    if (bpb === null) {
      fleet.reject(where, `'${columns.bpb}' is ${describe(obj[columns.bpb])}, not a number (lane ${name.trim()})`);
      return;
    }
    if (useStep === null) useStep = columns.step in obj;
    let step: number | undefined;
    if (useStep) {
      const s = jsonNumber(obj[columns.step]);
      if (s === null || !Number.isFinite(s)) {
        fleet.reject(where, `'${columns.step}' is ${describe(obj[columns.step])}, not a finite number (lane ${name.trim()})`);
        return;
      }
      step = s;
    }
    fleet.add(fleet.lane(name.trim()), step, bpb);
  };

  try {
    const stream = createReadStream(path, { highWaterMark: 1 << 20 });
    for await (const chunk of stream) {
      const c = chunk as Buffer;
      if (c.length > 0) sawBytes = true;
      const buf: Buffer = leftover === null ? c : Buffer.concat([leftover, c]);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        handle(buf.toString('utf8', start, nl));
        start = nl + 1;
      }
      if (buf.length - start > MAX_LINE_BYTES) throw new UsageError(`${path}:${line + 1}: a line longer than 1 MB; JSON Lines needs one sample object per line.`);
      leftover = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') {
      throw new UsageError(`cannot read ${path}: ${err.code}. Pass an existing JSONL file to --from.`);
    }
    throw e;
  }
  if (leftover !== null) handle(leftover.toString('utf8'));
  if (!sawBytes) throw new UsageError(`${path} is empty: expected one JSON object per line with '${columns.name}' and '${columns.bpb}'.`);
  return {
    kind: 'jsonl',
    description: path,
    columns: { name: columns.name, bpb: columns.bpb, step: useStep ? columns.step : null },
  };
}

function jsonNumber(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseDecimalString(v);
  return null;
}

function describe(v: unknown): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}
