// Response body decoding by Content-Encoding (gzip, deflate zlib or raw, br; identity; several codings in
// order), bounded: node:zlib's maxOutputLength stops a compression bomb at the cap, so no more than the cap
// is ever allocated, and the expansion ratio (decoded / encoded) is capped the same way. Pure; no I/O.
import zlib from 'node:zlib';

export interface DecodeLimits {
  /** most decoded bytes (after every coding) */
  readonly maxDecodedBytes: number;
  /** most decoded bytes per encoded byte; enforced past RATIO_GRACE_BYTES */
  readonly maxExpansionRatio: number;
}

/**
 * Decoded sizes up to this many bytes are always allowed whatever the ratio: a small, very repetitive JSON
 * body (500 identical objects) can legitimately expand more than 100×, and decoding 64 KiB costs nothing.
 */
export const RATIO_GRACE_BYTES = 64 * 1024;

export type DecodeFailure = 'decode_error' | 'decode_limit' | 'unsupported';
export type DecodeResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly reason: DecodeFailure };

/** The codings of a Content-Encoding value, lower case, in the order they were applied. */
export function parseContentEncoding(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const c = part.trim().toLowerCase();
    if (c !== '' && c !== 'identity') out.push(c);
  }
  return out;
}

/** True when the first two bytes are a zlib header (CMF/FLG: deflate method, check bits). */
function isZlibHeader(b: Buffer): boolean {
  if (b.length < 2) return false;
  const cmf = b[0]!;
  const flg = b[1]!;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0;
}

function decodeOne(coding: string, input: Buffer, maxOutputLength: number): Buffer | DecodeFailure {
  const opts = { maxOutputLength };
  try {
    switch (coding) {
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(input, opts);
      case 'deflate':
        // RFC 9110 says zlib-wrapped; some servers send raw deflate, so look at the header
        return isZlibHeader(input) ? zlib.inflateSync(input, opts) : zlib.inflateRawSync(input, opts);
      case 'br':
        return zlib.brotliDecompressSync(input, opts);
      default:
        return 'unsupported';
    }
  } catch (e) {
    return (e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE' ? 'decode_limit' : 'decode_error';
  }
}

/**
 * Decodes `body` per its Content-Encoding value. An empty body decodes to itself (HEAD, 204, 304 carry the
 * header without a body). Unknown codings (compress, zstd) are 'unsupported'.
 */
export function decodeBody(body: Buffer, contentEncoding: string | undefined, limits: DecodeLimits): DecodeResult {
  const codings = parseContentEncoding(contentEncoding);
  if (codings.length === 0 || body.length === 0) return { ok: true, body };
  if (codings.length > 4) return { ok: false, reason: 'unsupported' };
  const byRatio = Math.max(RATIO_GRACE_BYTES, Math.floor(body.length * limits.maxExpansionRatio));
  // maxOutputLength must be at least 1; a cap of 0 still rejects any non-empty output below
  const cap = Math.max(1, Math.min(limits.maxDecodedBytes, byRatio, 0x7fffffff));
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const r = decodeOne(codings[i]!, out, cap);
    if (typeof r === 'string') return { ok: false, reason: r };
    out = r;
  }
  if (out.length > limits.maxDecodedBytes) return { ok: false, reason: 'decode_limit' };
  return { ok: true, body: out };
}
