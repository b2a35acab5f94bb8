// The dashboard's access to the admin API: same-origin fetches (the session cookie rides along, the token
// never appears in script or URL), and the number formats every page shares.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET (or POST with a JSON body) an admin API path; throws ApiError with the server's stable code. */
export async function api(path, { method = 'GET', body } = {}) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let value;
  try {
    value = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'TW_ERR_INTERNAL', `${path}: not JSON (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const e = value && value.error ? value.error : { code: 'TW_ERR_INTERNAL', message: `HTTP ${res.status}` };
    throw new ApiError(res.status, e.code, e.message);
  }
  return value;
}

/** 0.1234 → "12.3%"; null/undefined → "–". The browser test formats the API's numbers the same way. */
export function pct(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return `${(x * 100).toFixed(1)}%`;
}

/** Milliseconds with two decimals under 10 ms, one decimal above. */
export function ms(x) {
  if (x === null || x === undefined) return '–';
  return `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
}

export function ratio(x) {
  if (x === null || x === undefined) return '–';
  return `${x.toFixed(2)}×`;
}

/** 12345 → "12,345" (en-US grouping everywhere, so screen and test agree). */
export function int(n) {
  if (n === null || n === undefined) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function time(epochMs) {
  if (!epochMs) return '–';
  return new Date(epochMs).toLocaleTimeString('en-GB', { hour12: false });
}

export function dateTime(epochMs) {
  if (!epochMs) return '–';
  const d = new Date(epochMs);
  return `${d.toISOString().slice(0, 10)} ${d.toLocaleTimeString('en-GB', { hour12: false })}`;
}

/** Mirror outcomes in the product's order, with their chart colours (delivered first, at the bottom of the stack). */
export const OUTCOMES = [
  ['delivered', '#16a34a'],
  ['sampled_out', '#94a3b8'],
  ['method_filtered', '#64748b'],
  ['body_too_large', '#a855f7'],
  ['overloaded', '#f59e0b'],
  ['client_aborted', '#06b6d4'],
  ['timeout', '#ef4444'],
  ['connect_error', '#b91c1c'],
  ['reset', '#ec4899'],
  ['tls_error', '#7c3aed'],
  ['shutdown', '#78716c'],
];
