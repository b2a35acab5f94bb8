// The finding tracker: folds detector signals into deduplicated findings with a lifecycle (open → ongoing →
// resolved), first/last seen, counts, the highest severity and the first few pieces of evidence. It reports
// transitions (opened, updated, resolved) for the store and the alert sinks; updates are rate-limited per
// finding so store writes stay bounded whatever the signal rate. Pure state plus an injected clock: no I/O.
import { createHash } from 'node:crypto';
import { SEVERITIES, type DetectorName, type Evidence, type Finding, type Severity, type Signal } from './types.ts';

export const DEFAULT_RESOLVE_AFTER_MS = 60_000;
export const DEFAULT_MAX_FINDINGS = 10_000;
export const DEFAULT_MAX_EVIDENCE = 5;
export const DEFAULT_UPDATE_INTERVAL_MS = 10_000;

export type TransitionKind = 'opened' | 'updated' | 'resolved';

/** A change worth writing down (store) or telling someone about (alerts: `opened` and `resolved` only). */
export interface Transition {
  readonly kind: TransitionKind;
  /** a snapshot: later signals never change it */
  readonly finding: Finding;
  /** on `updated`: the severity before this update, when the update raised it */
  readonly previousSeverity?: Severity;
}

export interface FindingTrackerOptions {
  /** the clock (epoch ms): rate-limits updates and is the default of `tick()` */
  readonly now: () => number;
  /** a finding with no signal for this long resolves (default 60 s) */
  readonly resolveAfterMs?: number;
  /** open + ongoing findings at once (default 10,000); signals for new keys past it are dropped and counted */
  readonly maxFindings?: number;
  /** evidence kept per finding, the first ones (default 5) */
  readonly maxEvidence?: number;
  /** at most one `updated` transition per finding per this many ms (default 10 s); a severity rise is reported at once */
  readonly updateIntervalMs?: number;
  /** the id of a new finding (default: `findingId`) */
  readonly idFor?: (detector: DetectorName, key: string, firstSeen: number) => string;
}

export interface FindingTrackerStats {
  /** open + ongoing now */
  readonly active: number;
  readonly signals: number;
  readonly opened: number;
  readonly updated: number;
  readonly resolved: number;
  /** signals for new keys refused because `maxFindings` were active */
  readonly dropped: number;
}

export interface FindingTracker {
  /** Folds one signal in; returns the transition it caused, if one is due now. */
  add(s: Signal): Transition | undefined;
  /** Resolves findings silent for `resolveAfterMs` and reports updates held back by the rate limit. */
  tick(now?: number): Transition[];
  /** Open and ongoing findings, newest `lastSeen` first. */
  active(): Finding[];
  /**
   * Takes over open/ongoing findings (e.g. from the store after a restart) without reporting them as opened
   * again: later signals for their keys keep them ongoing, silence resolves them. Returns how many it took.
   */
  restore(findings: readonly Finding[]): number;
  stats(): FindingTrackerStats;
}

/** sha256 of `detector|key|firstSeen`, hex, first 16 characters. */
export function findingId(detector: DetectorName, key: string, firstSeen: number): string {
  return createHash('sha256').update(`${detector}|${key}|${firstSeen}`).digest('hex').slice(0, 16);
}

const RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

/** The position of a severity in SEVERITIES (info 0 … critical 4); -1 for anything else. */
export function severityRank(s: string): number {
  return Object.hasOwn(RANK, s) ? RANK[s as Severity] : -1;
}

interface Entry {
  readonly id: string;
  readonly detector: DetectorName;
  readonly key: string;
  severity: Severity;
  title: string;
  state: 'open' | 'ongoing';
  readonly firstSeen: number;
  lastSeen: number;
  count: number;
  detail: Readonly<Record<string, string | number | boolean>>;
  readonly evidence: Evidence[];
  /** tracker clock of the last transition reported for it */
  lastReported: number;
  /** changed since the last transition reported */
  dirty: boolean;
}

function snapshot(e: Entry, resolvedAt?: number): Finding {
  return {
    id: e.id,
    detector: e.detector,
    key: e.key,
    severity: e.severity,
    title: e.title,
    state: resolvedAt !== undefined ? 'resolved' : e.state,
    firstSeen: e.firstSeen,
    lastSeen: e.lastSeen,
    count: e.count,
    detail: { ...e.detail },
    evidence: [...e.evidence],
    ...(resolvedAt !== undefined ? { resolvedAt } : {}),
  };
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < min) throw new RangeError(`finding tracker: ${name} must be a number >= ${min}`);
  return Math.floor(v);
}

