// The CLI: one command registry. Exit codes: 0 ok, 1 failure, 2 usage (README, "Exit codes").
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerRun } from './commands/run.ts';
import { registerValidate } from './commands/validate.ts';
import { registerDemo } from './commands/demo.ts';
import { registerReport } from './commands/report.ts';
import { registerFindings } from './commands/findings.ts';
import { registerRecord } from './commands/record.ts';
import { registerReplay } from './commands/replay.ts';
import { registerExport } from './commands/export.ts';
import { registerImport } from './commands/import.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('tapwire')
    .description('Traffic mirroring for HTTP services: clients are answered by the primary, copies go to mirrors.')
    .version(pkg.version, '-v, --version')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure (bad config, runtime failure), 2 usage error.');
  registerRun(program);
  registerValidate(program);
  registerDemo(program);
  registerReport(program);
  registerFindings(program);
  registerRecord(program);
  registerReplay(program);
  registerExport(program);
  registerImport(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; everything commander rejects is a usage error
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`tapwire: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
