// `tapwire demo`: sample upstreams, tapwire in front with a mirror, phased traffic, and an honest summary.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../core/units.ts';
import { runDemo } from '../../demo/run.ts';

interface DemoFlags {
  readonly duration: number;
  readonly rate: number;
  readonly concurrency: number;
  readonly json?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start two sample upstreams and tapwire with a mirror, send traffic through a healthy, slow, failing and recovered mirror, and report what happened')
    .addOption(new Option('-d, --duration <time>', 'how long to send traffic (20s, 1m); 0 runs until Ctrl-C').argParser(durationArg).default(20_000, '20s'))
    .option('-r, --rate <n>', 'requests per second at most', numberArg(1, 5000), 200)
    .option('--concurrency <n>', 'client connections (requests in flight at most)', numberArg(1, 256, true), 16)
    .option('--json', 'print the summary as JSON on stdout; the human report goes to stderr')
    .addHelpText('after', '\nExit status: 0 when every check holds, 1 when one fails. Ctrl-C stops the traffic and prints the summary.')
    .action(async (flags: DemoFlags) => {
      await demo(flags);
    });
}

async function demo(flags: DemoFlags): Promise<void> {
  const human = flags.json ? process.stderr : process.stdout;
  const say = (text: string) => void human.write(text.endsWith('\n') ? text : `${text}\n`);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      say(`${signal} again: exiting now`);
      process.exit(130);
    }
    say(`\n${signal}: stopping the traffic, then the summary (${signal} again to quit at once)`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runDemo({ durationMs: flags.duration, rate: flags.rate, concurrency: flags.concurrency, say, signal: stop.signal });
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    process.exitCode = summary.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `20s`, `1m`, `500ms`, a bare number of seconds, or 0 for "until Ctrl-C". */
function durationArg(text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) * 1000 : parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 20s, 1m or 0');
  // Five phases need a few hundred requests each for the percentiles to mean anything.
  if (ms !== 0 && ms < 2000) throw new InvalidArgumentError('must be 0 (until Ctrl-C) or at least 2s');
  return ms;
}

function numberArg(min: number, max: number, integer = false): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}
