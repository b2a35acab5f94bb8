// Addresses in the config: HOST:PORT listeners, CIDR ranges (IPv4, IPv6, IPv4-mapped) and loopback checks, via ipaddr.js.
import ipaddr from 'ipaddr.js';
import type { Cidr, HostPort } from './types.ts';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** Host names: letters, digits, '-', '_' and '.'-separated labels (IDNs in their xn-- form). */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

export function isHostname(text: string): boolean {
  return HOSTNAME.test(text);
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) becomes the IPv4 address, so one rule covers both forms. */
function parseAddress(text: string): Addr | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return undefined;
  return ipaddr.process(bare);
}

export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text.trim());
  const usage = `"${text}" is not HOST:PORT, like "0.0.0.0:8080", "127.0.0.1:9901" or "[::1]:8080"`;
  if (!m) return usage;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535) return `port ${m[3]} is out of range (0..65535)`;
  if (m[1] !== undefined) {
    if (!ipaddr.IPv6.isValid(m[1])) return `"${m[1]}" is not an IPv6 address`;
    return { host: m[1], port };
  }
  const host = m[2]!;
  if (host === '') return `${usage}; the host is missing (use 0.0.0.0 for every interface)`;
  if (ipaddr.IPv4.isValidFourPartDecimal(host) || isHostname(host)) return { host, port };
  return `"${host}" is not an IPv4 address or a host name (put IPv6 addresses in brackets: "[::1]:8080")`;
}

export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const addr = parseAddress(host);
  return addr !== undefined && addr.range() === 'loopback';
}

/** Any-address hosts listen on every interface, so they overlap with every other host. */
export function isWildcard(host: string): boolean {
  const addr = parseAddress(host);
  return addr !== undefined && addr.range() === 'unspecified';
}

/** A CIDR range or a single address (a /32 or /128), or an error message. */
export function parseCidr(text: string): Cidr | string {
  let range: [Addr, number];
  try {
    range = text.includes('/') ? ipaddr.parseCIDR(text) : singleAddress(text);
  } catch {
    return `"${text}" is not a CIDR range like "10.0.0.0/8" or "fd00::/8", nor an IP address`;
  }
  let [network, bits] = range;
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8 written in IPv6: matching it against IPv4 peers needs the IPv4 form.
  if (network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    network = (network as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  const kind = network.kind();
  const cidr: [Addr, number] = [network, bits];
  return {
    text,
    contains: (address: string): boolean => {
      const addr = parseAddress(address);
      if (!addr || addr.kind() !== kind) return false;
      return addr.match(cidr);
    },
  };
}

function singleAddress(text: string): [Addr, number] {
  const addr = ipaddr.parse(text);
  return [addr, addr.kind() === 'ipv4' ? 32 : 128];
}
