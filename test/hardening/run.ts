// Runs the cases of one class against one rig (bounded concurrency), then checks every case against what the
// client saw and what the recording upstreams received, parsed and on the wire.
import type { Case, Ok, Outcome, Rej } from './model.ts';
import { MARKER, show } from './model.ts';
import type { Recorder, Seen } from './recorder.ts';
import type { Rig } from './rig.ts';
import { exchange, pool, type WireResponse, type WireResult } from './wire.ts';

export interface ClassReport {
  readonly cls: string;
  /** cases tried */
  tried: number;
  /** cases whose first request was refused */
  rejected: number;
  /** cases whose first request was forwarded */
  accepted: number;
  /** refused requests of which something reached an upstream it must not have (must be 0) */
  forwardedWhenRejected: number;
  /** refused mid-body after the primary had seen the start of it (never whole), mirror untouched */
  abortedMidBody: number;
  readonly statuses: Record<string, number>;
  readonly failures: string[];
}

/** Connection-level headers that must never reach an upstream (beside Connection itself, which the client sets). */
const NEVER_FORWARDED = new Set(['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'expect', 'http2-settings']);

/** Names tapwire sets, strips or frames with: a client header whose underscores make it one of these is refused. */
export const SPECIAL = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'authorization',
  'content-type',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-tapwire-mirror',
  'http2-settings',
]);

function count(raw: readonly string[], lower: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) out.push(raw[i + 1]!);
  return out;
}

/** What every request that reaches an upstream must satisfy, whatever the client sent. */
export function forwardedProblems(s: Seen, role: 'primary' | 'mirror', peer = '127.0.0.1'): string[] {
  const p: string[] = [];
  const raw = s.rawHeaders;
  const names = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) names.add(raw[i]!.toLowerCase());
  if (count(raw, 'host').length !== 1) p.push(`${count(raw, 'host').length} Host headers`);
  for (const n of names) if (NEVER_FORWARDED.has(n) || n === 'proxy' || n.startsWith('proxy-')) p.push(`hop-by-hop header ${n} forwarded`);
  for (const v of count(raw, 'connection')) if (!/^(keep-alive|close)$/i.test(v)) p.push(`Connection: ${v} forwarded`);
  if (count(raw, 'content-length').length > 1) p.push('several Content-Length');
  if (names.has('content-length') && names.has('transfer-encoding')) p.push('Content-Length with Transfer-Encoding');
  const cl = count(raw, 'content-length')[0];
  if (cl !== undefined && !/^(0|[1-9]\d*)$/.test(cl)) p.push(`Content-Length "${cl}" not canonical`);
  const te = count(raw, 'transfer-encoding');
  if (te.length > 1 || (te[0] !== undefined && te[0] !== 'chunked')) p.push(`Transfer-Encoding ${JSON.stringify(te)}`);
  const xff = count(raw, 'x-forwarded-for');
  if (xff.length !== 1 || !(xff[0] === peer || xff[0]!.endsWith(`, ${peer}`))) p.push(`X-Forwarded-For ${JSON.stringify(xff)}`);
  if (count(raw, 'x-forwarded-proto').join() !== 'http') p.push(`X-Forwarded-Proto ${JSON.stringify(count(raw, 'x-forwarded-proto'))}`);
  if (count(raw, 'x-forwarded-host').length > 1) p.push('several X-Forwarded-Host');
  const marks = count(raw, 'x-tapwire-mirror');
  if (role === 'primary' && marks.length > 0) p.push('the primary got the mirror marker');
  if (role === 'mirror' && marks.join() !== '1') p.push(`mirror marker ${JSON.stringify(marks)}`);
  for (const n of names) {
    if (!n.includes('_')) continue;
    const dashed = n.replaceAll('_', '-');
    if (SPECIAL.has(dashed) || names.has(dashed)) p.push(`underscore header ${n} collides with ${dashed}`);
  }
  if (s.httpVersion !== '1.1') p.push(`HTTP/${s.httpVersion} upstream`);
  return p;
}

/** Headers that legitimately differ between the primary's and the mirror's copy: framing, connection, the marker,
 * and x-route, which the rig's mirror policies set (mirrors[].headers.set) to show which route matched. */
const COPY_DIFFERS = new Set(['connection', 'content-length', 'transfer-encoding', 'x-tapwire-mirror', 'x-route']);

/**
 * A request as an upstream got it, minus what legitimately differs between the primary's and the mirror's copy.
 * Host is compared apart (hostOf): a copy carries it first (src/mirror/copy.ts), and a request that came without
 * one (HTTP/1.0) gets each upstream's own.
 */
export function normalised(s: Seen): string {
  const out: string[] = [];
  for (let i = 0; i < s.rawHeaders.length; i += 2) {
    const n = s.rawHeaders[i]!.toLowerCase();
    if (!COPY_DIFFERS.has(n) && n !== 'host') out.push(`${n}: ${s.rawHeaders[i + 1]!}`);
  }
  return `${s.method} ${s.url}\n${out.join('\n')}\n\n${s.body.toString('latin1')}`;
}

