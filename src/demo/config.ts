// The demo's tapwire configuration, written as the YAML a user would write, so it goes through the same loader.

export interface DemoConfigInput {
  readonly primaryUrl: string;
  readonly secondaryUrl: string;
  readonly candidateUrl: string;
  readonly stagingUrl: string;
  readonly mirrorTimeoutMs: number;
  readonly maxInFlight: number;
  /** the SQLite file (in a temporary directory) */
  readonly storePath: string;
  /** the capture directory (in the same temporary directory, ending in a separator) */
  readonly captureDir: string;
  /** 0 for a free port */
  readonly adminPort: number;
  /** when set, the admin API and dashboard need ${TAPWIRE_ADMIN_TOKEN} */
  readonly token: boolean;
}

export function demoConfigYaml(i: DemoConfigInput): string {
  return `# tapwire demo: v1 serves every client. On /api/, v2 (the candidate, with planted regressions) gets a copy
# and is compared with v1; v1b (v1 again) teaches compare what is noise; staging gets a copy too and goes
# through a slow, resetting and down phase. Every route is analysed for floods, scans and attacks.
listen: 127.0.0.1:0            # port 0: a free port, the machine may be shared
admin:
  listen: 127.0.0.1:${i.adminPort}${i.token ? '\n  token: ${TAPWIRE_ADMIN_TOKEN}' : ''}
storage: sqlite:${i.storePath}
trustedProxies: [127.0.0.1/32]  # the demo's clients say who they are in X-Forwarded-For
shutdown:
  drainTimeout: 1s              # the demo lets its own traffic finish before it stops tapwire
compare:
  flushInterval: 500ms
capture:                        # /api/ trials, redacted, as NDJSON (one HAR entry per line); the demo replays them at the end
  file: ${i.captureDir}
  flushInterval: 200ms
  redact:
    key: tapwire-demo-only-capture-key   # in production set it from the environment, so hashes correlate across restarts
upstreams:
  v1: { url: ${i.primaryUrl} }
  v1b: { url: ${i.secondaryUrl} }
  v2: { url: ${i.candidateUrl} }
  staging:
    url: ${i.stagingUrl}
    sandboxed: true             # may receive mirrored writes (the demo POSTs orders)
routes:
  - name: api
    match: { path: { prefix: /api/ } }
    primary: v1
    secondary: v1b
    analyze: true
    capture: { percentage: 100 }
    mirrors:
      - upstream: v2            # GET, HEAD and OPTIONS only: v2 is not sandboxed
      - upstream: staging
        methods: [GET, HEAD, OPTIONS, POST]
        timeout: ${i.mirrorTimeoutMs}ms
        maxInFlight: ${i.maxInFlight}    # beyond it a copy is dropped as "overloaded", never queued
    compare:
      thresholds:
        minSamples: 50          # the demo is short; production wants more
        latencyPercentile: p50  # the median is steady in a one-minute demo on a busy laptop
        latencyRatio: 1.05      # v2 is 20% slower on products; a busy machine adds the same delay to both sides
        latencyMinDelta: 10ms   # v2 is 20 ms slower there; smaller gaps are scheduling noise in one busy process
  - name: health                # not mirrored: nothing to learn from a health check
    match: { path: { exact: /health } }
    primary: v1
  - name: site                  # everything else: only watched, for scanners probing for files
    match: { path: { prefix: / } }
    primary: v1
    analyze: true
`;
}
