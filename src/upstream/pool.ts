// Keep-alive connection pools for primaries: one node:http Agent per upstream URL, round-robin over `urls`.
// node:http is used on the live path because it was the fastest client in our measurements
// (reference/ecosystem.md); copies use undici pools of their own (src/mirror/pools.ts).
import http from 'node:http';
import https from 'node:https';
import type { ResolvedUpstream } from '../config/types.ts';

export interface Target {
  readonly url: URL;
  readonly agent: http.Agent;
  readonly secure: boolean;
}

export class UpstreamPool {
  readonly upstream: ResolvedUpstream;
  readonly #targets: Target[];
  #next = 0;

  constructor(upstream: ResolvedUpstream) {
    this.upstream = upstream;
    this.#targets = upstream.urls.map((url) => {
      const secure = url.protocol === 'https:';
      const options = { keepAlive: true, maxSockets: upstream.maxConnections, maxFreeSockets: upstream.maxConnections, scheduling: 'lifo' as const };
      const agent = secure
        ? new https.Agent({
            ...options,
            // Explicitly true: `undefined` once meant "off" (CVE-2021-22939).
            rejectUnauthorized: true,
            ...(upstream.ca ? { ca: upstream.ca } : {}),
            ...(upstream.servername ? { servername: upstream.servername } : {}),
          })
        : new http.Agent(options);
      return { url, agent, secure };
    });
  }

  /** The next target, round-robin. */
  pick(): Target {
    const t = this.#targets[this.#next]!;
    this.#next = (this.#next + 1) % this.#targets.length;
    return t;
  }

  /** A stable identity: a reload keeps a pool (and its warm connections) when this is unchanged. */
  static key(u: ResolvedUpstream): string {
    return JSON.stringify([u.urls.map(String), u.maxConnections, u.ca ?? '', u.servername ?? '']);
  }

  destroy(): void {
    for (const t of this.#targets) t.agent.destroy();
  }
}
