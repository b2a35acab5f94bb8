// Endpoint naming for compare: ids become {id}, config templates win, the number of names is bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkTemplate, createEndpointNamer, isIdSegment, OTHER_ENDPOINT } from '../src/compare/endpoint.ts';

void describe('createEndpointNamer: automatic templating', () => {
  const n = createEndpointNamer();

  void it('keeps route words and drops the query and fragment', () => {
    assert.equal(n.name('GET', '/users'), 'GET /users');
    assert.equal(n.name('GET', '/users?page=2&token=abc'), 'GET /users');
    assert.equal(n.name('POST', '/api/v1/orders#frag'), 'POST /api/v1/orders');
    assert.equal(n.name('GET', '/'), 'GET /');
    assert.equal(n.name('GET', '/users/'), 'GET /users/');
  });

  void it('replaces numeric ids', () => {
    assert.equal(n.name('GET', '/users/42'), 'GET /users/{id}');
    assert.equal(n.name('GET', '/users/42/orders/7'), 'GET /users/{id}/orders/{id}');
    assert.equal(n.name('GET', '/reports/2024-01-31'), 'GET /reports/{id}');
  });

  void it('replaces UUIDs, hex with a digit, and long opaque tokens', () => {
    assert.equal(n.name('GET', '/u/123e4567-e89b-12d3-a456-426614174000'), 'GET /u/{id}');
    assert.equal(n.name('GET', '/u/123E4567-E89B-12D3-A456-426614174000/x'), 'GET /u/{id}/x');
    assert.equal(n.name('GET', '/commits/3f2a9c1b'), 'GET /commits/{id}');
    assert.equal(n.name('GET', '/commits/3f2a9c1b7d0e4f5a6b7c8d9e0f1a2b3c4d5e6f70'), 'GET /commits/{id}');
    assert.equal(n.name('GET', '/s/aZ3kP9qL0xV7bN2mR5tY8w'), 'GET /s/{id}');
    assert.equal(n.name('GET', '/s/eyJhbGciOiJIUzI1NiJ9-abc_123'), 'GET /s/{id}');
  });

  void it('keeps words that merely look a little like ids', () => {
    assert.equal(n.name('GET', '/api/v2/deadbeef'), 'GET /api/v2/deadbeef'); // hex letters, no digit
    assert.equal(n.name('GET', '/abc123'), 'GET /abc123'); // short
    assert.equal(n.name('GET', '/very-long-route-name-without-digits'), 'GET /very-long-route-name-without-digits');
    assert.equal(isIdSegment(''), false);
    assert.equal(isIdSegment('users'), false);
    assert.equal(isIdSegment('x'.repeat(65)), true);
  });

  void it('handles odd input without throwing', () => {
    assert.equal(n.name('GET', ''), 'GET /');
    assert.equal(n.name('GET', 'no-slash'), 'GET /no-slash');
    assert.equal(n.name('OPTIONS', '*'), 'OPTIONS *');
    assert.equal(n.name('GET', 'http://example.com/users/9?x'), 'GET /users/{id}');
    assert.equal(n.name('G E\nT', '/a'), 'GET /a');
    assert.equal(n.name('', '/a'), '- /a');
    const deep = `/${Array.from({ length: 100 }, (_, i) => `s${i % 3}`).join('/')}`;
    assert.ok(n.name('GET', deep).endsWith('/…'));
  });
});

void describe('createEndpointNamer: config templates', () => {
  void it('wins over automatic templating, first match wins, named with the template text', () => {
    const n = createEndpointNamer({
      templates: ['GET /users/{id}/avatar', '/users/{userId}/orders/{id}', '/users/{userId}/orders/*', '/files/{path*}', '/users/me'],
    });
    assert.equal(n.name('GET', '/users/42/avatar'), 'GET /users/{id}/avatar');
    assert.equal(n.name('POST', '/users/42/avatar'), 'POST /users/{id}/avatar'); // method did not match: automatic
    assert.equal(n.name('PUT', '/users/alice/orders/9'), 'PUT /users/{userId}/orders/{id}');
    assert.equal(n.name('GET', '/users/alice/orders/9/items'), 'GET /users/{userId}/orders/*');
    assert.equal(n.name('GET', '/users/alice/orders'), 'GET /users/{userId}/orders/*'); // * matches zero segments
    assert.equal(n.name('GET', '/files/a/b/c.txt?x=1'), 'GET /files/{path*}');
    assert.equal(n.name('GET', '/users/me'), 'GET /users/me');
    assert.equal(n.name('get', '/users/1/avatar'), 'GET /users/{id}/avatar'); // template methods match any case
    assert.equal(n.name('GET', '/users//orders/9'), 'GET /users//orders/{id}'); // {x} needs a non-empty segment
  });

  void it('checkTemplate explains bad templates', () => {
    assert.equal(checkTemplate('/users/{id}'), undefined);
    assert.equal(checkTemplate('GET /users/{id}/*'), undefined);
    assert.equal(checkTemplate('/files/{rest*}'), undefined);
    for (const bad of ['', 'users/{id}', '/a?b=1', '/a/{b', '/a/x{b}', '/a/*/b', '/a/{r*}/b', 'GET  /a', 'G@T /a', '/a/{1x}', `/${'a'.repeat(600)}`]) {
      assert.equal(typeof checkTemplate(bad), 'string', bad);
    }
    assert.throws(() => createEndpointNamer({ templates: ['nope'] }), /invalid endpoint template/);
  });
});

void describe('createEndpointNamer: bound', () => {
  void it('maps new names to `other` once maxEndpoints distinct names exist; known names keep working', () => {
    const n = createEndpointNamer({ maxEndpoints: 3 });
    assert.equal(n.name('GET', '/a'), 'GET /a');
    assert.equal(n.name('GET', '/b'), 'GET /b');
    assert.equal(n.name('GET', '/c/1'), 'GET /c/{id}');
    assert.equal(n.name('GET', '/d'), OTHER_ENDPOINT);
    assert.equal(n.name('POST', '/a'), 'other');
    assert.equal(n.name('GET', '/c/2'), 'GET /c/{id}');
    assert.equal(n.size(), 3);
  });

  void it('templates are not crowded out by automatic names', () => {
    const n = createEndpointNamer({ maxEndpoints: 1, templates: ['/t/{x}'] });
    assert.equal(n.name('GET', '/a'), 'GET /a');
    assert.equal(n.name('GET', '/b'), 'other');
    assert.equal(n.name('GET', '/t/zz'), 'GET /t/{x}');
    assert.equal(n.size(), 2);
  });

  void it('never throws and never holds more than the bound (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 80 }), fc.webPath(), fc.webUrl())), {
          maxLength: 60,
        }),
        (max, reqs) => {
          const n = createEndpointNamer({ maxEndpoints: max });
          const names = new Set<string>();
          for (const [m, p] of reqs) {
            const name = n.name(m, p);
            assert.equal(typeof name, 'string');
            assert.ok(!name.includes('?'), name);
            if (name !== OTHER_ENDPOINT) names.add(name);
          }
          assert.ok(names.size <= max, `${names.size} > ${max}`);
          assert.equal(n.size(), names.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
