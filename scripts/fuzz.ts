// npm run fuzz -- [--minutes N | --seconds N] [--seed S] [--concurrency N] [--no-write]
// npm run fuzz -- --replay [FILE.bin ...]      (default: every file in test/fixtures/fuzz/)
//
// Mutation fuzzing of the data plane (test/hardening/fuzz.ts has the mutators and the invariants). Deterministic by
// seed: exec i's input depends only on (seed, i). Prints execs, a status histogram and the violations; exits 1 on any
// violation and writes each offending input to test/fixtures/fuzz/<hash>.bin with a <hash>.json note of what it
// broke; that file is then replayed by test/hardening.fuzz.test.ts forever after.
import { fileURLToPath } from 'node:url';
import { fixtureFiles, fuzz, replay, summary } from '../test/hardening/fuzz.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/fuzz/', import.meta.url));

function usage(message: string): never {
  console.error(`fuzz: ${message}\nusage: npm run fuzz -- [--minutes N | --seconds N] [--seed S] [--concurrency N] [--no-write] | --replay [FILE...]`);
  process.exit(2);
}

function number(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < 0) usage(`${flag} needs a non-negative number`);
  return n;
}

const args = process.argv.slice(2);
let seconds = 60;
let seed = Date.now() % 1_000_000;
let concurrency = 64;
let write = true;
let replayFiles: string[] | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--minutes') seconds = number(a, args[++i]) * 60;
  else if (a === '--seconds') seconds = number(a, args[++i]);
  else if (a === '--seed') seed = Math.floor(number(a, args[++i]));
  else if (a === '--concurrency') concurrency = Math.max(1, Math.floor(number(a, args[++i])));
  else if (a === '--no-write') write = false;
  else if (a === '--replay') {
    replayFiles = args.slice(i + 1);
    break;
  } else usage(`unknown argument ${a}`);
}

if (replayFiles) {
  const files = replayFiles.length ? replayFiles : fixtureFiles(FIXTURES);
  const violations = await replay(files);
  console.log(`replayed ${files.length} input(s): ${violations.length} violation(s)`);
  for (const v of violations) console.log(`  ${v.rule}: ${v.detail}`);
  process.exit(violations.length ? 1 : 0);
}

console.log(`fuzzing for ${seconds} s with seed ${seed} (reproduce: npm run fuzz -- --seconds ${seconds} --seed ${seed})`);
const report = await fuzz({
  seed,
  durationMs: seconds * 1000,
  concurrency,
  ...(write ? { fixturesDir: FIXTURES } : {}),
  log: (line) => console.log(line),
});
console.log(summary(report));
for (const v of report.violations.slice(0, 20)) console.log(`  [exec ${v.exec ?? '-'}] ${v.rule}: ${v.detail.split('\n').slice(0, 6).join('\n    ')}`);
process.exit(report.violations.length ? 1 : 0);
