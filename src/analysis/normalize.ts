// Decoding for inspection only (traffic is never changed): request parts become short lower-case texts the way
// a lenient server would read them (percent-decoding up to 3 times, overlong UTF-8, %uXXXX, HTML entities,
// NFKC), split into segments (query pairs, JSON strings, form and multipart fields). Everything is bounded:
// at most `max` characters per part, MAX_SEGMENTS per part, and every loop is linear in its input.
import type { View } from './rules.ts';

export type MatchPart = 'path' | 'query' | 'header' | 'body' | 'method';

/** One piece of a request a rule inspects; `text` is the base view (see `normalize`). */
export interface Segment {
  readonly part: MatchPart;
  /** the header, query parameter, JSON key or form field name */
  readonly name?: string;
  readonly text: string;
}

export const DEFAULT_MAX_PART_BYTES = 8192;
/** segments per part: query pairs, JSON strings, multipart fields */
export const MAX_SEGMENTS = 256;
const MAX_DECODE_PASSES = 3;
const MAX_NAME = 64;

// ---------------------------------------------------------------- percent-decoding

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

function hexAt(s: string, i: number, n: number): number {
  if (i + n > s.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const h = hexValue(s.charCodeAt(i + k));
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/** UTF-8 as a lenient decoder reads it: overlong forms accepted (%c0%ae → '.'), stray bytes kept as Latin-1. */
function utf8Lenient(b: readonly number[]): string {
  let out = '';
  for (let i = 0; i < b.length; ) {
    const x = b[i]!;
    let n = 0;
    let cp = 0;
    if (x >= 0xc0 && x < 0xe0) [n, cp] = [1, x & 0x1f];
    else if (x >= 0xe0 && x < 0xf0) [n, cp] = [2, x & 0x0f];
    else if (x >= 0xf0 && x < 0xf8) [n, cp] = [3, x & 0x07];
    let ok = n > 0 && i + n < b.length;
    if (ok) {
      for (let k = 1; k <= n; k++) {
        const c = b[i + k]!;
        if ((c & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (c & 0x3f);
      }
    }
    if (ok && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) {
      out += String.fromCodePoint(cp);
      i += n + 1;
    } else {
      out += String.fromCharCode(x);
      i++;
    }
  }
  return out;
}

/** One pass of percent-decoding: %XX (lenient UTF-8) and %uXXXX; malformed escapes stay as they are. */
export function percentDecodeOnce(s: string): string {
  if (!s.includes('%')) return s;
  if (!/%u[0-9a-f]{4}/i.test(s)) {
    try {
      return decodeURIComponent(s);
    } catch {
      /* malformed or overlong: decode by hand */
    }
  }
  let out = '';
  const bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length > 0) {
      out += utf8Lenient(bytes);
      bytes.length = 0;
    }
  };
  let i = 0;
  while (i < s.length) {
    if (s.charCodeAt(i) === 0x25) {
      const h = hexAt(s, i + 1, 2);
      if (h >= 0) {
        bytes.push(h);
        i += 3;
        continue;
      }
      if ((s.charCodeAt(i + 1) | 0x20) === 0x75) {
        const u = hexAt(s, i + 2, 4);
        if (u >= 0) {
          flush();
          out += String.fromCharCode(u);
          i += 6;
          continue;
        }
      }
    }
    flush();
    const next = s.indexOf('%', i + 1);
    const end = next < 0 ? s.length : next;
    out += s.slice(i, end);
    i = end;
  }
  flush();
  return out;
}

/** Percent-decoding repeated while it changes something (double encoding), at most 3 times; `+` → space first. */
export function urlDecode(s: string, plusIsSpace: boolean): string {
  let t = plusIsSpace && s.includes('+') ? s.replace(/\+/g, ' ') : s;
  for (let pass = 0; pass < MAX_DECODE_PASSES && t.includes('%'); pass++) {
    const d = percentDecodeOnce(t);
    if (d === t) break;
    t = d;
  }
  return t;
}

// ---------------------------------------------------------------- HTML entities

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  quot: '"',
  apos: "'",
  amp: '&',
  colon: ':',
  lpar: '(',
  rpar: ')',
  tab: '\t',
  newline: '\n',
  sol: '/',
  bsol: '\\',
  semi: ';',
  comma: ',',
  period: '.',
  excl: '!',
  equals: '=',
  nbsp: ' ',
  grave: '`',
  dollar: '$',
  lcub: '{',
  rcub: '}',
  lsqb: '[',
  rsqb: ']',
  num: '#',
  percnt: '%',
  plus: '+',
  quest: '?',
  vert: '|',
  ast: '*',
};

const ENTITY = /&(?:#x([0-9a-f]{1,6});?|#(\d{1,7});?|([a-z]{2,10});)/gi;

/**
 * Decodes numeric entities and a few named ones, twice at most (`&amp;#39;`). `<` and `>` stay encoded
 * (`&lt;script&gt;` is escaped text, harmless where it lands); entities matter inside attributes and URLs
 * (`javascript&colon;`, `jav&#x09;ascript:`, `&#39; or 1=1`).
 */
export function decodeEntities(s: string): string {
  let t = s;
  for (let pass = 0; pass < 2 && t.includes('&'); pass++) {
    const d = t.replace(ENTITY, (m: string, hex: string | undefined, dec: string | undefined, named: string | undefined) => {
      if (named !== undefined) return NAMED_ENTITIES[named.toLowerCase()] ?? m;
      const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
      if (cp === 0x3c || cp === 0x3e || cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return m;
      return String.fromCodePoint(cp);
    });
    if (d === t) break;
    t = d;
  }
  return t;
}

// ---------------------------------------------------------------- the base view and the other views

const NON_ASCII = /[\u0080-\uffff]/;
/** nothing to decode or fold: only lower-casing is left */
const PLAIN = /^[^%&+\0\v\u0080-\uffff]*$/;
const ODD_CONTROLS = /[\0\v]/;

/** NFKC (fullwidth ＜ → <, ſ → s) plus look-alikes some servers map to ASCII (best-fit slashes and quotes). */
function foldUnicode(t: string): string {
  return t
    .normalize('NFKC')
    .replace(/[\u2215\u2044\u29f8\u2571]/g, '/')
    .replace(/[\u2216\u29f5\u29f9\ufe68\u2572]/g, '\\')
    .replace(/[\u2018\u2019\u02bc\u2032]/g, "'")
    .replace(/[\u201c\u201d\u2033]/g, '"');
}

export interface NormalizeOptions {
  /** percent-decode (query, form fields, path, headers) */
  readonly url: boolean;
  /** `+` means space (query strings and form bodies) */
  readonly plus: boolean;
  readonly max: number;
}

/**
 * The base view every rule starts from: cut to `max`, percent-decoded, entity-decoded, NFKC-folded, NUL
 * removed, vertical tab read as space (RE2's \s does not include it), lower-cased.
 */
export function normalize(raw: string, opts: NormalizeOptions): string {
  let t = raw.length > opts.max ? raw.slice(0, opts.max) : raw;
  if (PLAIN.test(t)) return t.toLowerCase();
  if (opts.url) t = urlDecode(t, opts.plus);
  if (t.includes('&')) t = decodeEntities(t);
  if (NON_ASCII.test(t)) t = foldUnicode(t);
  if (ODD_CONTROLS.test(t)) t = t.replace(/\0/g, '').replace(/\v/g, ' ');
  t = t.toLowerCase();
  return t.length > opts.max ? t.slice(0, opts.max) : t;
}

/** std: backslashes read as `/` (Windows and lenient servers), `/./` collapsed. */
export function stdView(base: string): string {
  let t = base;
  if (t.includes('\\')) t = t.replace(/\\/g, '/');
  if (t.includes('/./')) t = t.replace(/\/(?:\.\/)+/g, '/');
  return t;
}

/**
 * sql: comments read as one space (`UNION/**\/SELECT`), MySQL executable comments keep their content
 * (`/*!50000UNION*\/` → ` UNION `). An unclosed comment is kept as text. Linear: each search moves forward.
 */
export function sqlView(base: string): string {
  if (!base.includes('/*')) return base;
  let out = '';
  let i = 0;
  for (;;) {
    const open = base.indexOf('/*', i);
    if (open < 0) break;
    if (base.charCodeAt(open + 2) === 0x21 /* ! */) {
      let j = open + 3;
      while (j < base.length && base.charCodeAt(j) >= 0x30 && base.charCodeAt(j) <= 0x39) j++;
      out += base.slice(i, open) + ' ';
      i = j;
      continue;
    }
    const close = base.indexOf('*/', open + 2);
    if (close < 0) break;
    out += base.slice(i, open) + ' ';
    i = close + 2;
  }
  out += base.slice(i);
  return out.includes('*/') ? out.replace(/\*\//g, ' ') : out;
}

/** shell: quotes, backslashes and `$@` removed, as a shell reads `w'h'o\am"i"$@`. */
export function shellView(base: string): string {
  return /['"\\]|\$@/.test(base) ? base.replace(/['"\\]|\$@/g, '') : base;
}

const INNER_LOOKUP = /\$\{([^${}]{0,256})\}/g;
const LOOKUP_OPEN = '\u0002';
const LOOKUP_CLOSE = '\u0003';

function resolveLookup(body: string): string {
  if (!/^\s*jndi\s*:/.test(body)) {
    const dflt = body.indexOf(':-');
    if (dflt >= 0) return body.slice(dflt + 2);
    const caseLookup = /^(?:lower|upper):([\s\S]*)$/.exec(body);
    if (caseLookup) return caseLookup[1]!;
    const date = /^date:'([^']*)'$/.exec(body);
    if (date) return date[1]!;
  }
  return `${LOOKUP_OPEN}${body}${LOOKUP_CLOSE}`;
}

/**
 * lookup: Log4j lookups resolved innermost first, as Log4j would (`${${lower:j}ndi:` → `${jndi:`,
 * `${::-j}` and `${env:X:-j}` → `j`, `${date:'j'}` → `j`); other lookups are kept. At most 8 levels.
 */
export function lookupView(base: string): string {
  if (!base.includes('${')) return base;
  let t = base;
  for (let pass = 0; pass < 8; pass++) {
    let changed = false;
    t = t.replace(INNER_LOOKUP, (_m: string, body: string) => {
      changed = true;
      return resolveLookup(body);
    });
    if (!changed) break;
  }
  return t.replaceAll(LOOKUP_OPEN, '${').replaceAll(LOOKUP_CLOSE, '}');
}

export function viewOf(view: View, base: string): string {
  switch (view) {
    case 'std':
      return stdView(base);
    case 'sql':
      return sqlView(base);
    case 'shell':
      return shellView(base);
    case 'lookup':
      return lookupView(base);
  }
}

// ---------------------------------------------------------------- segmentation

const cutName = (s: string): string => (s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s);

/** A bounded list of segments. */
export class SegmentList {
  readonly items: Segment[] = [];
  constructor(readonly limit: number = MAX_SEGMENTS) {}
  get full(): boolean {
    return this.items.length >= this.limit;
  }
  push(part: MatchPart, name: string | undefined, text: string): void {
    if (text === '' || this.full) return;
    this.items.push(name === undefined ? { part, text } : { part, name: cutName(name), text });
  }
}

/** A value that is itself JSON (`?filter={"name":"O'Brien"}`) is inspected string by string. */
function pushValue(out: SegmentList, part: MatchPart, name: string | undefined, text: string, max: number): void {
  const first = text.charCodeAt(0);
  if ((first === 0x7b || first === 0x5b) && text.length >= 2) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined && typeof parsed === 'object' && parsed !== null) {
      collectJson(parsed, name, out, part, max, 0);
      return;
    }
  }
  out.push(part, name, text);
}

function collectJson(v: unknown, key: string | undefined, out: SegmentList, part: MatchPart, max: number, depth: number): void {
  if (out.full || depth > 32) return;
  // the text was decoded already: only JSON escapes are new here, so no second percent-decoding
  if (typeof v === 'string') {
    out.push(part, key, normalize(v, { url: false, plus: false, max }));
  } else if (Array.isArray(v)) {
    for (const x of v as unknown[]) collectJson(x, key, out, part, max, depth + 1);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push(part, undefined, normalize(k, { url: false, plus: false, max }));
      collectJson(x, k, out, part, max, depth + 1);
    }
  }
}

