// JSON bodies: recognised by content type (application/json, anything+json) or sniffed (first non-space byte
// `{` or `[` and it parses), parsed under a size limit and a nesting-depth limit. Depth is checked by one
// iterative byte scan before JSON.parse, so an over-deep document is rejected without building it. Pure.

export interface JsonLimits {
  /** largest body parsed, in bytes */
  readonly maxJsonBytes: number;
  /** most nested objects/arrays (`{}` is depth 1) */
  readonly maxDepth: number;
}

export type JsonResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: 'json_limit' | 'invalid' };

/** The media type of a Content-Type value, lower case, without parameters ('' when absent). */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** application/json, text/json, and any `+json` suffix (application/problem+json, application/vnd.x+json). */
export function isJsonContentType(contentType: string | undefined): boolean {
  const m = mediaType(contentType);
  return m === 'application/json' || m === 'text/json' || m.endsWith('+json');
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Index of the first byte after a UTF-8 BOM and JSON whitespace, or body.length. */
function firstSignificant(body: Buffer): number {
  let i = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  while (i < body.length && isSpace(body[i]!)) i++;
  return i;
}

/** True when the body starts (after whitespace) with `{` or `[`: worth trying to parse as JSON. */
export function looksLikeJson(body: Buffer): boolean {
  const i = firstSignificant(body);
  return i < body.length && (body[i] === 0x7b || body[i] === 0x5b);
}

/**
 * The deepest nesting of objects/arrays, or -1 as soon as it exceeds `max`. One pass over the bytes,
 * skipping strings (multi-byte UTF-8 never contains the ASCII bytes looked at); no recursion.
 */
export function jsonDepth(body: Buffer, max: number): number {
  let depth = 0;
  let deepest = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const b = body[i]!;
    if (b === 0x22) {
      // skip the string
      for (i++; i < n; i++) {
        const c = body[i]!;
        if (c === 0x5c) i++;
        else if (c === 0x22) break;
      }
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return -1;
      }
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/** Parses a JSON body under the limits: too large or too deep is 'json_limit', malformed is 'invalid'. */
export function parseJson(body: Buffer, limits: JsonLimits): JsonResult {
  if (body.length > limits.maxJsonBytes) return { ok: false, reason: 'json_limit' };
  if (jsonDepth(body, limits.maxDepth) < 0) return { ok: false, reason: 'json_limit' };
  const start = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8', start)) };
  } catch {
    return { ok: false, reason: 'invalid' };
  }
}
