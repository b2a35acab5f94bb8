// Imports traffic recorded elsewhere as capture lines (./har.ts), redacted exactly as tapwire's own capture is
// (each request/response pair becomes a Trial and goes through trialToEntry): a browser's HAR export, or a
// GoReplay `.gor` file (payloads separated by a "🐵🙈🙉" line, each opening with "<type> <id> <timestamp_ns>
// <latency_ns>": 1 a request, 2 the original response, 3 a replayed response; 1 and 2 are paired by id).
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { RawHeaders, Trial } from '../core/exchange.ts';
import { TapwireError } from '../core/errors.ts';
import { trialToEntry } from './entry.ts';
import type { HarEntry } from './har.ts';
import type { Redactor } from './redact.ts';

export interface ImportStats {
  /** entries (HAR) or payloads (.gor) read */
  read: number;
  /** lines produced */
  entries: number;
  /** malformed entries or payloads skipped */
  skipped: number;
  /** .gor: requests without their original response (written with status 0) */
  unpaired: number;
  /** .gor: responses without a request, and replayed responses (type 3), dropped */
  dropped: number;
}

export function emptyImportStats(): ImportStats {
  return { read: 0, entries: 0, skipped: 0, unpaired: 0, dropped: 0 };
}

export interface ImportOptions {
  readonly redactor: Redactor;
  /** body bytes kept per message (as capture.maxBodyBytes) */
  readonly maxBodyBytes: number;
}

/** The route name imported entries carry. */
export const IMPORT_ROUTE = 'import';
/** A browser HAR larger than this is refused: HAR is one JSON document and must be parsed whole. */
export const MAX_HAR_BYTES = 512 * 1024 * 1024;
/** .gor payloads larger than this are skipped rather than buffered. */
export const MAX_GOR_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** .gor requests waiting for their response; past it the oldest is written unpaired. */
export const MAX_GOR_PENDING = 10_000;

const fail = (message: string, cause?: unknown): TapwireError => new TapwireError('TW_ERR_CAPTURE', message, cause === undefined ? undefined : { cause });

// ---- shared ------------------------------------------------------------------------------------------

interface Message {
  readonly headers: string[];
  readonly body: Buffer;
}

function hasHeader(h: RawHeaders, lower: string): boolean {
  for (let i = 0; i < h.length; i += 2) if (h[i]!.toLowerCase() === lower) return true;
  return false;
}

function trialOf(p: {
  id: string;
  at: number;
  method: string;
  path: string;
  request: Message;
  status: number | undefined;
  response: Message | undefined;
  timeMs: number;
}): Trial {
  return {
    id: p.id,
    route: IMPORT_ROUTE,
    at: p.at,
    request: { method: p.method, path: p.path, headers: p.request.headers, ...(p.request.body.length > 0 ? { body: p.request.body } : {}), bodyBytes: p.request.body.length },
    primary: {
      role: 'primary',
      upstream: 'recorded',
      ...(p.status !== undefined ? { status: p.status, headers: p.response?.headers ?? [] } : {}),
      ...(p.response && p.response.body.length > 0 ? { body: p.response.body } : {}),
      bodyBytes: p.response?.body.length ?? 0,
      truncated: false,
      timings: { startMs: 0, totalMs: p.timeMs },
      ...(p.status === undefined ? { error: 'TW_ERR_UPSTREAM_CONNECT' } : {}),
    },
    mirrors: [],
  };
}

function entryOf(t: Trial, source: 'har' | 'gor', o: ImportOptions): HarEntry {
  const e = trialToEntry(t, o.redactor, { maxBodyBytes: o.maxBodyBytes });
  return e._tapwire ? { ...e, _tapwire: { ...e._tapwire, source } } : e;
}

// ---- browser HAR -----------------------------------------------------------------------------------------

interface NameValue {
  name?: unknown;
  value?: unknown;
}

function pairs(list: unknown, dropPseudo: boolean): string[] {
  const out: string[] = [];
  if (!Array.isArray(list)) return out;
  for (const h of list as NameValue[]) {
    if (typeof h?.name !== 'string' || typeof h.value !== 'string') continue;
    if (dropPseudo && h.name.startsWith(':')) continue;
    out.push(h.name, h.value);
  }
  return out;
}

function textBody(text: unknown, encoding: unknown): Buffer {
  if (typeof text !== 'string' || text === '') return Buffer.alloc(0);
  return Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8');
}

