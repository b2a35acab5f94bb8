// Endpoint names for compare: `METHOD /templated/path`, the key differences are counted under (Diffy's
// "endpoint"). Config templates win; otherwise ids (numbers, UUIDs, hex, long opaque tokens) become `{id}`.
// Bounded: past maxEndpoints distinct automatic names a new one is `other`. Pure; never throws on input.

/** The name every request gets once the bound is reached (EndpointDelta.endpoint). */
export const OTHER_ENDPOINT = 'other';
/** The placeholder an id-looking segment becomes. */
export const ID_SEGMENT = '{id}';

export interface EndpointNamerOptions {
  /**
   * `/users/{userId}/orders/{id}` or `GET /users/{id}` (method optional): `{x}` matches one non-empty
   * segment, a last segment `*` or `{rest*}` matches the remainder (zero or more segments). The first
   * matching template names the endpoint with its own text (`METHOD ` prefixed when it has no method).
   */
  readonly templates?: readonly string[];
  /** distinct automatic names before `other` (default 200); names from templates are not counted against it */
  readonly maxEndpoints?: number;
}

export interface EndpointNamer {
  /** `GET /users/{id}` for (`GET`, `/users/42?x=1`) */
  name(method: string, pathWithQuery: string): string;
  /** distinct names handed out so far (automatic and templated; `other` not included) */
  size(): number;
}

type Segment = { readonly kind: 'lit'; readonly value: string } | { readonly kind: 'param' } | { readonly kind: 'rest' };

