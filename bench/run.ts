/**
 * Runs the benchmarks one after another, each in its own child process (so no two share the cores), each writing
 * its section of bench/results/, then bench/compose.ts to rebuild bench/RESULTS.md from the sections.
 *
 *   npm run bench                 every benchmark below (about 5 minutes on an idle 2-core machine)
 *   npm run bench -- codecs onnx  only those
 *
 * A rerun replaces its section, hand-written notes included: read `git diff bench/results` before committing.
 * witness measures PostgreSQL only when a server is up (`bash .ci/services.sh`); otherwise its section says it
 * skipped it. Not run here: bench/ab.ts and `probes.js --baseline` (they compare against another build, see their
 * headers) and readme-screenshot.ts (a picture, not a measurement). Exits 1 if any benchmark failed (fuzz fails on
 * a crash or a hang); RESULTS.md is recomposed either way.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Bench {
  readonly name: string;
  /** node arguments, from the repository root. */
  readonly args: readonly string[];
  /** For a benchmark that prints its section instead of writing it. */
  readonly stdoutTo?: string;
}

const BENCHES: readonly Bench[] = [
  { name: 'codecs', args: ['dist/bench/codecs.js', '--out', 'bench/results/codecs.md'] },
  { name: 'probes', args: ['dist/bench/probes.js', '--out', 'bench/results/probes.md'] },
  { name: 'train', args: ['dist/bench/train.js'] },
  { name: 'render', args: ['dist/bench/render.js'] },
  { name: 'exec', args: ['dist/bench/exec.js', '--write'] },
  { name: 'onnx', args: ['dist/bench/onnx.js'] },
  { name: 'onnx-forms', args: ['--max-old-space-size=4096', 'dist/bench/onnx-forms.js'] },
  { name: 'witness', args: ['--expose-gc', 'dist/bench/witness.js'], stdoutTo: 'bench/results/witness.md' },
  { name: 'fuzz', args: ['dist/bench/fuzz.js'] },
];

const asked = process.argv.slice(2);
const unknown = asked.filter((n) => !BENCHES.some((b) => b.name === n));
if (unknown.length) {
  process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(' ')} (or none for all)\n`);
  process.exit(2);
}
process.chdir(fileURLToPath(new URL('../..', import.meta.url)));

const load = (): string => loadavg()[0]!.toFixed(1);
const failed: string[] = [];
for (const bench of BENCHES.filter((b) => !asked.length || asked.includes(b.name))) {
  process.stderr.write(`bench: ${bench.name} (node ${bench.args.join(' ')}), load average ${load()}\n`);
  const started = Date.now();
  const child = spawnSync(process.execPath, bench.args, { stdio: ['ignore', bench.stdoutTo ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 64 << 20 });
  const ok = child.status === 0;
  if (ok && bench.stdoutTo) writeFileSync(bench.stdoutTo, `${child.stdout.toString().trim()}\n`);
  if (!ok) failed.push(bench.name);
  const how = ok ? 'done' : `FAILED (${child.error?.message ?? (child.signal ? `signal ${child.signal}` : `exit ${child.status}`)})`;
  process.stderr.write(`bench: ${bench.name} ${how} in ${((Date.now() - started) / 1000).toFixed(1)} s, load average ${load()}\n`);
}
const compose = spawnSync(process.execPath, ['dist/bench/compose.js'], { stdio: 'inherit' });
if (compose.status !== 0) failed.push('compose');
if (failed.length) {
  process.stderr.write(`bench: failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
