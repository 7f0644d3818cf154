/**
 * Quoting argv for people to copy: words made only of safe characters stay bare
 * (`mutant:in-place`, `1e-4`, `./fixtures/x.onnx`), anything else is single-quoted
 * POSIX-style. Only for display (repro lines, the recorded command); we never run a shell.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

function shellQuoteWord(word: string): string {
  if (word !== '' && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellQuote(argv: readonly string[]): string {
  return argv.map(shellQuoteWord).join(' ');
}
