// Who may use the admin API: loopback-only unless a bearer token is set, tokens compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { TapwireError } from '../core/errors.ts';

/**
 * True for `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped loopback. Only literal addresses in their usual
 * form count: a name (or "127.1") is resolved by the OS at bind time and could land anywhere, so it needs a token.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (!isIPv4(h) && !isIPv6(h)) return false;
  return ipaddr.process(h).range() === 'loopback';
}

/** The host part of a Host header (`localhost:9901`, `[::1]:9901`), or undefined when there is none. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    return end < 0 ? undefined : header.slice(0, end + 1);
  }
  const colon = header.indexOf(':');
  return colon < 0 ? header : header.slice(0, colon);
}

/** Refuses (at build time, before any socket) an admin API that would be reachable by others without a token. */
export function checkAdminExposure(host: string, port: number, token: string | undefined): void {
  // eslint-disable-next-line no-control-regex
  if (token !== undefined && (token.trim() === '' || /[\s\u0000-\u001f\u007f]/.test(token))) {
    // An unset ${TAPWIRE_ADMIN_TOKEN} expands to "": treating that as "no token" would silently open the API.
    throw new TapwireError('TW_ERR_CONFIG', 'admin.token: must be a non-empty string without spaces or control characters');
  }
  if (token === undefined && !isLoopbackHost(host)) {
    throw new TapwireError(
      'TW_ERR_CONFIG',
      `admin.listen: refusing to serve the admin API on ${host}:${port} without a token; ` +
        'set admin.token (for example token: ${TAPWIRE_ADMIN_TOKEN}) or listen on a loopback address such as 127.0.0.1',
    );
  }
}

/**
 * A checker for `Authorization: Bearer TOKEN`. Both sides are hashed first so timingSafeEqual always compares
 * 32 bytes: neither the token's length nor the position of the first wrong byte shows in the response time.
 */
export function bearerVerifier(token: string): (authorization: string | undefined) => boolean {
  const expected = sha256(token);
  return (authorization) => {
    // RFC 9110 §11.1: the scheme name is case-insensitive.
    const m = /^bearer +([^\s]+) *$/i.exec(authorization ?? '');
    const matches = timingSafeEqual(sha256(m?.[1] ?? ''), expected);
    return m !== null && matches;
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
