// A recording upstream for the hardening suite and the fuzzer. Two layers, so that "zero bytes reached it" is a
// fact about the wire and not about a parser:
//   relay  (net server, the URL tapwire is given): counts and keeps every byte that arrives, then pipes it to
//   server (node:http with the strict parser): records every request it parses, and every byte sequence its
//          strict parser refused (that is a violation: tapwire must only ever forward strictly valid HTTP/1.1).
// It answers 200 "ok" (Content-Length) once the request body is complete; `x-hold: MS` delays a primary's answer.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

/** One request as the upstream's strict parser delivered it. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  body: Buffer;
  /** the whole body arrived (a request aborted mid-body is not a request the upstream "received") */
  complete: boolean;
  /** which relay connection it came on (1-based) */
  readonly conn: number;
  /** order of arrival at this upstream */
  readonly seq: number;
}

export interface ParseRefusal {
  readonly code: string;
  readonly reason: string;
  /** the bytes node's parser refused (err.rawPacket), latin1 */
  readonly packet?: string;
}

export interface Recorder {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly requests: Seen[];
  /** the strict parser refused something tapwire sent (must stay empty) */
  readonly refusals: ParseRefusal[];
  /** bytes received on the wire, all connections */
  bytes(): number;
  /** everything received on the wire, per connection, as latin1 text (byte-for-byte; empty unless keepWire) */
  wire(): string[];
  connections(): number;
  /** requests whose whole body arrived */
  completeCount(): number;
  close(): Promise<void>;
}

const OK = Buffer.from('ok');

export interface RecorderOptions {
  /** keep the bytes received on the wire (default true; a long fuzz run only counts them) */
  readonly keepWire?: boolean;
}

export async function startRecorder(name: string, opts: RecorderOptions = {}): Promise<Recorder> {
  const keepWire = opts.keepWire ?? true;
  const requests: Seen[] = [];
  const refusals: ParseRefusal[] = [];
  const wire: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  let bytes = 0;
  let seq = 0;
  const timers = new Set<NodeJS.Timeout>();
  const byPort = new Map<number, number>();

  const server = http.createServer(
    {
      // Generous, so that what tapwire forwards within its own limits is never refused for size here.
      maxHeaderSize: 256 * 1024,
      insecureHTTPParser: false,
      requireHostHeader: false, // checked below, as a recorded fact instead of a silent 400
      joinDuplicateHeaders: false,
      keepAliveTimeout: 30_000,
      headersTimeout: 20_000,
      requestTimeout: 30_000,
    },
    (req, res) => {
      const conn = byPort.get(req.socket.remotePort ?? 0) ?? 0;
      const seen: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders.slice(),
        body: Buffer.alloc(0),
        complete: false,
        conn,
        seq: ++seq,
      };
      requests.push(seen);
      if (req.httpVersion === '1.1' && req.headers.host === undefined) refusals.push({ code: 'NO_HOST', reason: `HTTP/1.1 request without Host: ${seen.url}` });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      req.on('end', () => {
        seen.body = Buffer.concat(chunks);
        seen.complete = true;
        // Only a primary holds its answer (what the client waits for); a mirror answers at once.
        const hold = name === 'primary' ? Number(req.headers['x-hold'] ?? 0) : 0;
        const answer = (): void => {
          if (res.destroyed) return;
          res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(OK.length), 'X-Upstream', name]);
          res.end(OK);
        };
        if (hold > 0) {
          const t = setTimeout(() => {
            timers.delete(t);
            answer();
          }, Math.min(hold, 5000));
          timers.add(t);
        } else answer();
      });
      req.on('close', () => {
        if (!seen.complete) seen.body = Buffer.concat(chunks);
      });
    },
  );
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    // A peer that goes away is not a parse refusal.
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
      refusals.push({ code: err.code ?? 'ERR', reason: err.message, ...(err.rawPacket ? { packet: err.rawPacket.toString('latin1') } : {}) });
    }
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const inner = (server.address() as AddressInfo).port;

  let conns = 0;
  const relay = net.createServer((client) => {
    const id = ++conns;
    const mine: Buffer[] = [];
    wire.push(mine);
    sockets.add(client);
    const back = net.connect(inner, '127.0.0.1');
    sockets.add(back);
    // The inner socket's remote port is this one's local port: that is how a request learns its relay connection.
    back.once('connect', () => byPort.set(back.localPort ?? 0, id));
    client.on('data', (d: Buffer) => {
      bytes += d.length;
      if (keepWire) mine.push(d);
    });
    client.pipe(back);
    back.pipe(client);
    const done = (): void => {
      client.destroy();
      back.destroy();
      sockets.delete(client);
      sockets.delete(back);
    };
    client.on('error', done);
    back.on('error', done);
    client.on('close', done);
    back.on('close', done);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const port = (relay.address() as AddressInfo).port;

  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    refusals,
    bytes: () => bytes,
    wire: () => wire.map((w) => Buffer.concat(w).toString('latin1')),
    connections: () => conns,
    completeCount: () => requests.filter((r) => r.complete).length,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => relay.close(() => r())), new Promise<void>((r) => server.close(() => r()))]);
    },
  };
}

/** A header's values in a raw list (case-insensitive name). */
export function values(raw: readonly string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) out.push(raw[i + 1]!);
  return out;
}