export function createFindingTracker(opts: FindingTrackerOptions): FindingTracker {
  const clock = opts.now;
  const resolveAfterMs = positiveInt('resolveAfterMs', opts.resolveAfterMs, DEFAULT_RESOLVE_AFTER_MS, 0);
  const maxFindings = positiveInt('maxFindings', opts.maxFindings, DEFAULT_MAX_FINDINGS, 0);
  const maxEvidence = positiveInt('maxEvidence', opts.maxEvidence, DEFAULT_MAX_EVIDENCE, 0);
  const updateIntervalMs = positiveInt('updateIntervalMs', opts.updateIntervalMs, DEFAULT_UPDATE_INTERVAL_MS, 0);
  const idFor = opts.idFor ?? findingId;

  /** open + ongoing, by JSON [detector, key] */
  const entries = new Map<string, Entry>();
  const counters = { signals: 0, opened: 0, updated: 0, resolved: 0, dropped: 0 };
  const keyOf = (detector: string, key: string) => JSON.stringify([detector, key]);

  function add(s: Signal): Transition | undefined {
    counters.signals++;
    const now = clock();
    const at = Number.isFinite(s.at) ? s.at : now;
    const k = keyOf(s.detector, s.key);
    const e = entries.get(k);
    if (!e) {
      if (entries.size >= maxFindings) {
        counters.dropped++;
        return undefined;
      }
      const entry: Entry = {
        id: idFor(s.detector, s.key, at),
        detector: s.detector,
        key: s.key,
        severity: severityRank(s.severity) >= 0 ? s.severity : 'info',
        title: s.title,
        state: 'open',
        firstSeen: at,
        lastSeen: at,
        count: 1,
        detail: { ...s.detail },
        evidence: s.evidence && maxEvidence > 0 ? [s.evidence] : [],
        lastReported: now,
        dirty: false,
      };
      entries.set(k, entry);
      counters.opened++;
      return { kind: 'opened', finding: snapshot(entry) };
    }
    const before = e.severity;
    if (severityRank(s.severity) > severityRank(e.severity)) e.severity = s.severity;
    e.state = 'ongoing';
    e.count++;
    e.lastSeen = Math.max(e.lastSeen, at);
    e.title = s.title;
    e.detail = { ...s.detail };
    if (s.evidence && e.evidence.length < maxEvidence) e.evidence.push(s.evidence);
    const raised = e.severity !== before;
    if (!raised && now - e.lastReported < updateIntervalMs) {
      e.dirty = true;
      return undefined;
    }
    e.dirty = false;
    e.lastReported = now;
    counters.updated++;
    return raised ? { kind: 'updated', finding: snapshot(e), previousSeverity: before } : { kind: 'updated', finding: snapshot(e) };
  }

  function tick(now: number = clock()): Transition[] {
    const out: Transition[] = [];
    for (const [k, e] of entries) {
      if (now - e.lastSeen >= resolveAfterMs) {
        entries.delete(k);
        counters.resolved++;
        out.push({ kind: 'resolved', finding: snapshot(e, now) });
      } else if (e.dirty && now - e.lastReported >= updateIntervalMs) {
        e.dirty = false;
        e.lastReported = now;
        counters.updated++;
        out.push({ kind: 'updated', finding: snapshot(e) });
      }
    }
    return out;
  }

  function restore(findings: readonly Finding[]): number {
    let n = 0;
    const now = clock();
    for (const f of findings) {
      if (f.state === 'resolved' || entries.size >= maxFindings) continue;
      const k = keyOf(f.detector, f.key);
      if (entries.has(k)) continue;
      entries.set(k, {
        id: f.id,
        detector: f.detector,
        key: f.key,
        severity: f.severity,
        title: f.title,
        state: f.state,
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
        count: f.count,
        detail: { ...f.detail },
        evidence: f.evidence.slice(0, maxEvidence),
        lastReported: now,
        dirty: false,
      });
      n++;
    }
    return n;
  }

  return {
    add,
    tick,
    restore,
    active: () =>
      [...entries.values()]
        .sort((a, b) => b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((e) => snapshot(e)),
    stats: () => ({ active: entries.size, ...counters }),
  };
}
