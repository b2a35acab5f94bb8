// Alert sinks: a finding is posted once when it opens and once when it resolves, to a generic JSON webhook
// or a Slack-compatible incoming webhook. Each sink has its own bounded queue (full: the oldest alert is
// dropped and counted) and delivers one alert at a time, in order, retrying network errors, timeouts, 5xx
// and 429 (Retry-After honoured, capped) with exponential backoff and jitter; other 4xx are final. Timers
// are unref'd, so a pending alert never keeps tapwire alive. Webhook URLs and headers carry secrets: logs
// name the sink and its host only, never the path, the query or a header value.
import { errorCodes } from '../core/errors.ts';
import { severityRank, type Transition } from './findings.ts';
import { SEVERITIES, type Evidence, type Finding, type Severity } from './types.ts';

export type AlertSinkType = 'webhook' | 'slack';

export interface AlertSinkConfig {
  readonly type: AlertSinkType;
  /** http(s) URL; treated as a secret (Slack's carries the token in its path) */
  readonly url: string;
  /** extra request headers (values are secrets: never logged) */
  readonly headers?: Readonly<Record<string, string>>;
  /** alerts for findings below this severity are not sent (default: info, i.e. all) */
  readonly minSeverity?: Severity;
  /** shown in logs and stats (default `TYPE:HOST`, made unique) */
  readonly name?: string;
}

export interface AlertLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface AlertSinksOptions {
  /** the fetch to use (default: the global one) */
  readonly fetch?: typeof fetch;
  /** the clock (epoch ms), for Retry-After dates and log rate limits */
  readonly now?: () => number;
  readonly logger?: AlertLogger;
  /** alerts waiting per sink (default 1000); past it the oldest is dropped */
  readonly maxQueue?: number;
  /** tries per alert, the first included (default 5) */
  readonly maxAttempts?: number;
  /** first backoff (default 500 ms), doubled per retry, with jitter */
  readonly baseDelayMs?: number;
  /** longest wait between tries, Retry-After included (default 30 s) */
  readonly maxDelayMs?: number;
  /** per request (default 5 s) */
  readonly timeoutMs?: number;
  /** tapwire's version, in the webhook body and the User-Agent */
  readonly version?: string;
  /** jitter source in [0, 1) (default Math.random) */
  readonly random?: () => number;
}

export interface AlertSinkStats {
  readonly name: string;
  readonly type: AlertSinkType;
  readonly host: string;
  /** alerts the receiver accepted (2xx) */
  readonly sent: number;
  /** alerts given up on: a final 4xx, or every try failed */
  readonly failed: number;
  /** alerts never tried to the end: the queue was full (the oldest went), or close() ran out of time */
  readonly dropped: number;
  /** tries after the first */
  readonly retried: number;
  /** waiting or being delivered */
  readonly queued: number;
}

export interface AlertSinks {
  /**
   * Queues the alerts a transition causes: `opened` and `resolved` findings at or above a sink's
   * minSeverity; an `updated` one only when its severity just rose to the sink's minSeverity (the sink had
   * not heard of it: it is `finding.opened` there). Never blocks, never throws.
   */
  notify(t: Transition): void;
  /** Stops taking alerts, delivers what it can within `timeoutMs` (default 5 s), then drops the rest. */
  close(timeoutMs?: number): Promise<void>;
  stats(): AlertSinkStats[];
}

export type AlertEvent = 'finding.opened' | 'finding.resolved';

export const DEFAULT_MAX_QUEUE = 1000;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_BASE_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 5000;

/** The finding as alerts show it (evidence is already redacted when built). */
export function alertFinding(f: Finding): Record<string, unknown> {
  return {
    id: f.id,
    detector: f.detector,
    key: f.key,
    severity: f.severity,
    title: f.title,
    state: f.state,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    count: f.count,
    detail: f.detail,
    evidence: f.evidence,
    ...(f.resolvedAt !== undefined ? { resolvedAt: f.resolvedAt } : {}),
  };
}

/** The generic webhook's JSON body. */
export function webhookBody(event: AlertEvent, f: Finding, version?: string): { event: AlertEvent; finding: Record<string, unknown>; tapwire: { version?: string } } {
  return { event, finding: alertFinding(f), tapwire: version !== undefined ? { version } : {} };
}

// ---- Slack ---------------------------------------------------------------------------------------------

