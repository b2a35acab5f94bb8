// The capture worker thread: receives batches of encoded trials (./frame.ts) from the CaptureWriter (./writer.ts),
// turns them into redacted HAR lines and writes them to files (./sink.ts), and reports what it wrote (counts per route,
// bytes, files, the current file) after every write, flush and close. Each batch's buffer goes back to be reused.
import { parentPort, workerData } from 'node:worker_threads';
import type { ResolvedCapture } from '../config/types.ts';
import { decodeBatch } from './frame.ts';
import { CaptureSink, type SinkReport } from './sink.ts';

export interface WorkerInit {
  readonly settings: ResolvedCapture;
  readonly key: string | Buffer;
  /** the writer was given a clock (tests): the worker uses the time each message carries */
  readonly mainClock: boolean;
  readonly now: number;
}

export type ToWorker =
  | { readonly type: 'batch'; readonly buffer: ArrayBuffer; readonly bytes: number; readonly now: number }
  | { readonly type: 'flush'; readonly id: number; readonly now: number }
  | { readonly type: 'settings'; readonly settings: ResolvedCapture }
  | { readonly type: 'close'; readonly id: number; readonly now: number };

export interface WorkerError {
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

export type FromWorker =
  | { readonly type: 'buffer'; readonly buffer: ArrayBuffer; readonly bytes: number }
  | ({ readonly type: 'report' } & SinkReport)
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'warn'; readonly message: string; readonly err?: WorkerError };

function errorOf(err: unknown): WorkerError | undefined {
  if (err === undefined) return undefined;
  if (!(err instanceof Error)) return { message: typeof err === 'string' ? err : JSON.stringify(err) ?? 'unknown error' };
  const code = (err as Error & { code?: unknown }).code;
  return { message: err.message, ...(err.stack ? { stack: err.stack } : {}), ...(typeof code === 'string' ? { code } : {}) };
}

const port = parentPort;
if (port) {
  const init = workerData as WorkerInit;
  let clock = init.now;
  const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  const sink = new CaptureSink({
    settings: init.settings,
    key: init.key,
    now: init.mainClock ? () => clock : Date.now,
    warn: (message, err) => post({ type: 'warn', message, ...(err !== undefined ? { err: errorOf(err) } : {}) }),
  });
  let file: string | undefined;
  const report = (): void => {
    const r = sink.report();
    if (r.counts.length === 0 && r.bytes === 0 && r.files === 0 && r.file === file) return;
    file = r.file;
    post({ type: 'report', ...r });
  };
  const after = (p: Promise<void> | undefined): void => {
    void p?.then(report, report);
  };
  let interval = init.settings.flushIntervalMs;
  let timer = setInterval(() => after(sink.tick()), interval);
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'batch':
        clock = m.now;
        // Lines are built at once: the trials' bodies are views of the buffer, which goes back right after.
        for (const d of decodeBatch(m.buffer, m.bytes)) sink.add(d);
        post({ type: 'buffer', buffer: m.buffer, bytes: m.bytes }, [m.buffer]);
        after(sink.maybeWrite());
        break;
      case 'flush':
        clock = m.now;
        void sink
          .writeBatch()
          .catch(() => undefined)
          .then(() => {
            report();
            post({ type: 'done', id: m.id });
          });
        break;
      case 'settings':
        sink.apply(m.settings);
        if (m.settings.flushIntervalMs !== interval) {
          interval = m.settings.flushIntervalMs;
          clearInterval(timer);
          timer = setInterval(() => after(sink.tick()), interval);
        }
        break;
      case 'close':
        clock = m.now;
        clearInterval(timer);
        void sink
          .close()
          .catch(() => undefined)
          .then(() => {
            report();
            post({ type: 'done', id: m.id });
            port.close();
          });
        break;
    }
  });
}
