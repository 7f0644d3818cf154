/**
 * Lane names → lane fields. A fleet names its runs like `IGLA-TIER1-posit8-h128-LR0.0001-rng1597-adamw`
 * (quant-audit's own: `QA-int8-h128-LR0.003-rng1597-adamw`): prefix, format, hidden size, learning
 * rate, seed, optimizer. The pattern is a regular expression with named groups; `format` and
 * `optimizer` are required, the others optional. A name that does not match is reported as such,
 * never given a default format (the fleet in the motivating report silently trained unknown
 * formats in fp32; we do not repeat that in the reader).
 */
import { UsageError } from '../errors.js';

/**
 * The default pattern. The format is "letters then digits" with optional "-letters+digits" parts
 * (int8, posit16-es1, fp8-e4m3, mxfp6-e2m3, nf4, gf256) in lower case, which is how the prefix
 * (anything, e.g. `IGLA-TIER1`, optional) and the format are told apart.
 */
export const DEFAULT_NAME_PATTERN =
  '^(?:(?<prefix>.+?)-)?(?<format>[a-z]+[0-9]+(?:-[a-z]+[0-9]+(?:[a-z]+[0-9]+)*)*)-h(?<hidden>[0-9]+)-LR(?<lr>[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)-rng(?<seed>[0-9]+)-(?<optimizer>[A-Za-z][A-Za-z0-9_]*)$';

export interface LaneNameFields {
  prefix: string | null;
  format: string;
  optimizer: string;
  hidden: number | null;
  lr: number | null;
  seed: number | null;
}

export interface NamePattern {
  source: string;
  parse(name: string): LaneNameFields | null;
}

const GROUPS = ['prefix', 'format', 'hidden', 'lr', 'seed', 'optimizer'] as const;

export function compileNamePattern(source: string = DEFAULT_NAME_PATTERN): NamePattern {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (e) {
    throw new UsageError(`--name-pattern is not a valid regular expression: ${(e as Error).message}. Pattern: ${source}`);
  }
  const named = new Set(Object.keys(new RegExp(`${source}|`).exec('')?.groups ?? {}));
  for (const required of ['format', 'optimizer']) {
    if (!named.has(required)) {
      throw new UsageError(
        `--name-pattern needs a named group (?<${required}>…); it has ${named.size ? [...named].join(', ') : 'none'}. ` +
          `Groups understood: ${GROUPS.join(', ')}. Default: ${DEFAULT_NAME_PATTERN}`,
      );
    }
  }
  return {
    source,
    parse(name: string): LaneNameFields | null {
      const g = re.exec(name)?.groups;
      if (!g || !g.format || !g.optimizer) return null;
      const hidden = optionalNumber(g.hidden);
      const lr = optionalNumber(g.lr);
      const seed = optionalNumber(g.seed);
      if (hidden === undefined || lr === undefined || seed === undefined) return null;
      return { prefix: g.prefix ?? null, format: g.format.toLowerCase(), optimizer: g.optimizer.toLowerCase(), hidden, lr, seed };
    },
  };
}

/** undefined = present but not a number (the name does not parse); null = absent. */
function optionalNumber(text: string | undefined): number | null | undefined {
  if (text === undefined || text === '') return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}
