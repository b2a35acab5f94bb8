// Summarize bench/results/*.jsonl (from bench/run.sh) as markdown tables: medians over repetitions,
// same-run tapwire/nginx ratios, tapwire's isolation ratios and the bars of issue 2.
// Usage: node bench/summarize.mjs FILE.jsonl [FILE.jsonl ...]   (default: bench/results/latest.jsonl)
import fs from 'node:fs';

const files = process.argv.slice(2);
if (!files.length) files.push(new URL('./results/latest.jsonl', import.meta.url).pathname);
const recs = [];
for (const f of files) {
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try { recs.push(JSON.parse(line)); } catch { /* partial line */ }
  }
}
const ok = recs.filter((r) => !r.error && r.requests != null);
const failed = recs.filter((r) => r.error);

const SCEN_ORDER = ['direct', 'direct-post16k', 'plain', 'mirror-fast', 'mirror-slow', 'mirror-dead', 'mirror-refused', 'post16k-plain', 'post16k-mirror-fast'];
const SCEN_LABEL = {
  direct: 'direct to primary (GET)', 'direct-post16k': 'direct to primary (POST 16 KiB)',
  plain: 'proxy, no mirror (GET)', 'mirror-fast': 'mirror fast (200 + JSON)', 'mirror-slow': 'mirror slow (200 ms)',
  'mirror-dead': 'mirror dead (never answers)', 'mirror-refused': 'mirror refused (nothing listens)',
  'post16k-plain': 'POST 16 KiB, no mirror', 'post16k-mirror-fast': 'POST 16 KiB, mirror fast',
};
const TARGET_ORDER = ['direct', 'tapwire', 'nginx', 'naive'];
const TARGET_LABEL = { direct: 'direct', tapwire: 'tapwire', nginx: 'nginx', naive: 'naive (dev stand-in)' };
const sortKey = (s, t) => [SCEN_ORDER.indexOf(s) < 0 ? 99 : SCEN_ORDER.indexOf(s), TARGET_ORDER.indexOf(t) < 0 ? 99 : TARGET_ORDER.indexOf(t)];

