// Diffy's noise model: a field is a regression only when the candidate's difference rate (raw, against the
// primary) clearly exceeds the rate at which two instances of the primary's version differ (noise,
// primary vs secondary), plus fields marked as noise by hand. Pure.
import type { NoiseMark, Thresholds } from './types.ts';

export interface FieldCounts {
  /** compared candidate pairs in which the field differed */
  readonly raw: number;
  /** candidate pairs compared */
  readonly compared: number;
  /** compared secondary pairs in which the field differed (0 without a secondary) */
  readonly noise: number;
  /** secondary pairs compared (0 without a secondary) */
  readonly noiseCompared: number;
}

export interface FieldRates {
  readonly rawRate: number;
  readonly noiseRate: number;
}

/** raw / compared and noise / noiseCompared, 0 where nothing was compared. */
export function fieldRates(c: FieldCounts): FieldRates {
  return {
    rawRate: c.compared > 0 ? c.raw / c.compared : 0,
    noiseRate: c.noiseCompared > 0 ? c.noise / c.noiseCompared : 0,
  };
}

/**
 * Diffy (JoinedDifferences.scala): raw rate above the noise rate, relative difference
 * |raw − noise| / (raw + noise) above `relative` and absolute difference |raw − noise| above `absolute`.
 * Diffy divides both counts by one total; with a secondary that saw a different number of pairs the
 * rates are the same thing measured fairly.
 */
export function isRegression(c: FieldCounts, t: Pick<Thresholds, 'relative' | 'absolute'>): boolean {
  const { rawRate, noiseRate } = fieldRates(c);
  if (!(rawRate > noiseRate)) return false;
  const diff = rawRate - noiseRate;
  return diff / (rawRate + noiseRate) > t.relative && diff > t.absolute;
}

/**
 * True when `prefix` is `field` or an ancestor of it at a path boundary: `$.meta` covers `$.meta`,
 * `$.meta.generatedAt` and `$.meta[*].x`, not `$.metadata`; `header` covers `header.date`; `text` covers `text:12`.
 */
export function fieldCovers(prefix: string, field: string): boolean {
  if (!field.startsWith(prefix)) return false;
  if (field.length === prefix.length) return true;
  const next = field[prefix.length];
  return next === '.' || next === '[' || next === ':' || prefix.endsWith('.');
}

/** The first mark that explains `field` for this route and endpoint (endpoint `*` = every endpoint of the route). */
export function findNoiseMark(field: string, endpoint: string, route: string, marks: readonly NoiseMark[]): NoiseMark | undefined {
  for (const m of marks) {
    if (m.route !== route) continue;
    if (m.endpoint !== '*' && m.endpoint !== endpoint) continue;
    if (fieldCovers(m.field, field)) return m;
  }
  return undefined;
}

/** True when a hand-made mark explains `field` (see findNoiseMark). */
export function isMarkedNoise(field: string, endpoint: string, route: string, marks: readonly NoiseMark[]): boolean {
  return findNoiseMark(field, endpoint, route, marks) !== undefined;
}