export function hostOf(s: Seen): string {
  return count(s.rawHeaders, 'host').join(' | ');
}

function byMarker(rec: Recorder): Map<string, Seen[]> {
  const m = new Map<string, Seen[]>();
  for (const s of rec.requests) {
    const hit = MARKER.exec(s.url);
    if (!hit) continue;
    const list = m.get(hit[0]) ?? [];
    list.push(s);
    m.set(hit[0], list);
  }
  return m;
}

function tapwireError(r: WireResponse): string | undefined {
  try {
    return (JSON.parse(r.body.toString('utf8')) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

export interface RunOptions {
  readonly concurrency?: number;
}

export async function runClass(rig: Rig, cls: string, cases: readonly Case[], opts: RunOptions = {}): Promise<ClassReport> {
  const results = await pool(cases, opts.concurrency ?? 24, (c) =>
    exchange(rig.tw.port, c.input, {
      timeoutMs: c.timeoutMs ?? 4000,
      responses: c.expect.length,
      ...(c.heads ? { heads: c.heads } : {}),
    }),
  );
  await rig.settle();
  return verify(rig, cls, cases, results);
}

export function verify(rig: Rig, cls: string, cases: readonly Case[], results: readonly WireResult[]): ClassReport {
  const report: ClassReport = { cls, tried: cases.length, rejected: 0, accepted: 0, forwardedWhenRejected: 0, abortedMidBody: 0, statuses: {}, failures: [] };
  const prim = byMarker(rig.primary);
  const mirr = byMarker(rig.mirror);
  const primaryWire = rig.primary.wire().join('\n');
  const mirrorWire = rig.mirror.wire().join('\n');
  let okCount = 0;

  cases.forEach((c, ci) => {
    const r = results[ci]!;
    const fail = (msg: string): void => {
      report.failures.push(`[${c.cls} #${c.id}] ${c.name}: ${msg} (got ${r.responses.map((x) => x.status).join(',') || 'no response'}${r.closed ? ', closed' : ''}${r.timedOut ? ', timed out' : ''})`);
    };
    for (const x of r.responses) report.statuses[x.status] = (report.statuses[x.status] ?? 0) + 1;
    if (r.responses.length === 0) report.statuses[r.closed ? 'closed' : 'none'] = (report.statuses[r.closed ? 'closed' : 'none'] ?? 0) + 1;
    if (r.garbage) fail(`tapwire wrote something that is not an HTTP response: ${show(r.garbage.slice(0, 120))}`);

    const checkOk = (o: Ok, resp: WireResponse): void => {
      if (resp.status !== 200 || resp.body.toString() !== (o.method === 'HEAD' ? '' : 'ok')) return fail(`request ${o.marker} expected the primary's 200, got ${resp.status} ${show(resp.body.toString('latin1').slice(0, 100))}`);
      okCount++;
      const ps = prim.get(o.marker) ?? [];
      const ms = mirr.get(o.marker) ?? [];
      if (ps.length !== 1 || !ps[0]!.complete) return fail(`the primary got ${ps.length} request(s) for ${o.marker} (complete: ${ps.map((s) => s.complete).join()})`);
      if (ms.length !== 1 || !ms[0]!.complete) return fail(`the mirror got ${ms.length} request(s) for ${o.marker}`);
      const p = ps[0]!;
      const m = ms[0]!;
      if (p.method !== o.method) fail(`method ${p.method}, expected ${o.method}`);
      if (p.url !== o.path) fail(`the primary got target ${show(p.url)}, expected ${show(o.path)}`);
      const body = o.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body, 'latin1');
      if (!p.body.equals(body)) fail(`the primary got body ${show(p.body.toString('latin1').slice(0, 80))}, expected ${show(body.toString('latin1').slice(0, 80))}`);
      if (normalised(p) !== normalised(m)) fail(`primary and mirror differ:\n--- primary\n${show(normalised(p))}\n--- mirror\n${show(normalised(m))}`);
      const hostsOk = o.ownHosts ? hostOf(p) === new URL(rig.primary.url).host && hostOf(m) === new URL(rig.mirror.url).host : hostOf(p) === hostOf(m);
      if (!hostsOk) fail(`Host ${hostOf(p)} at the primary, ${hostOf(m)} at the mirror`);
      const extra = o.check?.(p, m);
      if (extra) fail(extra);
    };

    const checkRej = (o: Rej, resp: WireResponse | undefined, last: boolean): void => {
      const statusOk = resp !== undefined && o.status.includes(resp.status);
      if (!statusOk) fail(`request ${o.marker} expected ${o.status.join('/')}`);
      if (resp) {
        if (!(resp.headers.get('connection') ?? []).some((v) => /close/i.test(v))) fail(`refusal ${resp.status} without Connection: close`);
        if (!tapwireError(resp)?.startsWith('TW_ERR_')) fail(`refusal ${resp.status} without a tapwire error body: ${show(resp.body.toString('latin1').slice(0, 80))}`);
      }
      if (last && !r.closed) fail('the connection stayed open after a refusal');
      // Nothing of a refused request may reach an upstream: not parsed, not a single byte on the wire.
      const inMirror = mirrorWire.includes(o.marker) || (mirr.get(o.marker)?.length ?? 0) > 0;
      const ps = prim.get(o.marker) ?? [];
      const inPrimary = primaryWire.includes(o.marker) || ps.length > 0;
      let leaked = inMirror;
      if (inPrimary) {
        if (o.partial && ps.every((s) => !s.complete)) report.abortedMidBody++;
        else leaked = true;
      }
      if (leaked) {
        report.forwardedWhenRejected++;
        fail(`refused request ${o.marker} reached ${[inPrimary ? 'the primary' : '', inMirror ? 'the mirror' : ''].filter(Boolean).join(' and ')}${ps.some((s) => s.complete) ? ' (whole)' : ''}`);
      }
    };

    let first: 'ok' | 'rej' | undefined;
    for (let i = 0; i < c.expect.length; i++) {
      const e: Outcome = c.expect[i]!;
      const resp = r.responses[i];
      let branch: Ok | Rej;
      if (e.kind === 'either') branch = resp && resp.status < 400 ? e.ok : e.rej;
      else branch = e;
      first ??= branch.kind;
      if (branch.kind === 'ok') {
        if (!resp) {
          fail(`no response for request ${branch.marker}`);
          break;
        }
        checkOk(branch, resp);
      } else {
        checkRej(branch, resp, true);
        // Whatever was to come after a refusal must not have been forwarded either.
        for (const later of c.expect.slice(i + 1)) {
          const marker = later.kind === 'either' ? later.ok.marker : later.marker;
          if (primaryWire.includes(marker) || mirrorWire.includes(marker)) {
            report.forwardedWhenRejected++;
            fail(`request ${marker}, sent after a refused one, reached an upstream`);
          }
        }
        if (r.responses.length > i + 1) fail(`${r.responses.length - i - 1} response(s) after the refusal`);
        break;
      }
    }
    const last = c.expect.at(-1)!;
    if (last.kind === 'ok' && r.responses.length > c.expect.length) fail(`${r.responses.length - c.expect.length} unexpected extra response(s)`);
    if (c.closes && !r.closed) fail('the connection stayed open');
    if (first === 'rej') report.rejected++;
    else report.accepted++;
    for (const f of c.forbidden ?? []) {
      if (primaryWire.includes(f) || mirrorWire.includes(f)) {
        report.forwardedWhenRejected++;
        fail(`smuggled request ${f} reached an upstream`);
      }
    }
  });

  // Whole-run checks: every request an upstream parsed is one a case expected to be forwarded, and well-formed.
  for (const [rec, role] of [
    [rig.primary, 'primary'],
    [rig.mirror, 'mirror'],
  ] as const) {
    for (const s of rec.requests) {
      if (/smuggled/i.test(s.url)) report.failures.push(`[${cls}] a smuggled request reached the ${role}: ${show(s.url)}`);
      for (const p of forwardedProblems(s, role)) report.failures.push(`[${cls}] ${role} got ${s.method} ${show(s.url)}: ${p}`);
    }
    // The strict parser of the upstream refused something: tapwire forwarded invalid HTTP. (A request the
    // primary saw cut off mid-body shows as an unexpected EOF, which is the documented streaming abort.)
    for (const f of rec.refusals) {
      if (role === 'primary' && f.code === 'HPE_INVALID_EOF_STATE') continue;
      report.failures.push(`[${cls}] the ${role}'s strict parser refused what tapwire sent: ${f.code} ${f.reason}`);
    }
  }
  if (rig.primary.completeCount() !== okCount) report.failures.push(`[${cls}] the primary got ${rig.primary.completeCount()} whole requests, ${okCount} were forwarded to clients' knowledge`);
  if (rig.mirror.completeCount() !== okCount) report.failures.push(`[${cls}] the mirror got ${rig.mirror.completeCount()} whole requests, expected ${okCount}`);
  for (const p of rig.tw.app.stats.reconcile({ expectIdle: true })) report.failures.push(`[${cls}] reconcile: ${p}`);
  return report;
}

/** The per-class table printed by the suite (and pasted into docs/RELIABILITY.md by whoever owns it). */
export function table(reports: readonly ClassReport[]): string {
  const rows = [
    ['class', 'tried', 'rejected', 'accepted', 'forwarded-when-rejected', 'aborted mid-body', 'statuses'],
    ...reports.map((r) => [
      r.cls,
      String(r.tried),
      String(r.rejected),
      String(r.accepted),
      String(r.forwardedWhenRejected),
      String(r.abortedMidBody),
      Object.entries(r.statuses)
        .map(([s, n]) => `${s}:${n}`)
        .join(' '),
    ]),
  ];
  const total = reports.reduce((a, r) => [a[0]! + r.tried, a[1]! + r.rejected, a[2]! + r.accepted, a[3]! + r.forwardedWhenRejected, a[4]! + r.abortedMidBody], [0, 0, 0, 0, 0]);
  rows.push(['total', ...total.map(String), '']);
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}
