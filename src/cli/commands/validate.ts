// `tapwire validate -c FILE`: load and resolve the config without listening; print every issue, exit 1 on any.
import type { Command } from 'commander';
import { formatIssues, loadConfigFile } from '../../config/load.ts';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a configuration file and report every error with its key path and line:col')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .action(async (opts: { config: string }) => {
      const loaded = await loadConfigFile(opts.config, process.env);
      if (loaded.ok) {
        const { routes, upstreams } = loaded.config;
        process.stdout.write(`ok: ${opts.config} (${plural(routes.length, 'route')}, ${plural(upstreams.size, 'upstream')})\n`);
        return;
      }
      process.stderr.write(`${formatIssues(loaded.issues, opts.config)}\n${opts.config}: ${plural(loaded.issues.length, 'error')}\n`);
      process.exitCode = 1;
    });
}
