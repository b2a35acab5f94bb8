// Recording upstream fixtures: real HTTP servers on 127.0.0.1 port 0 that keep every request they receive and
// answer in a configurable way (normal, slow, never, refused, reset mid-body, endless body, garbage).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the upstream saw it. */
export interface Recorded {
  readonly method: string;
  /** the request target as received (path and query) */
  readonly url: string;
  readonly rawHeaders: string[];
  readonly headers: http.IncomingHttpHeaders;
  /** body bytes received so far (whole body once `complete`) */
  body: Buffer;
  /** the whole body arrived */
  complete: boolean;
  /** the connection closed before the upstream answered or before the body was whole */
  closedEarly: boolean;
}

export type Behaviour =
  /** 200 with a small body (or the given status, headers, body) */
  | { readonly kind: 'normal'; readonly status?: number; readonly headers?: readonly string[]; readonly body?: string | Buffer }
  /** like normal, after `ms` */
  | { readonly kind: 'slow'; readonly ms: number; readonly status?: number; readonly body?: string }
  /** reads the request and never answers */
  | { readonly kind: 'never' }
  /** nothing listens on the port */
  | { readonly kind: 'refuse' }
  /** answers headers and half of the declared body, then resets the connection */
  | { readonly kind: 'reset' }
  /** answers 200 and streams zeros until the client goes away */
  | { readonly kind: 'endless' }
  /** answers bytes that are not HTTP */
  | { readonly kind: 'garbage' }
  /** anything else: the test writes the answer */
  | { readonly kind: 'custom'; readonly handle: (req: IncomingMessage, res: ServerResponse, rec: Recorded) => void };

export interface Upstream {
  readonly name: string;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly requests: Recorded[];
  behaviour: Behaviour;
  /** requests received so far whose whole body arrived */
  completeCount(): number;
  close(): Promise<void>;
}

/** A fixed Date so that responses can be compared byte for byte across two requests. */
export const FIXED_DATE = 'Tue, 01 Jan 2030 00:00:00 GMT';

const ZEROS = Buffer.alloc(16 * 1024);

/** A port on 127.0.0.1 where nothing listens (bound once, then closed). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function answer(b: Behaviour, req: IncomingMessage, res: ServerResponse, rec: Recorded, timers: Set<NodeJS.Timeout>, name: string): void {
  switch (b.kind) {
    case 'normal': {
      const body = b.body ?? `hello from ${name}`;
      res.writeHead(b.status ?? 200, ['Content-Type', 'text/plain', 'Date', FIXED_DATE, ...(b.headers ?? [])]);
      res.end(body);
      return;
    }
    case 'slow': {
      const t = setTimeout(() => {
        timers.delete(t);
        if (res.destroyed) return;
        res.writeHead(b.status ?? 200, ['Content-Type', 'text/plain', 'Date', FIXED_DATE]);
        res.end(b.body ?? `slow hello from ${name}`);
      }, b.ms);
      timers.add(t);
      res.on('close', () => {
        clearTimeout(t);
        timers.delete(t);
      });
      return;
    }
    case 'never':
    case 'refuse':
      return;
    case 'reset': {
      res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Content-Length', String(ZEROS.length * 2), 'Date', FIXED_DATE]);
      res.write(ZEROS, () => {
        const socket = res.socket;
        socket?.resetAndDestroy();
      });
      return;
    }
    case 'endless': {
      res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Date', FIXED_DATE]);
      const pump = (): void => {
        while (!res.destroyed && res.write(ZEROS));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    case 'garbage': {
      const socket = req.socket;
      socket.end('HTTP/1.1 2OO NOT-A-STATUS\r\n\x00\x01 garbage \r\n\r\n');
      return;
    }
    case 'custom':
      b.handle(req, res, rec);
      return;
  }
}

/** Starts a recording upstream. `refuse` returns a fixture whose URL points at a closed port. */
export async function startUpstream(name: string, behaviour: Behaviour = { kind: 'normal' }): Promise<Upstream> {
  const requests: Recorded[] = [];
  const timers = new Set<NodeJS.Timeout>();
  if (behaviour.kind === 'refuse') {
    const port = await closedPort();
    return {
      name,
      port,
      url: `http://127.0.0.1:${port}`,
      requests,
      behaviour,
      completeCount: () => 0,
      close: () => Promise.resolve(),
    };
  }
  const sockets = new Set<Socket>();
  let current: Behaviour = behaviour;
  const server = http.createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    const rec: Recorded = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders.slice(),
      headers: req.headers,
      body: Buffer.alloc(0),
      complete: false,
      closedEarly: false,
    };
    requests.push(rec);
    const chunks: Buffer[] = [];
    const b = current;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      rec.body = Buffer.concat(chunks);
    });
    req.on('end', () => {
      rec.complete = true;
      if (b.kind !== 'custom') answer(b, req, res, rec, timers, name);
    });
    res.on('close', () => {
      if (!res.writableFinished) rec.closedEarly = true;
    });
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    // A custom handler decides itself when to answer (it may answer before the body is complete).
    if (b.kind === 'custom') answer(b, req, res, rec, timers, name);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    get behaviour() {
      return current;
    },
    set behaviour(b: Behaviour) {
      current = b;
    },
    completeCount: () => requests.filter((r) => r.complete).length,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
