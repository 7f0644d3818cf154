/**
 * src/process/interrupt.ts in-process: a signal during the report write is held until the files are
 * complete; a second one removes the unfinished run directory; a tfjs call that never
 * returns is stopped by its timeout with a UsageError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criticalSection, installInterruptHandlers, SIGNAL_EXIT_CODES } from '../src/process/interrupt.js';
import { guardedCall } from '../src/targets/tfjs/guarded-call.js';
import { dirsCreatedSince, listDir } from '../src/report/write.js';
import { UsageError } from '../src/errors.js';

function harness(): { exits: number[]; messages: string[]; uninstall: () => void } {
  const exits: number[] = [];
  const messages: string[] = [];
  const uninstall = installInterruptHandlers({ write: (m) => messages.push(m), exit: (c) => exits.push(c) });
  return { exits, messages, uninstall };
}

test('exit codes are 128 + the signal number', () => {
  assert.deepEqual(SIGNAL_EXIT_CODES, { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 });
});

test('a signal outside the report write stops at once with 130 and says no report was written', () => {
  const h = harness();
  try {
    process.emit('SIGINT');
    assert.deepEqual(h.exits, [130]);
    assert.match(h.messages[0]!, /interrupted by SIGINT: no report was written/);
  } finally {
    h.uninstall();
  }
});

test('a signal during the report write waits for the write, then exits 143 with the report complete', async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-sig-'));
  const h = harness();
  try {
    const before = listDir(out);
    await criticalSection(async () => {
      mkdirSync(join(out, 'run-1'));
      process.emit('SIGTERM'); // arrives mid-write
      assert.deepEqual(h.exits, [], 'held while writing');
      await new Promise((r) => setTimeout(r, 10));
      writeFileSync(join(out, 'run-1', 'report.json'), '{}');
    }, () => dirsCreatedSince(out, before));
    assert.deepEqual(h.exits, [143]);
    assert.match(h.messages[0]!, /after the report was written completely/);
    assert.deepEqual(readdirSync(join(out, 'run-1')), ['report.json']);
  } finally {
    h.uninstall();
    rmSync(out, { recursive: true, force: true });
  }
});

test('a second signal during the write removes the unfinished run directory, keeps the earlier one', async () => {
  const out = mkdtempSync(join(tmpdir(), 'qa-sig-'));
  mkdirSync(join(out, 'earlier'));
  writeFileSync(join(out, 'earlier', 'report.json'), '{"earlier": true}');
  const h = harness();
  try {
    const before = listDir(out);
    await criticalSection(async () => {
      mkdirSync(join(out, 'run-2'));
      writeFileSync(join(out, 'run-2', 'report.md'), '# half');
      process.emit('SIGINT');
      process.emit('SIGINT'); // the user insists
    }, () => dirsCreatedSince(out, before));
    assert.equal(h.exits[0], 130);
    assert.equal(existsSync(join(out, 'run-2')), false, 'the half-written run directory is gone');
    assert.equal(existsSync(join(out, 'earlier', 'report.json')), true);
    assert.match(h.messages[0]!, /unfinished run directory was removed/);
  } finally {
    h.uninstall();
    rmSync(out, { recursive: true, force: true });
  }
});

test('guardedCall stops a synchronous infinite loop after its timeout with a UsageError naming the call', () => {
  assert.throws(
    () => guardedCall(() => { for (;;) { /* spin */ } }, 200, 'tfjs:spin.mjs: fakeQuant(x) for format int4'),
    (e: unknown) => e instanceof UsageError && /tfjs:spin\.mjs: fakeQuant\(x\) for format int4 did not return within 200 ms/.test(e.message),
  );
  // values and exceptions pass through untouched
  assert.equal(guardedCall(() => 42, 1000, 'x'), 42);
  assert.throws(() => guardedCall(() => { throw null; }, 1000, 'x'), (e: unknown) => e === null);
});
