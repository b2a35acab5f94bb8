// NDJSON capture → one HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/), streamed entry by entry
// so a capture of any size exports in bounded memory. Every entry is made spec-valid on the way (required fields
// filled, the non-standard `postData.encoding` moved to the vendor field `_encoding`); one that cannot be is
// skipped and counted. Writes a temporary file with mode 0600 and renames it over the output when complete.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { TapwireError } from '../core/errors.ts';
import type { HarEntry, HarNameValue } from './har.ts';
import { captureFiles, emptyReadStats, readCapture, type ReadStats } from './read.ts';

export interface ExportStats {
  readonly read: ReadStats;
  /** entries written */
  written: number;
  /** entries that could not be made valid HAR 1.2 */
  invalid: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function nameValueProblems(v: unknown, where: string): string[] {
  if (!Array.isArray(v)) return [`${where}: must be an array`];
  const out: string[] = [];
  v.forEach((p, i) => {
    if (!isObj(p) || !isStr(p.name) || !isStr(p.value)) out.push(`${where}[${i}]: must be {name: string, value: string}`);
  });
  return out;
}

/**
 * What keeps a value from being a HAR 1.2 entry (the spec's required fields and their types, and `_` on every field
 * the spec does not define); empty when it is one.
 */
export function harEntryProblems(e: unknown): string[] {
  if (!isObj(e)) return ['entry: must be an object'];
  const p: string[] = [];
  if (!isStr(e.startedDateTime) || Number.isNaN(Date.parse(e.startedDateTime)) || !/^\d{4}-\d{2}-\d{2}T/.test(e.startedDateTime)) p.push('startedDateTime: must be an ISO 8601 date');
  if (!isNum(e.time) || e.time < 0) p.push('time: must be a number >= 0');
  if (!isObj(e.cache)) p.push('cache: must be an object');
  const known = new Set(['pageref', 'startedDateTime', 'time', 'request', 'response', 'cache', 'timings', 'serverIPAddress', 'connection', 'comment']);
  for (const k of Object.keys(e)) if (!known.has(k) && !k.startsWith('_')) p.push(`${k}: not a HAR 1.2 field (custom fields start with _)`);
  const q = e.request;
  if (!isObj(q)) p.push('request: must be an object');
  else {
    if (!isStr(q.method) || q.method === '') p.push('request.method: must be a string');
    if (!isStr(q.url)) p.push('request.url: must be a string');
    else {
      try {
        new URL(q.url);
      } catch {
        p.push('request.url: must be an absolute URL');
      }
    }
    if (!isStr(q.httpVersion)) p.push('request.httpVersion: must be a string');
    p.push(...nameValueProblems(q.cookies, 'request.cookies'), ...nameValueProblems(q.headers, 'request.headers'), ...nameValueProblems(q.queryString, 'request.queryString'));
    if (!isNum(q.headersSize)) p.push('request.headersSize: must be a number');
    if (!isNum(q.bodySize)) p.push('request.bodySize: must be a number');
    if (q.postData !== undefined) {
      if (!isObj(q.postData) || !isStr(q.postData.mimeType)) p.push('request.postData.mimeType: must be a string');
      else {
        if (q.postData.text !== undefined && !isStr(q.postData.text)) p.push('request.postData.text: must be a string');
        if ('encoding' in q.postData) p.push('request.postData.encoding: not a HAR 1.2 field');
      }
    }
  }
  const s = e.response;
  if (!isObj(s)) p.push('response: must be an object');
  else {
    if (!isNum(s.status)) p.push('response.status: must be a number');
    if (!isStr(s.statusText)) p.push('response.statusText: must be a string');
    if (!isStr(s.httpVersion)) p.push('response.httpVersion: must be a string');
    p.push(...nameValueProblems(s.cookies, 'response.cookies'), ...nameValueProblems(s.headers, 'response.headers'));
    if (!isObj(s.content) || !isNum(s.content.size) || !isStr(s.content.mimeType)) p.push('response.content: must have size (number) and mimeType (string)');
    else if (s.content.text !== undefined && !isStr(s.content.text)) p.push('response.content.text: must be a string');
    if (!isStr(s.redirectURL)) p.push('response.redirectURL: must be a string');
    if (!isNum(s.headersSize)) p.push('response.headersSize: must be a number');
    if (!isNum(s.bodySize)) p.push('response.bodySize: must be a number');
  }
  const t = e.timings;
  if (!isObj(t)) p.push('timings: must be an object');
  else for (const k of ['send', 'wait', 'receive']) if (!isNum(t[k]) || (t[k]) < -1) p.push(`timings.${k}: must be a number >= -1`);
  return p;
}

const nv = (v: unknown): HarNameValue[] => (Array.isArray(v) ? v.filter((x): x is HarNameValue => isObj(x) && isStr(x.name) && isStr(x.value)).map((x) => ({ name: x.name, value: x.value })) : []);
const num = (v: unknown, dflt: number): number => (isNum(v) ? v : dflt);

/** A capture entry made spec-valid: missing required fields filled with HAR's "unknown" values. */
export function toSpecEntry(e: HarEntry): unknown {
  const q = e.request as unknown as Record<string, unknown>;
  const s = e.response as unknown as Record<string, unknown>;
  const content = (isObj(s.content) ? s.content : {});
  const post = isObj(q.postData) ? (q.postData) : undefined;
  let postData: Record<string, unknown> | undefined;
  if (post) {
    const { encoding, ...rest } = post;
    postData = { ...rest, mimeType: isStr(post.mimeType) ? post.mimeType : '', ...(encoding !== undefined ? { _encoding: encoding } : {}) };
  }
  const time = num(e.time, 0);
  const timings = (isObj(e.timings) ? e.timings : {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {
    startedDateTime: e.startedDateTime,
    time: time < 0 ? 0 : time,
    request: {
      ...q,
      httpVersion: isStr(q.httpVersion) ? q.httpVersion : 'HTTP/1.1',
      cookies: nv(q.cookies),
      headers: nv(q.headers),
      queryString: nv(q.queryString),
      ...(postData ? { postData } : {}),
      headersSize: num(q.headersSize, -1),
      bodySize: num(q.bodySize, -1),
    },
    response: {
      ...s,
      statusText: isStr(s.statusText) ? s.statusText : '',
      httpVersion: isStr(s.httpVersion) ? s.httpVersion : 'HTTP/1.1',
      cookies: nv(s.cookies),
      headers: nv(s.headers),
      content: { ...content, size: num(content.size, 0), mimeType: isStr(content.mimeType) ? content.mimeType : '' },
      redirectURL: isStr(s.redirectURL) ? s.redirectURL : '',
      headersSize: num(s.headersSize, -1),
      bodySize: num(s.bodySize, -1),
    },
    cache: isObj(e.cache) ? e.cache : {},
    timings: { ...timings, send: num(timings.send, 0), wait: num(timings.wait, time), receive: num(timings.receive, 0) },
  };
  for (const [k, v] of Object.entries(e)) if (k.startsWith('_') || k === 'serverIPAddress' || k === 'pageref' || k === 'connection' || k === 'comment') out[k] = v;
  return out;
}

/** Writes the capture at `input` (file, directory or prefix) as one HAR 1.2 document at `output`. */
export async function exportHar(input: string, output: string, creator: { name: string; version: string }): Promise<ExportStats> {
  const stats: ExportStats = { read: emptyReadStats(), written: 0, invalid: 0 };
  // an input that does not exist fails before an output is created
  await captureFiles(input);
  const tmp = `${output}.tmp-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  let failed: Error | undefined;
  out.on('error', (err) => (failed ??= err));
  const write = async (s: string): Promise<void> => {
    if (failed) throw failed;
    if (!out.write(s)) await once(out, 'drain');
  };
  try {
    await write(`{"log":{"version":"1.2","creator":${JSON.stringify(creator)},"pages":[],"entries":[`);
    for await (const e of readCapture(input, stats.read)) {
      const spec = toSpecEntry(e);
      if (harEntryProblems(spec).length > 0) {
        stats.invalid++;
        continue;
      }
      await write(`${stats.written === 0 ? '\n' : ',\n'}${JSON.stringify(spec)}`);
      stats.written++;
    }
    await write('\n]}}\n');
    out.end();
    await once(out, 'finish');
    await rename(tmp, output);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    if (err instanceof TapwireError) throw err;
    throw new TapwireError('TW_ERR_CAPTURE', `cannot write ${output}: ${(err as Error).message}`, { cause: err });
  }
  return stats;
}
