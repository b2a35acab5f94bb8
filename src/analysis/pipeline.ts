// One analysis pipeline: detectors, the performance view, signatures and the findings tracker behind the
// analysis engine's bounded queue. Built from plain settings (the config's `analysis` section); a reload
// rebuilds only what changed, so windows, baselines and open findings survive unrelated edits.
import { AnalysisEngine, type AnalysisStats } from './engine.ts';
import { createDetectors, DEFAULT_DETECTOR_OPTIONS, type Detectors } from './detectors.ts';
import { createFindingTracker, type FindingTracker, type Transition } from './findings.ts';
import { createPerformanceView, type PerformanceView } from './perf.ts';
import { compileSignatures, signalsFor, type Signatures, type UserRule } from './signatures.ts';
import type { Signal } from './types.ts';

export interface AnalysisSettings {
  readonly queue: number;
  readonly resolveAfterMs: number;
  /** overrides of DEFAULT_DETECTOR_OPTIONS (validated by the config) */
  readonly detectors: Readonly<Record<string, number>>;
  readonly signatures: { readonly enabled: boolean; readonly disable: readonly string[]; readonly rules: readonly UserRule[] };
}

export interface AnalysisPipelineOptions {
  readonly now?: () => number;
  readonly onTransitions: (ts: readonly Transition[]) => void;
  readonly onError: (message: string, err: unknown) => void;
  readonly tickMs?: number;
}

/** The detector option names a config may set (docs/analysis.md). */
export const DETECTOR_OPTION_NAMES: readonly string[] = Object.keys(DEFAULT_DETECTOR_OPTIONS);

export class AnalysisPipeline {
  #detectors: Detectors;
  #detectorsKey: string;
  #signatures: Signatures | undefined;
  #signaturesKey: string;
  readonly perf: PerformanceView;
  readonly tracker: FindingTracker;
  readonly engine: AnalysisEngine<Transition>;

  constructor(settings: AnalysisSettings, opts: AnalysisPipelineOptions) {
    const now = opts.now ?? Date.now;
    this.#detectorsKey = JSON.stringify(settings.detectors);
    this.#detectors = createDetectors(settings.detectors);
    this.#signaturesKey = JSON.stringify(settings.signatures);
    this.#signatures = settings.signatures.enabled ? compileSignatures({ rules: [...settings.signatures.rules], disable: [...settings.signatures.disable] }) : undefined;
    this.perf = createPerformanceView();
    this.tracker = createFindingTracker({ now, resolveAfterMs: settings.resolveAfterMs });
    const observe = (e: Parameters<Detectors['observe']>[0]): readonly Signal[] => {
      this.#detectors.observe(e);
      this.perf.observe(e);
      const sig = this.#signatures;
      if (!sig) return [];
      const hits = sig.match(e);
      return hits.length ? signalsFor(e, hits) : [];
    };
    this.engine = new AnalysisEngine<Transition>({
      observe,
      tick: (t) => this.#detectors.tick(t),
      track: (s) => this.tracker.add(s),
      resolve: (t) => this.tracker.tick(t),
      onTransitions: opts.onTransitions,
      onError: opts.onError,
      queue: settings.queue,
      now,
      ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
    });
  }

  /** A reload: detectors and signatures are rebuilt only when their settings changed. */
  apply(settings: AnalysisSettings): void {
    const dk = JSON.stringify(settings.detectors);
    if (dk !== this.#detectorsKey) {
      this.#detectorsKey = dk;
      this.#detectors = createDetectors(settings.detectors);
    }
    const sk = JSON.stringify(settings.signatures);
    if (sk !== this.#signaturesKey) {
      this.#signaturesKey = sk;
      this.#signatures = settings.signatures.enabled ? compileSignatures({ rules: [...settings.signatures.rules], disable: [...settings.signatures.disable] }) : undefined;
    }
  }

  stats(): AnalysisStats & { readonly detectors: Record<string, number>; readonly findings: ReturnType<FindingTracker['stats']> } {
    return { ...this.engine.stats(), detectors: this.#detectors.stats(), findings: this.tracker.stats() };
  }

  close(): void {
    this.engine.close();
  }
}
