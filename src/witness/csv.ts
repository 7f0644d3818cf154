/**
 * Streaming CSV reader (RFC 4180: comma separator, optional double-quoted fields with "" escapes
 * and embedded newlines, LF or CRLF line ends, a header row). Bytes go straight from the file
 * stream into per-lane aggregates: only the current record is ever held, so a 10M-row file
 * needs the memory of one chunk. A record longer than 1 MB is an error (an unclosed quote
 * would otherwise swallow the rest of the file).
 *
 * Why hand-written: the fleet tables are millions of rows, a generic parser allocates a string per
 * field; here a quote-free line is split with the native indexOf and a comma loop up to the last
 * column used, the lane name is looked up by its bytes (decoded once per lane, not once per row)
 * and numbers are parsed from bytes (see numbers.ts).
 */
import { createReadStream } from 'node:fs';
import { UsageError } from '../errors.js';
import type { FleetSamples, LaneSamples } from './aggregate.js';
import { parseDecimalBytes, parseDecimalString } from './numbers.js';
import type { ColumnNames, SourceInfo } from './source.js';

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const MAX_RECORD_BYTES = 1 << 20;

/** Field kinds in a scanned record. */
const PLAIN = 0;
const QUOTED = 1;
const QUOTED_ESCAPES = 2;
const BAD_QUOTE = 3;

export async function readCsv(path: string, columns: ColumnNames, fleet: FleetSamples): Promise<SourceInfo> {
  try {
    return await readCsvChunks(createReadStream(path, { highWaterMark: 1 << 20 }), path, columns, fleet);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') {
      throw new UsageError(`cannot read ${path}: ${err.code}. Pass an existing CSV file to --from.`);
    }
    throw e;
  }
}

/** The reader over any chunking of the bytes (tests split records and quotes across chunks). */
export async function readCsvChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, path: string, columns: ColumnNames, fleet: FleetSamples): Promise<SourceInfo> {
  const reader = new CsvFleetReader(path, columns, fleet);
  for await (const chunk of chunks) reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk), false);
  reader.push(Buffer.alloc(0), true);
  return reader.info();
}

interface NameEntry {
  bytes: Uint8Array;
  lane: LaneSamples;
  next: NameEntry | undefined;
}

class CsvFleetReader {
  private leftover: Buffer | null = null;
  private line = 1; // line number where the next record starts
  private header: string[] | null = null;
  private nameIdx = -1;
  private bpbIdx = -1;
  private stepIdx = -1;
  private needed = 0;
  private starts = new Int32Array(64);
  private ends = new Int32Array(64);
  private kinds = new Uint8Array(64);
  private readonly byNameHash = new Map<number, NameEntry>();
  private sawBytes = false;

  constructor(
    private readonly path: string,
    private readonly columns: ColumnNames,
    private readonly fleet: FleetSamples,
  ) {}

  info(): SourceInfo {
    if (!this.sawBytes) throw new UsageError(`${this.path} is empty: expected a header row (${this.columns.name},${this.columns.bpb},…) and samples.`);
    return {
      kind: 'csv',
      description: this.path,
      columns: { name: this.columns.name, bpb: this.columns.bpb, step: this.stepIdx >= 0 ? this.columns.step : null },
    };
  }

  push(chunk: Buffer, eof: boolean): void {
    if (chunk.length > 0) this.sawBytes = true;
    const buf = this.leftover === null ? chunk : Buffer.concat([this.leftover, chunk]);
    this.leftover = null;
    const consumed = this.scan(buf, eof);
    if (consumed < buf.length) {
      if (buf.length - consumed > MAX_RECORD_BYTES) {
        throw new UsageError(`${this.path}:${this.line}: a record longer than 1 MB (an unclosed double quote?). Fix the quoting in the file.`);
      }
      this.leftover = Buffer.from(buf.subarray(consumed));
    }
  }

