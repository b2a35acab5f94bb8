// Trial → one HAR 1.2 entry (./har.ts), redacted. Bodies are decoded (HAR's content.text is the decoded body),
// cut to the route's capture.maxBodyBytes, written as text when UTF-8 and base64 otherwise; a JSON body that does
// not parse (cut short) cannot be redacted by path and is withheld. Pure apart from decompression and hashing.
import { STATUS_CODES } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { brotliDecompressSync, constants as zc, gunzipSync, inflateSync } from 'node:zlib';
import type { Exchange, RawHeaders, Trial } from '../core/exchange.ts';
import { CAPTURE_FORMAT_VERSION, type CapturedCopy, type HarContent, type HarEntry, type HarNameValue, type HarPostData, type HarResponse, type HarTimings } from './har.ts';
import type { Redactor } from './redact.ts';

export interface EntryOptions {
  /** body bytes written per message (the route's capture.maxBodyBytes) */
  readonly maxBodyBytes: number;
}

const WITHHELD_JSON = 'withheld: JSON that does not parse (cut at maxBodyBytes?) cannot be redacted';
const WITHHELD_ENCODING = 'withheld: compressed body that could not be decoded within maxBodyBytes';

export function trialToEntry(t: Trial, r: Redactor, o: EntryOptions): HarEntry {
  const req = t.request;
  const host = header(req.headers, 'host') ?? 'localhost';
  const proto = header(req.headers, 'x-forwarded-proto') === 'https' ? 'https' : 'http';
  const q = req.path.indexOf('?');
  const pathname = q < 0 ? req.path : req.path.slice(0, q);
  const query = q < 0 ? '' : r.queryString(req.path.slice(q + 1));
  const primary = t.primary;
  const postData = req.body !== undefined || req.bodyBytes > 0 ? requestBody(req.headers, req.body, req.bodyBytes, r, o) : undefined;
  return {
    startedDateTime: new Date(t.at).toISOString(),
    time: round(primary.timings.totalMs),
    request: {
      method: req.method,
      url: `${proto}://${host}${pathname}${q < 0 ? '' : `?${query}`}`,
      httpVersion: 'HTTP/1.1',
      cookies: requestCookies(req.headers, r),
      headers: nameValues(req.headers, r),
      queryString: queryPairs(query),
      ...(postData ? { postData } : {}),
      headersSize: -1,
      bodySize: req.bodyBytes,
    },
    response: response(primary, r, o),
    cache: {},
    timings: timings(primary),
    _tapwire: {
      v: CAPTURE_FORMAT_VERSION,
      id: t.id,
      route: t.route,
      primary: primary.upstream,
      at: t.at,
      ...(primary.error ? { error: primary.error } : {}),
      mirrors: t.mirrors.map((m) => copy(m, r, o)),
    },
  };
}

function copy(m: Exchange, r: Redactor, o: EntryOptions): CapturedCopy {
  return {
    upstream: m.upstream,
    role: m.role === 'secondary' ? 'secondary' : 'mirror',
    outcome: m.outcome ?? (m.error ? m.error : 'delivered'),
    ...(m.status !== undefined ? { response: response(m, r, o), timings: timings(m), time: round(m.timings.totalMs) } : {}),
  };
}

function response(e: Exchange, r: Redactor, o: EntryOptions): HarResponse {
  const headers = e.headers ?? [];
  const status = e.status ?? 0;
  const cookies: HarNameValue[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'set-cookie') continue;
    const v = r.setCookie(headers[i + 1]!);
    const pair = v.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    cookies.push({ name: eq < 0 ? '' : pair.slice(0, eq), value: eq < 0 ? pair : pair.slice(eq + 1) });
  }
  return {
    status,
    statusText: STATUS_CODES[status] ?? '',
    httpVersion: 'HTTP/1.1',
    cookies,
    headers: nameValues(headers, r),
    content: content(headers, e.body, e.bodyBytes, e.truncated, r, o),
    redirectURL: header(headers, 'location') ?? '',
    headersSize: -1,
    bodySize: e.bodyBytes,
  };
}

function timings(e: Exchange): HarTimings {
  const total = e.timings.totalMs;
  const wait = e.timings.headersMs ?? total;
  return { send: 0, wait: round(wait), receive: round(Math.max(0, total - wait)) };
}

interface Body {
  text: string;
  encoding?: 'base64';
  truncated: boolean;
  /** decoded length when it was decoded */
  size?: number;
  withheld?: string;
}

function content(headers: RawHeaders, body: Buffer | undefined, bodyBytes: number, truncated: boolean, r: Redactor, o: EntryOptions): HarContent {
  const mimeType = header(headers, 'content-type') ?? '';
  if (body === undefined || body.length === 0) return { size: bodyBytes, mimeType, ...(truncated || bodyBytes > 0 ? { _truncated: bodyBytes > 0 } : {}) };
  const b = bodyText(headers, mimeType, body, truncated || bodyBytes > body.length, r, o);
  return {
    size: b.size ?? bodyBytes,
    mimeType,
    text: b.text,
    ...(b.encoding ? { encoding: b.encoding } : {}),
    ...(b.truncated ? { _truncated: true } : {}),
    ...(b.withheld ? { _withheld: b.withheld } : {}),
  };
}