/** One browser HAR entry → a Trial, or undefined when it is not a replayable HTTP exchange. */
export function harEntryToTrial(e: unknown, index: number): Trial | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { request: req, response: res, startedDateTime, time } = e as Record<string, unknown>;
  if (typeof req !== 'object' || req === null) return undefined;
  const r = req as Record<string, unknown>;
  if (typeof r.method !== 'string' || typeof r.url !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined; // data:, blob:, ws:
  const headers = pairs(r.headers, true);
  if (!hasHeader(headers, 'host')) headers.unshift('Host', url.host);
  if (url.protocol === 'https:' && !hasHeader(headers, 'x-forwarded-proto')) headers.push('X-Forwarded-Proto', 'https');
  const post = (r.postData ?? {}) as Record<string, unknown>;
  const at = typeof startedDateTime === 'string' ? Date.parse(startedDateTime) : NaN;
  const s = (res ?? {}) as Record<string, unknown>;
  const content = (s.content ?? {}) as Record<string, unknown>;
  // browsers record status 0 for requests that got no answer (blocked, cancelled)
  const status = typeof s.status === 'number' && s.status >= 100 ? s.status : undefined;
  // HAR bodies are decoded: the Content-Encoding header would make them read as encoded bytes
  const resHeaders = pairs(s.headers, true);
  const plain: string[] = [];
  for (let i = 0; i + 1 < resHeaders.length; i += 2) if (resHeaders[i]!.toLowerCase() !== 'content-encoding') plain.push(resHeaders[i]!, resHeaders[i + 1]!);
  return trialOf({
    id: `har-${index}`,
    at: Number.isFinite(at) ? at : 0,
    method: r.method,
    path: `${url.pathname}${url.search}`,
    request: { headers, body: textBody(post.text, post.encoding) },
    status,
    response: status === undefined ? undefined : { headers: plain, body: textBody(content.text, content.encoding) },
    timeMs: typeof time === 'number' && Number.isFinite(time) && time >= 0 ? time : 0,
  });
}

/** A browser HAR export (one JSON document) → capture entries in the document's order. */
export async function* importHar(path: string, o: ImportOptions, stats: ImportStats = emptyImportStats()): AsyncGenerator<HarEntry> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_HAR_BYTES) throw fail(`${path}: ${size} bytes; a HAR document over ${MAX_HAR_BYTES} bytes is not imported (it must be parsed whole)`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof TapwireError) throw err;
    throw fail(`cannot read ${path}: ${(err as Error).message}`, err);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail(`${path}: not a HAR file (not JSON: ${(err as Error).message})`, err);
  }
  const entries = (doc as { log?: { entries?: unknown } } | null)?.log?.entries;
  if (!Array.isArray(entries)) throw fail(`${path}: not a HAR file (no log.entries)`);
  for (let i = 0; i < entries.length; i++) {
    stats.read++;
    const t = harEntryToTrial(entries[i], i);
    if (t === undefined) {
      stats.skipped++;
      continue;
    }
    stats.entries++;
    yield entryOf(t, 'har', o);
  }
}

// ---- GoReplay .gor -------------------------------------------------------------------------------------

const SEPARATOR = Buffer.from('\n🐵🙈🙉\n', 'utf8');

/** Splits a .gor stream into payloads (plain or gzip by magic bytes); a payload over the cap is skipped whole. */
async function* gorPayloads(path: string, stats: ImportStats): AsyncGenerator<Buffer> {
  let gz: boolean;
  try {
    const fh = await open(path, 'r');
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    await fh.close();
    gz = bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch (err) {
    throw fail(`cannot read ${path}: ${(err as Error).message}`, err);
  }
  const source = createReadStream(path);
  const stream = gz ? source.pipe(createGunzip()) : source;
  if (gz) source.on('error', (err) => stream.destroy(err));
  let buf: Buffer = Buffer.alloc(0);
  let skipping = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (let at = buf.indexOf(SEPARATOR); at >= 0; at = buf.indexOf(SEPARATOR)) {
        const payload = buf.subarray(0, at);
        buf = buf.subarray(at + SEPARATOR.length);
        if (skipping) skipping = false;
        else if (payload.length > 0) yield payload;
      }
      if (buf.length > MAX_GOR_PAYLOAD_BYTES) {
        // keep the tail that may hold the start of a separator; the payload itself is dropped
        if (!skipping) stats.skipped++;
        skipping = true;
        buf = buf.subarray(buf.length - SEPARATOR.length);
      }
    }
  } catch (err) {
    throw fail(`cannot read ${path}: ${(err as Error).message}`, err);
  } finally {
    source.destroy();
  }
  if (!skipping && buf.length > 0) {
    // a file ends with a separator; a last payload without one is kept when it parses
    const tail = buf.subarray(buf.length - 1)[0] === 0x0a ? buf.subarray(0, buf.length - 1) : buf;
    if (tail.length > 0) yield tail;
  }
}

interface GorPayload {
  readonly type: string;
  readonly id: string;
  readonly at: number;
  readonly latencyMs: number;
  readonly startLine: string;
  readonly message: Message;
}