/** `a=1&b=2` (a query string or a form body): every name and value, decoded. */
export function pairSegments(raw: string, part: MatchPart, max: number, out: SegmentList): void {
  const text = raw.length > max ? raw.slice(0, max) : raw;
  const opts = { url: true, plus: true, max };
  let start = 0;
  while (start <= text.length && !out.full) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const pair = text.slice(start, end);
      const eq = pair.indexOf('=');
      const name = normalize(eq < 0 ? pair : pair.slice(0, eq), opts);
      out.push(part, undefined, name);
      if (eq >= 0 && eq + 1 < pair.length) pushValue(out, part, name, normalize(pair.slice(eq + 1), opts), max);
    }
    start = end + 1;
  }
}

const JSON_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

function decodeJsonString(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw.replace(/\\(?:u([0-9a-fA-F]{4})|([\s\S]))/g, (_m, hex: string | undefined, c: string | undefined) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : (JSON_ESCAPES[c!] ?? c!),
    );
  }
}

/**
 * The strings of a JSON text, keys and values, each with the key it belongs to. Works on a cut prefix and on
 * almost-JSON: it only looks for quoted strings. Positions of the next quote and backslash are cached, so the
 * scan is linear however the escapes fall.
 */
export function jsonSegments(text: string, part: MatchPart, max: number, out: SegmentList): void {
  let i: number;
  let quote = text.indexOf('"');
  let backslash = text.indexOf('\\');
  let key: string | undefined;
  while (quote >= 0 && !out.full) {
    const start = quote + 1;
    let j = start;
    let escaped = false;
    let end: number;
    for (;;) {
      if (quote !== -1 && quote < j) quote = text.indexOf('"', j);
      if (backslash >= 0 && backslash < j) backslash = text.indexOf('\\', j);
      if (backslash >= 0 && (quote < 0 || backslash < quote)) {
        escaped = true;
        j = backslash + 2;
        continue;
      }
      end = quote;
      break;
    }
    const raw = text.slice(start, end < 0 ? text.length : end);
    const value = normalize(escaped ? decodeJsonString(raw) : raw, { url: true, plus: false, max });
    i = end < 0 ? text.length : end + 1;
    while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d || text.charCodeAt(i) === 0x09)) i++;
    if (text.charCodeAt(i) === 0x3a /* : */) {
      out.push(part, undefined, value);
      key = value;
    } else {
      pushValue(out, part, key, value, max);
    }
    if (end < 0) break;
    quote = text.indexOf('"', i);
  }
}

