/**
 * Colour only for people at a terminal: off when NO_COLOR is set (any value, no-color.org),
 * when the stream is not a TTY (CI logs, pipes), or when TERM=dumb; FORCE_COLOR turns it on.
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout): boolean {
  const env = process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}
