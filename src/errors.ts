/**
 * Errors meant for people. A UsageError is a mistake in what the user gave us
 * (flags, config, files, target specs): exit 2, one clear message, no stack trace.
 * An InconclusiveError means the environment or the control failed: exit 3.
 */
export const EXIT = { ok: 0, falsified: 1, usage: 2, inconclusive: 3 } as const;

export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A wrong value at a known place in quant-audit.yaml, found after the schema check (a custom
 * format whose fields contradict each other). `configPath` is the key path, e.g.
 * ['customFormats', 'gf8-raw', 'bits']; src/config.ts turns it into file:line:col.
 */
export class ConfigValueError extends UsageError {
  constructor(
    readonly configPath: readonly (string | number)[],
    message: string,
  ) {
    super(message);
    this.name = 'ConfigValueError';
  }
}

export class InconclusiveError extends Error {
  readonly exitCode = EXIT.inconclusive;
  constructor(message: string) {
    super(message);
    this.name = 'InconclusiveError';
  }
}

/** A target misbehaved for one format (threw, wrong shape, NaN…): the run goes on with the others. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}
