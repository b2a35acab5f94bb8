// Capture file names: `<prefix>-YYYYMMDDTHHMMSSZ-<seq>.ndjson[.gz]`, sortable by time (the seq is zero-padded and
// breaks ties inside one second), so a directory listing sorted by this key is the write order.
import { basename } from 'node:path';

/** `capture` when capture.file is a directory; else the last segment of the configured prefix. */
export const DEFAULT_PREFIX = 'capture';

const NAME = /-(\d{8}T\d{6}Z)-(\d{1,12})\.ndjson(\.gz)?$/;

/** The UTC timestamp part of a file name: 20261122T101500Z. */
export function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function captureFileName(prefix: string, ms: number, seq: number, gzip: boolean): string {
  return `${prefix}-${stamp(ms)}-${String(seq).padStart(6, '0')}.ndjson${gzip ? '.gz' : ''}`;
}

/** The sort key of a capture file name (time, then seq), or undefined when the name is not one of ours. */
export function captureSortKey(name: string): string | undefined {
  const m = NAME.exec(basename(name));
  return m ? `${m[1]}-${m[2]!.padStart(12, '0')}` : undefined;
}

/** Whether a file name looks like a capture file (ours, or any .ndjson/.ndjson.gz a user put there). */
export function isCaptureFileName(name: string): boolean {
  return /\.ndjson(\.gz)?$/.test(name);
}
