// The tap: the data plane publishes typed events here; metrics, stats, compare and store subscribe.
// Listeners run synchronously and must be cheap: anything slow belongs behind a bounded queue of its own.
import type { Outcome } from './outcomes.ts';
import type { Trial } from './exchange.ts';

export interface ExchangeEvent {
  readonly route: string;
  readonly upstream: string;
  /** status sent to the client (the primary's, or tapwire's own 502/504/4xx) */
  readonly status: number;
  readonly durationMs: number;
  /** set when tapwire answered itself */
  readonly error?: string;
}

export interface CopyStartEvent {
  readonly route: string;
  readonly mirror: string;
}

export interface CopyEndEvent {
  readonly route: string;
  readonly mirror: string;
  readonly outcome: Outcome;
  /** true when the copy was in flight (a CopyStartEvent preceded this one) */
  readonly started: boolean;
  readonly durationMs?: number;
  readonly status?: number;
}

export interface RejectEvent {
  /** the error code tapwire answered with (no route, bad request, limits) */
  readonly code: string;
  readonly status: number;
}

export interface ConfigEvent {
  readonly ok: boolean;
  readonly message?: string;
}

export interface TapEvents {
  exchange: ExchangeEvent;
  copyStart: CopyStartEvent;
  copyEnd: CopyEndEvent;
  trial: Trial;
  /** a trial a route's capture sampled (bodies cut to capture.maxBodyBytes); the capture writer subscribes */
  capture: Trial;
  reject: RejectEvent;
  reload: ConfigEvent;
}

type Listener<T> = (event: T) => void;

export class Tap {
  readonly #listeners: { [K in keyof TapEvents]: Listener<TapEvents[K]>[] } = {
    exchange: [],
    copyStart: [],
    copyEnd: [],
    trial: [],
    capture: [],
    reject: [],
    reload: [],
  };

  on<K extends keyof TapEvents>(name: K, fn: Listener<TapEvents[K]>): () => void {
    const list = this.#listeners[name];
    list.push(fn);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Whether anyone listens: lets the data plane skip work (e.g. keeping bodies for trials) nobody reads. */
  has(name: keyof TapEvents): boolean {
    return this.#listeners[name].length > 0;
  }

  emit<K extends keyof TapEvents>(name: K, event: TapEvents[K]): void {
    for (const fn of this.#listeners[name]) {
      try {
        fn(event);
      } catch {
        // A subscriber's bug must never break the request that emitted the event.
      }
    }
  }
}
