// The messages between the primary of `tapwire run --workers N` and its workers (node:cluster IPC).
// Metrics do not appear here: they travel by prom-client's own cluster protocol (see admin.ts).
import type { StatsSnapshot } from '../admin/stats.ts';

/** worker → primary */
export type WorkerMessage =
  | { readonly type: 'tapwire:ready'; readonly listen: { readonly host: string; readonly port: number } }
  /** the worker could not start (bad config, port in use, store): the primary stops everything */
  | { readonly type: 'tapwire:failed'; readonly message: string }
  | { readonly type: 'tapwire:draining' }
  /** pushed every second: what the primary's /api/v1/stats, /performance and /analysis serve */
  | { readonly type: 'tapwire:stats'; readonly stats: StatsSnapshot; readonly performance?: unknown; readonly analysis?: unknown }
  | { readonly type: 'tapwire:flushed'; readonly id: number }
  | { readonly type: 'tapwire:reloaded'; readonly ok: boolean };

/** primary → worker */
export type PrimaryMessage =
  | { readonly type: 'tapwire:stop' }
  | { readonly type: 'tapwire:reload' }
  | { readonly type: 'tapwire:flush'; readonly id: number };

/** The worker's slot (0..N-1), stable across restarts: it labels logs and /api/v1/stats. */
export const SLOT_ENV = 'TAPWIRE_WORKER_SLOT';

export function isMessage<T extends { type: string }>(m: unknown, prefix = 'tapwire:'): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith(prefix);
}