  /**
   * Scan whole records in buf; returns the offset of the first byte not consumed (an incomplete record).
   * Fast path: a record with no double quote before its line end (found with the native indexOf) is
   * split on commas only as far as the last column used; anything with a quote takes scanRecord.
   */
  private scan(buf: Buffer, eof: boolean): number {
    const len = buf.length;
    let pos = 0;
    let nextQuote = -1;
    while (pos < len) {
      let lf = buf.indexOf(LF, pos);
      if (lf < 0) {
        if (!eof) return pos;
        lf = len;
      }
      if (nextQuote < pos) {
        nextQuote = buf.indexOf(QUOTE, pos);
        if (nextQuote < 0) nextQuote = len + 1;
      }
      if (nextQuote < lf) {
        const next = this.scanRecord(buf, pos, eof);
        if (next < 0) return pos;
        pos = next;
        continue;
      }
      let lineEnd = lf;
      if (lineEnd > pos && buf[lineEnd - 1] === CR) lineEnd--;
      const want = this.header === null ? 0x7fffffff : this.needed;
      const starts = this.starts;
      const ends = this.ends;
      let n = 0;
      let fieldStart = pos;
      for (let i = pos; i < lineEnd; i++) {
        if (buf[i] === COMMA) {
          if (n + 1 >= starts.length) {
            this.grow();
            return this.scanFrom(buf, pos, eof);
          }
          starts[n] = fieldStart;
          ends[n] = i;
          n++;
          fieldStart = i + 1;
          if (n === want) break;
        }
      }
      if (n < want) {
        starts[n] = fieldStart;
        ends[n] = lineEnd;
        n++;
      }
      this.kinds.fill(PLAIN, 0, n);
      this.record(buf, n);
      this.line++;
      pos = lf + 1;
    }
    return len;
  }

  /** Rescan after growing the field arrays (a record with more than 64 fields). */
  private scanFrom(buf: Buffer, pos: number, eof: boolean): number {
    const rest = buf.subarray(pos);
    const consumed = this.scan(rest, eof);
    return pos + consumed;
  }

  /** One record that contains a double quote (RFC 4180 state machine). Returns the offset after it, or -1 if incomplete. */
  private scanRecord(buf: Buffer, recStart: number, eof: boolean): number {
    const len = buf.length;
    {
      let pos = recStart;
      let nFields = 0;
      let lines = 0;
      let complete = false;
      for (;;) {
        if (nFields === this.starts.length) this.grow();
        let kind = PLAIN;
        let start = pos;
        let end: number;
        if (pos < len && buf[pos] === QUOTE) {
          kind = QUOTED;
          pos++;
          start = pos;
          for (;;) {
            if (pos >= len) {
              end = -1;
              break;
            }
            const c = buf[pos]!;
            if (c === QUOTE) {
              if (pos + 1 < len && buf[pos + 1] === QUOTE) {
                kind = QUOTED_ESCAPES;
                pos += 2;
                continue;
              }
              if (pos + 1 >= len && !eof) {
                end = -1; // cannot tell "" from a closing quote yet
                break;
              }
              end = pos;
              pos++;
              break;
            }
            if (c === LF) lines++;
            pos++;
          }
          if (end < 0) {
            if (!eof) return -1;
            // unclosed quote at end of file: the field runs to the end, flagged
            end = len;
            kind = BAD_QUOTE;
          }
          // after the closing quote: separator, line end or end of input; anything else is malformed
          while (pos < len && buf[pos] !== COMMA && buf[pos] !== LF) {
            if (!(buf[pos] === CR && (pos + 1 === len || buf[pos + 1] === LF))) kind = BAD_QUOTE;
            pos++;
          }
        } else {
          while (pos < len) {
            const c = buf[pos]!;
            if (c === COMMA || c === LF) break;
            pos++;
          }
          end = pos;
          if (pos < len && buf[pos] === LF && end > start && buf[end - 1] === CR) end--;
          else if (pos >= len && eof && end > start && buf[end - 1] === CR) end--;
        }
        this.starts[nFields] = start;
        this.ends[nFields] = end;
        this.kinds[nFields] = kind;
        nFields++;
        if (pos >= len) {
          if (!eof) return -1;
          complete = true;
          break;
        }
        if (buf[pos] === COMMA) {
          pos++;
          if (pos >= len && !eof) return -1;
          continue;
        }
        // LF
        lines++;
        pos++;
        complete = true;
        break;
      }
      if (complete) this.record(buf, nFields);
      this.line += lines;
      return pos;
    }
  }

  private grow(): void {
    const n = this.starts.length * 2;
    const s = new Int32Array(n);
    s.set(this.starts);
    const e = new Int32Array(n);
    e.set(this.ends);
    const k = new Uint8Array(n);
    k.set(this.kinds);
    this.starts = s;
    this.ends = e;
    this.kinds = k;
  }

  private text(buf: Buffer, i: number): string {
    const s = buf.toString('utf8', this.starts[i]!, this.ends[i]!);
    return this.kinds[i] === QUOTED_ESCAPES ? s.replaceAll('""', '"') : s;
  }

