/**
 * Colour only for people at a terminal: off when NO_COLOR is set (any value, no-color.org),
 * when the stream is not a TTY (CI logs, pipes), or when TERM=dumb; FORCE_COLOR=0 (or false)
 * turns it off and any other FORCE_COLOR value on, as in chalk and Node.
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  if (env.FORCE_COLOR !== undefined) return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}