const BINARY_TYPES = /^(?:image|audio|video|font)\/|octet-stream|\/pdf|zip|gzip|protobuf|grpc|msgpack|cbor|avro|x-tar|wasm/;
const TEXTUAL_TYPES = /^text\/|json|xml|javascript|x-www-form-urlencoded|graphql|yaml/;

/** A body prefix as text, or undefined when it is binary (NUL bytes, or more than 1% invalid UTF-8). */
function bodyText(body: Buffer, max: number): string | undefined {
  const slice = body.length > max ? body.subarray(0, max) : body;
  if (slice.includes(0)) return undefined;
  const text = slice.toString('utf8');
  let bad = 0;
  for (let k = text.indexOf('\uFFFD'); k >= 0; k = text.indexOf('\uFFFD', k + 1)) bad++;
  return bad > 2 && bad * 100 > text.length ? undefined : text;
}

function multipartSegments(text: string, boundary: string, max: number, out: SegmentList): void {
  const delim = `--${boundary}`;
  let pos = text.indexOf(delim);
  let parts = 0;
  while (pos >= 0 && !out.full && parts++ < 64) {
    const next = text.indexOf(delim, pos + delim.length);
    const chunk = text.slice(pos + delim.length, next < 0 ? text.length : next);
    pos = next;
    if (chunk.startsWith('--')) break;
    let headerEnd = chunk.indexOf('\r\n\r\n');
    let skip = 4;
    if (headerEnd < 0) {
      headerEnd = chunk.indexOf('\n\n');
      skip = 2;
    }
    if (headerEnd < 0) continue;
    const headers = chunk.slice(0, headerEnd).toLowerCase();
    let content = chunk.slice(headerEnd + skip);
    if (content.endsWith('\r\n')) content = content.slice(0, -2);
    const name = /\bname="([^"]*)"/.exec(headers)?.[1];
    const filename = /\bfilename="([^"]*)"/.exec(headers)?.[1];
    const type = /\bcontent-type:\s*([^\r\n;]*)/.exec(headers)?.[1]?.trim() ?? '';
    if (filename !== undefined) out.push('body', 'filename', normalize(filename, { url: true, plus: false, max }));
    if (filename !== undefined && !TEXTUAL_TYPES.test(type)) continue;
    if (type.includes('json')) jsonSegments(content, 'body', max, out);
    else pushValue(out, 'body', name, normalize(content, { url: true, plus: false, max }), max);
  }
}

