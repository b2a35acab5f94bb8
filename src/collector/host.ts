// The Host a mesh's copy was meant for: Envoy and Istio append `-shadow` to the host name of a mirrored request
// ("cluster1 becomes cluster1-shadow", the port kept after it). Pure.

/**
 * The Host header value without the suffix, when its host name ends with it; otherwise unchanged. `api-shadow:8080`
 * → `api:8080`, `api.example.com-shadow` → `api.example.com`. A name that is only the suffix is left alone (nothing
 * would remain), and so is an IPv6 literal (a mesh never suffixes one). Case-insensitive, like host names.
 */
export function stripHostSuffix(host: string | undefined, suffix: string): string | undefined {
  if (host === undefined || suffix === '' || host.startsWith('[')) return host;
  const colon = host.lastIndexOf(':');
  const name = colon < 0 ? host : host.slice(0, colon);
  const port = colon < 0 ? '' : host.slice(colon);
  if (name.length <= suffix.length || !name.toLowerCase().endsWith(suffix.toLowerCase())) return host;
  return name.slice(0, name.length - suffix.length) + port;
}
