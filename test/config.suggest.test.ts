// "Did you mean": edit distance and the closeness rule for suggestions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, suggest } from '../src/config/suggest.ts';

test('edit distance counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
  assert.equal(editDistance('primary', 'primary'), 0);
  assert.equal(editDistance('primray', 'primary'), 1);
  assert.equal(editDistance('mirror', 'mirrors'), 1);
  assert.equal(editDistance('timeout', 'timeot'), 1);
  assert.equal(editDistance('host', 'hast'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

const KEYS = ['upstream', 'percentage', 'sampleBy', 'methods', 'maxBodyBytes', 'timeout', 'maxInFlight', 'host', 'headers'];

for (const [word, want] of [
  ['percentge', 'percentage'],
  ['sampleby', 'sampleBy'],
  ['maxbodybytes', 'maxBodyBytes'],
  ['upstreams', 'upstream'],
  ['header', 'headers'],
  ['weight', undefined],
  ['x', undefined],
] as const) {
  test(`suggests ${want === undefined ? 'nothing' : `"${want}"`} for "${word}"`, () => {
    assert.equal(suggest(word, KEYS), want);
  });
}

test('suggests nothing when two candidates are equally close', () => {
  assert.equal(suggest('v3', ['v1', 'v2']), undefined);
  assert.equal(suggest('v3', ['v1', 'canary']), 'v1');
});
