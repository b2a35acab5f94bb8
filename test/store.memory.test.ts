// The memory store: the shared Store contract, the hard cap on examples, and openStore's spec parsing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeEncoded } from '../src/store/hdr.ts';
import { openStore, parseStoreSpec } from '../src/store/open.ts';
import { StoreError } from '../src/store/types.ts';
import { batch, example, hist, percentiles, storeContract } from './store/contract.ts';

storeContract('memory', () => openStore('memory'));
storeContract('memory, yielding after every key', () => openStore('memory', { sliceMs: 0 }));

void describe('memory store', () => {
  void it('keeps at most memoryMaxExamples examples, dropping the oldest', async () => {
    const s = await openStore('memory', { memoryMaxExamples: 5 });
    await s.write(batch(1, [], Array.from({ length: 8 }, (_, i) => example({ slot: i, at: 100 + i }))));
    await s.write(batch(2, [], [example({ slot: 20, at: 50 })]));
    assert.deepEqual(
      (await s.examples({ endpoint: 'GET /users/{id}' })).map((e) => e.at),
      [107, 106, 105, 104, 103],
    );
    assert.equal((await s.size()).examples, 5);
    assert.equal((await s.size()).bytes, undefined);
    await s.close();
  });
});

void describe('mergeEncoded', () => {
  void it('merges encoded histograms into one whose percentiles are those of all the values', () => {
    const a = [1, 5, 90, 1_000, 250_000];
    const b = [7, 7, 7, 59_000_000];
    assert.deepEqual(percentiles(mergeEncoded(hist(a), '', hist(b))), percentiles(hist([...a, ...b])));
    assert.equal(mergeEncoded(), '');
    assert.equal(mergeEncoded('', ''), '');
    assert.throws(() => mergeEncoded('garbage'));
  });
});

void describe('openStore specs', () => {
  void it('parses memory and sqlite specs, relative paths against baseDir', () => {
    assert.deepEqual(parseStoreSpec('memory'), { kind: 'memory' });
    assert.deepEqual(parseStoreSpec('sqlite::memory:'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseStoreSpec('sqlite:/var/lib/tapwire/store.db'), { kind: 'sqlite', path: '/var/lib/tapwire/store.db' });
    assert.deepEqual(parseStoreSpec('sqlite:///var/lib/tapwire/store.db'), { kind: 'sqlite', path: '/var/lib/tapwire/store.db' });
    assert.deepEqual(parseStoreSpec('sqlite:data/store.db', '/etc/tapwire'), { kind: 'sqlite', path: '/etc/tapwire/data/store.db' });
  });

  void it('fails to open an unreachable postgres without echoing its password, and refuses unknown or empty specs', async () => {
    await assert.rejects(openStore('postgres://tw:hunter2@127.0.0.1:1/tapwire'), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.reason, 'open');
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    });
    for (const bad of ['', 'mysql://u:secret@h/db', 'sqlite:', 'redis']) {
      await assert.rejects(openStore(bad), (e: unknown) => {
        assert.ok(e instanceof StoreError, bad);
        assert.equal(e.reason, 'spec');
        assert.match(e.message, /'memory', 'sqlite:PATH' or 'sqlite::memory:'/);
        assert.doesNotMatch(e.message, /secret/);
        return true;
      });
    }
  });
});
