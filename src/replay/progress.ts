// Progress while a replay runs: a cli-progress bar on a terminal (elapsed against --duration when given, else the
// live counters), plain lines every 5 s otherwise (CI logs). Reads the live counters; never touches the send path.
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import type { ReplayStats } from './stats.ts';

export const PLAIN_INTERVAL_MS = 5000;
const BAR_INTERVAL_MS = 200;

export interface ProgressOptions {
  readonly tty: boolean;
  readonly stream: NodeJS.WritableStream;
  readonly stats: ReplayStats;
  readonly startedAt: number;
  readonly durationMs?: number;
  /** plain mode's interval (tests shorten it) */
  readonly intervalMs?: number;
}

export interface Progress {
  stop(): void;
}

function counters(s: ReplayStats, elapsedMs: number) {
  return {
    sent: s.sent,
    ok: s.ok,
    errors: s.failed,
    late: s.late,
    rate: elapsedMs > 0 ? ((s.sent * 1000) / elapsedMs).toFixed(0) : '0',
    elapsed: (elapsedMs / 1000).toFixed(1),
  };
}

export function startProgress(o: ProgressOptions): Progress {
  if (!o.tty) {
    const timer = setInterval(() => {
      const c = counters(o.stats, performance.now() - o.startedAt);
      o.stream.write(`replay: ${c.elapsed} s, sent ${c.sent} (${c.rate} req/s), ok ${c.ok}, errors ${c.errors}, late ${c.late}\n`);
    }, o.intervalMs ?? PLAIN_INTERVAL_MS);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
  const timed = o.durationMs !== undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: o.stream,
      fps: 1000 / BAR_INTERVAL_MS,
      hideCursor: true,
      clearOnComplete: false,
      format: timed
        ? 'replay {bar} {elapsed}/{limit} s | sent {sent} ({rate} req/s) | ok {ok} | errors {errors} | late {late}'
        : 'replay {elapsed} s | sent {sent} ({rate} req/s) | ok {ok} | errors {errors} | late {late}',
    },
    cliProgress.Presets.shades_classic,
  );
  const limit = timed ? o.durationMs / 1000 : 0;
  bar.start(timed ? limit : 1, 0, { ...counters(o.stats, 0), limit: limit.toFixed(0) });
  const timer = setInterval(() => {
    const elapsed = performance.now() - o.startedAt;
    bar.update(timed ? Math.min(limit, elapsed / 1000) : 0, counters(o.stats, elapsed));
  }, BAR_INTERVAL_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const elapsed = performance.now() - o.startedAt;
      bar.update(timed ? Math.min(limit, elapsed / 1000) : 0, counters(o.stats, elapsed));
      bar.stop();
    },
  };
}
