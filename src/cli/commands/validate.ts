// `tapwire validate -c FILE`: load and resolve the config without listening; print every issue, exit 1 on any.
import type { Command } from 'commander';
import { formatIssues, loadConfigFile } from '../../config/load.ts';

export interface ValidateIO {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Validates one file and returns the exit code: 0 valid, 1 invalid or unreadable. */
export async function validateFile(file: string, io: ValidateIO): Promise<number> {
  const loaded = await loadConfigFile(file, io.env);
  if (loaded.ok) {
    const { routes, upstreams } = loaded.config;
    io.stdout(`ok: ${file} (${plural(routes.length, 'route')}, ${plural(upstreams.size, 'upstream')})\n`);
    return 0;
  }
  io.stderr(`${formatIssues(loaded.issues, file)}\n${file}: ${plural(loaded.issues.length, 'error')}\n`);
  return 1;
}

/** `io` is for tests; the CLI passes nothing and gets process.env and the process streams. */
export function registerValidate(program: Command, io?: ValidateIO): void {
  program
    .command('validate')
    .description('check a configuration file and report every error with its key path and line:col')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .action(async (opts: { config: string }) => {
      const code = await validateFile(opts.config, io ?? {
        env: process.env,
        stdout: (s) => void process.stdout.write(s),
        stderr: (s) => void process.stderr.write(s),
      });
      if (code !== 0) process.exitCode = code;
    });
}
