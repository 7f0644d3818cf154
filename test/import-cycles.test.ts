/**
 * No import cycles in src/ and probes/ (issue #16: `fast.ts` ↔ `index.ts` ↔ `groups.ts` was one).
 * The graph is read from the TypeScript sources with the compiler's own import scanner
 * (`ts.preProcessFile`: every `import`, `import type`, `export … from` and dynamic `import('…')`
 * with a literal path), so type-only imports count too: they tie modules together as much as
 * value imports do, even though tsc erases them. Cycles are the strongly connected components of
 * that graph (Tarjan). Chosen over madge: TypeScript is already a devDependency and its scanner is
 * the parser tsc itself uses, where madge would add ~50 packages for a 30-line walk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The project files a module imports (relative specifiers; `x.js` is the compiled name of `x.ts`). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const base = resolve(dirname(file), fileName);
    for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
      if (existsSync(candidate) && statSync(candidate).isFile()) {
        out.push(candidate);
        break;
      }
    }
  }
  return out;
}

/** Strongly connected components with more than one module, or a module that imports itself. */
function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

test('no import cycles among the modules of src/ and probes/ (type-only imports included)', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'probes'))];
  assert.ok(files.length > 50, `found only ${files.length} sources under ${root}`);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  // the scanner sees what it must: the formats index re-exports its parts
  assert.ok(graph.get(join(root, 'src/formats/index.ts'))!.includes(join(root, 'src/formats/registry.ts')));
  const cycles = importCycles(graph).map((c) => c.map((f) => relative(root, f)).join(' ↔ '));
  assert.deepEqual(cycles, []);
});

test('the cycle finder finds cycles (a 3-cycle, a self-import) and nothing in a DAG', () => {
  const g = (edges: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(edges));
  assert.deepEqual(importCycles(g({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [['a', 'b', 'c']]);
  assert.deepEqual(importCycles(g({ a: ['a'], b: [] })), [['a']]);
  assert.deepEqual(importCycles(g({ a: ['b', 'c'], b: ['c'], c: [] })), []);
});

/** Every module `from` reaches through imports (type-only ones included), with the module it was reached from. */
function reachable(graph: Map<string, string[]>, from: string): Map<string, string | undefined> {
  const seen = new Map<string, string | undefined>([[from, undefined]]);
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? importsOf(v)) {
      if (seen.has(w)) continue;
      seen.set(w, v);
      queue.push(w);
    }
  }
  return seen;
}

test('a probe never reaches a target kind: no import chain from probes/ into src/targets/ but the Target interface (DESIGN.md)', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'probes'))];
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const contract = join(root, 'src/targets/types.ts');
  const targets = join(root, 'src/targets') + '/';
  const probes = sources(join(root, 'probes'));
  assert.ok(probes.some((p) => p.endsWith('learnability.ts')) && probes.length >= 10, `found only ${probes.length} probe modules`);
  const chains: string[] = [];
  for (const probe of probes) {
    const seen = reachable(graph, probe);
    for (const m of seen.keys()) {
      if (!m.startsWith(targets) || m === contract) continue;
      const chain: string[] = [];
      for (let x: string | undefined = m; x !== undefined; x = seen.get(x)) chain.unshift(relative(root, x));
      chains.push(chain.join(' → '));
      break;
    }
  }
  assert.deepEqual(chains, []);
  // the walk does reach what it must: run orchestration reaches the target kinds
  assert.ok([...reachable(graph, join(root, 'src/run/learnability.ts')).keys()].includes(join(root, 'src/targets/index.ts')));
});
