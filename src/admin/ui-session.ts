// Dashboard sessions: a login POST that checks the admin token once and answers with an HttpOnly,
// SameSite=Strict cookie holding a random session id, so the token never sits in a URL, in page
// script or in a log line, and the browser's EventSource can authenticate without custom headers.
import { randomBytes } from 'node:crypto';
import { bearerVerifier } from './auth.ts';

export const SESSION_COOKIE = 'tapwire_session';
/** A dashboard left open for a working day keeps its session; then it asks for the token again. */
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Sessions held at most; past it the oldest is forgotten (its browser logs in again). */
const MAX_SESSIONS = 64;
/** Failed logins allowed per minute, across all clients: guessing a token must stay slow. */
const MAX_FAILURES_PER_MINUTE = 10;

export interface Sessions {
  /** 'ok' with a Set-Cookie value, 'wrong' for a bad token, 'throttled' past the failure budget */
  login(token: unknown): { readonly result: 'ok'; readonly cookie: string } | { readonly result: 'wrong' | 'throttled' };
  /** the cookie that clears the session named in `cookieHeader` */
  logout(cookieHeader: string | undefined): string;
  valid(cookieHeader: string | undefined): boolean;
  readonly size: number;
}

export function createSessions(token: string, now: () => number = Date.now): Sessions {
  const verify = bearerVerifier(token);
  /** id → expiry (epoch ms); a Map iterates in insertion order, so the first key is the oldest */
  const sessions = new Map<string, number>();
  let windowStart = 0;
  let failures = 0;

  const idOf = (cookieHeader: string | undefined): string | undefined => {
    for (const part of (cookieHeader ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
    }
    return undefined;
  };

  return {
    login(candidate) {
      const t = now();
      if (t - windowStart >= 60_000) {
        windowStart = t;
        failures = 0;
      }
      if (failures >= MAX_FAILURES_PER_MINUTE) return { result: 'throttled' };
      // the verifier hashes both sides and compares in constant time; a token with spaces never matches
      if (typeof candidate !== 'string' || candidate.length > 4096 || !verify(`Bearer ${candidate}`)) {
        failures++;
        return { result: 'wrong' };
      }
      for (const [id, expires] of sessions) if (expires <= t) sessions.delete(id);
      while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, t + SESSION_TTL_MS);
      return { result: 'ok', cookie: `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}` };
    },
    logout(cookieHeader) {
      const id = idOf(cookieHeader);
      if (id !== undefined) sessions.delete(id);
      return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
    },
    valid(cookieHeader) {
      const id = idOf(cookieHeader);
      if (id === undefined) return false;
      const expires = sessions.get(id);
      if (expires === undefined) return false;
      if (expires <= now()) {
        sessions.delete(id);
        return false;
      }
      return true;
    },
    get size() {
      return sessions.size;
    },
  };
}