function requestBody(headers: RawHeaders, body: Buffer | undefined, bodyBytes: number, r: Redactor, o: EntryOptions): HarPostData {
  const mimeType = header(headers, 'content-type') ?? '';
  if (body === undefined || body.length === 0) return { mimeType, text: '', ...(bodyBytes > 0 ? { _truncated: true } : {}) };
  const b = bodyText(headers, mimeType, body, bodyBytes > body.length, r, o);
  return {
    mimeType,
    text: b.text,
    ...(b.encoding ? { encoding: b.encoding } : {}),
    ...(b.truncated ? { _truncated: true } : {}),
    ...(b.withheld ? { _withheld: b.withheld } : {}),
  };
}

function bodyText(headers: RawHeaders, mimeType: string, raw: Buffer, cut: boolean, r: Redactor, o: EntryOptions): Body {
  let body = raw;
  let truncated = cut;
  let size: number | undefined;
  const coding = (header(headers, 'content-encoding') ?? '').trim().toLowerCase();
  if (coding !== '' && coding !== 'identity') {
    // HAR's text is the decoded body, and a compressed body could carry a secret no redaction would see.
    const decoded = decode(coding, raw, o.maxBodyBytes);
    if (decoded === undefined) return { text: '', truncated: true, withheld: WITHHELD_ENCODING };
    body = decoded.body;
    truncated = truncated || decoded.cut;
    size = decoded.body.length;
  }
  if (body.length > o.maxBodyBytes) {
    body = body.subarray(0, o.maxBodyBytes);
    truncated = true;
  }
  const utf8 = utf8Prefix(body, truncated);
  if (utf8 === undefined) return { text: body.toString('base64'), encoding: 'base64', truncated, ...(size !== undefined ? { size } : {}) };
  let text = utf8.toString('utf8');
  const lowerType = mimeType.toLowerCase();
  if (lowerType.includes('json') || looksLikeJson(text)) {
    const redacted = r.jsonText(text);
    if (redacted === undefined) {
      // Not JSON after all (no JSON type, does not parse, not cut): plain text.
      if (!lowerType.includes('json') && !truncated) return { text, truncated, ...(size !== undefined ? { size } : {}) };
      return { text: '', truncated: true, withheld: WITHHELD_JSON, ...(size !== undefined ? { size } : {}) };
    }
    text = redacted;
  } else if (lowerType.startsWith('application/x-www-form-urlencoded')) {
    text = r.queryString(text);
  }
  return { text, truncated, ...(size !== undefined ? { size } : {}) };
}

/** Decodes gzip / deflate / br up to max bytes of output; undefined when it cannot be decoded at all. */
function decode(coding: string, raw: Buffer, max: number): { body: Buffer; cut: boolean } | undefined {
  const opts = { maxOutputLength: max + 1, finishFlush: zc.Z_SYNC_FLUSH };
  try {
    let out: Buffer;
    if (coding === 'gzip' || coding === 'x-gzip') out = gunzipSync(raw, opts);
    else if (coding === 'deflate') out = inflateSync(raw, opts);
    else if (coding === 'br') out = brotliDecompressSync(raw, { maxOutputLength: max + 1, finishFlush: zc.BROTLI_OPERATION_FLUSH });
    else return undefined;
    return out.length > max ? { body: out.subarray(0, max), cut: true } : { body: out, cut: false };
  } catch {
    return undefined;
  }
}

/** The body as valid UTF-8 (a sequence cut at the end dropped when the body was truncated), or undefined for binary. */
function utf8Prefix(body: Buffer, truncated: boolean): Buffer | undefined {
  for (let k = 0; k <= (truncated ? 3 : 0) && k <= body.length; k++) {
    const b = k === 0 ? body : body.subarray(0, body.length - k);
    if (isUtf8(b)) return b.includes(0) ? undefined : b;
  }
  return undefined;
}

function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

function nameValues(raw: RawHeaders, r: Redactor): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    out.push({ name, value: r.headerValue(name.toLowerCase(), raw[i + 1]!) });
  }
  return out;
}

function requestCookies(raw: RawHeaders, r: Redactor): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'cookie') continue;
    for (const part of raw[i + 1]!.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      out.push({ name: part.slice(0, eq).trim(), value: r.hash(part.slice(eq + 1).trim()) });
    }
  }
  return out;
}

/** The (already redacted) query string as HAR pairs, decoded. */
function queryPairs(query: string): HarNameValue[] {
  if (query === '') return [];
  return query.split('&').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? { name: dec(kv), value: '' } : { name: dec(kv.slice(0, eq)), value: dec(kv.slice(eq + 1)) };
  });
}

function dec(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function header(raw: RawHeaders, lower: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) return raw[i + 1];
  return undefined;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
