// npm run bench:replay — the replay figures of issue 6, measured on this machine in one run:
//   pacing:     --rate 2000/s for 30 s: achieved rate (within 2% of asked) and p99 inter-arrival error (< 5 ms);
//   throughput: unpaced replay from one process vs wrk against the same target (>= 0.8x), same connections.
// The target is a small node:http server in a child process answering a static JSON body. Every figure is
// repeated (REPS, default 3) and reported with its median: the machine is shared and noisy.
// Env: REPS, PACING_RATE (2000), PACING_SECONDS (30), PACING_CONCURRENCY (256), THROUGHPUT_SECONDS (10), CONNECTIONS (32).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyReadStats } from '../src/capture/read.ts';
import { startReplay } from '../src/replay/run.ts';
import { targetPool } from '../src/replay/send.ts';
import type { ReplaySummary } from '../src/replay/stats.ts';
import { entry } from '../test/helpers/replay-fixtures.ts';

const REPS = Number(process.env.REPS ?? 3);
const RATE = Number(process.env.PACING_RATE ?? 2000);
const PACING_S = Number(process.env.PACING_SECONDS ?? 30);
const THROUGHPUT_S = Number(process.env.THROUGHPUT_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
/** in flight at most while pacing: room for the target's latency spikes on a shared machine */
const PACING_CONCURRENCY = Number(process.env.PACING_CONCURRENCY ?? 256);

const SERVER = `
const http = require('node:http');
const body = Buffer.from('{"ok":true,"items":[1,2,3]}');
const s = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }); res.end(body); }); });
s.keepAliveTimeout = 65000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`;

async function startTarget(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (c) => reject(new Error(`target exited ${c}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

function wrk(url: string, seconds: number): number {
  const r = spawnSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, `${url}/api/items/1`], { encoding: 'utf8' });
  if (r.error) throw new Error(`wrk: ${r.error.message} (install wrk: apt-get install wrk)`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk printed no Requests/sec:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

async function replay(file: string, url: string, pacing: Parameters<typeof startReplay>[0]['pacing'], seconds: number, concurrency = CONNECTIONS): Promise<ReplaySummary> {
  const dispatcher = targetPool([new URL(url)], { connections: concurrency, connectTimeoutMs: 5000 });
  try {
    return await startReplay({
      input: file,
      dispatcher,
      basePath: '',
      pacing,
      concurrency,
      durationMs: seconds * 1000,
      loop: true,
      filters: [],
      headers: [],
      timeoutMs: 10_000,
      keep: false,
      cap: 0,
      readStats: emptyReadStats(),
    }).done;
  } finally {
    await dispatcher.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (x: number | null) => (x === null ? '-' : x.toFixed(2));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tapwire-bench-replay-'));
  const { url, child } = await startTarget();
  try {
    // 5,000 recorded GETs, looped: the reader's cost is part of what is measured
    const lines = Array.from({ length: 5000 }, (_, i) => `${JSON.stringify(entry({ path: `/api/items/${i}`, at: 1_700_000_000_000 + i, body: '{"ok":true}' }))}\n`);
    const file = join(dir, 'capture.ndjson');
    await writeFile(file, lines.join(''));
    wrk(url, 2); // warm the target

    console.log(`pacing: --rate ${RATE}/s for ${PACING_S} s, --concurrency ${PACING_CONCURRENCY}, ${REPS} repetitions`);
    const pacing: Array<{ rate: number; errPct: number; p99: number }> = [];
    for (let i = 0; i < REPS; i++) {
      const s = await replay(file, url, { kind: 'rate', perSecond: RATE }, PACING_S, PACING_CONCURRENCY);
      const achieved = s.sent / PACING_S;
      const errPct = ((achieved - RATE) / RATE) * 100;
      pacing.push({ rate: achieved, errPct, p99: s.interArrivalError.p99 ?? NaN });
      console.log(
        `  run ${i + 1}: sent ${s.sent} (${achieved.toFixed(1)} req/s, ${errPct >= 0 ? '+' : ''}${errPct.toFixed(2)}%), ok ${s.ok}, errors ${s.failed}, ` +
          `inter-arrival error p50 ${f1(s.interArrivalError.p50)} / p99 ${f1(s.interArrivalError.p99)} / max ${f1(s.interArrivalError.max)} ms, late starts ${s.late} (${s.lateForSlot} for a slot), latency p99 ${f1(s.latency.p99)} ms`,
      );
    }
    const mRate = median(pacing.map((p) => p.rate));
    const mP99 = median(pacing.map((p) => p.p99));
    console.log(`  median: ${mRate.toFixed(1)} req/s (${(((mRate - RATE) / RATE) * 100).toFixed(2)}%, goal within 2%), p99 inter-arrival error ${mP99.toFixed(2)} ms (goal < 5 ms)`);

    console.log(`throughput: unpaced replay vs wrk -t2 -c${CONNECTIONS}, ${THROUGHPUT_S} s each, alternating, ${REPS} repetitions`);
    const ratios: number[] = [];
    const wrks: number[] = [];
    const replays: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const w = wrk(url, THROUGHPUT_S);
      const s = await replay(file, url, { kind: 'unpaced' }, THROUGHPUT_S);
      const r = s.sent / (s.elapsedMs / 1000);
      wrks.push(w);
      replays.push(r);
      ratios.push(r / w);
      console.log(`  run ${i + 1}: wrk ${w.toFixed(0)} req/s, replay ${r.toFixed(0)} req/s (errors ${s.failed}), ratio ${(r / w).toFixed(3)}`);
    }
    console.log(`  median: wrk ${median(wrks).toFixed(0)} req/s, replay ${median(replays).toFixed(0)} req/s, ratio ${median(ratios).toFixed(3)} (goal >= 0.8)`);
  } finally {
    child.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
