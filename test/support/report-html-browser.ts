/**
 * Headless Chromium for the report.html tests and the README screenshot: Debian's `chromium`
 * (installed by .ci/run when missing), driven with playwright-core — never a browser download.
 * Each launch gets a fresh profile directory. When no browser is found the caller skips,
 * except under CI=true, where a missing browser is a failure (see browserOrSkip).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Flags that work in this sandbox (no GPU, no network, root without a user namespace). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env.QA_CHROMIUM;
  if (chosen) return existsSync(chosen) ? chosen : undefined;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

/**
 * The browser path, or a skip message for a local run. Under CI=true a missing browser throws:
 * the tests that need it must fail, not pass by skipping.
 */
export function browserOrSkip(env: NodeJS.ProcessEnv = process.env): { path: string } | { skip: string } {
  const path = findChromium(env);
  if (path) return { path };
  const message = `no Chromium at ${env.QA_CHROMIUM ?? CHROMIUM_CANDIDATES.join(' or ')}: install Debian's package (apt-get install -y chromium; .ci/run does this) or set QA_CHROMIUM`;
  if (env.CI === 'true' || env.CI === '1') throw new Error(`CI=true and ${message}`);
  return { skip: message };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launch(executablePath: string, options: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'qa-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
    offline: true,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
