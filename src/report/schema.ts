/**
 * Validation of report.json against schema/report.schema.json (ajv). Every report quant-audit
 * writes, and every report it reads back, passes through here.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { serializeReport } from './json.js';
import type { Report } from './types.js';

/** The schema file ships in the package at schema/ (three levels up from dist/src/report). */
const SCHEMA_URL: URL = (() => {
  for (const rel of ['../../../schema/report.schema.json', '../../schema/report.schema.json']) {
    const url = new URL(rel, import.meta.url);
    try {
      readFileSync(url);
      return url;
    } catch {
      // try the next location
    }
  }
  throw new Error('schema/report.schema.json is missing from this installation of quant-audit');
})();

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object;
    compiled = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema);
  }
  return compiled;
}

export interface SchemaCheck {
  valid: boolean;
  /** One line per problem: `/results/3/statistic/value: must be number`. */
  errors: string[];
}

/** Validate the JSON form of a value (as it is, or would be, on disk). */
export function validateJson(json: unknown): SchemaCheck {
  const validate = validator();
  const valid = validate(json) as boolean;
  return { valid, errors: valid ? [] : describeErrors(validate.errors ?? []) };
}

/** Validate an in-memory report exactly as it would be written to report.json. */
export function validate(report: Report): SchemaCheck {
  return validateJson(JSON.parse(serializeReport(report)));
}

function describeErrors(errors: ErrorObject[]): string[] {
  // anyOf produces one error per branch; keep the distinct messages per location.
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of errors) {
    const extra = e.keyword === 'enum' || e.keyword === 'const' ? ` ${JSON.stringify((e.params as { allowedValues?: unknown; allowedValue?: unknown }).allowedValues ?? (e.params as { allowedValue?: unknown }).allowedValue)}` : '';
    const line = `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
    if (!seen.has(line)) {
      seen.add(line);
      out.push(line);
    }
  }
  return out;
}