export type BodyKind = 'json' | 'form' | 'multipart' | 'text';

/** A body prefix as text with how to read it, or undefined for a binary body (by Content-Type or content). */
export function bodyAsText(body: Buffer, contentType: string | undefined, max: number): { kind: BodyKind; text: string } | undefined {
  const type = (contentType ?? '').toLowerCase();
  if (BINARY_TYPES.test(type)) return undefined;
  const text = bodyText(body, max);
  if (text === undefined) return undefined;
  if (type.includes('json')) return { kind: 'json', text };
  if (type.includes('x-www-form-urlencoded')) return { kind: 'form', text };
  if (type.startsWith('multipart/')) return { kind: 'multipart', text };
  const first = /\S/.exec(text.slice(0, 64))?.[0];
  return { kind: first === '{' || first === '[' ? 'json' : 'text', text };
}

/**
 * A query string or form body as one base text, for a quick "can anything match here" test before it is
 * split: the pair separators (`&`, the first `=` of each pair) become U+0001 so they cannot look like operators. Decoding is local, so
 * every segment's text is a substring of it, except where a value holds JSON (its escapes are decoded when it
 * is split): undefined then.
 */
export function wholeText(raw: string, max: number): string | undefined {
  const cut = raw.length > max ? raw.slice(0, max) : raw;
  if (cut.includes('\\')) return undefined;
  // only the first `=` of a pair separates (`a=b=c` is the value `b=c`), as when the text is split
  const neutral = cut
    .split('&')
    .map((pair) => pair.replace('=', '\u0001'))
    .join('\u0001');
  const t = normalize(neutral, { url: true, plus: true, max });
  return t.includes('\\') ? undefined : t;
}

/**
 * The segments of a body prefix, by its kind: JSON strings, form fields, multipart fields (file contents only
 * when textual; file names always), else the text itself.
 */
export function bodySegments(body: { kind: BodyKind; text: string }, contentType: string | undefined, max: number, out: SegmentList): void {
  const { kind, text } = body;
  if (kind === 'json') return jsonSegments(text, 'body', max, out);
  if (kind === 'form') return pairSegments(text, 'body', max, out);
  if (kind === 'multipart') {
    const m = /boundary=(?:"([^"]{1,200})"|([^;\s]{1,200}))/.exec(contentType ?? '');
    const boundary = m?.[1] ?? m?.[2];
    if (boundary !== undefined) return multipartSegments(text, boundary, max, out);
  }
  out.push('body', undefined, normalize(text, { url: true, plus: false, max }));
}
