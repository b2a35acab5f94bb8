// The hardening rig: a recording primary, a recording sandboxed mirror that takes a copy of every method, and a
// tapwire in front of both with small limits, so that slow-client cases finish in a few seconds.
import { LISTEN, startTapwire, type Running } from '../helpers/harness.ts';
import { startRecorder, type Recorder } from './recorder.ts';

export interface Rig {
  readonly tw: Running;
  readonly primary: Recorder;
  readonly mirror: Recorder;
  /** waits until no copy is in flight (bounded) */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Every method a client may send (CONNECT is refused by the listener); all mirrored. */
export const ALL_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE'];

export interface RigOptions {
  /** only the host-conditioned route: what happens to requests no route matches */
  readonly noCatchAll?: boolean;
  readonly headersTimeout?: string;
  readonly requestTimeout?: string;
  /** keep the raw bytes the upstreams receive (default true) */
  readonly keepWire?: boolean;
}

/** One route; its mirror copies carry `x-route: NAME` so a test can tell which route a request matched. */
function route(name: string, match: string): string {
  return `  - name: ${name}
    match: ${match}
    primary: p
    maxBodyBytes: 64KiB
    mirrors: [{ upstream: m, methods: [${ALL_METHODS.join(', ')}], maxBodyBytes: 1MiB, headers: { set: { x-route: ${name} } } }]
`;
}

/**
 * Routes: `api` (host api.example.com), `admin` (path prefix /admin), `all` (no condition). Limits are small so that
 * slow-client cases end in seconds: headers within 1 s, the whole request within 2 s (checked every second).
 */
export function rigYaml(primary: string, mirror: string, o: RigOptions = {}): string {
  return `${LISTEN}limits:
  headersTimeout: ${o.headersTimeout ?? '1s'}
  requestTimeout: ${o.requestTimeout ?? '2s'}
  maxHeaderBytes: 16KiB
  maxHeaders: 100
  maxRequestLineBytes: 8KiB
upstreams:
  p: { url: "${primary}" }
  m: { url: "${mirror}", sandboxed: true }
routes:
${route('api', '{ host: api.example.com }')}${o.noCatchAll ? '' : route('admin', '{ path: { prefix: /admin } }') + route('all', '{}')}`;
}

export async function startRig(o: RigOptions = {}): Promise<Rig> {
  const keepWire = o.keepWire ?? true;
  const primary = await startRecorder('primary', { keepWire });
  const mirror = await startRecorder('mirror', { keepWire });
  const tw = await startTapwire(rigYaml(primary.url, mirror.url, o));
  return {
    tw,
    primary,
    mirror,
    async settle() {
      const until = performance.now() + 5000;
      while (tw.app.mirroring.inFlight > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
      // Let the last bytes cross the relays.
      await new Promise((r) => setTimeout(r, 50));
    },
    async close() {
      await tw.stop();
      await primary.close();
      await mirror.close();
    },
  };
}
