// Replay test fixtures: capture entries (HAR 1.2 lines as tapwire's capture writes them) built in code, capture
// files in a temp directory, and a target server on 127.0.0.1 port 0 that records what it receives.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { HarEntry } from '../../src/capture/har.ts';
import { replay, type ReplayFlags } from '../../src/cli/commands/replay.ts';

export interface EntrySpec {
  readonly method?: string;
  readonly path: string;
  readonly at: number;
  readonly status?: number;
  readonly body?: string;
  readonly contentType?: string;
  readonly requestHeaders?: ReadonlyArray<readonly [string, string]>;
  readonly requestBody?: string;
  readonly time?: number;
  readonly route?: string;
  readonly id?: string;
}

export function entry(s: EntrySpec): HarEntry {
  const body = s.body ?? '';
  return {
    startedDateTime: new Date(s.at).toISOString(),
    time: s.time ?? 5,
    request: {
      method: s.method ?? 'GET',
      url: `http://api.example.com${s.path}`,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: [['Host', 'api.example.com'] as const, ...(s.requestHeaders ?? [])].map(([name, value]) => ({ name, value })),
      queryString: [],
      ...(s.requestBody !== undefined ? { postData: { mimeType: 'application/json', text: s.requestBody } } : {}),
      headersSize: -1,
      bodySize: s.requestBody?.length ?? 0,
    },
    response: {
      status: s.status ?? 200,
      statusText: 'OK',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: [{ name: 'Content-Type', value: s.contentType ?? 'application/json' }],
      content: { size: body.length, mimeType: s.contentType ?? 'application/json', text: body },
      redirectURL: '',
      headersSize: -1,
      bodySize: body.length,
    },
    cache: {},
    timings: { send: 0, wait: s.time ?? 5, receive: 0 },
    _tapwire: { v: 1, id: s.id ?? `t-${s.at}-${s.path}`, route: s.route ?? 'api', primary: 'v1', at: s.at, mirrors: [] },
  };
}

export interface TempDir {
  readonly dir: string;
  write(name: string, entries: readonly HarEntry[], tail?: string): Promise<string>;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), 'tapwire-replay-'));
  return {
    dir,
    async write(name, entries, tail = '') {
      const file = join(dir, name);
      await writeFile(file, entries.map((e) => `${JSON.stringify(e)}\n`).join('') + tail);
      return file;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** performance.now() when the request arrived */
  readonly at: number;
}

export interface Target {
  readonly url: string;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/** A target that answers with `answer(req)` and records every request. */
export async function target(answer: (req: IncomingMessage, body: string) => { status?: number; body?: string; type?: string } = () => ({})): Promise<Target> {
  const seen: Seen[] = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at });
      const a = answer(req, body);
      res.writeHead(a.status ?? 200, { 'content-type': a.type ?? 'application/json' });
      res.end(a.body ?? '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Runs `tapwire replay` in-process with these flags; its stdout and stderr as text. */
export async function runReplay(f: ReplayFlags): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const err = new PassThrough();
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await replay(f, { env: {}, stdout: (s) => (stdout += s), stderr: err, tty: false, color: false });
  return { code, stdout, stderr };
}
