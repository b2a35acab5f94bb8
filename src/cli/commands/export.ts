// `tapwire export --har`: a capture (file, directory of rotated files, or prefix) → one HAR 1.2 document that browser
// devtools, Charles or a HAR viewer open. Exit 0 written, 1 unreadable input or unwritable output, 2 usage.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportHar } from '../../capture/export.ts';
import { TapwireError } from '../../core/errors.ts';

export interface ExportIO {
  readonly stderr: (text: string) => void;
}

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function exportCommand(opts: { input: string; output: string }, io: ExportIO): Promise<number> {
  try {
    const s = await exportHar(opts.input, opts.output, { name: 'tapwire', version: pkg.version });
    io.stderr(
      `export: ${s.written} entries from ${s.read.files} file(s) → ${opts.output}` +
        (s.invalid > 0 ? `; ${s.invalid} not valid HAR 1.2, skipped` : '') +
        (s.read.skipped > 0 ? `; ${s.read.skipped} malformed line(s) skipped` : '') +
        (s.read.torn ? '; a torn last line skipped' : '') +
        '\n',
    );
    return 0;
  } catch (err) {
    if (err instanceof TapwireError) {
      io.stderr(`tapwire export: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export function registerExport(program: Command, io?: ExportIO): void {
  program
    .command('export')
    .description('write a capture (NDJSON of HAR entries) as one HAR 1.2 document')
    .requiredOption('--har', 'HAR 1.2 output (the only format)')
    .requiredOption('-i, --input <path>', 'capture file (.ndjson, .ndjson.gz), directory of rotated files, or file prefix')
    .requiredOption('-o, --output <file>', 'the .har file to write (mode 0600)')
    .action(async (opts: { input: string; output: string }) => {
      const code = await exportCommand(opts, io ?? { stderr: (s) => void process.stderr.write(s) });
      if (code !== 0) process.exitCode = code;
    });
}
