// The logger: JSON lines in one shape, secrets redacted before they reach the stream, control characters escaped.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, sanitizeForLog, type LogLevel } from '../src/core/log.ts';

/** The fields these tests read; everything else in a line is ignored. */
interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly msg: string;
  readonly service: string;
  readonly route?: string;
  readonly path?: string;
  readonly req?: { readonly headers: Readonly<Record<string, string>> };
  readonly headers?: readonly string[];
}

function capture(level: LogLevel = 'info') {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level, destination });
  const text = () => chunks.join('');
  const lines = (): LogLine[] =>
    text()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as LogLine);
  return { logger, text, lines };
}

void describe('createLogger', () => {
  void it('writes one JSON line per call with an ISO time, the level name and service tapwire', () => {
    const { logger, lines } = capture();
    logger.info({ route: 'users' }, 'started');
    const [line] = lines();
    assert.equal(lines().length, 1);
    assert.equal(line!.service, 'tapwire');
    assert.equal(line!.level, 'info');
    assert.equal(line!.msg, 'started');
    assert.equal(line!.route, 'users');
    assert.match(line!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  void it('leaves out levels below the configured one', () => {
    const { logger, lines } = capture('warn');
    logger.info('quiet');
    logger.warn('loud');
    assert.deepEqual(lines().map((l) => l.msg), ['loud']);
  });

  void it('never writes the authorization or cookie header values of a logged request', () => {
    const { logger, text, lines } = capture();
    logger.info({ req: { method: 'GET', headers: { authorization: 'Bearer sekrit-1', cookie: 'sid=sekrit-2', accept: '*/*' } } }, 'request');
    assert.doesNotMatch(text(), /sekrit/);
    const req = lines()[0]!.req!;
    assert.equal(req.headers.authorization, '[REDACTED]');
    assert.equal(req.headers.cookie, '[REDACTED]');
    assert.equal(req.headers.accept, '*/*');
  });

  void it('redacts token and password fields at the top level and one level down', () => {
    const { logger, text } = capture();
    logger.info({ token: 'sekrit-a', admin: { token: 'sekrit-b' }, db: { password: 'sekrit-c' } }, 'config');
    assert.doesNotMatch(text(), /sekrit/);
  });

  void it('redacts a raw header list logged under headers', () => {
    const { logger, text, lines } = capture();
    logger.info({ headers: ['Authorization', 'Basic sekrit', 'X-Api-Key', 'sekrit-key', 'Accept', 'text/html'] }, 'raw');
    assert.doesNotMatch(text(), /sekrit/);
    assert.deepEqual(lines()[0]!.headers, ['Authorization', '[REDACTED]', 'X-Api-Key', '[REDACTED]', 'Accept', 'text/html']);
  });

  void it('escapes control characters in messages and fields so a request cannot forge a line or colour a terminal', () => {
    const { logger, text, lines } = capture();
    logger.info({ path: '/a\n{"level":"fatal"}\u001b[31m' }, 'got %s', 'x\r\ny\u202e');
    assert.equal(lines().length, 1);
    const [line] = lines();
    // Decoded, as a pager or pretty-printer shows it: no escape or bidi character survives.
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(`${line!.path}${line!.msg}`, /[\u0000-\u001f\u202e]/);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(text(), /\u001b/);
    assert.equal(line!.path, '/a\\n{"level":"fatal"}\\x1b[31m');
    assert.equal(line!.msg, 'got x\\r\\ny\\u202e');
  });
});

void describe('sanitizeForLog', () => {
  void it('returns clean text unchanged', () => {
    assert.equal(sanitizeForLog('GET /users/42?x=1'), 'GET /users/42?x=1');
  });

  void it('makes control, DEL, C1 and bidi characters visible', () => {
    assert.equal(sanitizeForLog('a\tb\u0000c\u007fd\u0085e\u2028f\u2066'), 'a\\tb\\x00c\\x7fd\\x85e\\u2028f\\u2066');
  });

  void it('bounds the length and says how much was cut', () => {
    assert.equal(sanitizeForLog('abcdefghij', 4), 'abcd…[6 more]');
  });
});
