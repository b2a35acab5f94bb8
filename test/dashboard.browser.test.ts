// The dashboard in a real browser (Debian's chromium through playwright-core) against the real demo, run as a
// user runs it (`tapwire demo --serve`, a child process, admin token set): login, every page without console
// errors, numbers that match the API, the planted regressions visible and the noise not reported as one, the
// attack burst's findings. Screenshots of every page go to test-results/screenshots/.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkipReason, launchChromium, type LaunchedBrowser } from './helpers/browser.ts';

const REPO = new URL('../', import.meta.url).pathname;
const SHOTS = `${REPO}test-results/screenshots`;
const TOKEN = randomBytes(18).toString('base64url');
const skip = browserSkipReason();

/** The dashboard's own formats (src/admin/assets/api.js), so screen and API compare as text. */
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

interface EndpointRow {
  id: string;
  endpoint: string;
  upstream: string;
  verdict: string;
  diffRate: number;
  reasons: Array<{ code: string; field?: string }>;
  noisyFields: Array<{ field: string }>;
}

describe('the dashboard against `tapwire demo --serve`', { skip: skip ?? false, timeout: 150_000 }, () => {
  let demo: ChildProcess;
  let stderr = '';
  let admin = '';
  let chrome: LaunchedBrowser;
  let ctx: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${admin}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  /** Navigates by hash, waits for `ready`, checks the console stayed clean and saves a screenshot. */
  const visit = async (hash: string, ready: string, shot: string) => {
    await page.evaluate((h) => (location.hash = h), hash);
    await page.locator(ready).first().waitFor({ timeout: 15_000 });
    // let charts and the remaining fetches of the page settle before the picture
    await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => undefined);
    await page.screenshot({ path: `${SHOTS}/${shot}.png`, fullPage: true });
    assert.deepEqual(errors, [], `console errors on ${hash}`);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    demo = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--duration', '8s', '--rate', '150', '--serve', '--json'], {
      cwd: REPO,
      env: { ...process.env, TAPWIRE_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    demo.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    // the traffic is over when the demo says the dashboard stays up (bounded: a stuck demo fails the test)
    const deadline = Date.now() + 75_000;
    while (!/the dashboard stays up at (http:\/\/[\d.:]+)\//.test(stderr)) {
      if (Date.now() > deadline || demo.exitCode !== null) assert.fail(`the demo did not reach --serve:\n${stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    admin = /the dashboard stays up at (http:\/\/[\d.:]+)\//.exec(stderr)![1]!;
    chrome = await launchChromium();
    ctx = await chrome.context();
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
  });

  after(async () => {
    await chrome?.close();
    if (demo && demo.exitCode === null) {
      const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
      demo.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 10_000))]);
      if (code === 'stuck') demo.kill('SIGKILL');
      // Its own exit status (0, or 1 when one of its accounting checks failed: test/demo.test.ts judges those),
      // not a kill: the dashboard's live streams must not hold the shutdown.
      assert.ok(code === 0 || code === 1, `the demo did not stop on SIGINT (${code}):\n${stderr.slice(-2000)}`);
      if (code === 1) console.log(`note: the demo exited 1; its failed checks:\n${stderr.split('\n').filter((l) => l.includes('[FAIL]')).join('\n')}`);
    }
  });

  it('asks for the token, refuses a wrong one, logs in with the right one, and keeps the token out of URLs and cookies', async () => {
    await page.goto(`${admin}/`);
    await page.locator('#token').waitFor();
    assert.equal(await page.locator('nav').count(), 0, 'navigation shown before login');
    await page.screenshot({ path: `${SHOTS}/login.png` });
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.getByTestId('login-error').waitFor();
    // the browser logs the refused POST (401) as a console error: that one is expected
    assert.ok(errors.length <= 1 && errors.every((e) => /401/.test(e)), JSON.stringify(errors));
    errors.length = 0;
    await page.fill('#token', TOKEN);
    await page.keyboard.press('Enter');
    await page.locator('nav').waitFor();
    assert.ok(!page.url().includes(TOKEN));
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'tapwire_session');
    assert.ok(session, 'no session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.notEqual(session.value, TOKEN);
    assert.ok(!stderr.includes(TOKEN), 'the token appeared in the demo output');
  });

  it('overview: the verdict banner and the request count match the API, with both charts drawn', async () => {
    await visit('#/overview', '[data-testid=verdict-banner][data-verdict]', 'overview');
    const stats = await api<{ routes: Array<{ requests: number }> }>('/api/v1/stats');
    const verdict = await api<{ verdict: string }>('/api/v1/verdict');
    assert.equal(await page.getByTestId('total-requests').textContent(), int(stats.routes.reduce((n, r) => n + r.requests, 0)));
    assert.equal(await page.getByTestId('verdict-banner').getAttribute('data-verdict'), verdict.verdict);
    assert.equal(verdict.verdict, 'fail', 'the planted regressions must fail the demo');
    for (const chart of ['chart-rps', 'chart-outcomes']) assert.equal(await page.locator(`[data-testid=${chart}] canvas`).count(), 1, chart);
    const legend = (await page.getByTestId('chart-outcomes').textContent()) ?? '';
    for (const outcome of ['delivered', 'timeout', 'connect_error']) assert.ok(legend.includes(outcome), `${outcome} missing from the outcome chart: ${legend}`);
    assert.equal(await page.getByTestId('live-status').textContent(), 'live');
  });

  it('endpoints: every diff rate on screen matches the API, and the table sorts from the keyboard', async () => {
    await visit('#/endpoints', 'table tbody tr[data-endpoint-id]', 'endpoints');
    const { endpoints } = await api<{ endpoints: EndpointRow[] }>('/api/v1/endpoints');
    const rows = page.locator('tbody tr[data-endpoint-id]');
    assert.equal(await rows.count(), endpoints.length);
    for (const e of endpoints) {
      const row = page.locator(`tbody tr[data-endpoint-id="${e.id}"]`).filter({ has: page.locator('td[data-col=upstream]', { hasText: new RegExp(`^${e.upstream}$`) }) });
      assert.equal(await row.locator('td[data-col=diffRate]').textContent(), pct(e.diffRate), `${e.endpoint} ${e.upstream}`);
    }
    const header = page.locator('th', { has: page.locator('button[data-sort=diffRate]') });
    await page.locator('button[data-sort=diffRate]').focus();
    await page.keyboard.press('Enter');
    assert.equal(await header.getAttribute('aria-sort'), 'ascending');
    await page.keyboard.press('Enter');
    assert.equal(await header.getAttribute('aria-sort'), 'descending');
    const shown = await page.locator('tbody td[data-col=diffRate]').allTextContents();
    const sorted = [...shown].sort((a, b) => parseFloat(b) - parseFloat(a));
    assert.deepEqual(shown, sorted, 'not sorted by diff rate, descending');
  });

  it("the planted regressions show on their endpoints' pages and the nondeterministic field is judged noise", async () => {
    const { endpoints } = await api<{ endpoints: EndpointRow[] }>('/api/v1/endpoints');
    const v2 = (name: string) => {
      const e = endpoints.find((x) => x.endpoint === name && x.upstream === 'v2');
      assert.ok(e, `${name} on v2 missing: ${endpoints.map((x) => `${x.endpoint}/${x.upstream}`).join(', ')}`);
      return e;
    };
    const cases = [
      { name: 'GET /api/users/{id}', field: '$.email', shot: 'endpoint-users' },
      { name: 'GET /api/items', field: '$.items[*].price', shot: 'endpoint-items' },
    ];
    for (const c of cases) {
      const e = v2(c.name);
      assert.equal(e.verdict, 'fail', `${c.name}: ${JSON.stringify(e.reasons)}`);
      await visit(`#/endpoints/${e.id}`, '[data-testid=chart-latency] canvas', c.shot);
      assert.equal(await page.getByTestId('endpoint-name').textContent(), c.name);
      assert.equal(await page.locator(`tr[data-field="${c.field}"][data-regression=true]`).count(), 1, `${c.field} not shown as a regression`);
      assert.equal(await page.locator('tr[data-field="$.requestId"][data-regression=false]').count() >= 1, true, '$.requestId not listed as noise');
      assert.equal(await page.locator('tr[data-field="$.requestId"][data-regression=true]').count(), 0, '$.requestId reported as a regression');
      const reasons = (await page.locator('section[aria-label="candidate v2"] [data-testid=reasons]').textContent()) ?? '';
      assert.ok(reasons.includes(c.field), `v2's reasons do not name ${c.field}: ${reasons}`);
      await page.getByTestId('examples').waitFor();
      assert.equal(await page.locator('[data-testid=chart-latency] canvas').count(), 1, 'no latency chart');
      assert.deepEqual(errors, []);
    }
    // the API agrees: no endpoint of v2 lists the noise field among its regressions
    for (const e of endpoints.filter((x) => x.upstream === 'v2')) {
      assert.ok(!e.reasons.some((r) => r.field === '$.requestId'), `${e.endpoint}: $.requestId reported as a regression`);
    }
    const search = v2('GET /api/search');
    assert.ok(search.reasons.some((r) => r.code === 'errors'), `search: the occasional 500 not caught: ${JSON.stringify(search.reasons)}`);
  });

  it("findings: the attack burst's scan and injection findings are listed, with evidence", async () => {
    await visit('#/findings', 'tbody tr[data-finding-id]', 'findings');
    const { findings } = await api<{ findings: Array<{ id: string; detector: string; title: string }> }>('/api/v1/findings?state=all&limit=200');
    assert.equal(await page.locator('tbody tr[data-finding-id]').count(), findings.length);
    const scan = findings.find((f) => f.detector === 'scan' && f.title.includes('198.51.100.23'));
    const injection = findings.find((f) => f.detector === 'signature' && f.title.includes('198.51.100.77'));
    assert.ok(scan && injection, JSON.stringify(findings.map((f) => f.title)));
    assert.equal(await page.locator(`tr[data-finding-id="${scan.id}"]`).count(), 1);
    await visit(`#/findings/${injection.id}`, '[data-testid=evidence] li', 'finding-detail');
    assert.equal(await page.getByTestId('finding-title').textContent(), injection.title);
  });

  it("captures and replays: the demo's capture files and its replay against v2 with the API's numbers, a file's entries, the replay's verdict", async () => {
    interface Listing {
      configured: boolean;
      totalFiles: number;
      files: Array<{ name: string }>;
      writer: { routes: Record<string, { written: number }> };
      replays: Array<{ name: string; report?: { summary: { sent: number }; verdict?: { verdict: string; endpoints: Array<{ endpoint: string; verdict: string }> } } }>;
    }
    const c = await api<Listing>('/api/v1/captures');
    assert.equal(c.configured, true);
    assert.ok(c.files.length >= 1, 'the demo captured nothing');
    assert.equal(c.replays.length, 1, 'the demo leaves one replay report');
    const report = c.replays[0]!.report!;
    assert.ok(report.summary.sent > 0 && report.verdict, JSON.stringify(report).slice(0, 500));
    // v2's planted regressions fail the replay too
    assert.equal(report.verdict.verdict, 'fail');
    await visit('#/captures', '[data-testid=capture-written]', 'captures');
    assert.equal(await page.getByTestId('capture-written').textContent(), int(Object.values(c.writer.routes).reduce((n, r) => n + r.written, 0)));
    assert.equal(await page.locator('tr[data-capture]').count(), c.files.length);
    assert.equal(await page.locator(`tr[data-replay="${c.replays[0]!.name}"]`).getAttribute('data-verdict'), 'fail');
    const preview = await api<{ entries: Array<{ method: string; url: string }> }>(`/api/v1/captures/${encodeURIComponent(c.files.at(-1)!.name)}?limit=100`);
    await visit(`#/captures/${encodeURIComponent(c.files.at(-1)!.name)}`, '[data-testid=capture-name]', 'capture-file');
    assert.equal(await page.locator('main tbody tr').count(), preview.entries.length);
    const first = preview.entries[0]!;
    assert.ok(((await page.locator('main tbody').textContent()) ?? '').includes(`${first.method} ${first.url}`));
    await visit(`#/captures/${encodeURIComponent(c.replays[0]!.name)}`, '[data-testid=replay-title]', 'replay');
    assert.equal(await page.getByTestId('replay-sent').textContent(), int(report.summary.sent));
    const failing = report.verdict.endpoints.filter((e) => e.verdict === 'fail').map((e) => e.endpoint);
    const shown = (await page.locator('main table').first().textContent()) ?? '';
    for (const e of failing) assert.ok(shown.includes(e), `failing endpoint ${e} not shown`);
  });

  it('configuration: the running configuration with the token redacted', async () => {
    await visit('#/config', 'pre.json', 'config');
    const text = (await page.locator('pre.json').textContent()) ?? '';
    assert.ok(text.includes('[REDACTED]'), 'the admin token is not shown as [REDACTED]');
    assert.ok(!text.includes(TOKEN), 'the admin token is on screen');
  });

  it('reads on a narrow screen and in dark mode', async () => {
    const narrow = await chrome.context({ width: 390, height: 844, colorScheme: 'dark' });
    await narrow.addCookies(await ctx.cookies());
    const p = await narrow.newPage();
    const narrowErrors: string[] = [];
    p.on('console', (m) => m.type() === 'error' && narrowErrors.push(m.text()));
    p.on('pageerror', (e) => narrowErrors.push(e.message));
    await p.goto(`${admin}/#/overview`);
    await p.locator('[data-testid=verdict-banner][data-verdict]').waitFor({ timeout: 15_000 });
    assert.equal(await p.evaluate(() => document.documentElement.dataset.theme), 'dark');
    // nothing wider than the screen: wide tables scroll inside their own box
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), 'the page scrolls sideways');
    await p.screenshot({ path: `${SHOTS}/overview-narrow-dark.png`, fullPage: true });
    await p.evaluate(() => (location.hash = '#/endpoints'));
    await p.locator('tbody tr[data-endpoint-id]').first().waitFor();
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), 'the endpoints page scrolls sideways');
    await p.screenshot({ path: `${SHOTS}/endpoints-narrow-dark.png`, fullPage: true });
    // the toggle pins light mode whatever the system prefers
    await p.getByTestId('theme-toggle').click();
    assert.equal(await p.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.deepEqual(narrowErrors, []);
    await narrow.close();
  });
});
