// The demo's tapwire configuration, written as the YAML a user would write, so it goes through the same loader.

export interface DemoConfigInput {
  readonly primaryUrl: string;
  readonly mirrorUrl: string;
  readonly mirrorTimeoutMs: number;
  readonly maxInFlight: number;
}

export function demoConfigYaml(i: DemoConfigInput): string {
  return `# tapwire demo: v1 serves every client; v2, the candidate, gets a copy of each /api request.
listen: 127.0.0.1:0            # port 0: a free port, the machine may be shared
admin:
  listen: 127.0.0.1:0
storage: memory
shutdown:
  drainTimeout: 1s              # the demo lets its own traffic finish before it stops tapwire
upstreams:
  v1: { url: ${i.primaryUrl} }
  v2:
    url: ${i.mirrorUrl}
    sandboxed: true             # may receive mirrored writes (the demo POSTs orders)
routes:
  - name: api
    match: { path: { prefix: /api/ } }
    primary: v1
    mirrors:
      - upstream: v2
        methods: [GET, HEAD, OPTIONS, POST]
        timeout: ${i.mirrorTimeoutMs}ms
        maxInFlight: ${i.maxInFlight}    # beyond it a copy is dropped as "overloaded", never queued
  - name: health                # not mirrored: nothing to learn from a health check
    match: { path: { exact: /health } }
    primary: v1
`;
}
