// The compare worker thread: receives batches of trials, compares them with a CompareProcessor, and posts the
// aggregated deltas back on every flush. The main thread keeps the queue bound and writes to the store.
import { parentPort, workerData } from 'node:worker_threads';
import { CompareProcessor, type ProcessorSettings } from './processor.ts';
import type { ToWorker, FromWorker } from './engine.ts';

const port = parentPort;
if (port) {
  const init = workerData as { settings: ProcessorSettings; flushIntervalMs: number };
  const processor = new CompareProcessor(init.settings, { now: Date.now, random: Math.random });
  const post = (m: FromWorker): void => port.postMessage(m);
  const flush = (id?: number): void => {
    const batch = processor.flush();
    post({ type: 'batch', ...(batch ? { batch } : {}), ...(id !== undefined ? { id } : {}), stats: { ...processor.stats() } });
  };
  const timer = setInterval(() => flush(), init.flushIntervalMs);
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'trials': {
        let failed = 0;
        for (const t of m.trials) {
          try {
            processor.process(t);
          } catch (err) {
            // A bug in the differ must cost one trial, never the worker.
            failed++;
            if (failed === 1) post({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
          }
        }
        post({ type: 'done', n: m.trials.length, failed });
        break;
      }
      case 'settings':
        processor.apply(m.settings);
        break;
      case 'flush':
        flush(m.id);
        break;
      case 'close':
        clearInterval(timer);
        flush(m.id);
        port.close();
        break;
    }
  });
}
