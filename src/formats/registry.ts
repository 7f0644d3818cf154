/**
 * PLACEHOLDER — being written (issue 2). The API below is the contract other modules use.
 */
import type { FormatSpec } from './types.js';
import { UsageError } from '../errors.js';

export const BUILTIN_FORMATS: readonly FormatSpec[] = [];

export class FormatRegistry {
  private readonly byName = new Map<string, FormatSpec>();
  constructor(custom?: Record<string, Record<string, unknown>>) {
    for (const f of BUILTIN_FORMATS) this.byName.set(f.name, f);
    void custom;
  }
  get(name: string): FormatSpec {
    const f = this.byName.get(name);
    if (!f) throw new UsageError(`unknown format '${name}'. Known formats: ${this.names().join(', ')}.`);
    return f;
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  names(): string[] {
    return [...this.byName.keys()];
  }
  all(): FormatSpec[] {
    return [...this.byName.values()];
  }
}

export const defaultRegistry = new FormatRegistry();
