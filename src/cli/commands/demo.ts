// `tapwire demo`: sample upstreams, tapwire in front with a mirror, phased traffic, and an honest summary.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../core/units.ts';
import { runDemo } from '../../demo/run.ts';

interface DemoFlags {
  readonly duration: number;
  readonly rate: number;
  readonly concurrency: number;
  readonly json?: boolean;
  readonly serve?: boolean;
  readonly adminPort: number;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start v1, a secondary v1b, a candidate v2 with planted regressions and a staging mirror whose health cycles, tapwire in front with compare, analysis and capture; send traffic with an attack burst, replay the capture against v2, and report what happened (the dashboard meanwhile at the admin address)')
    .addOption(new Option('-d, --duration <time>', 'how long to send traffic (20s, 1m); 0 runs until Ctrl-C').argParser(durationArg).default(20_000, '20s'))
    .option('-r, --rate <n>', 'requests per second at most', numberArg(1, 5000), 200)
    .option('--concurrency <n>', 'client connections (requests in flight at most)', numberArg(1, 256, true), 16)
    .option('--json', 'print the summary as JSON on stdout; the human report goes to stderr')
    .option('--serve', 'after the traffic and the summary, keep tapwire and the dashboard up until Ctrl-C')
    .option('--admin-port <n>', 'the admin port (dashboard, API, /metrics) on 127.0.0.1; 0 picks a free one', numberArg(0, 65535, true), 0)
    .addHelpText(
      'after',
      '\nThe dashboard is at the admin address printed at the start. With TAPWIRE_ADMIN_TOKEN set, the admin API and the\n' +
        'dashboard require that token (the dashboard asks for it once).\n' +
        'Exit status: 0 when every check holds, 1 when one fails. Ctrl-C stops the traffic and prints the summary.',
    )
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
    // The token comes from the environment only: a command-line flag would show in `ps`.
    const token = process.env.TAPWIRE_ADMIN_TOKEN;
    const run = runDemo({
      durationMs: flags.duration,
      rate: flags.rate,
      concurrency: flags.concurrency,
      say,
      signal: stop.signal,
      adminPort: flags.adminPort,
      ...(token !== undefined && token !== '' ? { adminToken: token } : {}),
      ...(flags.serve === true ? { serve: true } : {}),
      // printed when the traffic stops, so that with --serve a script gets it without waiting for Ctrl-C
      ...(flags.json === true ? { onSummary: (s) => void process.stdout.write(`${JSON.stringify(s, null, 2)}\n`) } : {}),
    });
    const summary = await run;
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
