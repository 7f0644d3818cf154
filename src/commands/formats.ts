/**
 * `quant-audit formats [--json] [--config FILE]` — the registry: family, bits, layout,
 * scaling, number of codes, max finite and smallest positive element value (before scaling),
 * and a note where the tool had to choose. Custom rows from quant-audit.yaml are included.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { Chalk } from 'chalk';
import { loadConfig } from '../config.js';
import { useColor } from '../color.js';
import { FormatRegistry, formatInfo, type FormatInfo } from '../formats/index.js';

/** Registry for a command: built-ins plus the config file's customFormats. */
export function registryFromConfig(configPath: string | undefined): FormatRegistry {
  return new FormatRegistry(loadConfig(configPath).customFormats);
}

/** A number as a person reads it: exact small values, powers of two as 2^k, else 6 significant digits. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  const k = Math.log2(Math.abs(v));
  if (Number.isInteger(k) && Math.abs(k) >= 10) return `${v < 0 ? '-' : ''}2^${k}`;
  if (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e7) return String(Number(v.toPrecision(7)));
  return v.toPrecision(6);
}

function formatsTable(infos: FormatInfo[], color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const table = new Table({
    head: ['format', 'family', 'bits', 'layout', 'scaling', 'codes', 'max finite', 'min positive', 'note'].map((h) => c.bold(h)),
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  const notes: string[] = [];
  for (const f of infos) {
    let mark = '';
    if (f.note) {
      notes.push(f.note);
      mark = `[${notes.length}]`;
    }
    const scaling = f.blockSize !== undefined ? `${f.scaling} (${f.blockSize})` : f.scaling;
    table.push([
      f.source === 'config' ? c.cyan(`${f.name}*`) : c.green(f.name),
      f.family,
      String(f.bits),
      f.layout,
      scaling,
      String(f.codes),
      formatNumber(f.maxFinite),
      formatNumber(f.minPositive),
      c.yellow(mark),
    ]);
  }
  const lines = [table.toString(), 'max finite and min positive are element values before scaling.'];
  if (infos.some((f) => f.source === 'config')) lines.push(c.cyan('* declared or overridden in the config file'));
  notes.forEach((n, i) => lines.push(`${c.yellow(`[${i + 1}]`)} ${n}`));
  return `${lines.join('\n')}\n`;
}

export function registerFormats(program: Command): void {
  program
    .command('formats')
    .description('list the number formats: bits, layout, scaling, code count, range')
    .option('--json', 'print the registry as JSON')
    .option('--config <file>', 'config file with customFormats (default: ./quant-audit.yaml when present)')
    .action((opts: { json?: boolean; config?: string }) => {
      const infos = registryFromConfig(opts.config).all().map(formatInfo);
      process.stdout.write(opts.json ? `${JSON.stringify(infos, null, 2)}\n` : formatsTable(infos, useColor(process.stdout)));
    });
}
