/**
 * Installed as someone else's dependency: `npm pack` this checkout, then plain `npm install`
 * of the tarball into empty projects (dependencies from the npm cache or the registry), and
 * `npx quant-audit` from there. Slow (two installs, ~1–2 min): runs when QA_SLOW=1, which
 * .ci/run sets. Proves:
 *  - a project that denies the download scripts as the README says installs with no npm
 *    warning, and runs a probe, an ONNX fixture and `run --all` with no npm warning either;
 *  - a project that says nothing about install scripts still installs (onnxruntime-node's
 *    CUDA download fails here, and npm drops the optional dependency), and an onnx: target then
 *    stops with exit 2 and says how to install onnxruntime-node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ONNX_RUNTIME_MISSING } from '../src/targets/index.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SLOW = process.env.QA_SLOW === '1';
if (!SLOW) process.stderr.write('install: SKIPPED: set QA_SLOW=1 to pack the package and install it into a temp project (.ci/run does)\n');

/** What the README tells a project to put in its package.json (npm ≥ 11.19 asks for a decision on each install script). */
export const README_ALLOW_SCRIPTS = { '@tensorflow/tfjs-node': false, 'core-js': false, 'onnxruntime-node': false, protobufjs: false };

/** The environment of a user's shell: nothing inherited from the `npm test` that runs this file. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|NPM_|ONNXRUNTIME_NODE_INSTALL)/.test(k) || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1' };
}

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
}

/** Lines npm prints as warnings or errors (`npm warn …`, `npm WARN …`, `npm error …`). */
function npmComplaints(r: SpawnSyncReturns<string>): string[] {
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^npm (warn|WARN|error|ERR!)/.test(l));
}

function show(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

function project(root: string, name: string, allowScripts?: Record<string, boolean>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true, ...(allowScripts ? { allowScripts } : {}) }, null, 2)}\n`);
  return dir;
}

test('npm pack → npm install in an empty project → npx quant-audit: works, with no npm warning', { skip: !SLOW, timeout: 1_800_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'qa-install-'));
  try {
    // `npm test` has just built dist/; --ignore-scripts keeps `npm pack` from rebuilding it under the other tests' feet.
    const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', root], REPO);
    assert.equal(pack.status, 0, show(pack));
    const tarball = join(root, readdirSync(root).find((f) => /^quant-audit-.*\.tgz$/.test(f))!);
    const listing = run('tar', ['-tzf', tarball], root).stdout.split('\n');
    assert.ok(listing.includes('package/LICENSE'), 'LICENSE ships');
    assert.ok(listing.includes('package/dist/src/cli.js'));
    assert.deepEqual(listing.filter((f) => /^package\/dist\/(test|bench)\//.test(f) || f.endsWith('.map')), [], 'no tests, benchmarks or source maps in the package');

    const app = project(root, 'app', README_ALLOW_SCRIPTS);
    const install = run('npm', ['install', '--save-dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
    assert.equal(install.status, 0, show(install));
    assert.deepEqual(npmComplaints(install), [], show(install));
    assert.ok(existsSync(join(app, 'node_modules/onnxruntime-node/package.json')), 'onnxruntime-node installed (CPU binaries ship in its package)');

    const probe = run('npx', ['quant-audit', 'run', '--probe', 'roundtrip', '--format', 'int8'], app);
    assert.equal(probe.status, 0, show(probe));
    assert.deepEqual(npmComplaints(probe), [], show(probe));
    assert.match(probe.stdout, /PASS|pass/);
    assert.match(probe.stdout, /exit 0 \(--fail-on fail\)/);

    const onnx = run('npx', ['quant-audit', 'run', '--target', 'onnx:node_modules/quant-audit/fixtures/onnx/bad-scale-x1000.onnx'], app);
    assert.equal(onnx.status, 1, show(onnx));
    assert.deepEqual(npmComplaints(onnx), [], show(onnx));
    assert.match(onnx.stdout, /FALSIFIED — supported: H2/);
    assert.match(onnx.stdout, /fc1_w_q/, 'the broken node is named');

    const all = run('npx', ['quant-audit', 'run', '--all', '--quiet'], app);
    assert.equal(all.status, 0, show(all));
    assert.deepEqual(npmComplaints(all), [], show(all));
    assert.match(all.stdout, /of 60\b.*exit 0/, 'all 60 lanes ran and the gate passed');

    // A project that has not decided about install scripts: npm runs onnxruntime-node's CUDA download, which
    // fails without network access to it, and drops the optional dependency; the install itself succeeds.
    const plain = project(root, 'plain');
    const plainInstall = run('npm', ['install', '--save-dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], plain);
    assert.equal(plainInstall.status, 0, show(plainInstall));
    const plainOnnx = run('npx', ['quant-audit', 'run', '--target', 'onnx:node_modules/quant-audit/fixtures/onnx/bad-scale-x1000.onnx'], plain);
    if (existsSync(join(plain, 'node_modules/onnxruntime-node/package.json'))) {
      assert.equal(plainOnnx.status, 1, `onnxruntime-node installed (its download worked here): the audit runs\n${show(plainOnnx)}`);
    } else {
      assert.equal(plainOnnx.status, 2, show(plainOnnx));
      assert.equal(plainOnnx.stderr, `quant-audit: ${ONNX_RUNTIME_MISSING}\n`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
