// Coarse deadlines for many short-lived exchanges: one sweeping interval instead of a timer per request.
// A timer per copy and per primary request cost ~10% of tapwire's CPU at 10k req/s (timer-list inserts on
// every socket read and write); a sweep every `tickMs` costs a Set add and delete per exchange.
import { performance } from 'node:perf_hooks';

export interface Deadline {
  /** performance.now() at which it expires; may be pushed back (idle timeouts) */
  at: number;
  readonly onExpire: () => void;
}

export class Deadlines {
  readonly #entries = new Set<Deadline>();
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(tickMs = 25) {
    this.#tickMs = tickMs;
  }

  add(ms: number, onExpire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + ms, onExpire };
    this.#entries.add(d);
    // unref: pending deadlines never keep the process alive on their own
    this.#timer ??= setInterval(() => this.#sweep(), this.#tickMs).unref();
    return d;
  }

  delete(d: Deadline | undefined): void {
    if (d) this.#entries.delete(d);
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = performance.now();
    for (const d of this.#entries) {
      if (d.at > now) continue;
      this.#entries.delete(d);
      try {
        d.onExpire();
      } catch {
        // one expiry's failure must not stop the others
      }
    }
  }
}

/** The process-wide sweeper used by the data plane. */
export const deadlines = new Deadlines();