  private record(buf: Buffer, nFields: number): void {
    // a blank line is one empty unquoted field: skipped (trailing newlines, hand-edited files)
    if (nFields === 1 && this.kinds[0] === PLAIN && this.starts[0] === this.ends[0]) return;
    if (this.header === null) {
      this.readHeader(buf, nFields);
      return;
    }
    if (nFields < this.needed) {
      this.fleet.reject(`${this.path}:${this.line}`, `has ${nFields} field${nFields === 1 ? '' : 's'}, the header has ${this.header.length}`);
      return;
    }
    const kinds = this.kinds;
    if (kinds[this.nameIdx] === BAD_QUOTE || kinds[this.bpbIdx] === BAD_QUOTE || (this.stepIdx >= 0 && kinds[this.stepIdx] === BAD_QUOTE)) {
      const bad = kinds[this.nameIdx] === BAD_QUOTE ? this.nameIdx : kinds[this.bpbIdx] === BAD_QUOTE ? this.bpbIdx : this.stepIdx;
      this.fleet.reject(`${this.path}:${this.line}`, `malformed quoting in column '${this.header[bad]}'`);
      return;
    }
    const lane = this.laneOf(buf);
    if (lane === null) {
      this.fleet.reject(`${this.path}:${this.line}`, `empty lane name in column '${this.columns.name}'`);
      return;
    }
    const bpb = this.numberAt(buf, this.bpbIdx);
    if (bpb === null) {
      this.fleet.reject(`${this.path}:${this.line}`, `${this.columns.bpb} ${JSON.stringify(this.text(buf, this.bpbIdx))} is not a number (lane ${lane.name})`);
      return;
    }
    let step: number | undefined;
    if (this.stepIdx >= 0) {
      const s = this.numberAt(buf, this.stepIdx);
      if (s === null || !Number.isFinite(s)) {
        this.fleet.reject(`${this.path}:${this.line}`, `${this.columns.step} ${JSON.stringify(this.text(buf, this.stepIdx))} is not a finite number (lane ${lane.name})`);
        return;
      }
      step = s;
    }
    this.fleet.add(lane, step, bpb);
  }

  private numberAt(buf: Buffer, i: number): number | null {
    if (this.kinds[i] === PLAIN) return parseDecimalBytes(buf, this.starts[i]!, this.ends[i]!);
    return parseDecimalString(this.text(buf, i));
  }

  /**
   * The lane of this row, found by the bytes of its name (a hash, then a byte compare) so that the
   * name is decoded to a string only the first time it is seen: fleets interleave lanes, and a
   * string per row would cost more than the rest of the row.
   */
  private laneOf(buf: Buffer): LaneSamples | null {
    const i = this.nameIdx;
    if (this.kinds[i] !== PLAIN) return this.laneByText(this.text(buf, i));
    const start = this.starts[i]!;
    const end = this.ends[i]!;
    let h = 0x811c9dc5 ^ (end - start);
    for (let j = start; j < end; j++) h = Math.imul(h ^ buf[j]!, 0x01000193);
    h >>>= 0;
    let entry = this.byNameHash.get(h);
    while (entry !== undefined) {
      const key = entry.bytes;
      if (key.length === end - start) {
        let same = true;
        for (let j = 0; j < key.length; j++) {
          if (key[j] !== buf[start + j]) {
            same = false;
            break;
          }
        }
        if (same) return entry.lane;
      }
      entry = entry.next;
    }
    const lane = this.laneByText(this.text(buf, i));
    if (lane !== null) this.byNameHash.set(h, { bytes: Uint8Array.prototype.slice.call(buf, start, end), lane, next: this.byNameHash.get(h) });
    return lane;
  }

  private laneByText(text: string): LaneSamples | null {
    const name = text.trim();
    return name === '' ? null : this.fleet.lane(name);
  }

  private readHeader(buf: Buffer, nFields: number): void {
    const header: string[] = [];
    for (let i = 0; i < nFields; i++) header.push(this.text(buf, i).trim());
    if (header[0]!.charCodeAt(0) === 0xfeff) header[0] = header[0]!.slice(1); // UTF-8 byte-order mark
    this.header = header;
    const find = (col: string): number => header.indexOf(col);
    const missing = (flag: string, col: string): never => {
      throw new UsageError(
        `${this.path}: no column '${col}' in the header (columns: ${header.join(', ')}). Name the column with ${flag}.`,
      );
    };
    this.nameIdx = find(this.columns.name);
    if (this.nameIdx < 0) missing('--name-column', this.columns.name);
    this.bpbIdx = find(this.columns.bpb);
    if (this.bpbIdx < 0) missing('--bpb-column', this.columns.bpb);
    this.stepIdx = find(this.columns.step);
    if (this.stepIdx < 0 && this.columns.stepRequired) missing('--step-column', this.columns.step);
    this.needed = Math.max(this.nameIdx, this.bpbIdx, this.stepIdx) + 1;
  }
}