// C0/C1 controls and bidi overrides become visible escapes; Slack's control characters (&, <, >) become
// entities; `://`, `@` and a dot before a letter (`evil.example`, not `203.0.113.7`) get a zero-width space so nothing turns into a link
// or a mention.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ZWSP = '\u200b';

/** Text from traffic made safe for a Slack message: no controls, no links, no mentions, no markup entities. */
export function slackText(s: string, max = 500): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return cut
    .replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/:\/\//g, `:${ZWSP}//`)
    .replace(/@/g, `@${ZWSP}`)
    .replace(/([\p{L}\p{N}])\.(?=\p{L})/gu, `$1.${ZWSP}`);
}

const iso = (ms: number) => {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
};

function evidenceLine(e: Evidence): string {
  const match = e.match ? ` (matched ${e.match.part}${e.match.name ? ` ${e.match.name}` : ''}: ${e.match.text})` : '';
  return `evidence: ${e.method} ${e.target} from ${e.source} -> ${e.status}${match}`;
}

/** A Slack incoming-webhook body: plain text (no markup, links or mentions), one short message. */
export function slackBody(event: AlertEvent, f: Finding): { text: string; mrkdwn: false; unfurl_links: false; unfurl_media: false } {
  const label = `[${f.severity.toUpperCase()}]`;
  const what = event === 'finding.opened' ? 'finding opened' : 'finding resolved';
  const lines = [
    `${label} ${what}: ${slackText(f.title, 300)}`,
    [
      `detector ${slackText(f.detector, 60)}`,
      `key ${slackText(f.key, 200)}`,
      `${f.count} signal${f.count === 1 ? '' : 's'}`,
      `first seen ${iso(f.firstSeen)}`,
      `last seen ${iso(f.lastSeen)}`,
      ...(f.resolvedAt !== undefined ? [`resolved ${iso(f.resolvedAt)}`] : []),
      `id ${slackText(f.id, 64)}`,
    ].join(' | '),
  ];
  const first = f.evidence[0];
  if (first) lines.push(slackText(evidenceLine(first), 600));
  return { text: lines.join('\n'), mrkdwn: false, unfurl_links: false, unfurl_media: false };
}

// ---- delivery ------------------------------------------------------------------------------------------

interface Job {
  readonly event: AlertEvent;
  readonly findingId: string;
  readonly body: string;
}

type Attempt = { readonly ok: true } | { readonly ok: false; readonly retry: boolean; readonly reason: string; readonly delayMs?: number };

interface Settings {
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly logger: AlertLogger | undefined;
  readonly maxQueue: number;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly timeoutMs: number;
  readonly random: () => number;
  readonly userAgent: string;
}

/** How many (event, finding) pairs a sink remembers to refuse a duplicate notify. */
const SEEN_MAX = 10_000;
/** How long close() waits, past its deadline, for aborted deliveries to settle. */
const CLOSE_GRACE_MS = 1000;
/** At most one "queue full" warning per sink per this long. */
const DROP_LOG_INTERVAL_MS = 10_000;