const median = (a) => {
  const s = a.filter((x) => x != null && Number.isFinite(x)).sort((x, y) => x - y);
  const n = s.length;
  if (!n) return null;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fmtInt = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const fmtMs = (x) => {
  if (x == null) return '–';
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
};
const fmtX = (x, d = 2) => (x == null || !Number.isFinite(x) ? '–' : `${x.toFixed(d)}×`);
const fmt1 = (x) => (x == null ? '–' : x.toFixed(1));

// group by scenario/target
const groups = new Map();
for (const r of ok) {
  const k = `${r.scenario}\t${r.target}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const keys = [...groups.keys()].sort((a, b) => {
  const [sa, ta] = a.split('\t'); const [sb, tb] = b.split('\t');
  const [x1, y1] = sortKey(sa, ta); const [x2, y2] = sortKey(sb, tb);
  return x1 - x2 || y1 - y2;
});
const med = (rs, f) => median(rs.map(f));
const get = (s, t) => groups.get(`${s}\t${t}`) || [];

const out = [];
const runIds = [...new Set(recs.map((r) => r.run_id))];
const first = recs[0] || {};
const reps = Math.max(0, ...ok.map((r) => r.rep));
out.push(`## tapwire benchmark — run ${runIds.join(', ')}${first.rev ? ` (commit ${first.rev}, src/ last changed ${first.src_mtime})` : ''}`);
out.push('');
out.push(`Closed loop: wrk -t${first.threads ?? 1} -c${first.connections ?? 50} -d${first.duration_s ?? '?'}s keep-alive after a ${first.warmup_s ?? '?'} s warm-up, fresh proxy per phase; ` +
  `medians of ${reps} repetition(s), [min–max] of req/s; pinned CPUs: load ${first.pin?.load}, proxy ${first.pin?.proxy}, upstreams ${first.pin?.upstream}. ` +
  'Errors = socket errors + HTTP status >= 400 seen by wrk (a request that never completes counts no error: judge stalls by req/s).');
out.push('');
out.push('| scenario | target | req/s [min–max] | p50 ms | p99 ms | p99.9 ms | errors | mirror recv / proxied | proxy CPU µs/req | peak RSS MiB | foreign CPU % (max) |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const k of keys) {
  const [s, t] = k.split('\t');
  const rs = groups.get(k);
  const rps = rs.map((r) => r.req_per_s);
  const range = rs.length > 1 ? ` [${fmtInt(Math.min(...rps))}–${fmtInt(Math.max(...rps))}]` : '';
  let mirror = '–';
  const mr = med(rs, (r) => r.mirror_ratio);
  if (mr != null) {
    mirror = mr.toFixed(3);
    const bw = med(rs, (r) => r.mirror_bodies_whole_pct);
    if (bw != null) mirror += ` (bodies whole ${fmt1(bw)} %)`;
  } else if (s === 'mirror-refused') mirror = 'n/a (refused)';
  const errs = rs.map((r) => r.errors_total);
  out.push(`| ${SCEN_LABEL[s] ?? s} | ${TARGET_LABEL[t] ?? t} | ${fmtInt(median(rps))}${range} | ${fmtMs(med(rs, (r) => r.p50_ms))} | ` +
    `${fmtMs(med(rs, (r) => r.p99_ms))} | ${fmtMs(med(rs, (r) => r.p999_ms))} | ${fmtInt(median(errs))}${Math.max(...errs) > 0 ? ` (max ${fmtInt(Math.max(...errs))})` : ''} | ` +
    `${mirror} | ${fmt1(med(rs, (r) => r.proxy_cpu_us_per_req))} | ${fmt1(med(rs, (r) => r.proxy_peak_rss_mib))} | ${fmt1(Math.max(...rs.map((r) => r.foreign_cpu_pct ?? 0)))} |`);
}

// per-rep ratio a/b, then the median over reps (phases of one rep ran back to back)
function ratio(sa, ta, sb, tb, f) {
  const vals = [];
  for (const ra of get(sa, ta)) {
    const rb = get(sb, tb).find((r) => r.rep === ra.rep && r.run_id === ra.run_id);
    if (rb && f(ra) != null && f(rb) != null && f(rb) !== 0) vals.push(f(ra) / f(rb));
  }
  return median(vals);
}

const proxyTargets = TARGET_ORDER.filter((t) => t !== 'direct' && ok.some((r) => r.target === t));
const scenariosRun = SCEN_ORDER.filter((s) => ok.some((r) => r.scenario === s));

// tapwire / nginx
for (const other of proxyTargets.filter((t) => t !== 'tapwire')) {
  if (!proxyTargets.includes('tapwire')) break;
  out.push('');
  out.push(`### tapwire / ${other} (same repetition, median of per-repetition ratios)`);
  out.push('');
  out.push('| scenario | req/s | p50 | p99 | p99.9 | CPU µs/req | peak RSS |');
  out.push('|---|---|---|---|---|---|---|');
  for (const s of scenariosRun) {
    if (!get(s, 'tapwire').length || !get(s, other).length) continue;
    const r = (f) => ratio(s, 'tapwire', s, other, f);
    out.push(`| ${SCEN_LABEL[s]} | ${fmtX(r((x) => x.req_per_s))} | ${fmtX(r((x) => x.p50_ms))} | ${fmtX(r((x) => x.p99_ms))} | ${fmtX(r((x) => x.p999_ms))} | ` +
      `${fmtX(r((x) => x.proxy_cpu_us_per_req))} | ${fmtX(r((x) => x.proxy_peak_rss_mib))} |`);
  }
}

// isolation: bad mirror vs the same proxy's healthy mirror
const badScen = ['mirror-slow', 'mirror-dead', 'mirror-refused'].filter((s) => scenariosRun.includes(s));
if (scenariosRun.includes('mirror-fast') && badScen.length) {
  out.push('');
  out.push('### Primary-path isolation: bad mirror vs the same proxy with a healthy mirror (target: req/s >= 0.95×, p99 <= 1.1×)');
  out.push('');
  out.push('| target | scenario | req/s vs mirror-fast | p99 vs mirror-fast | verdict |');
  out.push('|---|---|---|---|---|');
  for (const t of proxyTargets) {
    for (const s of badScen) {
      if (!get(s, t).length || !get('mirror-fast', t).length) continue;
      const rr = ratio(s, t, 'mirror-fast', t, (x) => x.req_per_s);
      const rp = ratio(s, t, 'mirror-fast', t, (x) => x.p99_ms);
      const pass = rr != null && rp != null && rr >= 0.95 && rp <= 1.1;
      out.push(`| ${TARGET_LABEL[t]} | ${SCEN_LABEL[s]} | ${fmtX(rr)} | ${fmtX(rp)} | ${pass ? 'pass' : '**FAIL**'} |`);
    }
  }
}

// issue 2 bars, for tapwire
if (proxyTargets.includes('tapwire')) {
  const bars = [];
  const tw = (s) => get(s, 'tapwire');
  for (const s of ['mirror-fast', 'post16k-mirror-fast']) {
    if (tw(s).length && get(s, 'nginx').length) {
      const r = ratio(s, 'tapwire', s, 'nginx', (x) => x.req_per_s);
      bars.push([`healthy mirror throughput >= 1.0× nginx (${s})`, fmtX(r), r != null && r >= 1.0]);
    }
  }
  if (tw('mirror-fast').length && get('mirror-fast', 'nginx').length) {
    const r = ratio('mirror-fast', 'tapwire', 'mirror-fast', 'nginx', (x) => x.proxy_cpu_us_per_req);
    bars.push(['CPU per mirrored request <= 1.5× nginx (mirror-fast)', fmtX(r), r != null && r <= 1.5]);
  }
  const twAll = ok.filter((r) => r.target === 'tapwire');
  if (twAll.length) {
    const maxRss = Math.max(...twAll.map((r) => r.proxy_peak_rss_mib ?? 0));
    const worst = twAll.find((r) => r.proxy_peak_rss_mib === maxRss);
    bars.push(['peak RSS <= 150 MiB in every scenario', `max ${fmt1(maxRss)} MiB (${worst?.scenario})`, maxRss <= 150]);
    const errPhases = twAll.filter((r) => r.errors_total > 0);
    bars.push(['zero client errors in every scenario', errPhases.length ? errPhases.map((r) => `${r.scenario} r${r.rep}: ${r.errors_total}`).join(', ') : '0', errPhases.length === 0]);
  }
  for (const s of badScen) {
    if (!tw(s).length || !tw('mirror-fast').length) continue;
    const rr = ratio(s, 'tapwire', 'mirror-fast', 'tapwire', (x) => x.req_per_s);
    const rp = ratio(s, 'tapwire', 'mirror-fast', 'tapwire', (x) => x.p99_ms);
    bars.push([`${s}: >= 0.95× healthy-mirror req/s and <= 1.1× its p99`, `${fmtX(rr)} req/s, ${fmtX(rp)} p99`, rr != null && rp != null && rr >= 0.95 && rp <= 1.1]);
  }
  out.push('');
  out.push('### tapwire against the bars of issue 2');
  out.push('');
  out.push('| bar | measured | |');
  out.push('|---|---|---|');
  for (const [name, v, pass] of bars) out.push(`| ${name} | ${v} | ${pass ? 'pass' : '**FAIL**'} |`);

  // copy outcomes per scenario, as a share of the requests completed in the window
  const withOutcomes = twAll.filter((r) => r.tapwire_outcomes);
  if (withOutcomes.length) {
    out.push('');
    out.push('### tapwire copy outcomes in the measured window (median share of client-completed requests)');
    out.push('');
    out.push('| scenario | outcomes |');
    out.push('|---|---|');
    for (const s of scenariosRun) {
      const rs = withOutcomes.filter((r) => r.scenario === s);
      if (!rs.length) continue;
      const names = [...new Set(rs.flatMap((r) => Object.keys(r.tapwire_outcomes)))].sort();
      const parts = names.map((n) => [n, med(rs, (r) => (r.tapwire_outcomes[n] ?? 0) / r.requests)]).filter(([, v]) => v > 0);
      out.push(`| ${SCEN_LABEL[s]} | ${parts.length ? parts.map(([n, v]) => `${n} ${(100 * v).toFixed(v < 0.01 ? 2 : 1)} %`).join(', ') : '–'} |`);
    }
  }
}

// anomalies
const notes = [];
for (const r of ok) {
  const tag = `${r.target}/${r.scenario} rep ${r.rep}`;
  if (r.target !== 'direct' && r.errors_total > 0) notes.push(`${tag}: ${r.errors_total} client errors ${JSON.stringify(r.errors)}`);
  if (r.primary_received != null && Math.abs(r.primary_received - r.requests) > 2 * (r.connections ?? 50) + 0.01 * r.requests) notes.push(`${tag}: primary received ${r.primary_received} for ${r.requests} client requests (ratio ${r.primary_ratio})`);
  if (r.scenario.endsWith('mirror-fast') && r.mirror_ratio != null && r.mirror_ratio < 0.99) notes.push(`${tag}: the healthy mirror received only ${r.mirror_ratio} of the requests`);
  if (r.mirror_bodies_whole_pct != null && r.mirror_bodies_whole_pct < 100) notes.push(`${tag}: only ${r.mirror_bodies_whole_pct} % of mirrored POST bodies arrived whole`);
  if (r.mirror_marker_pct != null && r.mirror_marker_pct < 100) notes.push(`${tag}: ${r.mirror_marker_pct} % of copies carried x-tapwire-mirror: 1`);
  const s = r.proxy_rss_series_mib;
  if (s && s.length >= 3 && s[s.length - 1] > s[0] * 1.25 && s[s.length - 1] - s[0] > 16) notes.push(`${tag}: RSS grew during the window ${s[0]} → ${s[s.length - 1]} MiB`);
  if (r.foreign_cpu_pct > 10 && r.pinned_busy_pct >= 90) notes.push(`${tag}: other processes used ${r.foreign_cpu_pct} % of the pinned CPU (numbers less reliable)`);
}
{
  const rej = ok.filter((r) => r.tapwire_rejected);
  if (rej.length) {
    const byCode = {};
    for (const r of rej) for (const [c, n] of Object.entries(r.tapwire_rejected)) byCode[c] = (byCode[c] || 0) + n;
    notes.push(`tapwire counted rejected client requests in ${rej.length} of ${ok.filter((r) => r.target === 'tapwire').length} phases ` +
      `(totals since each start, warm-up included: ${JSON.stringify(byCode)}; max per phase ${Math.max(...rej.map((r) => Object.values(r.tapwire_rejected).reduce((a, b) => a + b, 0)))} while wrk saw no such status`);
  }
}
for (const r of failed) notes.push(`${r.target}/${r.scenario} rep ${r.rep}: FAILED: ${r.error.split('\n')[0]}`);
if (notes.length) {
  out.push('');
  out.push('### Anomalies');
  out.push('');
  for (const n of notes) out.push(`- ${n}`);
}
console.log(out.join('\n'));
