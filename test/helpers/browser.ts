// Chromium for browser tests: Debian's apt package driven by playwright-core (nothing downloaded), launched
// with the flags of ../shared/reference/ecosystem.md (playwright gives each launch a fresh temporary profile). Outside CI a missing browser
// skips the test with a reason; with CI=true it is a failure.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';

const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  try {
    const found = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
    return found === '' ? undefined : found;
  } catch {
    return undefined;
  }
}

/** A reason to skip (outside CI only); throws in CI, where the browser must be there (.ci/run installs it). */
export function browserSkipReason(): string | undefined {
  if (findChromium() !== undefined) return undefined;
  const why = 'chromium is not installed (apt-get install -y chromium; .ci/run installs it)';
  if (process.env.CI === 'true') throw new Error(`browser tests need chromium in CI: ${why}`);
  return why;
}

export interface LaunchedBrowser {
  readonly browser: Browser;
  /** a context with the given viewport; closes with the browser */
  context(opts?: { width?: number; height?: number; colorScheme?: 'light' | 'dark' }): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  const executablePath = findChromium();
  if (executablePath === undefined) throw new Error('chromium is not installed');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: FLAGS, timeout: 30_000 });
  return {
    browser,
    context: (o = {}) => browser.newContext({ viewport: { width: o.width ?? 1280, height: o.height ?? 800 }, colorScheme: o.colorScheme ?? 'light' }),
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}
