// The data-plane test harness: recording upstreams, a tapwire app built from YAML (listen and admin on
// 127.0.0.1:0), a subprocess runner for the CLI, and teardown of all of it when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { buildApp, type App, type AppOptions } from '../../src/app.ts';
import { loadConfigText } from '../../src/config/load.ts';
import type { ResolvedConfig } from '../../src/config/types.ts';
import { createLogger } from '../../src/core/log.ts';
import { request, type Reply, type RequestOptions } from './client.ts';
import { startUpstream, type Behaviour, type Upstream } from './upstream.ts';

export * from './client.ts';
export * from './upstream.ts';

export const REPO = new URL('../../', import.meta.url).pathname;

/** Parses and resolves YAML through the real loader; throws with the issues when it is invalid. */
export function configFrom(yaml: string, env: Record<string, string> = {}): ResolvedConfig {
  const loaded = loadConfigText(yaml, { env, baseDir: REPO });
  if (!loaded.ok) throw new Error(`test config is invalid:\n${JSON.stringify(loaded.issues, null, 2)}\n---\n${yaml}`);
  return loaded.config;
}

/** The listen and admin lines every test config starts with: loopback, free ports. */
export const LISTEN = 'listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nlog:\n  level: silent\nshutdown:\n  drainTimeout: 1s\n';

export interface Running {
  readonly app: App;
  /** the data-plane port */
  readonly port: number;
  readonly adminPort: number;
  /** one request to the data plane */
  send(opts?: RequestOptions): Promise<Reply>;
  /** GET on the admin server */
  admin(path: string): Promise<Reply>;
  /** parse + resolve YAML and swap it in */
  reload(yaml: string): void;
  stop(): Promise<void>;
}

/** Builds and starts tapwire from YAML (which must use LISTEN's loopback ports). */
export async function startTapwire(yaml: string, opts: AppOptions = {}): Promise<Running> {
  const config = configFrom(yaml);
  const app = buildApp(config, { logger: createLogger({ level: 'silent' }), ...opts });
  const { listen, admin } = await app.start();
  let stopped = false;
  return {
    app,
    port: listen.port,
    adminPort: admin?.port ?? 0,
    send: (o) => request(listen.port, o),
    admin: (path) => request(admin!.port, { path }),
    reload: (y) => app.reload(configFrom(y)),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
    },
  };
}

/** Per-test resources that are torn down when the test ends, pass or fail. */
export interface Harness {
  upstream(name: string, behaviour?: Behaviour): Promise<Upstream>;
  tapwire(yaml: string, opts?: AppOptions): Promise<Running>;
  /** a temporary directory removed at the end */
  tempDir(): string;
  /** runs `tapwire run -c FILE` as a subprocess */
  cli(file: string, args?: readonly string[]): Promise<CliProcess>;
}

export function harness(t: TestContext): Harness {
  const closers: (() => Promise<void> | void)[] = [];
  t.after(async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // teardown must go on
      }
    }
  });
  return {
    async upstream(name, behaviour) {
      const u = await startUpstream(name, behaviour);
      closers.push(() => u.close());
      return u;
    },
    async tapwire(yaml, opts) {
      const r = await startTapwire(yaml, opts);
      closers.push(() => r.stop());
      return r;
    },
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), 'tapwire-test-'));
      closers.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    async cli(file, args) {
      const p = await startCli(file, args);
      closers.push(() => p.kill());
      return p;
    },
  };
}

/** Writes a file (the config of a CLI test). */
export function writeConfig(dir: string, name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  /** everything written so far */
  stdout(): string;
  stderr(): string;
  /** parsed JSON log lines from stdout */
  logs(): Record<string, unknown>[];
  /** resolves with the exit code (or the signal name) */
  readonly exited: Promise<number | string>;
  kill(): Promise<void>;
}

const STARTED = /tapwire: (?:proxy|collector) on ([^\s,]+):(\d+), admin on http:\/\/([^\s:]+):(\d+)/;

/** Starts `node --import tsx src/cli/main.ts run -c FILE [ARGS]` and waits for the "proxy on" / "collector on" line (bounded). */
export async function startCli(file: string, args: readonly string[] = [], timeoutMs = 20_000): Promise<CliProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-c', file, ...args], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const started = await new Promise<RegExpExecArray>((resolve, reject) => {
    // a child that never started is killed: it must not outlive the test that gave up on it
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tapwire did not start in ${timeoutMs} ms\nstderr: ${err}\nstdout: ${out}`));
    }, timeoutMs);
    const check = (): void => {
      const m = STARTED.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stderr.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tapwire exited (${code}) before listening\nstderr: ${err}\nstdout: ${out}`));
    });
  });
  return {
    child,
    port: Number(started[2]),
    adminPort: Number(started[4]),
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
