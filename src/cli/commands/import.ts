// `tapwire import --from har|gor`: a browser's HAR export or a GoReplay .gor file → capture lines (NDJSON of HAR
// entries) that `tapwire replay` and `tapwire export` read, redacted exactly as tapwire's capture redacts (with
// the config's capture.redact rules and key when -c is given). Exit 0 written, 1 unreadable input, 2 usage.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { Option, type Command } from 'commander';
import { emptyImportStats, importGor, importHar } from '../../capture/import.ts';
import { Redactor } from '../../capture/redact.ts';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { TapwireError } from '../../core/errors.ts';
import { parseSize } from '../../core/units.ts';

export interface ImportIO {
  readonly env: Record<string, string | undefined>;
  readonly stderr: (text: string) => void;
}

export interface ImportFlags {
  readonly from: 'har' | 'gor';
  readonly input: string;
  readonly output: string;
  readonly config?: string;
  readonly maxBody: string;
}

export async function importCommand(f: ImportFlags, io: ImportIO): Promise<number> {
  const maxBodyBytes = parseSize(f.maxBody);
  if (maxBodyBytes === undefined || maxBodyBytes < 0) {
    io.stderr(`tapwire import: --max-body ${JSON.stringify(f.maxBody)}: expected a size such as 1MiB\n`);
    return 2;
  }
  let redact = { headers: [] as readonly string[], query: [] as readonly string[], cookies: [] as readonly string[], json: [] as readonly string[] };
  let key: string | Buffer = randomBytes(32);
  if (f.config !== undefined) {
    const loaded = await loadConfigFile(f.config, io.env);
    if (!loaded.ok) {
      io.stderr(`${formatIssues(loaded.issues, f.config)}\n${f.config}: ${loaded.issues.length} error(s)\n`);
      return 2;
    }
    redact = loaded.config.capture.redact;
    key = loaded.config.capture.redact.key ?? key;
  }
  const o = { redactor: new Redactor(key, redact), maxBodyBytes };
  const stats = emptyImportStats();
  const tmp = `${f.output}.tmp-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  let failed: Error | undefined;
  out.on('error', (err) => (failed ??= err));
  try {
    const entries = f.from === 'har' ? importHar(f.input, o, stats) : importGor(f.input, o, stats);
    for await (const e of entries) {
      if (failed) throw failed;
      if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await rename(tmp, f.output);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    if (err instanceof TapwireError) {
      io.stderr(`tapwire import: ${err.message}\n`);
      return 1;
    }
    io.stderr(`tapwire import: cannot write ${f.output}: ${(err as Error).message}\n`);
    return 1;
  }
  const extra = [
    stats.skipped > 0 ? `${stats.skipped} malformed skipped` : '',
    stats.unpaired > 0 ? `${stats.unpaired} request(s) without a recorded response (status 0)` : '',
    stats.dropped > 0 ? `${stats.dropped} response(s) without a request or replayed (type 3) dropped` : '',
  ].filter((s) => s !== '');
  io.stderr(`import: ${stats.entries} entries from ${stats.read} ${f.from === 'har' ? 'HAR entries' : 'payloads'} → ${f.output}${extra.length ? `; ${extra.join('; ')}` : ''}\n`);
  return 0;
}

export function registerImport(program: Command, io?: ImportIO): void {
  program
    .command('import')
    .description('turn a browser HAR export or a GoReplay .gor file into a capture (NDJSON) for replay and export')
    .addOption(new Option('--from <format>', 'what the input is').choices(['har', 'gor']).makeOptionMandatory())
    .requiredOption('-i, --input <file>', 'the .har or .gor file (.gor may be gzipped)')
    .requiredOption('-o, --output <file>', 'the .ndjson capture to write (mode 0600)')
    .option('-c, --config <file>', "configuration whose capture.redact rules and key redact the import (default: the built-in secrets, a random key)")
    .option('--max-body <size>', 'body bytes kept per message', '1MiB')
    .action(async (opts: ImportFlags) => {
      const code = await importCommand(opts, io ?? { env: process.env, stderr: (s) => void process.stderr.write(s) });
      if (code !== 0) process.exitCode = code;
    });
}
