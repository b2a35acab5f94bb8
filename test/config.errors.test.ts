// Every config error the loader reports: a table of YAML snippets → key path, message fragment and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfigText, type ConfigIssue } from '../src/config/load.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/config/', import.meta.url));

/** A valid config with hooks: `top` goes before upstreams, `ups` adds upstreams, `route` extends the one route. */
function cfg(o: { top?: string; ups?: string; route?: string; routes?: string } = {}): string {
  return `listen: 127.0.0.1:8080
${o.top ?? ''}upstreams:
  v1: { url: http://127.0.0.1:3001 }
  v2: { url: http://127.0.0.1:3002, sandboxed: true }
  v3: { url: http://127.0.0.1:3003 }
${o.ups ?? ''}routes:
  - name: r
    primary: v1
${o.route ?? ''}${o.routes ?? ''}`;
}

const mirror = (lines: string): string => `    mirrors:\n      - upstream: v2\n${lines}`;

interface Case {
  /** what is wrong, as a sentence */
  name: string;
  yaml: string;
  path: string;
  message: string;
  /** a substring of the line the issue must point at */
  at: string;
  /** which occurrence of `at` (1 = the first) */
  nth?: number;
  env?: Record<string, string>;
}

const cases: Case[] = [
  // top level
  { name: 'a missing listen', yaml: 'upstreams:\n  v1: { url: http://a }\nroutes:\n  - { name: r, primary: v1 }\n', path: 'listen', message: 'required', at: 'upstreams:' },
  { name: 'a port out of range', yaml: cfg().replace('8080', '99999'), path: 'listen', message: 'port 99999 is out of range', at: 'listen:' },
  { name: 'a listen without host', yaml: cfg().replace('127.0.0.1:8080', '":8080"'), path: 'listen', message: 'the host is missing', at: 'listen:' },
  { name: 'a listen of the wrong type', yaml: cfg().replace('127.0.0.1:8080', '8080'), path: 'listen', message: 'must be "HOST:PORT" or a mapping', at: 'listen:' },
  { name: 'a misspelt key in listen.tls', yaml: cfg().replace('listen: 127.0.0.1:8080', 'listen:\n  address: 127.0.0.1:8443\n  tls: { cert: a.pem, kye: b.pem }'), path: 'listen.tls.kye', message: 'unknown key "kye" (did you mean "key"?)', at: 'tls:' },
  { name: 'a bad admin address', yaml: cfg({ top: 'admin: { listen: "localhost" }\n' }), path: 'admin.listen', message: 'is not HOST:PORT', at: 'admin:' },
  { name: 'a short admin token', yaml: cfg({ top: 'admin: { token: short }\n' }), path: 'admin.token', message: 'must be at least 16 characters', at: 'admin:' },
  { name: 'an admin token with a space', yaml: cfg({ top: 'admin: { token: "0123456789 abcdef" }\n' }), path: 'admin.token', message: 'without spaces', at: 'admin:' },
  { name: 'an admin API off loopback without a token', yaml: cfg({ top: 'admin:\n  listen: 0.0.0.0:9901\n' }), path: 'admin.token', message: 'required when admin.listen is not loopback', at: 'listen: 0.0.0.0:9901' },
  { name: 'an admin API on the listener address', yaml: cfg({ top: 'admin: { listen: 127.0.0.1:8080 }\n' }), path: 'admin.listen', message: 'same address as listen', at: 'admin:' },
  { name: 'an unknown storage', yaml: cfg({ top: 'storage: mysql://db\n' }), path: 'storage', message: 'must be memory, sqlite:PATH or postgres://', at: 'storage:' },
  { name: 'sqlite without a path', yaml: cfg({ top: 'storage: "sqlite:"\n' }), path: 'storage', message: 'needs a file path', at: 'storage:' },
  { name: 'a bad trusted proxy range', yaml: cfg({ top: 'trustedProxies: [10.0.0.0/8, 10.0.0.0/33]\n' }), path: 'trustedProxies[1]', message: 'is not a CIDR range', at: 'trustedProxies' },
  { name: 'a size without a unit', yaml: cfg({ top: 'limits:\n  maxBodyBytes: 1024\n' }), path: 'limits.maxBodyBytes', message: 'must be a size with a unit', at: 'maxBodyBytes: 1024' },
  { name: 'a size that is not a size', yaml: cfg({ top: 'limits:\n  maxBodyBytes: 1 megabyte\n' }), path: 'limits.maxBodyBytes', message: '"1 megabyte" is not a size', at: 'maxBodyBytes' },
  { name: 'a duration without a unit', yaml: cfg({ top: 'limits:\n  headersTimeout: 5\n' }), path: 'limits.headersTimeout', message: 'a bare number is ambiguous', at: 'headersTimeout: 5' },
  { name: 'a duration that is not a duration', yaml: cfg({ top: 'limits:\n  requestTimeout: 5 secs\n' }), path: 'limits.requestTimeout', message: '"5 secs" is not a duration', at: 'requestTimeout' },
  { name: 'a zero timeout', yaml: cfg({ top: 'limits:\n  requestTimeout: 0s\n' }), path: 'limits.requestTimeout', message: 'must be longer than 0ms', at: 'requestTimeout' },
  { name: 'a duration beyond a day', yaml: cfg({ top: 'shutdown:\n  drainTimeout: 25h\n' }), path: 'shutdown.drainTimeout', message: 'must be at most 24h', at: 'drainTimeout' },
  { name: 'headersTimeout longer than requestTimeout', yaml: cfg({ top: 'limits:\n  headersTimeout: 40s\n' }), path: 'limits.headersTimeout', message: 'must not be longer than limits.requestTimeout (30s)', at: 'headersTimeout' },
  { name: 'a count that is not whole', yaml: cfg({ top: 'limits:\n  maxHeaders: 10.5\n' }), path: 'limits.maxHeaders', message: 'expected a whole number, got the number 10.5', at: 'maxHeaders' },
  { name: 'a misspelt log level', yaml: cfg({ top: 'log: { level: inf }\n' }), path: 'log.level', message: 'did you mean "info"?', at: 'log:' },
  { name: 'a boolean written as a word', yaml: cfg({ top: 'log: { access: "yes" }\n' }), path: 'log.access', message: 'expected true or false, got the string "yes"', at: 'log:' },
  { name: 'a misspelt top-level key', yaml: cfg({ top: 'upstream: {}\n' }), path: 'upstream', message: 'unknown key "upstream" (did you mean "upstreams"?)', at: 'upstream: {}' },
  { name: 'an unknown key with nothing close', yaml: cfg({ top: 'frobnicate: 1\n' }), path: 'frobnicate', message: 'unknown key "frobnicate"', at: 'frobnicate' },
  // upstreams
  { name: 'an upstream with url and urls', yaml: cfg({ ups: '  v4: { url: http://a, urls: [http://b] }\n' }), path: 'upstreams.v4', message: 'give url or urls, not both', at: 'v4:' },
  { name: 'an upstream without a URL', yaml: cfg({ ups: '  v4: { timeout: 1s }\n' }), path: 'upstreams.v4', message: 'needs url (one URL) or urls (a list)', at: 'v4:' },
  { name: 'an upstream with an empty urls list', yaml: cfg({ ups: '  v4: { urls: [] }\n' }), path: 'upstreams.v4.urls', message: 'must list at least one URL', at: 'v4:' },
  { name: 'an upstream with a duplicate URL', yaml: cfg({ ups: '  v4: { urls: [http://a:1, "http://a:1/"] }\n' }), path: 'upstreams.v4.urls[1]', message: 'duplicate URL', at: 'v4:' },
  { name: 'an upstream URL that is not http', yaml: cfg({ ups: '  v4: { url: "ftp://a" }\n' }), path: 'upstreams.v4.url', message: 'must use http:// or https://', at: 'v4:' },
  { name: 'an upstream URL that is not a URL', yaml: cfg({ ups: '  v4: { url: "127.0.0.1:3000" }\n' }), path: 'upstreams.v4.url', message: 'is not a URL', at: 'v4:' },
  { name: 'an upstream URL with credentials', yaml: cfg({ ups: '  v4: { url: "http://u:p@a" }\n' }), path: 'upstreams.v4.url', message: 'must not contain credentials', at: 'v4:' },
  { name: 'an upstream URL with a path', yaml: cfg({ ups: '  v4:\n    url: http://a/api\n' }), path: 'upstreams.v4.url', message: 'must not have a path ("/api")', at: 'url: http://a/api' },
  { name: 'an upstream URL with a query', yaml: cfg({ ups: '  v4: { url: "http://a/?x=1" }\n' }), path: 'upstreams.v4.url', message: 'must not have a query or fragment', at: 'v4:' },
  { name: 'an upstream name with a space', yaml: cfg({ ups: '  "v 4": { url: http://a }\n' }), path: 'upstreams["v 4"]', message: 'upstream names may contain only', at: 'v 4' },
  { name: 'an upstream with zero connections', yaml: cfg({ ups: '  v4: { url: http://a, maxConnections: 0 }\n' }), path: 'upstreams.v4.maxConnections', message: 'must be at least 1', at: 'v4:' },
  { name: 'an upstream with a bad servername', yaml: cfg({ ups: '  v4: { url: https://a, tls: { servername: "a b" } }\n' }), path: 'upstreams.v4.tls.servername', message: 'must be a host name', at: 'v4:' },
  { name: 'no upstreams', yaml: 'listen: 127.0.0.1:8080\nupstreams: {}\nroutes:\n  - { name: r, primary: v1 }\n', path: 'upstreams', message: 'must define at least one upstream', at: 'upstreams' },
  // routes
  { name: 'no routes', yaml: 'listen: 127.0.0.1:8080\nupstreams:\n  v1: { url: http://a }\nroutes: []\n', path: 'routes', message: 'must list at least one route', at: 'routes' },
  { name: 'a route name with a slash', yaml: cfg().replace('name: r', 'name: a/b'), path: 'routes[0].name', message: 'route names may contain only', at: 'name: a/b' },
  { name: 'a duplicate route name', yaml: cfg({ routes: '  - name: r\n    primary: v2\n    match: { host: b.example }\n' }).replace('    primary: v1\n', '    primary: v1\n    match: { host: a.example }\n'), path: 'routes[1].name', message: 'duplicate route name "r" (also routes[0])', at: 'name: r', nth: 2 },
  { name: 'a route without a primary', yaml: cfg().replace('    primary: v1\n', ''), path: 'routes[0].primary', message: 'required', at: '- name: r' },
  { name: 'a misspelt primary', yaml: cfg().replace('primary: v1', 'primray: v1'), path: 'routes[0].primray', message: 'unknown key "primray" (did you mean "primary"?)', at: 'primray' },
  { name: 'a primary that is not an upstream', yaml: cfg().replace('primary: v1', 'primary: v9'), path: 'routes[0].primary', message: 'unknown upstream "v9"', at: 'primary: v9' },
  { name: 'a primary with a typo', yaml: cfg({ ups: '  canary: { url: http://a }\n' }).replace('primary: v1', 'primary: canray'), path: 'routes[0].primary', message: 'unknown upstream "canray" (did you mean "canary"?)', at: 'primary: canray' },
  { name: 'a secondary equal to the primary', yaml: cfg({ route: '    secondary: v1\n' }), path: 'routes[0].secondary', message: 'must differ from primary', at: 'secondary: v1' },
  { name: 'a secondary that is not an upstream', yaml: cfg({ route: '    secondary: v9\n' }), path: 'routes[0].secondary', message: 'unknown upstream "v9"', at: 'secondary: v9' },
  { name: 'a route before others that matches everything', yaml: cfg({ routes: '  - name: s\n    primary: v1\n' }), path: 'routes[0].match', message: 'matches every request', at: '- name: r' },
  { name: 'a route body cap without a unit', yaml: cfg({ route: '    maxBodyBytes: 100\n' }), path: 'routes[0].maxBodyBytes', message: 'must be a size with a unit', at: 'maxBodyBytes' },
  { name: 'a compare path without $', yaml: cfg({ route: '    compare: { ignore: [meta.at] }\n' }), path: 'routes[0].compare.ignore[0]', message: 'must be a JSON path starting with "$"', at: 'compare' },
  { name: 'a malformed compare ignore rule', yaml: cfg({ route: '    compare:\n      ignore: ["$.ok", "$.items["]\n' }), path: 'routes[0].compare.ignore[1]', message: 'unterminated "["', at: 'ignore:' },
  { name: 'an unknown array mode', yaml: cfg({ route: '    compare:\n      arrays: { "$.items": sorted }\n' }), path: 'routes[0].compare.arrays["$.items"]', message: 'must be "index", "set" or "key:FIELD"', at: 'arrays:' },
  { name: 'an array rule on a malformed path', yaml: cfg({ route: '    compare:\n      arrays: { "$.a[": set }\n' }), path: 'routes[0].compare.arrays["$.a["]', message: 'unterminated "["', at: 'arrays:' },
  { name: 'a malformed endpoint template', yaml: cfg({ route: '    compare:\n      endpoints: ["/users/{id"]\n' }), path: 'routes[0].compare.endpoints[0]', message: 'a parameter is a whole segment', at: 'endpoints:' },
  { name: 'a noise field that is not a field', yaml: cfg({ route: '    compare:\n      noise: [generatedAt]\n' }), path: 'routes[0].compare.noise[0]', message: 'must be a field', at: 'noise:' },
  { name: 'a relative threshold above 1', yaml: cfg({ route: '    compare:\n      thresholds: { relative: 20 }\n' }), path: 'routes[0].compare.thresholds.relative', message: 'must be between 0 and 1', at: 'thresholds:' },
  { name: 'an unknown latency percentile', yaml: cfg({ route: '    compare:\n      thresholds: { latencyPercentile: p95 }\n' }), path: 'routes[0].compare.thresholds.latencyPercentile', message: 'must be one of "p50", "p90", "p99"', at: 'thresholds:' },
  { name: 'a latency ratio below 1', yaml: cfg({ route: '    compare:\n      thresholds: { latencyRatio: 0.5 }\n' }), path: 'routes[0].compare.thresholds.latencyRatio', message: 'must be at least 1', at: 'thresholds:' },
  { name: 'a compare queue of zero', yaml: cfg({ top: 'compare: { queue: 0 }\n' }), path: 'compare.queue', message: 'must be at least 1', at: 'compare:' },
  { name: 'a secondary that is also a mirror', yaml: cfg({ route: '    secondary: v2\n' + mirror('') }), path: 'routes[0].secondary', message: 'is also a mirror of this route', at: 'secondary:' },
  { name: 'a misspelt detector setting', yaml: cfg({ top: 'analysis:\n  detectors: { floodFactr: 3 }\n' }), path: 'analysis.detectors.floodFactr', message: 'did you mean "floodFactor"?', at: 'detectors:' },
  { name: 'a user signature rule that is not a regex', yaml: cfg({ top: 'analysis:\n  signatures:\n    rules:\n      - { id: mine, parts: [query], pattern: "(open" }\n' }), path: 'analysis.signatures.rules[0].pattern', message: 'invalid regular expression', at: 'id: mine' },
  { name: 'a signature rule on an unknown part', yaml: cfg({ top: 'analysis:\n  signatures:\n    rules:\n      - { id: mine, parts: [cookies], pattern: "x" }\n' }), path: 'analysis.signatures.rules[0].parts[0]', message: 'must be path, query, body, method or header:NAME', at: 'id: mine' },
  { name: 'an alert sink URL that is not http', yaml: cfg({ top: 'analysis:\n  alerts: [{ type: webhook, url: "ftp://x" }]\n' }), path: 'analysis.alerts[0].url', message: 'must be an http:// or https:// URL', at: 'alerts:' },
  { name: 'a compare header that is not a header name', yaml: cfg({ route: '    compare: { ignoreHeaders: ["x y"] }\n' }), path: 'routes[0].compare.ignoreHeaders[0]', message: 'is not a valid header name', at: 'compare' },
  // match
  { name: 'a host with a port', yaml: cfg({ route: '    match: { host: "a.example:8080" }\n' }), path: 'routes[0].match.host', message: 'without a port', at: 'match' },
  { name: 'a host with a wildcard in the middle', yaml: cfg({ route: '    match: { host: "a.*.example" }\n' }), path: 'routes[0].match.host', message: 'must be a host name', at: 'match' },
  { name: 'a path with two matchers', yaml: cfg({ route: '    match: { path: { exact: /a, prefix: /b } }\n' }), path: 'routes[0].match.path', message: 'give only one of exact, prefix', at: 'match' },
  { name: 'a path with no matcher', yaml: cfg({ route: '    match: { path: {} }\n' }), path: 'routes[0].match.path', message: 'needs one of exact, prefix, regex', at: 'match' },
  { name: 'a path without a leading slash', yaml: cfg({ route: '    match: { path: { prefix: api } }\n' }), path: 'routes[0].match.path.prefix', message: 'must start with "/"', at: 'match' },
  { name: 'a path regex with lookahead', yaml: cfg({ route: '    match:\n      path: { regex: "^/(?=a)" }\n' }), path: 'routes[0].match.path.regex', message: 'invalid regular expression', at: 'regex' },
  { name: 'a path regex that does not parse', yaml: cfg({ route: '    match:\n      path: { regex: "(a" }\n' }), path: 'routes[0].match.path.regex', message: 'missing closing )', at: 'regex' },
  { name: 'a header regex with a backreference', yaml: cfg({ route: '    match:\n      headers: { x-a: { regex: "(a)\\\\1" } }\n' }), path: 'routes[0].match.headers.x-a.regex', message: 'invalid regular expression', at: 'headers' },
  { name: 'a query regex that does not parse', yaml: cfg({ route: '    match:\n      query: { q: { regex: "[a" } }\n' }), path: 'routes[0].match.query.q.regex', message: 'invalid regular expression', at: 'query' },
  { name: 'a header condition with an invalid name', yaml: cfg({ route: '    match:\n      headers: { "x a": { present: true } }\n' }), path: 'routes[0].match.headers["x a"]', message: 'is not a valid header name', at: 'headers' },
  { name: 'a header condition with present: false', yaml: cfg({ route: '    match:\n      headers: { x-a: { present: false } }\n' }), path: 'routes[0].match.headers.x-a.present', message: 'must be true', at: 'headers' },
  { name: 'a header condition with a number', yaml: cfg({ route: '    match:\n      headers: { x-a: { exact: 1 } }\n' }), path: 'routes[0].match.headers.x-a.exact', message: 'expected a string, got the number 1 (quote it', at: 'headers' },
  { name: 'a header named twice in different case', yaml: cfg({ route: '    match:\n      headers: { X-A: { present: true }, x-a: { absent: true } }\n' }), path: 'routes[0].match.headers.x-a', message: 'duplicate condition for "x-a"', at: 'headers' },
  { name: 'a source that is not a CIDR', yaml: cfg({ route: '    match:\n      sources: [10.0.0.0/8, "10.0.0.300"]\n' }), path: 'routes[0].match.sources[1]', message: 'is not a CIDR range', at: 'sources' },
  { name: 'a CONNECT route', yaml: cfg({ route: '    match:\n      methods: [GET, CONNECT]\n' }), path: 'routes[0].match.methods[1]', message: 'CONNECT is refused', at: 'methods' },
  { name: 'an empty methods list', yaml: cfg({ route: '    match:\n      methods: []\n' }), path: 'routes[0].match.methods', message: 'must list at least one method', at: 'methods' },
  // mirrors
  { name: 'a mirror to an unknown upstream', yaml: cfg({ route: '    mirrors:\n      - upstream: v9\n' }), path: 'routes[0].mirrors[0].upstream', message: 'unknown upstream "v9"', at: 'upstream: v9' },
  { name: 'a mirror to the primary', yaml: cfg({ route: '    mirrors:\n      - upstream: v1\n' }), path: 'routes[0].mirrors[0].upstream', message: "is this route's primary", at: 'upstream: v1' },
  { name: 'a mirror without an upstream', yaml: cfg({ route: '    mirrors:\n      - percentage: 5\n' }), path: 'routes[0].mirrors[0].upstream', message: 'required', at: 'percentage: 5' },
  { name: 'a percentage above 100', yaml: cfg({ route: mirror('        percentage: 150\n') }), path: 'routes[0].mirrors[0].percentage', message: 'must be between 0 and 100', at: 'percentage: 150' },
  { name: 'a negative percentage', yaml: cfg({ route: mirror('        percentage: -1\n') }), path: 'routes[0].mirrors[0].percentage', message: 'must be between 0 and 100', at: 'percentage: -1' },
  { name: 'a percentage written with a %', yaml: cfg({ route: mirror('        percentage: 10%\n') }), path: 'routes[0].mirrors[0].percentage', message: 'expected a number, got the string "10%"', at: 'percentage' },
  { name: 'an unknown sampleBy', yaml: cfg({ route: mirror('        sampleBy: hash\n') }), path: 'routes[0].mirrors[0].sampleBy', message: 'must be random, source, header:NAME', at: 'sampleBy' },
  { name: 'a sampleBy header without a name', yaml: cfg({ route: mirror('        sampleBy: "header:"\n') }), path: 'routes[0].mirrors[0].sampleBy', message: 'the header name is missing', at: 'sampleBy' },
  { name: 'a sampleBy cookie with an invalid name', yaml: cfg({ route: mirror('        sampleBy: "cookie:a b"\n') }), path: 'routes[0].mirrors[0].sampleBy', message: '"a b" is not a valid cookie name', at: 'sampleBy' },
  { name: 'a mirrored write to an upstream that is not sandboxed', yaml: cfg({ route: '    mirrors:\n      - upstream: v3\n        methods: [GET, POST, delete]\n' }), path: 'routes[0].mirrors[0].methods', message: 'POST, DELETE change state: mirror writes only to an upstream with sandboxed: true ("v3" is not sandboxed)', at: 'methods' },
  { name: 'a mirrored CONNECT', yaml: cfg({ route: mirror('        methods: [CONNECT]\n') }), path: 'routes[0].mirrors[0].methods[0]', message: 'CONNECT is refused', at: 'methods' },
  { name: 'a mirror body cap above the global buffer', yaml: cfg({ top: 'mirroring: { maxBufferedBytes: 1MiB }\n', route: mirror('        maxBodyBytes: 2MiB\n') }), path: 'routes[0].mirrors[0].maxBodyBytes', message: 'larger than mirroring.maxBufferedBytes', at: 'maxBodyBytes: 2MiB' },
  { name: 'a mirror timeout without a unit', yaml: cfg({ route: mirror('        timeout: 500\n') }), path: 'routes[0].mirrors[0].timeout', message: 'a bare number is ambiguous', at: 'timeout: 500' },
  { name: 'a mirror with no room in flight', yaml: cfg({ route: mirror('        maxInFlight: 0\n') }), path: 'routes[0].mirrors[0].maxInFlight', message: 'must be at least 1', at: 'maxInFlight' },
  { name: 'an unknown host mode', yaml: cfg({ route: mirror('        host: shadow\n') }), path: 'routes[0].mirrors[0].host', message: 'must be preserve, upstream, suffix:SUFFIX or literal:HOST', at: 'host: shadow' },
  { name: 'an empty host suffix', yaml: cfg({ route: mirror('        host: "suffix:"\n') }), path: 'routes[0].mirrors[0].host', message: 'the suffix "" must be', at: 'host:' },
  { name: 'a host suffix with a slash', yaml: cfg({ route: mirror('        host: "suffix:-shadow/x"\n') }), path: 'routes[0].mirrors[0].host', message: 'must be 1..63 letters', at: 'host:' },
  { name: 'a literal host with invalid characters', yaml: cfg({ route: mirror('        host: "literal:a b"\n') }), path: 'routes[0].mirrors[0].host', message: '"a b" is not a valid host name', at: 'host:' },
  { name: 'a set header with a newline in its value', yaml: cfg({ route: mirror('        headers: { set: { x-env: "a\\r\\nx-evil: 1" } }\n') }), path: 'routes[0].mirrors[0].headers.set.x-env', message: 'must not contain CR, LF or NUL', at: 'headers' },
  { name: 'a set header with an invalid name', yaml: cfg({ route: mirror('        headers: { set: { "x:env": a } }\n') }), path: 'routes[0].mirrors[0].headers.set["x:env"]', message: 'is not a valid header name', at: 'headers' },
  { name: 'a set header value that is a number', yaml: cfg({ route: mirror('        headers: { set: { x-n: 1 } }\n') }), path: 'routes[0].mirrors[0].headers.set.x-n', message: 'expected a string', at: 'headers' },
  { name: 'a set header that tapwire manages', yaml: cfg({ route: mirror('        headers: { set: { Content-Length: "0" } }\n') }), path: 'routes[0].mirrors[0].headers.set.Content-Length', message: 'is managed by tapwire', at: 'headers' },
  { name: 'setting the Host header', yaml: cfg({ route: mirror('        headers: { set: { host: a } }\n') }), path: 'routes[0].mirrors[0].headers.set.host', message: "is chosen by the mirror's host: setting", at: 'headers' },
  { name: 'removing the mirror marker', yaml: cfg({ route: mirror('        headers: { remove: [x-tapwire-mirror] }\n') }), path: 'routes[0].mirrors[0].headers.remove[0]', message: 'the marker every copy carries', at: 'headers' },
  { name: 'a removed header with an invalid name', yaml: cfg({ route: mirror('        headers: { remove: ["a b"] }\n') }), path: 'routes[0].mirrors[0].headers.remove[0]', message: 'is not a valid header name', at: 'headers' },
  { name: 'a misspelt mirror key', yaml: cfg({ route: mirror('        percentge: 5\n') }), path: 'routes[0].mirrors[0].percentge', message: 'unknown key "percentge" (did you mean "percentage"?)', at: 'percentge' },
  // files
  { name: 'a listener certificate that does not exist', yaml: cfg().replace('listen: 127.0.0.1:8080', 'listen:\n  address: 127.0.0.1:8443\n  tls: { cert: missing.crt, key: localhost.key }'), path: 'listen.tls.cert', message: 'cannot read', at: 'tls:' },
  { name: 'a listener key that does not match the certificate', yaml: cfg().replace('listen: 127.0.0.1:8080', 'listen:\n  address: 127.0.0.1:8443\n  tls:\n    cert: localhost.crt\n    key: other.key'), path: 'listen.tls', message: 'cannot be used together', at: 'cert: localhost.crt' },
  { name: 'an upstream CA that does not exist', yaml: cfg({ ups: '  v4: { url: https://a, tls: { ca: missing-ca.pem } }\n' }), path: 'upstreams.v4.tls.ca', message: 'cannot read', at: 'v4:' },
  { name: 'an upstream CA that is not a certificate', yaml: cfg({ ups: '  v4: { url: https://a, tls: { ca: README.md } }\n' }), path: 'upstreams.v4.tls.ca', message: 'is not a PEM CA certificate', at: 'v4:' },
  // environment and YAML
  { name: 'an unset environment variable', yaml: cfg({ top: 'admin:\n  token: ${TW_TEST_TOKEN}\n' }), path: 'admin.token', message: 'environment variable TW_TEST_TOKEN is not set', at: 'token:' },
  { name: 'a malformed variable reference', yaml: cfg({ top: 'storage: "sqlite:${1DIR}/x.db"\n' }), path: 'storage', message: 'invalid variable reference "${1DIR}"', at: 'storage' },
  { name: 'an unterminated variable reference', yaml: cfg({ top: 'storage: "sqlite:${DIR"\n' }), path: 'storage', message: 'unterminated "${"', at: 'storage' },
  { name: 'a string where a number is expected after substitution', yaml: cfg({ route: mirror('        percentage: "${PCT}"\n') }), env: { PCT: '5' }, path: 'routes[0].mirrors[0].percentage', message: 'expected a number, got the string "5" (the value came from "${PCT}")', at: 'percentage' },
  { name: 'a YAML syntax error', yaml: cfg().replace('  v2: { url: http://127.0.0.1:3002, sandboxed: true }', '  v2: { url: http://127.0.0.1:3002, sandboxed: true'), path: '', message: 'YAML:', at: 'v3:' },
  { name: 'a duplicate YAML key', yaml: cfg().replace('  v3:', '  v1:'), path: '', message: 'YAML: Map keys must be unique', at: 'v1: { url: http://127.0.0.1:3003' },
  { name: 'a document that is a list', yaml: '- a\n- b\n', path: '', message: 'must be a mapping', at: '- a' },
];