/** Parses one payload: the meta line, then an HTTP/1.x message (Content-Length or chunked body, else the rest). */
export function parseGorPayload(p: Buffer): GorPayload | undefined {
  const nl = p.indexOf(0x0a);
  if (nl < 0) return undefined;
  const meta = p.toString('latin1', 0, nl).trim().split(/\s+/);
  if (meta.length < 3 || !/^[123]$/.test(meta[0]!) || !/^\d+$/.test(meta[2]!)) return undefined;
  const msg = p.subarray(nl + 1);
  let headEnd = msg.indexOf('\r\n\r\n');
  let sepLen = 4;
  if (headEnd < 0) {
    headEnd = msg.indexOf('\n\n');
    sepLen = 2;
  }
  if (headEnd < 0) {
    headEnd = msg.length;
    sepLen = 0;
  }
  const lines = msg.toString('latin1', 0, headEnd).split(/\r?\n/);
  const startLine = lines[0] ?? '';
  const headers: string[] = [];
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    headers.push(line.slice(0, c).trim(), line.slice(c + 1).trim());
  }
  let body = msg.subarray(Math.min(msg.length, headEnd + sepLen));
  const te = headerOf(headers, 'transfer-encoding');
  if (te !== undefined && /chunked/i.test(te)) {
    const d = dechunk(body);
    if (d === undefined) return undefined;
    body = d;
    // the body is whole now: the headers describe it by length
    const kept: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'transfer-encoding') kept.push(headers[i]!, headers[i + 1]!);
    headers.length = 0;
    headers.push(...kept);
  } else {
    const cl = headerOf(headers, 'content-length');
    if (cl !== undefined && /^\d+$/.test(cl.trim()) && Number(cl) < body.length) body = body.subarray(0, Number(cl));
  }
  const latency = Number(meta[3] ?? '0');
  return {
    type: meta[0]!,
    id: meta[1]!,
    at: Number(BigInt(meta[2]!) / 1_000_000n),
    latencyMs: Number.isFinite(latency) && latency > 0 ? latency / 1e6 : 0,
    startLine,
    message: { headers, body },
  };
}

function headerOf(h: readonly string[], lower: string): string | undefined {
  for (let i = 0; i + 1 < h.length; i += 2) if (h[i]!.toLowerCase() === lower) return h[i + 1];
  return undefined;
}

function dechunk(b: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const size = parseInt(b.toString('latin1', i, eol).split(';', 1)[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = eol + 2;
    if (start + size > b.length) return undefined;
    parts.push(b.subarray(start, start + size));
    i = start + size + 2;
  }
}

/** A GoReplay .gor file → capture entries, each request paired with its original response (type 2) by id. */
export async function* importGor(path: string, o: ImportOptions, stats: ImportStats = emptyImportStats()): AsyncGenerator<HarEntry> {
  const pending = new Map<string, GorPayload>();
  const unpaired = (req: GorPayload): HarEntry | undefined => {
    stats.unpaired++;
    return pairToEntry(req, undefined, o, stats);
  };
  for await (const raw of gorPayloads(path, stats)) {
    stats.read++;
    const p = parseGorPayload(raw);
    if (p === undefined) {
      stats.skipped++;
      continue;
    }
    if (p.type === '1') {
      const old = pending.get(p.id);
      if (old !== undefined) {
        pending.delete(p.id);
        const e = unpaired(old);
        if (e) yield e;
      }
      pending.set(p.id, p);
      if (pending.size > MAX_GOR_PENDING) {
        const [oldestId, oldest] = pending.entries().next().value as [string, GorPayload];
        pending.delete(oldestId);
        const e = unpaired(oldest);
        if (e) yield e;
      }
    } else if (p.type === '2') {
      const req = pending.get(p.id);
      if (req === undefined) {
        stats.dropped++;
        continue;
      }
      pending.delete(p.id);
      const e = pairToEntry(req, p, o, stats);
      if (e) yield e;
    } else stats.dropped++; // 3: a response GoReplay got when it replayed; not the recording
  }
  for (const req of pending.values()) {
    const e = unpaired(req);
    if (e) yield e;
  }
}

function pairToEntry(req: GorPayload, res: GorPayload | undefined, o: ImportOptions, stats: ImportStats): HarEntry | undefined {
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/\d\.\d$/.exec(req.startLine.trim());
  if (!m) {
    stats.skipped++;
    return undefined;
  }
  let path = m[2]!;
  let headers = req.message.headers;
  if (!path.startsWith('/')) {
    // absolute-form: the host comes from the URL
    try {
      const u = new URL(path);
      path = `${u.pathname}${u.search}`;
      if (!hasHeader(headers, 'host')) headers = ['Host', u.host, ...headers];
    } catch {
      stats.skipped++;
      return undefined;
    }
  }
  const sm = res ? /^HTTP\/\d\.\d (\d{3})/.exec(res.startLine.trim()) : null;
  const status = sm ? Number(sm[1]) : undefined;
  stats.entries++;
  return entryOf(
    trialOf({
      id: `gor-${req.id}`,
      at: req.at,
      method: m[1]!,
      path,
      request: { headers, body: req.message.body },
      status,
      response: status !== undefined ? res!.message : undefined,
      timeMs: res?.latencyMs ?? 0,
    }),
    'gor',
    o,
  );
}
