// The demo's script: which state the mirror is in during each phase, and how long each phase lasts.
import type { UpstreamMode } from './upstreams.ts';

export type PhaseName = 'warm-up' | 'healthy' | 'mirror-slow' | 'mirror-resetting' | 'mirror-down' | 'recovered';

export interface Phase {
  readonly name: PhaseName;
  /** the mode of the mirror whose health the demo cycles (staging) during the phase; the primary stays healthy throughout */
  readonly mirror: UpstreamMode;
  /** what the phase shows, for the line printed when it starts */
  readonly about: string;
}

export const PHASES: readonly Phase[] = [
  { name: 'healthy', mirror: 'healthy', about: 'staging answers normally' },
  { name: 'mirror-slow', mirror: 'slow', about: 'staging answers only after {slow}, beyond the mirror timeout of {timeout}' },
  { name: 'mirror-resetting', mirror: 'resetting', about: 'staging destroys every connection as soon as a request arrives' },
  { name: 'mirror-down', mirror: 'down', about: 'staging stops listening: connections are refused' },
  { name: 'recovered', mirror: 'healthy', about: 'staging is back and answers normally' },
];

/**
 * Before the phases: two seconds of healthy traffic while tapwire's code paths and connection pools warm up.
 * Its numbers are shown on a row of their own so that cold-start latency is not read as the healthy phase's.
 */
export const WARM_UP: Phase = { name: 'warm-up', mirror: 'healthy', about: 'traffic while tapwire warms up (JIT, connection pools), shown on its own row' };
export const WARM_UP_MS = 2000;

/** Phase length when the demo runs until Ctrl-C (`--duration 0`). */
export const CYCLE_PHASE_MS = 4000;

export interface Plan {
  /** ms of traffic per phase */
  readonly phaseMs: number;
  /** how many phases to run; Infinity runs until interrupted */
  readonly count: number;
}

/** A bounded run splits the duration evenly over the five phases; 0 cycles until Ctrl-C. */
export function plan(durationMs: number): Plan {
  if (durationMs <= 0) return { phaseMs: CYCLE_PHASE_MS, count: Infinity };
  return { phaseMs: durationMs / PHASES.length, count: PHASES.length };
}

/**
 * The i-th phase (0-based). When cycling, the run goes on with the sick phases and recovery again,
 * skipping the initial "healthy", which "recovered" already shows.
 */
export function phaseAt(i: number): Phase {
  if (i < PHASES.length) return PHASES[i]!;
  return PHASES[1 + ((i - PHASES.length) % (PHASES.length - 1))]!;
}
