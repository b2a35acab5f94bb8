// Live updates for the dashboard over Server-Sent Events: one sampler turns the stats into per-second
// samples (requests, copies by outcome) kept in a bounded ring, and one hub writes them to a bounded set
// of clients. A new client gets the history first, so a chart is never empty after a page load.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OUTCOMES, type Outcome } from '../core/outcomes.ts';
import type { StatsSnapshot } from './stats.ts';

/** One second of traffic: counts that happened within it (deltas of the stats' counters). */
export interface Sample {
  /** epoch ms at the end of the second */
  readonly t: number;
  readonly requests: number;
  /** copies that ended in this second, by outcome, over every route and mirror (non-zero only) */
  readonly outcomes: Partial<Record<Outcome, number>>;
  /** the same per `route/mirror` (non-zero only) */
  readonly mirrors: Readonly<Record<string, Partial<Record<Outcome, number>>>>;
}

/** What the dashboard shows without asking: totals and a verdict/findings summary. */
export interface LiveSummary {
  readonly verdict?: string;
  readonly endpoints?: { readonly pass: number; readonly fail: number; readonly insufficient_data: number };
  readonly activeFindings?: number;
}

export interface EventHubOptions {
  readonly stats: () => StatsSnapshot;
  /** the verdict and findings summary, computed at most every `summaryEveryMs` and only while someone listens */
  readonly summary?: () => Promise<LiveSummary>;
  readonly onError?: (message: string, err: unknown) => void;
  readonly now?: () => number;
  readonly sampleEveryMs?: number;
  readonly summaryEveryMs?: number;
  readonly heartbeatMs?: number;
  readonly maxClients?: number;
}

export interface EventHub {
  /** false when the hub is full (the caller answers 503) */
  attach(req: IncomingMessage, res: ServerResponse): boolean;
  readonly clients: number;
  history(): readonly Sample[];
  /** ends every stream at once: shutdown must not wait on a dashboard left open */
  close(): void;
}

/** Ten minutes of seconds. */
const HISTORY = 600;
/** A client that has not read this much of what we wrote is dropped rather than buffered for. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export function createEventHub(o: EventHubOptions): EventHub {
  const now = o.now ?? Date.now;
  const maxClients = o.maxClients ?? 16;
  const ring: Sample[] = [];
  const clients = new Set<ServerResponse>();
  /** the counters at the last sample; the first sample only sets them (stats may not be ready at build time) */
  let previous: Totals | undefined;
  let lastSummary: LiveSummary | undefined;
  let summarizing = false;
  let closed = false;

  const write = (res: ServerResponse, text: string): void => {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      // a stalled reader: end it, its browser reconnects and starts again from the history
      clients.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  };
  const broadcast = (event: string, data: unknown): void => {
    const text = frame(event, data);
    for (const res of clients) write(res, text);
  };

  const sample = (): void => {
    let current: Totals;
    try {
      current = totals(o.stats());
    } catch (err) {
      o.onError?.('dashboard sample failed', err);
      return;
    }
    const s = delta(previous ?? current, current, now());
    previous = current;
    ring.push(s);
    if (ring.length > HISTORY) ring.shift();
    broadcast('sample', s);
  };

  const refreshSummary = (): void => {
    if (!o.summary || summarizing || clients.size === 0) return;
    summarizing = true;
    o.summary()
      .then((s) => {
        lastSummary = s;
        broadcast('summary', s);
      })
      .catch((err: unknown) => o.onError?.('dashboard summary failed', err))
      .finally(() => (summarizing = false));
  };

  const timers = [
    setInterval(sample, o.sampleEveryMs ?? 1000),
    setInterval(refreshSummary, o.summaryEveryMs ?? 5000),
    // a comment line keeps proxies and idle timeouts from closing a quiet stream
    setInterval(() => {
      for (const res of clients) write(res, ': heartbeat\n\n');
    }, o.heartbeatMs ?? 15_000),
  ];
  for (const t of timers) t.unref();

  return {
    attach(req, res) {
      if (closed || clients.size >= maxClients) return false;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-accel-buffering': 'no',
      });
      clients.add(res);
      const drop = () => clients.delete(res);
      req.on('close', drop);
      res.on('close', drop);
      res.on('error', drop);
      res.write('retry: 3000\n\n');
      write(res, frame('history', ring));
      if (lastSummary) write(res, frame('summary', lastSummary));
      else refreshSummary();
      return true;
    },
    get clients() {
      return clients.size;
    },
    history: () => [...ring],
    close() {
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}

function frame(event: string, data: unknown): string {
  // JSON has no raw newlines, so one data line carries the whole event
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Totals {
  readonly requests: number;
  readonly mirrors: Map<string, Record<Outcome, number>>;
}

function totals(s: StatsSnapshot): Totals {
  const mirrors = new Map<string, Record<Outcome, number>>();
  for (const r of s.routes) for (const m of r.mirrors) mirrors.set(`${r.route}/${m.mirror}`, { ...m.outcomes });
  return { requests: s.routes.reduce((n, r) => n + r.requests, 0), mirrors };
}

function delta(a: Totals, b: Totals, t: number): Sample {
  const outcomes: Partial<Record<Outcome, number>> = {};
  const mirrors: Record<string, Partial<Record<Outcome, number>>> = {};
  for (const [key, now] of b.mirrors) {
    const before = a.mirrors.get(key);
    for (const o of OUTCOMES) {
      // a counter that went down (a reload recreated stats) counts from zero rather than negative
      const d = now[o] - (before?.[o] ?? 0);
      const n = d >= 0 ? d : now[o];
      if (n === 0) continue;
      outcomes[o] = (outcomes[o] ?? 0) + n;
      (mirrors[key] ??= {})[o] = n;
    }
  }
  const dr = b.requests - a.requests;
  return { t, requests: dr >= 0 ? dr : b.requests, outcomes, mirrors };
}