/** Seconds or an HTTP date, as ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

class Sink {
  readonly name: string;
  readonly type: AlertSinkType;
  readonly host: string;
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #minRank: number;
  readonly #s: Settings;
  readonly #queue: Job[] = [];
  readonly #seen = new Set<string>();
  readonly #idle: (() => void)[] = [];
  #current: Job | undefined;
  #running = false;
  #stopped = false;
  #closing = false;
  #inflight: AbortController | undefined;
  #wake: (() => void) | undefined;
  #lastDropLog = Number.NEGATIVE_INFINITY;
  sent = 0;
  failed = 0;
  dropped = 0;
  retried = 0;

  constructor(cfg: AlertSinkConfig, name: string, url: URL, s: Settings) {
    this.name = name;
    this.type = cfg.type;
    this.host = url.host;
    this.#url = url;
    this.#s = s;
    this.#minRank = severityRank(cfg.minSeverity ?? 'info');
    this.#headers = { 'content-type': 'application/json', 'user-agent': s.userAgent };
    for (const [k, v] of Object.entries(cfg.headers ?? {})) this.#headers[k.toLowerCase()] = v;
  }

  get queued(): number {
    return this.#queue.length + (this.#current ? 1 : 0);
  }

  /** Whether this sink wants the transition, and as which event. */
  eventFor(t: Transition): AlertEvent | undefined {
    const rank = severityRank(t.finding.severity);
    if (rank < this.#minRank) return undefined;
    if (t.kind === 'opened') return 'finding.opened';
    if (t.kind === 'resolved') return 'finding.resolved';
    // an update that lifted the finding to this sink's threshold: the sink has not heard of it yet
    if (t.previousSeverity !== undefined && severityRank(t.previousSeverity) < this.#minRank) return 'finding.opened';
    return undefined;
  }

  enqueue(event: AlertEvent, f: Finding, body: string): void {
    if (this.#stopped) return;
    const seenKey = `${event}|${f.id}`;
    if (this.#seen.has(seenKey)) return;
    this.#seen.add(seenKey);
    if (this.#seen.size > SEEN_MAX) this.#seen.delete(this.#seen.values().next().value!);
    if (this.#queue.length >= this.#s.maxQueue) {
      const lost = this.#queue.shift();
      this.dropped++;
      const now = this.#s.now();
      if (now - this.#lastDropLog >= DROP_LOG_INTERVAL_MS) {
        this.#lastDropLog = now;
        this.#log({ event: lost?.event, findingId: lost?.findingId, dropped: this.dropped, maxQueue: this.#s.maxQueue }, 'alert queue full: dropped the oldest alert');
      }
    }
    if (this.#s.maxQueue > 0) this.#queue.push({ event, findingId: f.id, body });
    else this.dropped++;
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#stopped && this.#queue.length > 0) {
        const job = this.#queue.shift()!;
        this.#current = job;
        try {
          await this.#deliver(job);
        } catch (err) {
          // a bug in delivery must not stop the queue
          this.failed++;
          this.#log({ event: job.event, findingId: job.findingId, reason: reasonOf(err) }, 'alert delivery failed');
        }
        this.#current = undefined;
      }
    } finally {
      this.#running = false;
      this.#current = undefined;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #deliver(job: Job): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.#attempt(job);
      if (this.#stopped && !r.ok) {
        this.dropped++;
        return;
      }
      if (r.ok) {
        this.sent++;
        return;
      }
      if (!r.retry || attempt >= this.#s.maxAttempts) {
        this.failed++;
        this.#log({ event: job.event, findingId: job.findingId, attempts: attempt, reason: r.reason }, 'alert delivery failed');
        return;
      }
      this.retried++;
      const backoff = Math.min(this.#s.maxDelayMs, this.#s.baseDelayMs * 2 ** (attempt - 1));
      const delay = r.delayMs !== undefined ? Math.min(this.#s.maxDelayMs, r.delayMs) : backoff / 2 + this.#s.random() * (backoff / 2);
      await this.#sleep(delay);
      if (this.#stopped) {
        this.dropped++;
        return;
      }
    }
  }

  async #attempt(job: Job): Promise<Attempt> {
    const ac = new AbortController();
    this.#inflight = ac;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.#s.timeoutMs);
    timer.unref();
    try {
      const res = await this.#s.fetch(this.#url, { method: 'POST', headers: this.#headers, body: job.body, redirect: 'manual', signal: ac.signal });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const reason = `status ${res.status}`;
      if (res.status === 429 || res.status >= 500) {
        const after = retryAfterMs(res.headers.get('retry-after'), this.#s.now());
        return after !== undefined ? { ok: false, retry: true, reason, delayMs: after } : { ok: false, retry: true, reason };
      }
      return { ok: false, retry: false, reason };
    } catch (err) {
      return { ok: false, retry: true, reason: timedOut ? `timeout after ${this.#s.timeoutMs} ms` : reasonOf(err) };
    } finally {
      clearTimeout(timer);
      this.#inflight = undefined;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      this.#wake = done;
    });
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Gives up: aborts the delivery in flight, ends a backoff wait, drops what is queued. */
  stop(): number {
    this.#stopped = true;
    const left = this.#queue.length;
    this.dropped += left;
    this.#queue.length = 0;
    this.#inflight?.abort();
    this.#wake?.();
    return left + (this.#current ? 1 : 0);
  }

  /** Takes no new alerts; what is queued still goes out. */
  close(): void {
    this.#closing = true;
  }

  get accepting(): boolean {
    return !this.#closing && !this.#stopped;
  }

  stats(): AlertSinkStats {
    return { name: this.name, type: this.type, host: this.host, sent: this.sent, failed: this.failed, dropped: this.dropped, retried: this.retried, queued: this.queued };
  }

  #log(obj: Record<string, unknown>, msg: string): void {
    try {
      this.#s.logger?.warn({ sink: this.name, type: this.type, host: this.host, ...obj }, msg);
    } catch {
      // a logger failure must not break delivery
    }
  }
}

/** An error as a short reason that never carries a URL: the innermost code (ECONNREFUSED, …) or its name. */
function reasonOf(err: unknown): string {
  return errorCodes(err).at(-1) ?? (err instanceof Error ? err.name : 'error');
}

function checkCount(name: string, v: number | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < min) throw new RangeError(`alert sinks: ${name} must be a number >= ${min}`);
  return v;
}

export function createAlertSinks(configs: readonly AlertSinkConfig[], opts: AlertSinksOptions = {}): AlertSinks {
  const settings: Settings = {
    fetch: opts.fetch ?? globalThis.fetch,
    now: opts.now ?? Date.now,
    logger: opts.logger,
    maxQueue: Math.floor(checkCount('maxQueue', opts.maxQueue, DEFAULT_MAX_QUEUE, 0)),
    maxAttempts: Math.floor(checkCount('maxAttempts', opts.maxAttempts, DEFAULT_MAX_ATTEMPTS, 1)),
    baseDelayMs: checkCount('baseDelayMs', opts.baseDelayMs, DEFAULT_BASE_DELAY_MS, 0),
    maxDelayMs: checkCount('maxDelayMs', opts.maxDelayMs, DEFAULT_MAX_DELAY_MS, 0),
    timeoutMs: checkCount('timeoutMs', opts.timeoutMs, DEFAULT_TIMEOUT_MS, 1),
    random: opts.random ?? Math.random,
    userAgent: opts.version !== undefined ? `tapwire/${opts.version}` : 'tapwire',
  };
  const names = new Set<string>();
  const sinks = configs.map((cfg, i) => {
    const label = cfg.name ?? `#${i + 1}`;
    if (cfg.type !== 'webhook' && cfg.type !== 'slack') throw new TypeError(`alert sink ${label}: type must be 'webhook' or 'slack'`);
    let url: URL;
    try {
      url = new URL(cfg.url);
    } catch {
      // the message never repeats the URL: it may carry a token
      throw new TypeError(`alert sink ${label}: url is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`alert sink ${label}: url must be http:// or https://`);
    if (cfg.minSeverity !== undefined && !SEVERITIES.includes(cfg.minSeverity)) throw new TypeError(`alert sink ${label}: minSeverity must be one of ${SEVERITIES.join(', ')}`);
    for (const [k, v] of Object.entries(cfg.headers ?? {})) {
      if (typeof v !== 'string') throw new TypeError(`alert sink ${label}: header ${k} must be a string`);
    }
    let name = cfg.name ?? `${cfg.type}:${url.host}`;
    for (let n = 2; names.has(name); n++) name = `${cfg.name ?? `${cfg.type}:${url.host}`}#${n}`;
    names.add(name);
    return new Sink(cfg, name, url, settings);
  });
  let closed = false;
  let closing: Promise<void> | undefined;

  function notify(t: Transition): void {
    if (closed) return;
    let webhook: string | undefined;
    let slack: string | undefined;
    for (const sink of sinks) {
      if (!sink.accepting) continue;
      const event = sink.eventFor(t);
      if (event === undefined) continue;
      // bodies are built once per (event, type) per transition: a snapshot, whatever happens to the finding later
      let body: string;
      if (sink.type === 'slack') body = slack ??= JSON.stringify(slackBody(event, t.finding));
      else body = webhook ??= JSON.stringify(webhookBody(event, t.finding, opts.version));
      sink.enqueue(event, t.finding, body);
    }
  }

  async function flush(timeoutMs: number): Promise<void> {
    for (const s of sinks) s.close();
    const idle = Promise.all(sinks.map((s) => s.idle())).then(() => true);
    // this one timer is not unref'd: whoever awaits close() must get an answer before the process may exit
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    });
    const done = await Promise.race([idle, late]);
    clearTimeout(timer);
    if (done) return;
    let abandoned = 0;
    for (const s of sinks) abandoned += s.stop();
    if (abandoned > 0) {
      try {
        opts.logger?.warn({ abandoned, timeoutMs }, 'alert sinks closed before every alert was delivered');
      } catch {
        // ignore
      }
    }
    // an aborted fetch settles at once; a custom fetch that ignores its signal gets a short grace, no more
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise<void>((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
  }

  return {
    notify,
    close(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
      closed = true;
      return (closing ??= flush(timeoutMs));
    },
    stats: () => sinks.map((s) => s.stats()),
  };
}