interface Template {
  readonly method: string | undefined;
  readonly path: string;
  readonly segments: readonly Segment[];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PARAM = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const REST = /^(\*|\{[A-Za-z_][A-Za-z0-9_]*\*\})$/;
const MAX_TEMPLATE = 512;
/** methods longer than this, or with non-token characters, are shown cleaned and cut */
const MAX_METHOD = 24;
/** paths are named from their first segments only: a name stays short whatever the request */
const MAX_SEGMENTS = 32;
/** a literal segment longer than this is not a route word but data: `{id}` */
const MAX_LITERAL = 64;

/** digits with separators: 42, -1, 3.14, 2024-01-31, 12:30, 1_000 */
const NUMERIC = /^-?\d[\d\-_.:,]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{8,}$/i;
const OPAQUE = /^[A-Za-z0-9_\-.~=+%]{20,}$/;
const DIGIT = /\d/;
/** paths (per method) whose names are remembered */
const NAME_CACHE = 4096;
/** distinct method strings with a cache of their own (odd methods beyond it are named every time) */
const MAX_CACHED_METHODS = 16;
const LETTER = /[A-Za-z]/;

/**
 * True for a path segment that names an instance rather than a route: a number (or digits with separators,
 * such as a date), a UUID, hex of 8+ characters with a digit, a 20+ character token mixing letters and digits,
 * or anything over 64 characters.
 */
export function isIdSegment(segment: string): boolean {
  if (segment.length === 0) return false;
  if (segment.length > MAX_LITERAL) return true;
  if (NUMERIC.test(segment) || UUID.test(segment)) return true;
  if (HEX.test(segment) && DIGIT.test(segment)) return true;
  return OPAQUE.test(segment) && DIGIT.test(segment) && LETTER.test(segment);
}

/** An error message for a template the namer would refuse, undefined when it is fine (for config validation). */
export function checkTemplate(t: string): string | undefined {
  if (typeof t !== 'string' || t.length === 0) return 'an endpoint template must be a non-empty string';
  if (t.length > MAX_TEMPLATE) return `an endpoint template must be at most ${MAX_TEMPLATE} characters`;
  const parts = t.split(' ');
  if (parts.length > 2) return `"${t}": expected "/path" or "METHOD /path" (one space)`;
  const [first, second] = parts as [string, string | undefined];
  if (second !== undefined && !TOKEN.test(first)) return `"${t}": "${first}" is not an HTTP method`;
  const path = second ?? first;
  if (!path.startsWith('/')) return `"${t}": the path must start with "/"`;
  if (/[?#]/.test(path)) return `"${t}": a template matches the path only; remove the query or fragment`;
  const segs = path.slice(1).split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (REST.test(s)) {
      if (i !== segs.length - 1) return `"${t}": "${s}" (the remainder) may only be the last segment`;
      continue;
    }
    if (s.includes('{') || s.includes('}')) {
      if (!PARAM.test(s)) return `"${t}": "${s}": a parameter is a whole segment, {name} with letters, digits and _`;
      continue;
    }
    if (s.includes('*')) return `"${t}": "*" is only allowed as the whole last segment`;
  }
  return undefined;
}

function parseTemplate(t: string): Template {
  const err = checkTemplate(t);
  if (err !== undefined) throw new Error(`invalid endpoint template: ${err}`);
  const parts = t.split(' ');
  const method = parts.length === 2 ? parts[0]!.toUpperCase() : undefined;
  const path = parts.length === 2 ? parts[1]! : parts[0]!;
  const segments = path
    .slice(1)
    .split('/')
    .map((s): Segment => (REST.test(s) ? { kind: 'rest' } : PARAM.test(s) ? { kind: 'param' } : { kind: 'lit', value: s }));
  return { method, path, segments };
}

function matches(tpl: Template, method: string, segs: readonly string[]): boolean {
  if (tpl.method !== undefined && tpl.method !== method.toUpperCase()) return false;
  const ts = tpl.segments;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (t.kind === 'rest') return true;
    const s = segs[i];
    if (s === undefined) return false;
    if (t.kind === 'param' ? s.length === 0 : s !== t.value) return false;
  }
  return ts.length === segs.length;
}

function cleanMethod(method: string): string {
  const m = typeof method === 'string' ? method : '';
  if (m.length > 0 && m.length <= MAX_METHOD && TOKEN.test(m)) return m;
  const cleaned = m.replace(/[^!#$%&'*+.^_`|~0-9A-Za-z-]/g, '').slice(0, MAX_METHOD);
  return cleaned.length > 0 ? cleaned : '-';
}

/** The path without query or fragment, and without scheme://authority for an absolute-form target. */
function pathOnly(pathWithQuery: string): string {
  let p = typeof pathWithQuery === 'string' ? pathWithQuery : '';
  const cut = p.search(/[?#]/);
  if (cut >= 0) p = p.slice(0, cut);
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(p);
  if (abs !== null) p = p.slice(abs[0].length);
  if (p === '*') return p;
  return p.startsWith('/') ? p : `/${p}`;
}

export function createEndpointNamer(opts: EndpointNamerOptions = {}): EndpointNamer {
  const templates = (opts.templates ?? []).map(parseTemplate);
  const max = Math.max(0, Math.floor(opts.maxEndpoints ?? 200));
  const auto = new Set<string>();
  const templated = new Set<string>();

  // Names of paths seen lately, per method: traffic repeats its paths, and naming is on analysis' per-request path.
  // Bounded: past NAME_CACHE entries it starts over (a name never changes, so forgetting costs only time).
  const cache = new Map<string, Map<string, string>>();
  let cached = 0;

  return {
    name(method, pathWithQuery) {
      if (typeof method !== 'string' || typeof pathWithQuery !== 'string') return compute(method, pathWithQuery);
      let cut = pathWithQuery.indexOf('?');
      const hash = pathWithQuery.indexOf('#');
      if (hash >= 0 && (cut < 0 || hash < cut)) cut = hash;
      const key = cut < 0 ? pathWithQuery : pathWithQuery.slice(0, cut);
      let byMethod = cache.get(method);
      const hit = byMethod?.get(key);
      if (hit !== undefined) return hit;
      const name = compute(method, pathWithQuery);
      if (cached >= NAME_CACHE) {
        cache.clear();
        cached = 0;
        byMethod = undefined;
      }
      if (byMethod === undefined) {
        if (cache.size >= MAX_CACHED_METHODS) return name;
        cache.set(method, (byMethod = new Map<string, string>()));
      }
      byMethod.set(key, name);
      cached++;
      return name;
    },
    size() {
      return auto.size + templated.size;
    },
  };

  function compute(method: string, pathWithQuery: string): string {
    const m = cleanMethod(method);
    const path = pathOnly(pathWithQuery);
    if (path === '*') return remember(`${m} *`);
    const segs = path.slice(1).split('/');
    for (const tpl of templates) {
      if (!matches(tpl, m, segs)) continue;
      const name = tpl.method !== undefined ? `${tpl.method} ${tpl.path}` : `${m} ${tpl.path}`;
      templated.add(name);
      return name;
    }
    const shown = segs.slice(0, MAX_SEGMENTS).map((s) => (isIdSegment(s) ? ID_SEGMENT : s));
    if (segs.length > MAX_SEGMENTS) shown.push('…');
    return remember(`${m} /${shown.join('/')}`);
  }

  function remember(name: string): string {
    if (auto.has(name)) return name;
    if (auto.size >= max) return OTHER_ENDPOINT;
    auto.add(name);
    return name;
  }
}
