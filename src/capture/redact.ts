// Capture redaction: every secret is replaced before a line is built, by `hmac:` + the first 16 hex digits of
// HMAC-SHA256(key, value), so two requests with the same token still show the same hash (correlatable) while the
// token cannot be recovered without the key. Pure apart from the hash; the key comes from the config or the process.
import { createHmac } from 'node:crypto';
import { parseRedactPath } from '../compare/aggregate.ts';
import { SECRET_NAME_PATTERN, isSecretHeader } from '../core/redact.ts';

export interface CaptureRedaction {
  /** extra header names (any case), on top of Authorization, Cookie, Set-Cookie, Proxy-Authorization and secret-looking names */
  readonly headers: readonly string[];
  /** query (and form body) parameter names, on top of secret-looking names */
  readonly query: readonly string[];
  /** cookie names: accepted for the contract, but every cookie value is hashed anyway (Cookie and Set-Cookie are always secret) */
  readonly cookies: readonly string[];
  /** JSON paths: `$.password`, `$.user.token`, `$.items[*].secret`, `$..password` */
  readonly json: readonly string[];
}

type Path = NonNullable<ReturnType<typeof parseRedactPath>>;

/** JSON documents larger than this are not parsed to be redacted: their text is withheld instead. */
export const MAX_JSON_REDACT_BYTES = 4 * 1024 * 1024;

export class Redactor {
  readonly #key: Buffer;
  readonly #headers: readonly string[];
  readonly #query: ReadonlySet<string>;
  readonly #paths: readonly Path[];
  /** hashes of recent values: the same token on every request of a client costs one HMAC */
  #memo = new Map<string, string>();

  constructor(key: string | Buffer, r: CaptureRedaction) {
    this.#key = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    this.#headers = r.headers;
    this.#query = new Set(r.query);
    this.#paths = r.json.map(parseRedactPath).filter((p): p is Path => p !== undefined);
  }

  /** `hmac:` + 16 hex digits of HMAC-SHA256(key, value). */
  hash(value: string): string {
    const hit = this.#memo.get(value);
    if (hit !== undefined) return hit;
    const h = `hmac:${createHmac('sha256', this.#key).update(value, 'utf8').digest('hex').slice(0, 16)}`;
    if (value.length <= 512) {
      if (this.#memo.size >= 4096) this.#memo = new Map();
      this.#memo.set(value, h);
    }
    return h;
  }

  isSecretHeader(name: string): boolean {
    return isSecretHeader(name, this.#headers);
  }

  isSecretParam(name: string): boolean {
    return this.#query.has(name) || SECRET_NAME_PATTERN.test(name);
  }

  /** A header's value as written: cookies value by value (names kept, for replay), other secrets whole. */
  headerValue(lowerName: string, value: string): string {
    if (lowerName === 'cookie') return this.cookieHeader(value);
    if (lowerName === 'set-cookie') return this.setCookie(value);
    return this.isSecretHeader(lowerName) ? this.hash(value) : value;
  }

  /** `a=1; b=2` → `a=hmac:…; b=hmac:…` */
  cookieHeader(value: string): string {
    return value
      .split(';')
      .map((part) => {
        const eq = part.indexOf('=');
        if (eq < 0) return part.trim() === '' ? part : this.hash(part.trim());
        return `${part.slice(0, eq).trim()}=${this.hash(part.slice(eq + 1).trim())}`;
      })
      .join('; ');
  }

  /** `sid=abc; Path=/; HttpOnly` → `sid=hmac:…; Path=/; HttpOnly` (the attributes are not secrets) */
  setCookie(value: string): string {
    const semi = value.indexOf(';');
    const pair = semi < 0 ? value : value.slice(0, semi);
    const eq = pair.indexOf('=');
    const safe = eq < 0 ? this.hash(pair.trim()) : `${pair.slice(0, eq).trim()}=${this.hash(pair.slice(eq + 1).trim())}`;
    return semi < 0 ? safe : safe + value.slice(semi);
  }

  /** A query string (without `?`) with secret parameters' values hashed; names and order kept. */
  queryString(query: string): string {
    if (query === '') return query;
    return query
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        if (eq < 0) return kv;
        const rawName = kv.slice(0, eq);
        if (!this.isSecretParam(decode(rawName))) return kv;
        return `${rawName}=${encodeURIComponent(this.hash(decode(kv.slice(eq + 1))))}`;
      })
      .join('&');
  }

  /**
   * A JSON document's text with configured paths and secret-looking keys (password, token, secret, session, api key)
   * hashed; undefined when it does not parse (a truncated body) and might hold a secret: such text is withheld.
   */
  jsonText(text: string): string | undefined {
    // Nothing to find (no configured path, no secret-looking word anywhere in the text): no parse, even of a cut document.
    if (this.#paths.length === 0 && !SECRET_NAME_PATTERN.test(text)) return text;
    if (text.length > MAX_JSON_REDACT_BYTES) return undefined;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return undefined;
    }
    const state = { changed: false };
    let out = this.#secretKeys(doc, state, 0);
    for (const p of this.#paths) out = this.#apply(out, p, 0, state, 0);
    return state.changed ? JSON.stringify(out) : text;
  }

  #leaf(v: unknown, state: { changed: boolean }): unknown {
    state.changed = true;
    return this.hash(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null');
  }

  // The walks below change the document in place: it was parsed here and is no one else's, and copying every object
  // (most of a document holds no secret) cost several times the parse. An own `__proto__` key that JSON.parse
  // created is an own data property, so assigning to it sets that property, never the prototype.

  /** Values under secret-looking keys, at any depth (depth-bounded: JSON.parse already bounded the size). */
  #secretKeys(v: unknown, state: { changed: boolean }, depth: number): unknown {
    if (v === null || typeof v !== 'object' || depth > 256) return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = this.#secretKeys(v[i], state, depth + 1);
      return v;
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const val = o[k];
      if (SECRET_NAME_PATTERN.test(k) && val !== null) o[k] = this.#leaf(val, state);
      else if (val !== null && typeof val === 'object') o[k] = this.#secretKeys(val, state, depth + 1);
    }
    return o;
  }

  /** One configured path from step i (arrays are transparent, as in compare's example redaction). */
  #apply(v: unknown, path: Path, i: number, state: { changed: boolean }, depth: number): unknown {
    if (i >= path.length) return this.#leaf(v, state);
    if (depth > 256) return v;
    if (Array.isArray(v)) {
      for (let j = 0; j < v.length; j++) v[j] = this.#apply(v[j], path, i, state, depth + 1);
      return v;
    }
    if (v === null || typeof v !== 'object') return v;
    const step = path[i]!;
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (step.kind === 'any' || (step.kind === 'name' && k === step.name)) o[k] = this.#apply(o[k], path, i + 1, state, depth + 1);
      else if (step.kind === 'deep') o[k] = k === step.name ? this.#apply(o[k], path, i + 1, state, depth + 1) : this.#apply(o[k], path, i, state, depth + 1);
    }
    return o;
  }
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
