// Connection pools for copies: undici Pools of their own, separate from the primary's sockets (a separate
// failure domain), with connect timeouts and verified TLS. One per mirror upstream URL, round-robin.
import { Pool } from 'undici';
import type { ResolvedUpstream } from '../config/types.ts';

export class MirrorPool {
  readonly upstream: ResolvedUpstream;
  readonly #pools: { pool: Pool; host: string }[];
  #next = 0;

  constructor(upstream: ResolvedUpstream, connectTimeoutMs: number) {
    this.upstream = upstream;
    this.#pools = upstream.urls.map((url) => ({
      host: url.host,
      pool: new Pool(url.origin, {
        connections: upstream.maxConnections,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connect: {
          timeout: connectTimeoutMs,
          // Never retried insecurely: a bad certificate is a tls_error outcome (reliability-anchors §4.5).
          rejectUnauthorized: true,
          ...(upstream.ca ? { ca: upstream.ca } : {}),
          ...(upstream.servername ? { servername: upstream.servername } : {}),
        },
      }),
    }));
  }

  pick(): { pool: Pool; host: string } {
    const p = this.#pools[this.#next]!;
    this.#next = (this.#next + 1) % this.#pools.length;
    return p;
  }

  static key(u: ResolvedUpstream, connectTimeoutMs: number): string {
    return JSON.stringify([u.urls.map(String), u.maxConnections, u.ca ?? '', u.servername ?? '', connectTimeoutMs]);
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.pool.destroy().catch(() => undefined)));
  }
}
