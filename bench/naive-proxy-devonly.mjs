// DEV-ONLY stand-in: a deliberately naive Node mirroring proxy, used ONLY to develop and check
// the benchmark harness while the product was not runnable (TARGETS=naive). It is not tapwire,
// not a design, and its numbers must never be reported as tapwire's.
// Env: LISTEN_PORT, PRIMARY_URL, MIRROR_URL (empty = no mirroring). Fire-and-forget mirror,
// 1 s timeout, unbounded queue (the anchors' "naive" reference).
import http from 'node:http';
import { Pool } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'trailer']);
const primary = new Pool(process.env.PRIMARY_URL, { connections: 128 });
const mirror = process.env.MIRROR_URL ? new Pool(process.env.MIRROR_URL, { connections: 128 }) : null;

http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? Buffer.concat(chunks) : null;
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  if (mirror) {
    mirror.request({ path: req.url, method: req.method, headers: { ...headers, 'x-tapwire-mirror': '1' }, body,
      headersTimeout: 1000, bodyTimeout: 1000 })
      .then((r) => r.body.dump()).catch(() => {});
  }
  try {
    const r = await primary.request({ path: req.url, method: req.method, headers, body });
    const out = {};
    for (const [k, v] of Object.entries(r.headers)) if (!HOP.has(k)) out[k] = v;
    res.writeHead(r.statusCode, out);
    for await (const c of r.body) res.write(c);
    res.end();
  } catch {
    res.writeHead(502).end();
  }
}).listen(Number(process.env.LISTEN_PORT), '127.0.0.1');
