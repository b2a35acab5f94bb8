// Header redaction: secrets never leave in a stored, logged or shown copy, and the input is never touched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, SECRET_HEADERS, isSecretHeader, redactHeaders } from '../src/core/redact.ts';

void describe('redactHeaders', () => {
  void it('replaces every always-secret header in a raw list, whatever its case, and keeps the rest', () => {
    const raw = ['Authorization', 'Bearer abc', 'Accept', '*/*', 'COOKIE', 'sid=1', 'Proxy-Authorization', 'Basic x', 'X-Api-Key', 'k', 'x-auth-token', 't', 'Set-Cookie', 'a=b'];
    const out = redactHeaders(raw);
    assert.deepEqual(out, ['Authorization', REDACTED, 'Accept', '*/*', 'COOKIE', REDACTED, 'Proxy-Authorization', REDACTED, 'X-Api-Key', REDACTED, 'x-auth-token', REDACTED, 'Set-Cookie', REDACTED]);
  });

  void it('returns a copy and leaves the input list unchanged', () => {
    const raw = Object.freeze(['authorization', 'Bearer abc']);
    const out = redactHeaders(raw);
    assert.notEqual(out, raw);
    assert.deepEqual(raw, ['authorization', 'Bearer abc']);
  });

  void it('redacts names that look secret even when nobody listed them', () => {
    for (const name of ['x-csrf-token', 'X-Session-Id', 'x-client-secret', 'x-password', 'x-apikey', 'x-api-key', 'api_key']) {
      assert.deepEqual(redactHeaders([name, 'v']), [name, REDACTED], name);
    }
    for (const name of ['accept', 'content-type', 'x-request-id', 'user-agent', 'host']) {
      assert.deepEqual(redactHeaders([name, 'v']), [name, 'v'], name);
    }
  });

  void it('redacts extra names from the configuration, case-insensitively', () => {
    assert.deepEqual(redactHeaders(['X-Tenant', 'acme', 'x-other', 'o'], ['x-TENANT']), ['X-Tenant', REDACTED, 'x-other', 'o']);
  });

  void it('redacts a header record, keeping array lengths and leaving undefined values alone', () => {
    const input = { authorization: 'Bearer abc', 'set-cookie': ['a=1', 'b=2'], accept: 'text/html', 'x-auth-token': undefined, 'content-length': 12 };
    const out = redactHeaders(input);
    assert.deepEqual(out, { authorization: REDACTED, 'set-cookie': [REDACTED, REDACTED], accept: 'text/html', 'x-auth-token': undefined, 'content-length': 12 });
    assert.equal(input.authorization, 'Bearer abc');
    assert.deepEqual(input['set-cookie'], ['a=1', 'b=2']);
  });

  void it('keeps a header named __proto__ as a plain key instead of changing the prototype', () => {
    const input = JSON.parse('{"__proto__": "x", "cookie": "c"}') as Record<string, string>;
    const out = redactHeaders(input);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, 'x');
    assert.equal(out.cookie, REDACTED);
  });

  void it('ignores a trailing name without a value in an odd-length list', () => {
    assert.deepEqual(redactHeaders(['accept', '*/*', 'authorization']), ['accept', '*/*', 'authorization']);
  });

  void it('lists exactly the six always-secret headers of the contract', () => {
    assert.deepEqual([...SECRET_HEADERS].sort(), ['authorization', 'cookie', 'proxy-authorization', 'set-cookie', 'x-api-key', 'x-auth-token']);
    assert.equal(isSecretHeader('Cookie'), true);
    assert.equal(isSecretHeader('accept'), false);
  });
});
