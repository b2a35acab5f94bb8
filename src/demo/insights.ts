// What compare and analysis made of the demo's traffic, read from the admin API as any client would:
// the verdict per endpoint (the planted regressions must fail, the noise must not count) and the findings.
import http from 'node:http';
import { table } from './table.ts';

export interface DemoInsights {
  readonly verdict: string | null;
  readonly endpoints: ReadonlyArray<{ readonly endpoint: string; readonly upstream: string; readonly verdict: string; readonly reasons: readonly string[]; readonly noisyFields: readonly string[] }>;
  readonly findings: ReadonlyArray<{ readonly detector: string; readonly title: string }>;
  readonly error?: string;
  /** the human-readable section for the report */
  readonly text: string;
}

interface VerdictBody {
  verdict: string;
  endpoints: Array<{ endpoint: string; upstream: string; verdict: string; reasons: Array<{ code: string; message: string }>; noisyFields: Array<{ field: string }> }>;
}

export async function compareSummary(adminUrl: string | null, headers: Record<string, string>): Promise<DemoInsights> {
  if (adminUrl === null) return { verdict: null, endpoints: [], findings: [], error: 'the admin server is disabled', text: '' };
  try {
    const v = (await getJson(`${adminUrl}/api/v1/verdict`, headers)) as VerdictBody;
    const f = (await getJson(`${adminUrl}/api/v1/findings?state=all&limit=50`, headers)) as { findings: Array<{ detector: string; title: string }> };
    const endpoints = v.endpoints.map((e) => ({
      endpoint: e.endpoint,
      upstream: e.upstream,
      verdict: e.verdict,
      reasons: e.reasons.map((r) => r.message),
      noisyFields: e.noisyFields.map((n) => n.field),
    }));
    const findings = f.findings.map((x) => ({ detector: x.detector, title: x.title }));
    const lines = [
      '',
      `Compare: overall verdict ${v.verdict.toUpperCase()} (candidates v2 and staging against v1; v1b's differences are noise)`,
      table(
        ['endpoint', 'candidate', 'verdict', 'why', 'ignored as noise'],
        endpoints
          .filter((e) => e.upstream === 'v2')
          .map((e) => [e.endpoint, e.upstream, e.verdict, why(e.reasons), e.noisyFields.join(', ') || '-']),
      ),
      `  staging's rows (its slow, resetting and down phases fail it on errors) and every detail: GET ${adminUrl}/api/v1/verdict`,
      '',
      `Analysis: ${findings.length} findings`,
      ...findings.map((x) => `  [${x.detector}] ${x.title}`),
    ];
    return { verdict: v.verdict, endpoints, findings, text: lines.join('\n') };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { verdict: null, endpoints: [], findings: [], error, text: `\nCompare and analysis: unavailable (${error})` };
  }
}

/** The first reason, shortened for a terminal; the API and the dashboard have all of them. */
function why(reasons: readonly string[]): string {
  if (reasons.length === 0) return '-';
  const first = reasons[0]!.length > 70 ? `${reasons[0]!.slice(0, 67)}...` : reasons[0]!;
  return reasons.length > 1 ? `${first} (+${reasons.length - 1} more)` : first;
}

function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // agent: false — a one-off connection that closes, so nothing keeps the process alive afterwards
    const req = http.get(url, { agent: false, timeout: 10_000, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
