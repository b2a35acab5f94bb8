// Benchmark upstream that accepts connections, reads each request (headers and body)
// and never answers. It counts what it receives. Used by bench/run.sh for "mirror-dead".
// Prints one JSON line {"port":P,"control":C} on stdout once both servers listen.
// GET http://127.0.0.1:C/count -> {"received":N,"bodyBytes":B,"sockets":S,"openSockets":O}
import http from 'node:http';

let received = 0;
let bodyBytes = 0;
let sockets = 0;
const open = new Set();

const dead = http.createServer((req) => {
  received++;
  req.on('data', (c) => { bodyBytes += c.length; });
  // never respond; the client (proxy) times out and closes the socket
});
dead.requestTimeout = 0;
dead.headersTimeout = 0;
dead.keepAliveTimeout = 0;
dead.timeout = 0;
dead.on('connection', (s) => {
  sockets++;
  open.add(s);
  s.on('close', () => open.delete(s));
});

const control = http.createServer((req, res) => {
  const body = JSON.stringify({ received, bodyBytes, sockets, openSockets: open.size });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

const listen = (srv) => new Promise((resolve) => srv.listen(0, '127.0.0.1', 4096, () => resolve(srv.address().port)));
const port = await listen(dead);
const controlPort = await listen(control);
process.stdout.write(JSON.stringify({ port, control: controlPort }) + '\n');

const stop = () => { for (const s of open) s.destroy(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
