// The demo's last step: what `tapwire replay` does with a capture. The /api/ trials tapwire captured during the
// demo are replayed against v2 with --compare (GETs only: v2 is not sandboxed), and the report is written beside
// the capture, where the dashboard's Captures page lists it. The same code path as the CLI, not a copy of it.
import { PassThrough } from 'node:stream';
import { replay } from '../cli/commands/replay.ts';

export interface DemoReplay {
  /** one line for the demo's output */
  readonly line: string;
  readonly exitCode: number;
}

export async function replayCapture(captureDir: string, targetUrl: string, signal: AbortSignal): Promise<DemoReplay> {
  let err = '';
  const stderr = new PassThrough();
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  let out = '';
  const exitCode = await replay(
    {
      input: captureDir,
      target: targetUrl,
      concurrency: '8',
      duration: '10s',
      loop: false,
      filter: ['method:GET'],
      header: [],
      timeout: '5s',
      maxBody: '1MiB',
      compare: true,
      ignore: [],
      minSamples: '20',
      allowInsufficient: true,
      format: 'json',
      progress: false,
      report: captureDir,
    },
    { env: {}, stdout: (t) => void (out += t), stderr, tty: false, color: false, signal },
  );
  let verdict = 'no verdict';
  try {
    verdict = (JSON.parse(out) as { verdict?: string }).verdict ?? verdict;
  } catch {
    // a failed replay prints no JSON; its stderr says why
  }
  const sent = /sent (\d+)/.exec(err)?.[1];
  const line =
    sent !== undefined
      ? `replay: ${sent} captured GET(s) sent again to v2 with --compare: verdict ${verdict} (exit ${exitCode}); the report is on the dashboard's Captures page`
      : `replay: did not run: ${err.trim().split('\n')[0] ?? `exit ${exitCode}`}`;
  return { line, exitCode };
}