function lineOf(yaml: string, fragment: string, nth = 1): number {
  const lines = yaml.split('\n').flatMap((l, i) => (l.includes(fragment) ? [i + 1] : []));
  assert.ok(lines.length >= nth, `fixture error: "${fragment}" is not in the YAML ${nth} time(s)`);
  return lines[nth - 1]!;
}

const show = (issues: ConfigIssue[]): string => issues.map((i) => `${i.line ?? '-'}:${i.col ?? '-'} ${i.path}: ${i.message}`).join('\n');

test('the base YAML of the error table is itself valid', () => {
  const r = loadConfigText(cfg(), { baseDir: FIXTURES });
  assert.ok(r.ok, r.ok ? '' : show(r.issues));
});

for (const c of cases) {
  test(`reports ${c.name} at ${c.path || 'the document'} with its line`, () => {
    const r = loadConfigText(c.yaml, { baseDir: FIXTURES, env: c.env ?? {} });
    assert.equal(r.ok, false, `expected an error for:\n${c.yaml}`);
    if (r.ok) return;
    const issue = r.issues.find((i) => i.path === c.path && i.message.includes(c.message));
    assert.ok(issue, `no issue at "${c.path}" containing "${c.message}"; got:\n${show(r.issues)}`);
    assert.equal(issue.line, lineOf(c.yaml, c.at, c.nth), `wrong line; got:\n${show(r.issues)}`);
    assert.equal(typeof issue.col, 'number');
    if (c.path !== '') assert.equal(r.issues.length, 1, `expected exactly one issue; got:\n${show(r.issues)}`);
  });
}
